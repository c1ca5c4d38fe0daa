//! Notifications: the notices the store keeps (`store::notices`) sent to
//! the operator's webhooks (`--notify-url`).
//!
//! Each target has a thread of its own, so a slow or dead receiver holds
//! up only its own messages. The thread reads the notices its target has
//! not taken, a page at a time, sends a message for each run of them (one
//! job's failed or stale workers, one after the other, go in one message),
//! and moves the target's cursor through the writer once the receiver has
//! answered 2xx. A receiver that fails is tried again after 1 s, then 2, 4…
//! up to [`MAX_BACKOFF`]; what waits meanwhile stays in the database, not
//! here, so memory holds one page of notices at most.
//!
//! A message is sent once: the cursor is committed right after the
//! receiver's 2xx, so only a process killed between the two repeats one,
//! and its `id` lets a receiver tell. Users never choose where messages
//! go: a job only says which of its events it wants (`notify=`).
//!
//! Two forms: a JSON webhook (Slack's and Mattermost's `text`, plus the
//! event under `progressd`), and, for a URL written `ntfy+https://…`, a
//! plain-text POST as ntfy takes it. What a client sent (ids, titles,
//! descs) is made safe for both: no control character, and in `text`
//! inside code spans with `&`, `<` and `>` escaped, so a desc cannot
//! mention `@channel`, post a link or break out of the message.

use std::fmt::Write;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::StartError;
use crate::model::{Notice, NoticeKind};
use crate::store::{Reader, Writer};
use crate::terminal;

/// Notices read at once.
const PAGE: usize = 200;
/// Workers named in one message; the rest are counted.
const NAMED: usize = 10;
/// How often a target's thread looks for new notices.
const POLL: Duration = Duration::from_millis(500);
/// The first wait after a failed send.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How long a receiver has to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest desc or title in a message, in characters.
const MAX_TEXT: usize = 200;

/// Where messages go: a `--notify-url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL posted to.
    url: String,
    /// How.
    form: Form,
}

/// How a target takes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A JSON body with `text` (Slack, Mattermost, most chat webhooks).
    Json,
    /// A plain-text body with ntfy's headers.
    Ntfy,
}

impl Target {
    /// Parses a `--notify-url`: `http://…` or `https://…` for a JSON
    /// webhook, `ntfy+http(s)://…` for ntfy.
    pub fn parse(text: &str) -> Result<Target, String> {
        let (form, url) = match text.strip_prefix("ntfy+") {
            Some(rest) => (Form::Ntfy, rest),
            None => (Form::Json, text),
        };
        let parsed = url::Url::parse(url).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!(
                "{text:?} is not an http:// or https:// URL (ntfy+https://… for ntfy)"
            ));
        }
        Ok(Target {
            url: url.to_string(),
            form,
        })
    }

    /// The target's name in the database and the log: its origin and a
    /// hash of the whole URL, since webhook URLs hold secrets.
    pub fn key(&self) -> String {
        let origin = url::Url::parse(&self.url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let form = match self.form {
            Form::Json => "",
            Form::Ntfy => "ntfy+",
        };
        format!("{form}{origin}/…#{:016x}", fnv1a(self.url.as_bytes()))
    }
}

/// FNV-1a, 64 bits: a stable hash (std's may change between releases) to
/// tell targets apart without storing their secrets.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A message for a run of notices.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// One line: what happened.
    pub title: String,
    /// The whole message as plain text.
    pub plain: String,
    /// The JSON webhook's body.
    pub json: serde_json::Value,
    /// ntfy's tag (an emoji name) for it.
    tag: &'static str,
}

/// The notices of `notices` from the first that go in one message: one
/// job's failed (or stale) workers in a row, else the first alone.
pub fn first_run(notices: &[Notice]) -> &[Notice] {
    let Some(first) = notices.first() else {
        return notices;
    };
    let foldable = matches!(first.kind, NoticeKind::Failed | NoticeKind::Stale);
    let len = notices
        .iter()
        .take_while(|n| foldable && n.kind == first.kind && n.jobid == first.jobid)
        .count()
        .max(1);
    &notices[..len]
}

