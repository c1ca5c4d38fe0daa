//! Notifications end to end: a real server posting to a receiver in the
//! test (a tiny_http server that records what it gets and can be told to
//! fail), through opt-in, retries, restarts, stale scans and hostile descs.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{TestResult, TestServer, python_query};
use progressd::clock::Secs;
use progressd::config::Config;
use progressd::notify::Target;

/// What a receiver got: the path and body of each POST it answered 2xx.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    title: Option<String>,
    body: String,
}

/// A webhook receiver on 127.0.0.1 that records the POSTs it takes and
/// answers 500 to the first `failures` of them.
struct Receiver {
    addr: SocketAddr,
    taken: Arc<Mutex<Vec<Received>>>,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(failures: usize) -> Receiver {
        Receiver::start_on("127.0.0.1:0", failures)
    }

    fn start_on(addr: &str, failures: usize) -> Receiver {
        let server = tiny_http::Server::http(addr).expect("receiver binds");
        let addr = server
            .server_addr()
            .to_ip()
            .expect("the receiver listens on IP");
        let taken = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (taken, refused, stop) = (taken.clone(), refused.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50))
                    else {
                        continue;
                    };
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    if refused.load(Ordering::SeqCst) < failures {
                        refused.fetch_add(1, Ordering::SeqCst);
                        let _ = request.respond(tiny_http::Response::empty(500));
                        continue;
                    }
                    let title = request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("title"))
                        .map(|h| h.value.to_string());
                    taken.lock().expect("lock").push(Received {
                        path: request.url().to_string(),
                        title,
                        body,
                    });
                    let _ = request.respond(tiny_http::Response::empty(200));
                }
            })
        };
        Receiver {
            addr,
            taken,
            refused,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn taken(&self) -> Vec<Received> {
        self.taken.lock().expect("lock").clone()
    }

    /// The JSON bodies taken so far.
    fn events(&self) -> Vec<serde_json::Value> {
        self.taken()
            .iter()
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect()
    }

    /// Waits up to 10 s for `n` messages in all; returns what it has then.
    fn wait_for(&self, n: usize) -> Vec<serde_json::Value> {
        let start = Instant::now();
        while self.taken().len() < n && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(20));
        }
        self.events()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server's options with notifications to `urls`, expiry and stale
/// scans every 0.1 s, and links under a fixed address.
fn notifying(config: &mut Config, urls: &[String]) {
    config.notify = urls
        .iter()
        .map(|u| Target::parse(u).expect("a valid target"))
        .collect();
    config.public_url = "https://progress.example.org".into();
    config.expire_interval = Duration::from_millis(100);
}

/// Sends `/progress/{path}?{pairs}` and asserts the status.
fn call(s: &TestServer, path: &str, pairs: &[(&str, &str)], status: u16) -> String {
    let r = s.get(&format!("/progress/{path}?{}", python_query(pairs)));
    assert_eq!(r.status, status, "{path} {pairs:?}: {}", r.body);
    r.body
}

/// The time for everything pending to be sent, with margin: the sender
/// looks every 0.5 s.
const SETTLE: Duration = Duration::from_millis(1500);

#[test]
fn a_job_that_asks_is_told_of_a_failure_and_of_its_end_once_each() -> TestResult {
    let receiver = Receiver::start(0);
    let (s, clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(
        &s,
        "create",
        &[
            ("jobid", "nightly"),
            ("desc", "Nightly build"),
            ("workers", "3"),
            ("notify", "1"),
        ],
        200,
    );
    s.report_of_ten("nightly", &[("0", "4", "0")]);
    clock.advance(Secs(1.0));
    s.report_of_ten("nightly", &[("1", "10", "1"), ("2", "10", "1")]);
    // The failed worker recovers and finishes: the job is done.
    s.report_of_ten("nightly", &[("0", "10", "1")]);
    let events = receiver.wait_for(2);
    assert_eq!(events.len(), 2, "{events:#?}");
    let failed = &events[0]["progressd"];
    assert_eq!(failed["event"], "failed");
    assert_eq!(failed["jobid"], "nightly");
    assert_eq!(failed["title"], "Nightly build");
    assert_eq!(failed["workers"][0]["workid"], "0");
    assert_eq!(failed["counts"]["failed"], 1);
    assert_eq!(failed["counts"]["not_started"], 2);
    // The writer's clock moves on by a hair per batch.
    let at = failed["at"].as_f64().unwrap_or_default();
    assert!((at - 1_800_000_000.0).abs() < 1e-3, "{at}");
    let finished = &events[1]["progressd"];
    assert_eq!(finished["event"], "finished");
    assert_eq!(finished["counts"]["done"], 3);
    assert_eq!(finished["counts"]["workers"], 3);
    assert_eq!(
        finished["link"],
        "https://progress.example.org/progress/show?jobid=nightly"
    );
    let text = events[1]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("`nightly` (`Nightly build`) finished") && text.contains("3 of 3 workers"),
        "{text}"
    );
    assert!(failed["id"].as_i64() < finished["id"].as_i64());
    // Reports after the end (and a worker that leaves and comes back
    // done) do not finish it again.
    s.report_of_ten(
        "nightly",
        &[("1", "10", "1"), ("1", "5", "1"), ("1", "10", "1")],
    );
    thread::sleep(SETTLE);
    assert_eq!(receiver.taken().len(), 2, "{:#?}", receiver.events());
    Ok(())
}

