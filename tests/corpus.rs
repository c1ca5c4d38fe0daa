//! A corpus of malformed raw HTTP requests, each sent on a connection of its
//! own to a real server. Every one must be refused, with a 4xx or by closing
//! the connection without an answer, never a 5xx; it must not change what is
//! stored; and the server must still serve a normal update after it.
//!
//! A few malformed-looking requests are served by a rule the service states
//! (a repeated key's last value wins, a malformed `%` escape is kept
//! literally, the reading endpoints ignore extra parameters, ...); those
//! cases say which rule and check that what was stored follows it.
//!
//! The cases are a table in `corpus/cases.rs`; this file sends each and
//! checks what it got. `CORPUS_CASE=<name>` runs the case of that name, or
//! the cases of the group of that name, alone.

#[path = "corpus/cases.rs"]
mod cases;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cases::{Case, Check, Expect, TARGET};
use common::{TestServer, python_quote, raw_exchange};

/// The statuses a refusal may have.
const REFUSALS: [u16; 10] = [400, 404, 405, 408, 411, 413, 414, 415, 417, 431];

/// The normal request that must succeed after every case.
const HEALTH: &str = "/progress/update?jobid=ok&workid=w&current=1&total=2";

/// A longer wait than any case needs: more means the server held the
/// connection open instead of answering or closing it.
const SLOW: Duration = Duration::from_secs(5);

/// The cases to run, each with its group: those `CORPUS_CASE` names, or
/// all. Asserts that every name is unique, so that a name picks one case.
fn selected() -> Vec<(&'static str, Case)> {
    let corpus = cases::corpus();
    let mut names: BTreeSet<&str> = corpus.iter().map(|(group, _)| *group).collect();
    for (_, cases) in &corpus {
        for case in cases {
            assert!(
                names.insert(&case.name),
                "two cases or groups are named {:?}",
                case.name
            );
        }
    }
    let all = corpus
        .into_iter()
        .flat_map(|(group, cases)| cases.into_iter().map(move |case| (group, case)));
    match std::env::var("CORPUS_CASE") {
        Ok(name) => {
            let chosen: Vec<_> = all
                .filter(|(group, case)| case.name == name || *group == name)
                .collect();
            assert!(!chosen.is_empty(), "CORPUS_CASE: no case or group {name:?}");
            chosen
        }
        Err(_) => {
            let all: Vec<_> = all.collect();
            assert!(all.len() >= 100, "the corpus has {} requests", all.len());
            all
        }
    }
}

fn status_of(s: &TestServer, jobid: &str) -> Result<serde_json::Value, String> {
    let r = s.get(&format!("/progress/status?jobid={}", python_quote(jobid)));
    if r.status != 200 {
        return Err(format!("status of {jobid:?}: {} {}", r.status, r.body));
    }
    Ok(r.json())
}

/// Whether a served case, which created `creates` and answered `answer`,
/// shows what `check` asks for.
fn check_served(
    s: &TestServer,
    creates: Option<&str>,
    check: &Check,
    answer: &str,
) -> Result<(), String> {
    match check {
        Check::Nothing => Ok(()),
        Check::Answer(needle) if answer.contains(needle) => Ok(()),
        Check::Answer(needle) => Err(format!("the answer lacks {needle:?}")),
        Check::Worker(field, want) => {
            let jobid = creates.ok_or("a worker check needs the job the case creates")?;
            let status = status_of(s, jobid)?;
            let got = &status["workers"][0];
            if got["workid"] == "w" && got[*field] == *want {
                Ok(())
            } else {
                Err(format!("{jobid:?}: want {field} = {want}, got {status}"))
            }
        }
    }
}

// ---- the run ---------------------------------------------------------------

/// The status code of a raw answer, `None` for no answer at all.
fn answer_status(answer: &[u8]) -> Result<Option<u16>, String> {
    if answer.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(answer);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    match (
        parts.next(),
        parts.next().and_then(|code| code.parse().ok()),
    ) {
        (Some(version), Some(code)) if version.starts_with("HTTP/") => Ok(Some(code)),
        _ => Err(format!("not an HTTP answer: {line:?}")),
    }
}

/// The ids of every stored job.
fn job_ids(s: &TestServer) -> BTreeSet<String> {
    let r = s.get("/progress/jobs?limit=100000");
    assert_eq!(r.status, 200, "jobs: {}", r.body);
    r.json()
        .as_array()
        .expect("jobs is a list")
        .iter()
        .map(|j| j["jobid"].as_str().expect("jobid is a string").to_string())
        .collect()
}

/// What a write could change in a job: its fields and its workers'
/// reported values (not the derived, time-dependent ones).
fn snapshot(s: &TestServer, jobid: &str) -> serde_json::Value {
    let status = status_of(s, jobid).expect("the target job exists");
    let workers: Vec<serde_json::Value> = status["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .map(|w| {
            serde_json::json!([
                w["workid"],
                w["current"],
                w["total"],
                w["ok"],
                w["desc"],
                w["first_seen"],
                w["updated"]
            ])
        })
        .collect();
    serde_json::json!([
        status["desc"],
        status["created"],
        status["updated"],
        status["expires"],
        workers
    ])
}

