//! A real progressd on a free port with a temp database, and an HTTP client
//! for it. The server stops when the guard is dropped.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;
use std::time::Duration;

mod child;
#[allow(unused_imports)] // each test binary uses its own part of this module
pub use child::ChildServer as BinaryServer;

use progressd::Running;
use progressd::clock::{Clock, Time};
use progressd::config::Config;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A running server and the temp dir holding its database.
pub struct TestServer {
    running: Option<Running>,
    pub config: Config,
    pub base: String,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// An answer: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// Starts with a manual clock, at 2027-01-15 08:00 UTC until the test
    /// moves it: the server reads the present from it, so a test sets
    /// exact times between reports instead of sleeping.
    pub fn start_with_clock() -> (TestServer, Clock) {
        TestServer::start_with_clock_and(|_| {})
    }

    /// As [`TestServer::start_with_clock`], with the test defaults changed
    /// by `adjust`.
    pub fn start_with_clock_and(adjust: impl FnOnce(&mut Config)) -> (TestServer, Clock) {
        let clock = Clock::manual(Time::unix(1_800_000_000.0));
        let s = TestServer::start_with(|c| {
            c.clock = clock.clone();
            adjust(c);
        });
        (s, clock)
    }

    /// Starts with the test defaults changed by `adjust`.
    pub fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("progressd.sqlite3");
        // One line per request would bury a test's own output.
        let mut config = Config::from_args(&[
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db.to_string_lossy(),
            "--log-level",
            "warn",
        ])
        .expect("the test options are valid");
        adjust(&mut config);
        let running = progressd::start(&config).expect("server starts");
        let base = format!("http://{}", running.addr());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        TestServer {
            running: Some(running),
            config,
            base,
            agent,
            _dir: dir,
        }
    }

    pub fn db(&self) -> PathBuf {
        self.config.db.clone()
    }

    /// Stops the server gracefully, as SIGTERM would.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }

    /// Stops the server and starts a new one on the same database file.
    pub fn restart(&mut self) {
        self.stop();
        let running = progressd::start(&self.config).expect("server restarts");
        self.base = format!("http://{}", running.addr());
        self.running = Some(running);
    }

    /// The body of `/metrics` once it holds `line`, or after 5 s: a
    /// request is counted just after its answer is sent, so a client that
    /// has the answer may ask before it is counted.
    pub fn metrics_with(&self, line: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let body = self.get("/metrics").body;
            if body.contains(line) || started.elapsed().as_secs() >= 5 {
                return body;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// GET `path_and_query`, sent exactly as written (already URL-encoded).
    pub fn get(&self, path_and_query: &str) -> Reply {
        let response = self
            .agent
            .get(format!("{}{}", self.base, path_and_query))
            .call()
            .expect("request answered");
        reply(response)
    }

    /// GET with extra request headers.
    pub fn get_with(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(format!("{}{}", self.base, path_and_query));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        reply(request.call().expect("request answered"))
    }

    /// POST a form body (already URL-encoded) to `path`.
    pub fn post(&self, path: &str, body: &str) -> Reply {
        let response = self
            .agent
            .post(format!("{}{}", self.base, path))
            .content_type("application/x-www-form-urlencoded")
            .send(body)
            .expect("request answered");
        reply(response)
    }

    /// The status JSON of a job that must exist.
    pub fn status(&self, jobid: &str) -> serde_json::Value {
        let r = self.get(&format!("/progress/status?jobid={}", python_quote(jobid)));
        assert_eq!(r.status, 200, "status of {jobid:?}: {}", r.body);
        r.json()
    }

    /// Reports each `(workid, current, ok)` of `jobid`, out of a total of
    /// 100; asserts each was accepted.
    pub fn report_percents(&self, jobid: &str, workers: &[(&str, &str, &str)]) {
        for (workid, current, ok) in workers {
            self.update(&[
                ("jobid", jobid),
                ("workid", workid),
                ("current", current),
                ("total", "100"),
                ("ok", ok),
            ]);
        }
    }

    /// Sends an update built from pairs, encoded as Python requests does;
    /// asserts it was accepted.
    pub fn update(&self, pairs: &[(&str, &str)]) {
        let r = self.get(&format!("/progress/update?{}", python_query(pairs)));
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "OK\n"),
            "update {pairs:?}"
        );
    }

    /// Reports each `(workid, current, ok)` of job `jobid`, out of 10.
    pub fn report_of_ten(&self, jobid: &str, workers: &[(&str, &str, &str)]) {
        for &(workid, current, ok) in workers {
            self.update(&[
                ("jobid", jobid),
                ("workid", workid),
                ("current", current),
                ("total", "10"),
                ("ok", ok),
            ]);
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown();
        }
    }
}

/// A response read whole.
pub fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect::<Vec<_>>();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Percent-encodes all but letters, digits and `_.-~`; a space becomes `+`
/// or `%20`.
fn quote(s: &str, space_as_plus: bool) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' if space_as_plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes like Python's `urllib.parse.quote_plus`, which `requests` uses for
/// `params=`.
pub fn python_quote(s: &str) -> String {
    quote(s, true)
}

/// A query string as `requests.get(url, params={...})` sends it.
pub fn python_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", python_quote(k), python_quote(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Encodes like `curl --data-urlencode name=value` (space as `%20`).
pub fn curl_quote(s: &str) -> String {
    quote(s, false)
}

/// The workers of a status document, by workid.
pub fn worker<'a>(status: &'a serde_json::Value, workid: &str) -> &'a serde_json::Value {
    status["workers"]
        .as_array()
        .and_then(|ws| ws.iter().find(|w| w["workid"] == workid))
        .unwrap_or_else(|| panic!("no worker {workid:?} in {status}"))
}

/// Sends raw bytes on a new connection and returns everything the server
/// sends back until it closes the connection (or 10 s pass).
pub fn raw_exchange(addr: &str, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // The server may close before reading all of a hostile request.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// Waits (up to 30 s) until the server at `addr` lists job `jobid` with
/// `workers` workers: `create` answers once the job exists, and a roster
/// past its first few hundred workers is inserted in slices after it.
pub fn wait_for_roster(addr: &str, jobid: &str, workers: u64) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let started = std::time::Instant::now();
    loop {
        let listed = agent
            .get(format!("http://{addr}/progress/jobs"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok());
        let count = listed.as_ref().and_then(|jobs| {
            jobs.as_array()?.iter().find(|job| job["jobid"] == jobid)?["workers"].as_u64()
        });
        if count == Some(workers) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job {jobid:?} has {count:?} workers, not {workers}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl TestServer {
    /// `host:port` of the server.
    pub fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }
}

/// A `progressd` command for the binary under test, logging at its
/// default level whatever `RUST_LOG` says.
pub fn progressd_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_progressd"));
    command.env_remove("RUST_LOG");
    command
}