#[test]
fn nothing_is_sent_without_the_opt_in_nor_for_kinds_not_asked() -> TestResult {
    let receiver = Receiver::start(0);
    let (s, _clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(&s, "create", &[("jobid", "quiet"), ("workers", "2")], 200);
    s.report_of_ten(
        "quiet",
        &[("0", "3", "0"), ("0", "10", "1"), ("1", "10", "1")],
    );
    // A job created by its first update never asked.
    s.report_of_ten("implicit", &[("a", "3", "0"), ("a", "10", "1")]);
    // This one asks for its end only: its failure is not announced.
    call(
        &s,
        "create",
        &[("jobid", "ends"), ("workers", "1"), ("notify", "finished")],
        200,
    );
    s.report_of_ten("ends", &[("0", "3", "0"), ("0", "10", "1")]);
    let events = receiver.wait_for(1);
    thread::sleep(SETTLE);
    let events = if events.len() > 1 {
        events
    } else {
        receiver.events()
    };
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["progressd"]["jobid"].as_str().unwrap_or_default(),
                e["progressd"]["event"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(kinds, [("ends", "finished")]);
    Ok(())
}

#[test]
fn notify_is_refused_by_a_server_that_sends_none_and_checked_by_one_that_does() -> TestResult {
    let s = TestServer::start();
    let body = call(&s, "create", &[("jobid", "j"), ("notify", "1")], 400);
    assert!(
        body.starts_with("parameter 'notify': this server sends no notifications"),
        "{body}"
    );
    call(&s, "create", &[("jobid", "j"), ("notify", "0")], 200);
    let receiver = Receiver::start(0);
    let s = TestServer::start_with(|c| notifying(c, &[receiver.url("/hook")]));
    let body = call(
        &s,
        "create",
        &[("jobid", "j"), ("notify", "finished,exploded")],
        400,
    );
    assert!(
        body.starts_with("parameter 'notify': \"exploded\" is not an event"),
        "{body}"
    );
    call(
        &s,
        "create",
        &[("jobid", "j"), ("notify", "finished,failed")],
        200,
    );
    Ok(())
}

#[test]
fn a_hostile_desc_arrives_as_data_and_cannot_mention_link_or_escape() -> TestResult {
    let receiver = Receiver::start(0);
    let ntfy = Receiver::start(0);
    let (s, _clock) = TestServer::start_with_clock_and(|c| {
        notifying(
            c,
            &[
                receiver.url("/hook"),
                format!("ntfy+{}", ntfy.url("/topic")),
            ],
        )
    });
    let desc = "<!channel> @here [click](http://evil.example) `code` & \u{1b}]0;owned\u{7}";
    let title = "Job <@U123>\u{202e}";
    call(
        &s,
        "create",
        &[
            ("jobid", "j"),
            ("desc", title),
            ("workers", "2"),
            ("notify", "failed"),
        ],
        200,
    );
    s.update(&[
        ("jobid", "j"),
        ("workid", "0"),
        ("current", "1"),
        ("total", "2"),
        ("ok", "0"),
        ("desc", desc),
    ]);
    let events = receiver.wait_for(1);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0]["progressd"];
    // The structured event carries the texts exactly.
    assert_eq!(event["workers"][0]["desc"], desc);
    assert_eq!(event["title"], title);
    // The chat text has them in code spans, with nothing that fires.
    let text = events[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(
            "`&lt;!channel&gt; @here [click](http://evil.example) 'code' &amp; ?]0;owned?`"
        ),
        "{text}"
    );
    assert!(!text.contains("<!") && !text.contains('\u{1b}') && !text.contains('\u{202e}'));
    // ntfy gets plain text, made safe, and a title header of ASCII only.
    let plain = ntfy.wait_for(1);
    assert!(plain.is_empty(), "ntfy's body is not JSON");
    let taken = ntfy.taken();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].path, "/topic");
    assert!(!taken[0].body.contains('\u{1b}') && !taken[0].body.contains('\u{7}'));
    assert!(
        taken[0].body.contains("<!channel> @here"),
        "{}",
        taken[0].body
    );
    let header = taken[0].title.as_deref().unwrap_or_default();
    assert!(
        header.starts_with("progressd: job j (Job <@U123>?)"),
        "{header}"
    );
    Ok(())
}