/// The message for `run` (see [`first_run`]), with the job's link under
/// `public_url`.
pub fn message(run: &[Notice], public_url: &str) -> Option<Message> {
    let (first, last) = (run.first()?, run.last()?);
    let link = format!(
        "{}/progress/show?jobid={}",
        public_url.trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(first.jobid.as_bytes()).collect::<String>()
    );
    let job_plain = job_words(first, plain);
    let job_code = job_words(first, code);
    let workers: Vec<&(String, String)> = run.iter().filter_map(|n| n.worker.as_ref()).collect();
    let more = run.iter().map(|n| n.more).sum::<u64>() + workers.len().saturating_sub(NAMED) as u64;
    let c = last.counts;
    let counts = format!(
        "{} of {} workers done, {} failed, {} running, {} not started",
        c.done, c.workers, c.failed, c.running, c.not_started
    );
    let (what, tag) = match first.kind {
        NoticeKind::Finished => ("finished", "white_check_mark"),
        NoticeKind::Expired => ("expired unfinished", "hourglass"),
        NoticeKind::Failed if workers.len() as u64 + more > 1 => ("has failed workers", "x"),
        NoticeKind::Failed => ("has a failed worker", "x"),
        NoticeKind::Stale if workers.len() as u64 + more > 1 => ("has stale workers", "warning"),
        NoticeKind::Stale => ("has a stale worker", "warning"),
    };
    let title = format!("progressd: job {job_plain} {what}");
    let mut plain_text = format!("{title}\n");
    let mut text = format!("progressd: job {job_code} {what}\n");
    for (workid, desc) in workers.iter().take(NAMED) {
        let _ = writeln!(plain_text, "- {}{}", plain(workid), with_desc(desc, plain));
        let _ = writeln!(text, "- {}{}", code(workid), with_desc(desc, code));
    }
    if more > 0 {
        let kind = first.kind.key();
        let _ = writeln!(plain_text, "- and {more} more {kind}");
        let _ = writeln!(text, "- and {more} more {kind}");
    }
    let _ = write!(plain_text, "{counts}\n{link}");
    let _ = write!(text, "{counts}\n{link}");
    let json = serde_json::json!({
        "text": text,
        "progressd": {
            "id": last.id,
            "event": first.kind.key(),
            "at": last.at.as_unix(),
            "jobid": first.jobid,
            "title": first.title,
            "workers": workers.iter().take(NAMED).map(|(workid, desc)| {
                serde_json::json!({"workid": workid, "desc": desc})
            }).collect::<Vec<_>>(),
            "more": more,
            "counts": {
                "workers": c.workers,
                "done": c.done,
                "failed": c.failed,
                "running": c.running,
                "not_started": c.not_started,
            },
            "link": link,
        }
    });
    Some(Message {
        title,
        plain: plain_text,
        json,
        tag,
    })
}

/// The job as a message names it: its id, and its title when it has one.
fn job_words(notice: &Notice, write: fn(&str) -> String) -> String {
    if notice.title.is_empty() {
        write(&notice.jobid)
    } else {
        format!("{} ({})", write(&notice.jobid), write(&notice.title))
    }
}

/// `: desc` when there is one.
fn with_desc(desc: &str, write: fn(&str) -> String) -> String {
    if desc.is_empty() {
        String::new()
    } else {
        format!(": {}", write(desc))
    }
}

/// Client text for a plain message: no control characters (see
/// `terminal`), cut to [`MAX_TEXT`].
fn plain(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_TEXT).map(terminal::safe).collect();
    if text.chars().nth(MAX_TEXT).is_some() {
        out.push('…');
    }
    out
}