fn shown(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX)]);
    let more = if bytes.len() > MAX {
        format!("… ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("{text:?}{more}")
}

/// Puts back the job the write cases aim at, as it was before any case.
fn put_target(s: &TestServer) {
    s.update(&[
        ("jobid", TARGET),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
        ("desc", "baseline"),
    ]);
}

#[test]
fn malformed_requests_are_refused_and_change_nothing() {
    let cases = selected();
    let s = TestServer::start();
    put_target(&s);
    assert_eq!(s.get(HEALTH).status, 200);
    let mut jobs = job_ids(&s);
    let mut baseline = snapshot(&s, TARGET);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    // CORPUS_VERBOSE=1 (with --nocapture) lists every case's answer.
    let verbose = std::env::var_os("CORPUS_VERBOSE").is_some();
    let mut by_group: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (group, case) in &cases {
        let label = format!("[{group}] {}", case.name);
        *by_group.entry(group).or_default() += 1;
        let started = Instant::now();
        let answer = raw_exchange(&s.addr(), &case.request);
        let took = started.elapsed();
        let mut fail = |why: String| {
            failures.push(format!(
                "{label}: {why}\n    request: {}\n    answer: {}",
                shown(&case.request),
                shown(&answer)
            ))
        };
        if took > SLOW {
            fail(format!(
                "took {took:?}: the connection was held instead of answered or closed"
            ));
        }
        let status = match answer_status(&answer) {
            Ok(status) => status,
            Err(why) => {
                fail(why);
                continue;
            }
        };
        let outcome = status.map_or("closed".to_string(), |c| c.to_string());
        if verbose {
            eprintln!("{outcome:>6}  {label}");
        }
        *by_status.entry(outcome).or_default() += 1;
        let mut expected_jobs = jobs.clone();
        match (&case.expect, status) {
            (Expect::Refused, None) => {}
            (Expect::Refused, Some(code)) if REFUSALS.contains(&code) => {}
            (Expect::Refused, Some(code)) => fail(format!(
                "answered {code}, want a refusal (one of {REFUSALS:?}) or a close"
            )),
            (
                Expect::Served {
                    rule,
                    creates,
                    check,
                },
                Some(code),
            ) if (200..300).contains(&code) => {
                expected_jobs.extend(creates.map(str::to_string));
                let text = String::from_utf8_lossy(&answer);
                if let Err(why) = check_served(&s, *creates, check, &text) {
                    fail(format!("served, but not as the rule says ({rule}): {why}"));
                }
            }
            (Expect::Served { rule, .. }, code) => {
                fail(format!("answered {code:?}, want a 2xx by the rule: {rule}"))
            }
        }
        let health = s.get(HEALTH);
        assert_eq!(
            health.status, 200,
            "{label}: the server stopped serving: {}",
            health.body
        );
        let now_jobs = job_ids(&s);
        if now_jobs != expected_jobs {
            fail(format!(
                "jobs changed: added {:?}, removed {:?}",
                now_jobs.difference(&expected_jobs).collect::<Vec<_>>(),
                expected_jobs.difference(&now_jobs).collect::<Vec<_>>()
            ));
        }
        jobs = now_jobs;
        if jobs.contains(TARGET) {
            let now = snapshot(&s, TARGET);
            if now != baseline {
                fail(format!("job {TARGET:?} changed from {baseline} to {now}"));
                baseline = now;
            }
        } else {
            // Put it back so later cases still have a target.
            put_target(&s);
            baseline = snapshot(&s, TARGET);
            jobs = job_ids(&s);
        }
    }
    let counts: Vec<String> = by_status
        .iter()
        .map(|(status, n)| format!("{status} × {n}"))
        .collect();
    eprintln!(
        "corpus: {} malformed requests: {}",
        cases.len(),
        counts.join(", ")
    );
    let groups: Vec<String> = by_group.iter().map(|(g, n)| format!("{g} {n}")).collect();
    eprintln!("corpus groups: {}", groups.join(", "));
    assert!(
        failures.is_empty(),
        "{} of {} cases failed (CORPUS_CASE=<name> runs one alone):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The id cases go to every route of `progressd::ROUTES` but those the
/// table says take no job id; it also names the routes that create their
/// job. A route in those lists that is no longer in `ROUTES` makes the
/// list wrong without failing a case.
#[test]
fn the_routes_the_corpus_names_are_routes() {
    let routes: BTreeSet<&str> = progressd::ROUTES.iter().map(|r| r.path).collect();
    for path in cases::NO_JOBID.iter().chain(&cases::CREATING) {
        assert!(routes.contains(path), "{path:?} is no route");
    }
}

/// A request line with version HTTP/2.0 or 3.0 (an HTTP/2 client with prior
/// knowledge opens with `PRI * HTTP/2.0`) made tiny_http write a 505 through
/// a writer that waited for the request's own, never released: the client
/// got nothing and the connection held its thread and two descriptors for
/// good, so a few hundred such requests stopped the server.
#[test]
fn http2_request_lines_are_refused_at_once() {
    let s = TestServer::start();
    for request in [
        &b"GET /progress/jobs HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n"[..],
        b"GET /progress/jobs HTTP/3.0\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let started = Instant::now();
        let answer = raw_exchange(&s.addr(), request);
        let took = started.elapsed();
        assert!(
            took < SLOW,
            "{}: no answer and no close in {took:?}",
            shown(request)
        );
        let status = answer_status(&answer);
        assert!(
            matches!(status, Ok(None))
                || matches!(status, Ok(Some(code)) if REFUSALS.contains(&code)),
            "{}: {}",
            shown(request),
            shown(&answer)
        );
        assert_eq!(s.get(HEALTH).status, 200, "the server still serves");
    }
}