#[test]
fn a_failing_receiver_is_retried_until_it_takes_the_message() -> TestResult {
    let receiver = Receiver::start(2);
    let (s, _clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(
        &s,
        "create",
        &[("jobid", "j"), ("workers", "1"), ("notify", "1")],
        200,
    );
    s.report_of_ten("j", &[("0", "10", "1")]);
    // Tries after 0.5 s (poll), then 1 s and 2 s of back-off.
    let start = Instant::now();
    while receiver.taken().is_empty() && start.elapsed() < Duration::from_secs(15) {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(receiver.refused.load(Ordering::SeqCst), 2);
    thread::sleep(SETTLE);
    let events = receiver.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["progressd"]["event"], "finished");
    Ok(())
}

#[test]
fn a_notice_survives_a_restart_and_is_sent_exactly_once() -> TestResult {
    // A port with nobody on it, for now.
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let url = format!("http://{addr}/hook");
    let (mut s, _clock) =
        TestServer::start_with_clock_and(|c| notifying(c, std::slice::from_ref(&url)));
    call(
        &s,
        "create",
        &[("jobid", "j"), ("workers", "1"), ("notify", "1")],
        200,
    );
    s.report_of_ten("j", &[("0", "10", "1")]);
    thread::sleep(SETTLE);
    s.stop();
    // The receiver comes up while the server is down.
    let receiver = Receiver::start_on(&addr.to_string(), 0);
    s.restart();
    let events = receiver.wait_for(1);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["progressd"]["event"], "finished");
    // Restarted again, it has nothing left to send.
    s.restart();
    thread::sleep(SETTLE);
    assert_eq!(receiver.taken().len(), 1);
    Ok(())
}

#[test]
fn a_stale_worker_is_announced_once_per_spell_and_an_unfinished_expiry_once() -> TestResult {
    let receiver = Receiver::start(0);
    let (s, clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(
        &s,
        "create",
        &[
            ("jobid", "j"),
            ("workers", "2"),
            ("notify", "1"),
            ("maxage", "3600"),
        ],
        200,
    );
    s.report_of_ten("j", &[("0", "1", "1"), ("1", "10", "1")]);
    // Worker 0 goes quiet: stale after 120 s.
    clock.advance(Secs(100.0));
    thread::sleep(SETTLE);
    assert!(receiver.taken().is_empty(), "{:#?}", receiver.events());
    clock.advance(Secs(30.0));
    let events = receiver.wait_for(1);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["progressd"]["event"], "stale");
    assert_eq!(events[0]["progressd"]["workers"][0]["workid"], "0");
    // The scan runs on and finds it again: no second message.
    clock.advance(Secs(60.0));
    thread::sleep(SETTLE);
    assert_eq!(receiver.taken().len(), 1);
    // It reports, then stops again: a new spell (its second report,
    // 190 s after its first, gives it five times that to be stale).
    s.report_of_ten("j", &[("0", "2", "1")]);
    clock.advance(Secs(900.0));
    thread::sleep(SETTLE);
    assert_eq!(receiver.taken().len(), 1);
    clock.advance(Secs(60.0));
    let events = receiver.wait_for(2);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["progressd"]["event"], "stale");
    // Unfinished when it expires.
    clock.advance(Secs(3600.0));
    let events = receiver.wait_for(3);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[2]["progressd"]["event"], "expired");
    assert_eq!(events[2]["progressd"]["counts"]["done"], 1);
    // A finished job that expires is not announced again.
    call(
        &s,
        "create",
        &[
            ("jobid", "k"),
            ("workers", "1"),
            ("notify", "finished,expired"),
            ("maxage", "10"),
        ],
        200,
    );
    s.report_of_ten("k", &[("0", "10", "1")]);
    let events = receiver.wait_for(4);
    assert_eq!(events[3]["progressd"]["event"], "finished");
    clock.advance(Secs(20.0));
    thread::sleep(SETTLE);
    assert_eq!(s.get("/progress/status?jobid=k").status, 404, "k expired");
    assert_eq!(receiver.taken().len(), 4, "{:#?}", receiver.events());
    Ok(())
}