/// Client text for a chat message: plain, in a code span (no mention,
/// link or formatting fires there), with backticks made quotes and `&`,
/// `<`, `>` escaped as Slack asks.
fn code(text: &str) -> String {
    let mut out = String::from("`");
    for c in plain(text).chars() {
        match c {
            '`' => out.push('\''),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// A header value: printable ASCII only.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// Sends `message` to `target`.
fn send(agent: &ureq::Agent, target: &Target, message: &Message) -> Result<(), String> {
    let result = match target.form {
        Form::Json => agent
            .post(&target.url)
            .header("content-type", "application/json")
            .send(message.json.to_string()),
        Form::Ntfy => agent
            .post(&target.url)
            .header("title", header_safe(&message.title))
            .header("tags", message.tag)
            .send(message.plain.as_str()),
    };
    match result {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("answered {}", response.status())),
        Err(e) => Err(e.to_string()),
    }
}

/// The running notification threads.
pub struct Notifier {
    stop: Arc<(Mutex<bool>, Condvar)>,
    threads: Vec<JoinHandle<()>>,
}

impl Notifier {
    /// Starts a thread for each of `targets`, reading `db` and moving
    /// cursors through `writer`; links go under `public_url`.
    pub fn start(
        targets: &[Target],
        db: &Path,
        writer: &Writer,
        public_url: &str,
    ) -> Result<Notifier, StartError> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let mut threads = Vec::new();
        for target in targets {
            let sender = Sender {
                target: target.clone(),
                key: target.key(),
                reader: Reader::open(db)?,
                writer: writer.clone(),
                public_url: public_url.to_string(),
                agent: ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(SEND_TIMEOUT))
                    .build()
                    .into(),
                stop: Arc::clone(&stop),
            };
            let thread = thread::Builder::new()
                .name("progressd-notify".into())
                .spawn(move || sender.run())
                .map_err(StartError::Thread)?;
            threads.push(thread);
        }
        Ok(Notifier { stop, threads })
    }

    /// Stops the threads, waiting for a send under way.
    pub fn stop(self) {
        let (flag, wake) = &*self.stop;
        if let Ok(mut stopped) = flag.lock() {
            *stopped = true;
        }
        wake.notify_all();
        for thread in self.threads {
            if thread.join().is_err() {
                log::error!("a notification thread panicked");
            }
        }
    }
}

/// One target's thread.
struct Sender {
    target: Target,
    key: String,
    reader: Reader,
    writer: Writer,
    public_url: String,
    agent: ureq::Agent,
    stop: Arc<(Mutex<bool>, Condvar)>,
}

impl Sender {
    fn run(self) {
        let mut backoff: Option<Duration> = None;
        while !self.wait(backoff.unwrap_or(POLL)) {
            match self.send_waiting() {
                Ok(()) => {
                    if backoff.take().is_some() {
                        log::info!("notifications to {} are delivered again", self.key);
                    }
                }
                Err(e) => {
                    let next = match backoff {
                        None => {
                            log::warn!(
                                "notifying {} failed, retrying (1 s, 2 s, … up to {} s): {e}",
                                self.key,
                                MAX_BACKOFF.as_secs()
                            );
                            FIRST_BACKOFF
                        }
                        Some(wait) => {
                            log::debug!("notifying {} failed again: {e}", self.key);
                            (wait * 2).min(MAX_BACKOFF)
                        }
                    };
                    backoff = Some(next);
                }
            }
        }
    }

