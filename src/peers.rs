//! The jobs of other progressd instances (`--peer`), for the index and
//! `jobs`: several shards of one site behind nginx, or the head nodes of
//! several clusters on one dashboard.
//!
//! Each peer is asked for its own jobs only (`jobs?peers=0`, so two
//! servers that list each other do not ask each other in a loop), on a
//! thread of its own, all at once, each within [`PEER_TIMEOUT`]; a request
//! thread waits for them no longer than that, and never holds a lock while
//! a peer is asked. Each answer, or failure, is kept for [`KEEP_FOR`], so
//! a busy index asks each peer at most once in that time. A peer that
//! fails is reported, not fatal: the other jobs are still listed. Nothing
//! here knows tiny_http or SQLite.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{self, GetError};
use crate::config::PeerConfig;
use crate::json;
use crate::model::{Elsewhere, JobSummary, ListedJob, PeerReport};

/// The longest a peer is waited for.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a peer's answer (or failure) is used before it is asked again.
pub const KEEP_FOR: Duration = Duration::from_secs(3);

/// The most jobs asked of a peer, whatever `limit=` says, so that what is
/// kept of the peers stays small (a few MB for each).
pub const MAX_PEER_JOBS: u64 = 10_000;

/// The biggest answer read from a peer: [`MAX_PEER_JOBS`] jobs with long
/// descs.
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// The peers of this server, with what each last answered.
pub struct Peers {
    peers: Vec<Arc<Peer>>,
    agent: ureq::Agent,
    token: Option<Arc<str>>,
}

/// One peer and what it last answered.
struct Peer {
    url: Arc<str>,
    state: Mutex<PeerState>,
    /// Notified when an answer arrives.
    answered: Condvar,
}

#[derive(Default)]
struct PeerState {
    /// Its last answer, when it came, and the `limit` it was asked with.
    last: Option<(Instant, u64, Arc<Answer>)>,
    /// Whether a thread is asking it now.
    asking: bool,
}

/// What a peer answered: its jobs and where to link to them, or why not.
type Answer = Result<PeerJobs, String>;

/// A peer's jobs, most recent activity first.
struct PeerJobs {
    jobs: Vec<JobSummary>,
    /// Its show page's address, without the job: through its
    /// `--public-url` when it has one, else at the address it was asked at.
    show: String,
}

impl Peers {
    /// The peers of `config`; None when there are none.
    pub fn new(config: &PeerConfig) -> Option<Peers> {
        if config.urls.is_empty() {
            return None;
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(PEER_TIMEOUT))
            .user_agent(concat!("progressd-peer/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Some(Peers {
            peers: config
                .urls
                .iter()
                .map(|url| {
                    Arc::new(Peer {
                        url: Arc::from(url.as_str()),
                        state: Mutex::default(),
                        answered: Condvar::new(),
                    })
                })
                .collect(),
            agent,
            token: config.token.as_deref().map(Arc::from),
        })
    }

    /// Adds the peers' jobs to `jobs` (this server's, most recent activity
    /// first) and keeps the `limit` most recent; says how each peer
    /// answered. Takes at most [`PEER_TIMEOUT`] and a little more.
    pub fn add_to(&self, jobs: Vec<JobSummary>, limit: u64) -> (Vec<ListedJob>, Vec<PeerReport>) {
        let wanted = limit.min(MAX_PEER_JOBS);
        let started = Instant::now();
        for peer in &self.peers {
            self.ask_unless_known(peer, wanted);
        }
        let deadline = started + PEER_TIMEOUT + Duration::from_millis(100);
        let mut listed: Vec<ListedJob> = jobs
            .into_iter()
            .map(|job| ListedJob {
                job,
                elsewhere: None,
            })
            .collect();
        let mut reports = Vec::with_capacity(self.peers.len());
        for peer in &self.peers {
            let answer = loop {
                match peer.wait_for(wanted, deadline) {
                    Waited::Answer(answer) => break Some(answer),
                    Waited::TooLong => break None,
                    // Another request's ask, for fewer jobs, ended: ask
                    // for ours.
                    Waited::Idle => self.ask_unless_known(peer, wanted),
                }
            };
            let (error, count) = match answer.as_deref() {
                Some(Ok(found)) => {
                    let taken = found.jobs.iter().take(wanted as usize);
                    let count = taken.len();
                    listed.extend(taken.map(|job| ListedJob {
                        elsewhere: Some(Elsewhere {
                            peer: Arc::clone(&peer.url),
                            show: format!("{}{}", found.show, encode(&job.jobid)),
                        }),
                        job: job.clone(),
                    }));
                    (None, count)
                }
                Some(Err(why)) => (Some(why.clone()), 0),
                None => (
                    Some(format!(
                        "no answer within {:.1} s",
                        PEER_TIMEOUT.as_secs_f64()
                    )),
                    0,
                ),
            };
            reports.push(PeerReport {
                url: Arc::clone(&peer.url),
                error,
                jobs: count,
            });
        }
        // Stable: this server's jobs first among equals, then the peers'
        // in the order given.
        listed.sort_by(|a, b| b.job.updated.as_unix().total_cmp(&a.job.updated.as_unix()));
        listed.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        (listed, reports)
    }