#[test]
fn many_failures_fold_into_few_messages_that_count_every_one() -> TestResult {
    let receiver = Receiver::start(0);
    let (s, _clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(
        &s,
        "create",
        &[("jobid", "j"), ("workers", "500"), ("notify", "failed")],
        200,
    );
    let body: String = (0..500)
        .map(|w| format!("workid={w}&current=1&total=10&ok=0\n"))
        .collect();
    let r = s.post("/progress/update?jobid=j", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    thread::sleep(SETTLE);
    let events = receiver.wait_for(1);
    assert!(!events.is_empty());
    thread::sleep(SETTLE);
    let events = receiver.events();
    // Each message names at most ten workers and counts the rest; together
    // they account for all 500.
    let accounted: u64 = events
        .iter()
        .map(|e| {
            let named = e["progressd"]["workers"].as_array().map_or(0, Vec::len);
            assert!(named <= 10);
            named as u64 + e["progressd"]["more"].as_u64().unwrap_or(0)
        })
        .sum();
    assert_eq!(accounted, 500, "{} messages", events.len());
    assert!(events.len() <= 5, "{} messages for one burst", events.len());
    let last = &events[events.len() - 1]["progressd"];
    assert_eq!(last["counts"]["failed"], 500);
    Ok(())
}

#[test]
fn for_a_dead_receiver_a_jobs_failures_wait_in_twenty_rows() -> TestResult {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?
    };
    let (s, _clock) =
        TestServer::start_with_clock_and(|c| notifying(c, &[format!("http://{addr}/hook")]));
    call(
        &s,
        "create",
        &[("jobid", "j"), ("workers", "5000"), ("notify", "1")],
        200,
    );
    for first in (0..5000).step_by(1000) {
        let body: String = (first..first + 1000)
            .map(|w| format!("workid={w}&current=1&total=10&ok=0\n"))
            .collect();
        let r = s.post("/progress/update?jobid=j", &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let db =
        rusqlite::Connection::open_with_flags(s.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (rows, folded, failed): (i64, i64, i64) = db.query_row(
        "SELECT COUNT(*), SUM(more), MAX(failed) FROM notices WHERE kind = 'failed'",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    assert_eq!((rows, folded, failed), (20, 4980, 5000));
    Ok(())
}

#[test]
fn workers_that_go_stale_together_are_one_message_naming_ten() -> TestResult {
    let receiver = Receiver::start(0);
    let (s, clock) = TestServer::start_with_clock_and(|c| notifying(c, &[receiver.url("/hook")]));
    call(
        &s,
        "create",
        &[("jobid", "j"), ("workers", "300"), ("notify", "stale")],
        200,
    );
    let body: String = (0..300)
        .map(|w| format!("workid={w}&current=1&total=10\n"))
        .collect();
    assert_eq!(s.post("/progress/update?jobid=j", &body).status, 200);
    clock.advance(Secs(121.0));
    let events = receiver.wait_for(1);
    thread::sleep(SETTLE);
    assert_eq!(receiver.taken().len(), 1, "{:#?}", receiver.events());
    let event = &events[0]["progressd"];
    assert_eq!(event["event"], "stale");
    assert_eq!(event["workers"].as_array().map(Vec::len), Some(10));
    assert_eq!(event["more"], 290);
    let text = events[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("has stale workers") && text.contains("- and 290 more stale"),
        "{text}"
    );
    Ok(())
}