    /// Sends every notice waiting for the target, a page at a time, until
    /// none is left or a send fails.
    fn send_waiting(&self) -> Result<(), String> {
        loop {
            let notices = self
                .reader
                .notices_for(&self.key, PAGE)
                .map_err(|e| format!("cannot read the notices: {e}"))?;
            if notices.is_empty() {
                return Ok(());
            }
            let mut rest = &notices[..];
            while !rest.is_empty() {
                if self.stopped() {
                    return Ok(());
                }
                let run = first_run(rest);
                rest = &rest[run.len()..];
                let Some(last) = run.last() else { break };
                if let Some(message) = message(run, &self.public_url) {
                    send(&self.agent, &self.target, &message)?;
                }
                self.writer
                    .notices_sent(&self.key, last.id)
                    .map_err(|e| format!("cannot record a sent notice: {e}"))?;
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.0.lock().map_or(true, |stopped| *stopped)
    }

    /// Waits `time` or until stopped; true when stopped.
    fn wait(&self, time: Duration) -> bool {
        let (flag, wake) = &*self.stop;
        let Ok(stopped) = flag.lock() else {
            return true;
        };
        match wake.wait_timeout_while(stopped, time, |stopped| !*stopped) {
            Ok((stopped, _)) => *stopped,
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Time;
    use crate::model::NoticeCounts;

    fn notice(id: i64, kind: NoticeKind, jobid: &str, worker: Option<(&str, &str)>) -> Notice {
        Notice {
            id,
            at: Time::unix(1_800_000_000.0),
            kind,
            jobid: jobid.into(),
            title: String::new(),
            worker: worker.map(|(w, d)| (w.into(), d.into())),
            more: 0,
            counts: NoticeCounts {
                workers: 4,
                done: 1,
                failed: 2,
                running: 1,
                not_started: 0,
            },
        }
    }

    #[test]
    fn a_run_is_one_jobs_failures_in_a_row_and_an_end_alone() {
        let failed = |id, job, w| notice(id, NoticeKind::Failed, job, Some((w, "")));
        let notices = [
            failed(1, "a", "0"),
            failed(2, "a", "1"),
            notice(3, NoticeKind::Stale, "a", Some(("2", ""))),
            failed(4, "b", "0"),
        ];
        assert_eq!(first_run(&notices).len(), 2);
        assert_eq!(first_run(&notices[2..]).len(), 1);
        let ends = [
            notice(5, NoticeKind::Finished, "a", None),
            notice(6, NoticeKind::Finished, "a", None),
        ];
        assert_eq!(first_run(&ends).len(), 1);
        assert!(first_run(&[]).is_empty());
    }

    #[test]
    fn a_message_names_ten_workers_counts_the_rest_and_links_the_job() {
        let mut run: Vec<Notice> = (0..12)
            .map(|i| {
                let workid = format!("rank{i}");
                notice(i, NoticeKind::Failed, "j&k", Some((&workid, "oom")))
            })
            .collect();
        run[11].more = 30;
        let m = message(&run, "https://p.example/").expect("a message");
        assert_eq!(m.title, "progressd: job j&k has failed workers");
        let text = m.json["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("progressd: job `j&amp;k` has failed workers\n- `rank0`: `oom`\n")
        );
        assert!(
            text.contains("- `rank9`: `oom`\n- and 32 more failed\n"),
            "{text}"
        );
        assert!(
            text.ends_with("https://p.example/progress/show?jobid=j%26k"),
            "{text}"
        );
        assert_eq!(m.json["progressd"]["id"], 11);
        assert_eq!(m.json["progressd"]["more"], 32);
        assert_eq!(
            m.json["progressd"]["workers"].as_array().map(Vec::len),
            Some(10)
        );
        assert!(m.plain.contains("- rank0: oom\n"));
        assert!(
            m.plain
                .contains("1 of 4 workers done, 2 failed, 1 running, 0 not started")
        );
    }

    #[test]
    fn client_text_is_cut_and_made_safe() {
        let long = "x".repeat(MAX_TEXT + 5);
        assert_eq!(plain(&long).chars().count(), MAX_TEXT + 1);
        assert_eq!(plain("a\u{1b}[2Jb\u{7}\u{202e}"), "a?[2Jb??");
        assert_eq!(code("<@U1> `x` &"), "`&lt;@U1&gt; 'x' &amp;`");
        assert_eq!(header_safe("job é\r\n"), "job ???");
    }

    #[test]
    fn targets_are_http_urls_named_without_their_secrets() {
        let slack = Target::parse("https://hooks.slack.com/services/T0/B0/SECRET").expect("ok");
        assert_eq!(slack.form, Form::Json);
        let key = slack.key();
        assert!(key.starts_with("https://hooks.slack.com/…#"), "{key}");
        assert!(!key.contains("SECRET"));
        let ntfy = Target::parse("ntfy+https://ntfy.sh/builds").expect("ok");
        assert_eq!(
            (ntfy.form, ntfy.url.as_str()),
            (Form::Ntfy, "https://ntfy.sh/builds")
        );
        assert_ne!(
            ntfy.key(),
            Target::parse("https://ntfy.sh/builds").expect("ok").key()
        );
        for bad in [
            "ftp://x/y",
            "hooks.slack.com/x",
            "ntfy+file:///etc/passwd",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