    /// Starts asking `peer` for `wanted` jobs on a thread of its own,
    /// unless an answer that serves is kept or a thread is asking already.
    fn ask_unless_known(&self, peer: &Arc<Peer>, wanted: u64) {
        {
            let mut state = peer.lock();
            if state.serves(wanted, Instant::now()).is_some() || state.asking {
                return;
            }
            state.asking = true;
        }
        let (asked, agent, token) = (Arc::clone(peer), self.agent.clone(), self.token.clone());
        let started = thread::Builder::new()
            .name("progressd-peer".into())
            .spawn(move || {
                let answer = fetch(&agent, &asked.url, token.as_deref(), wanted);
                // Once an ask, not once a page that shows the failure.
                if let Err(why) = &answer {
                    log::warn!("peer {}: {why}", asked.url);
                }
                let answer = Arc::new(answer);
                let mut state = asked.lock();
                state.last = Some((Instant::now(), wanted, answer));
                state.asking = false;
                asked.answered.notify_all();
            });
        if let Err(e) = started {
            let mut state = peer.lock();
            state.last = Some((
                Instant::now(),
                wanted,
                Arc::new(Err(format!("cannot start a thread to ask it: {e}"))),
            ));
            state.asking = false;
        }
    }
}

impl Peer {
    /// Its state; a thread that panicked holding the lock left nothing
    /// half-written that matters (a kept answer is replaced whole).
    fn lock(&self) -> std::sync::MutexGuard<'_, PeerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An answer that serves `wanted` jobs, waiting for one until
    /// `deadline`.
    fn wait_for(&self, wanted: u64, deadline: Instant) -> Waited {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            if let Some(answer) = state.serves(wanted, now) {
                return Waited::Answer(answer);
            }
            if now >= deadline {
                return Waited::TooLong;
            }
            if !state.asking {
                return Waited::Idle;
            }
            state = self
                .answered
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// What waiting for a peer's answer came to.
enum Waited {
    /// An answer that serves.
    Answer(Arc<Answer>),
    /// None came by the deadline.
    TooLong,
    /// None serves and nobody is asking: an ask for fewer jobs ended.
    Idle,
}

impl PeerState {
    /// The kept answer, if it is recent and lists `wanted` jobs (or all
    /// the peer has).
    fn serves(&self, wanted: u64, now: Instant) -> Option<Arc<Answer>> {
        let (when, asked, answer) = self.last.as_ref()?;
        let complete = match answer.as_ref() {
            Ok(found) => *asked >= wanted || (found.jobs.len() as u64) < *asked,
            Err(_) => true,
        };
        (now.duration_since(*when) < KEEP_FOR && complete).then(|| Arc::clone(answer))
    }
}

/// Asks the peer at `url` for its own `wanted` most recent jobs.
fn fetch(agent: &ureq::Agent, url: &str, token: Option<&str>, wanted: u64) -> Answer {
    let asked = format!("{url}/progress/jobs?peers=0&envelope=1&limit={wanted}");
    let body = client::get_text(agent, &asked, token, MAX_ANSWER_BYTES).map_err(|e| match e {
        GetError::Unreachable(ureq::Error::Timeout(_)) => {
            format!("no answer within {:.1} s", PEER_TIMEOUT.as_secs_f64())
        }
        GetError::Unreachable(e) => format!("cannot reach it: {}", client::reason(&e)),
        GetError::Unreadable(e) => format!("reading its answer: {e}"),
        // Its one line says why (a wrong token: "401 …").
        GetError::Refused { status, why } => format!("it answered {status} {why}"),
    })?;
    read_answer(&body, url)
}

/// A peer's `jobs?envelope=1` document, read.
fn read_answer(body: &str, url: &str) -> Answer {
    let document: Value =
        serde_json::from_str(body).map_err(|e| format!("its answer is not JSON: {e}"))?;
    let jobs = document
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or("its answer has no list of jobs (is it a progressd with --peer support?)")?
        .iter()
        .map(|job| json::job_summary_of(job).ok_or("its answer lists a job in an unknown form"))
        .collect::<Result<Vec<_>, _>>()?;
    // Only an http(s) address goes into the pages' links: a peer's answer
    // is not trusted to be harmless (`javascript:` would be).
    let front = document
        .get("public_url")
        .and_then(Value::as_str)
        .filter(|front| {
            url::Url::parse(front).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        })
        .unwrap_or(url)
        .trim_end_matches('/');
    Ok(PeerJobs {
        jobs,
        show: format!("{front}/progress/show?jobid="),
    })
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_links_through_the_peers_front_when_it_has_one() {
        let job = r#"{"jobid":"a","desc":"","created":1,"updated":2,"expires":3,
            "workers":1,"running":1,"done":0,"failed":0,"stale":0,"not_started":0,"percent":5}"#;
        let own = read_answer(
            &format!(r#"{{"jobs":[{job}],"peers":[],"public_url":null}}"#),
            "http://b:1",
        )
        .expect("read");
        assert_eq!(own.show, "http://b:1/progress/show?jobid=");
        assert_eq!(own.jobs.len(), 1);
        let fronted = read_answer(
            &format!(r#"{{"jobs":[{job}],"public_url":"https://front/"}}"#),
            "http://b:1",
        )
        .expect("read");
        assert_eq!(fronted.show, "https://front/progress/show?jobid=");
        let hostile = read_answer(
            &format!(r#"{{"jobs":[{job}],"public_url":"javascript:alert(1)//"}}"#),
            "http://b:1",
        )
        .expect("read");
        assert_eq!(hostile.show, "http://b:1/progress/show?jobid=");
        for bad in ["[]", "{}", r#"{"jobs":[{"jobid":1}]}"#, "<html>"] {
            assert!(read_answer(bad, "http://b:1").is_err(), "{bad}");
        }
    }

    #[test]
    fn a_kept_answer_serves_only_while_recent_and_long_enough() {
        let jobs = |n: usize| {
            Arc::new(Ok(PeerJobs {
                jobs: vec![
                    JobSummary {
                        jobid: "j".into(),
                        desc: String::new(),
                        created: crate::clock::Time::unix(0.0),
                        updated: crate::clock::Time::unix(0.0),
                        maxage: crate::clock::Secs(1.0),
                        workers: 0,
                        running: 0,
                        done: 0,
                        failed: 0,
                        stale: 0,
                        not_started: 0,
                        percent: 0.0,
                    };
                    n
                ],
                show: String::new(),
            }))
        };
        let now = Instant::now();
        let full = PeerState {
            last: Some((now, 10, jobs(10))),
            asking: false,
        };
        assert!(full.serves(10, now).is_some());
        assert!(full.serves(5, now).is_some(), "fewer: cut short");
        assert!(full.serves(20, now).is_none(), "more: it may have more");
        assert!(full.serves(10, now + KEEP_FOR).is_none(), "too old");
        let all = PeerState {
            last: Some((now, 10, jobs(3))),
            asking: false,
        };
        assert!(all.serves(1000, now).is_some(), "it has only 3");
    }
}
