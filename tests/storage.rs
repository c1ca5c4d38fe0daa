//! What the SQLite file guarantees: data survives a restart, concurrent
//! updates are all kept, expired jobs go, and the binary starts and refuses
//! what it should.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{BinaryServer, TestResult, TestServer, progressd_command, worker};
use progressd::clock::Secs;

#[test]
fn data_survives_a_restart_on_the_same_file() {
    let mut s = TestServer::start();
    s.get("/progress/create?jobid=keep&desc=Kept&maxage=86400");
    s.update(&[
        ("jobid", "keep"),
        ("workid", "w1"),
        ("current", "3"),
        ("total", "9"),
        ("desc", "step 3"),
    ]);
    s.update(&[
        ("jobid", "keep"),
        ("workid", "w2"),
        ("current", "1"),
        ("total", "9"),
        ("ok", "0"),
    ]);
    let mut before = s.status("keep");
    s.restart();
    let mut after = s.status("keep");
    // Everything but the time of the answer is the same.
    before["now"] = serde_json::Value::Null;
    after["now"] = serde_json::Value::Null;
    assert_eq!(before, after);
    assert_eq!(worker(&after, "w1")["desc"], "step 3");
    assert_eq!(worker(&after, "w2")["state"], "failed");
    // And the restarted server keeps taking updates, total kept from before.
    s.update(&[("jobid", "keep"), ("workid", "w1"), ("current", "9")]);
    assert_eq!(worker(&s.status("keep"), "w1")["state"], "done");
}

#[test]
fn thirty_two_threads_of_updates_lose_nothing() {
    const THREADS: usize = 32;
    const UPDATES: usize = 150;
    let s = Arc::new(TestServer::start());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                for n in 0..UPDATES {
                    // One worker row per update proves each was stored, and
                    // a shared worker per thread that each was applied in order.
                    let (workid, current) = (format!("t{t}-u{n}"), n.to_string());
                    s.update(&[
                        ("jobid", "load"),
                        ("workid", &workid),
                        ("current", "1"),
                        ("total", "1"),
                    ]);
                    let shared = format!("t{t}");
                    s.update(&[
                        ("jobid", "load"),
                        ("workid", &shared),
                        ("current", &current),
                        ("total", "1000"),
                    ]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    let status = s.status("load");
    let workers = status["workers"].as_array().expect("workers");
    assert_eq!(workers.len(), THREADS * UPDATES + THREADS);
    for t in 0..THREADS {
        assert_eq!(
            worker(&status, &format!("t{t}"))["current"],
            UPDATES - 1,
            "thread {t}'s last update"
        );
    }
}

#[test]
fn expired_jobs_are_deleted_and_active_ones_kept() {
    let (s, clock) = TestServer::start_with_clock_and(|c| {
        c.expire_interval = Duration::from_millis(100);
    });
    s.get("/progress/create?jobid=short&maxage=10");
    s.update(&[
        ("jobid", "short"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    s.get("/progress/create?jobid=active&maxage=10");
    s.get("/progress/create?jobid=long&maxage=3600");
    // `active` reports 9 s on, so its expiry moves with it.
    clock.advance(Secs(9.0));
    s.update(&[
        ("jobid", "active"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "1000"),
    ]);
    // At its maxage, and within the second the expiry allows for the
    // activity stamp's lag, `short` is kept: never deleted early.
    clock.advance(Secs(1.9));
    thread::sleep(Duration::from_millis(500));
    assert_eq!(s.get("/progress/status?jobid=short").status, 200);
    // Past it, the next expiry run deletes it, and only it.
    clock.advance(Secs(0.2));
    let started = Instant::now();
    while s.get("/progress/status?jobid=short").status == 200 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "short job never expired"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.get("/progress/status?jobid=active").status, 200);
    assert_eq!(s.get("/progress/status?jobid=long").status, 200);
    // The expired job's workers went with it: a new job of the same id
    // starts empty.
    s.get("/progress/create?jobid=short");
    assert_eq!(
        s.status("short")["workers"].as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn expiry_counts_from_the_last_update() {
    let (s, clock) = TestServer::start_with_clock();
    s.get("/progress/create?jobid=e&maxage=600");
    let created = s.status("e");
    clock.advance(Secs(20.0));
    s.update(&[
        ("jobid", "e"),
        ("workid", "w"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let updated = s.status("e");
    let (c, u) = (
        created["expires"].as_f64().unwrap_or(0.0),
        updated["expires"].as_f64().unwrap_or(0.0),
    );
    assert!(
        (u - c - 20.0).abs() < 1e-3,
        "an update pushes expiry back: {c} → {u}"
    );
    let lifetime = u - updated["updated"].as_f64().unwrap_or(0.0);
    assert!((lifetime - 600.0).abs() < 0.01);
}

#[test]
fn binary_logs_its_address_and_database_and_serves() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bin.sqlite3");
    let mut command = progressd();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db);
    let server = BinaryServer::spawn(command)?;
    assert!(
        server.log_line.contains(&db.display().to_string()),
        "{}",
        server.log_line
    );
    let r = ureq::get(format!(
        "http://{}/progress/update?jobid=b&workid=w&current=1&total=2",
        server.addr
    ))
    .call()?
    .body_mut()
    .read_to_string()?;
    assert_eq!(r, "OK\n");
    assert!(db.exists(), "database created");
    Ok(())
}

#[test]
fn every_acknowledged_update_survives_sigkill() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crash.sqlite3");
    let server = serve_binary(&db)?;
    let addr = server.addr.to_string();
    // Eight clients create workers as fast as they are acknowledged, until
    // the server is killed under them.
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for n in 0..100_000 {
                    let url = format!(
                        "http://{addr}/progress/update?jobid=crash&workid=c{c}-{n}&current=1&total=1"
                    );
                    match ureq::get(&url).call() {
                        Ok(r) if r.status() == 200 => acknowledged.push(format!("c{c}-{n}")),
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    server.kill();
    let acknowledged: Vec<String> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("client"))
        .collect();
    assert!(acknowledged.len() > 50, "load ran: {}", acknowledged.len());
    let conn = rusqlite::Connection::open(&db)?;
    let mut stmt = conn.prepare("SELECT workid FROM workers")?;
    let stored: std::collections::HashSet<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|w| !stored.contains(*w))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged updates lost",
        lost.len(),
        acknowledged.len()
    );
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    Ok(())
}

#[test]
fn the_write_ahead_log_stays_bounded_while_pages_poll_during_writes() {
    let mut s = TestServer::start();
    let wal = PathBuf::from(format!("{}-wal", s.db().display()));
    for w in 0..200 {
        s.update(&[
            ("jobid", "wal"),
            ("workid", &format!("w{w}")),
            ("current", "0"),
            ("total", "1000000"),
        ]);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let base = s.base.clone();
    // Readers poll the status JSON and the page all the time, as watching
    // browsers do; writers update the job's workers as fast as answered.
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let (base, stop) = (base.clone(), stop.clone());
            thread::spawn(move || {
                let path = if r % 2 == 0 { "status" } else { "show" };
                let mut polls = 0;
                while !stop.load(Ordering::SeqCst) {
                    let r = ureq::get(format!("{base}/progress/{path}?jobid=wal")).call();
                    assert!(r.is_ok_and(|r| r.status() == 200), "poll answered");
                    polls += 1;
                }
                polls
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|c| {
            let (base, stop) = (base.clone(), stop.clone());
            thread::spawn(move || {
                let mut acknowledged = 0;
                for n in 1.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let url = format!(
                        "{base}/progress/update?jobid=wal&workid=w{}&current={n}&total=1000000",
                        (n * 4 + c) % 200
                    );
                    if ureq::get(url).call().is_ok_and(|r| r.status() == 200) {
                        acknowledged += 1;
                    }
                }
                acknowledged
            })
        })
        .collect();
    let started = Instant::now();
    let mut largest = 0;
    let first_restart = wal_restarts(&wal);
    while started.elapsed() < Duration::from_secs(4) {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        thread::sleep(Duration::from_millis(20));
    }
    let restarts = wal_restarts(&wal) - first_restart;
    stop.store(true, Ordering::SeqCst);
    let polls: usize = readers.into_iter().map(|r| r.join().expect("reader")).sum();
    let updates: usize = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    assert!(
        polls > 20 && updates > 100,
        "load ran: {polls} polls, {updates} updates"
    );
    // Without checkpoints the log never starts again and grows with every
    // commit; with them it starts again whenever no reader is in it.
    assert!(
        restarts >= 1,
        "log restarted {restarts} times in 4 s ({updates} updates, {polls} polls)"
    );
    // docs/reliability.md's promise; tests/reliability.rs holds it at full speed.
    let bound = 8 * 1024 * 1024;
    assert!(largest < bound, "log file reached {largest} bytes");
    // A graceful stop leaves the database file complete by itself.
    s.stop();
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(left, 0, "log left after shutdown");
}

/// How many times the write-ahead log has started again: the checkpoint
/// sequence number in its header (bytes 12–15, big-endian).
fn wal_restarts(wal: &std::path::Path) -> u32 {
    let header = std::fs::read(wal).expect("the log exists");
    u32::from_be_bytes(header[12..16].try_into().expect("a WAL header"))
}

#[test]
fn sigterm_and_sigint_stop_gracefully_under_load() -> TestResult {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("stop.sqlite3");
        let mut server = serve_binary(&db)?;
        let addr = server.addr.to_string();
        // An idle kept-alive connection must not hold the shutdown up.
        let idle = std::net::TcpStream::connect(&addr)?;
        // Four clients each raise one worker's `current` until the server
        // goes away; each remembers the last value answered 200 and every
        // status that was not 200.
        let clients: Vec<_> = (0..4)
            .map(|c| {
                let addr = addr.clone();
                thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(10)))
                        .build()
                        .into();
                    let mut acknowledged = 0;
                    let mut other_statuses = Vec::new();
                    for n in 1..1_000_000 {
                        let url = format!(
                            "http://{addr}/progress/update?jobid=stop&workid=w{c}&current={n}&total=1000000"
                        );
                        match agent.get(&url).call() {
                            Ok(r) if r.status() == 200 => acknowledged = n,
                            Ok(r) => other_statuses.push(r.status().as_u16()),
                            Err(_) => break,
                        }
                    }
                    (format!("w{c}"), acknowledged, other_statuses)
                })
            })
            .collect();
        thread::sleep(Duration::from_millis(400));
        let (status, took) = server.stop_with(signal)?;
        assert!(status.success(), "SIG{signal}: exit {status}");
        assert!(took < Duration::from_secs(5), "SIG{signal}: took {took:?}");
        drop(idle);
        let conn = rusqlite::Connection::open(&db)?;
        for client in clients {
            let (workid, acknowledged, other_statuses) = client.join().expect("client");
            assert!(acknowledged > 0, "SIG{signal}: {workid} got answers");
            assert!(
                other_statuses.is_empty(),
                "SIG{signal}: {workid} got {other_statuses:?}"
            );
            let stored: f64 = conn.query_row(
                "SELECT current FROM workers WHERE workid = ?1",
                [&workid],
                |r| r.get(0),
            )?;
            assert!(
                stored >= acknowledged as f64,
                "SIG{signal}: {workid} stored {stored} < acknowledged {acknowledged}"
            );
        }
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        assert_eq!(check, "ok");
    }
    Ok(())
}

#[test]
fn an_answer_still_being_sent_at_sigterm_arrives_whole() -> TestResult {
    // What the socket does not take of a large answer at once is sent by a
    // thread of its own after the request thread has moved on; a graceful
    // shutdown waits for it (within its grace) instead of exiting under it.
    use std::io::{Read, Write};
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("send.sqlite3");
    // A page with a bar per worker, the large answer (past 500 workers the
    // show page is otherwise the big-job page, a few KB).
    let mut command = progressd();
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--list-all-up-to",
            "20000",
            "--db",
        ])
        .arg(&db);
    let mut server = BinaryServer::spawn(command)?;
    let created = common::raw_exchange(
        &server.addr.to_string(),
        b"GET /progress/create?jobid=big&workers=20000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(created.starts_with(b"HTTP/1.1 200"));
    common::wait_for_roster(&server.addr.to_string(), "big", 20000);
    let mut stream = std::net::TcpStream::connect(&server.addr)?;
    stream.write_all(
        b"GET /progress/show?jobid=big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    // The answer has begun (and the socket holds all it can of it).
    stream.peek(&mut [0u8; 1])?;
    let stopping = thread::spawn(move || server.stop_with("TERM"));
    // Longer than a shutdown takes with nothing in flight.
    thread::sleep(Duration::from_millis(500));
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let (status, _) = stopping.join().map_err(|_| "stopping panicked")??;
    assert!(status.success(), "exit {status}");
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    // The show page is sent chunked; its last chunk is the empty one.
    assert!(
        answer.ends_with(b"\r\n0\r\n\r\n"),
        "the page arrived whole ({} bytes)",
        answer.len()
    );
    Ok(())
}

fn progressd() -> Command {
    progressd_command()
}

/// Starts the binary on `db`, which must refuse to start with exit code 1;
/// returns what it said.
fn refused_start(db: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    let out = progressd()
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    Ok(String::from_utf8(out.stderr)?)
}

/// `progressd serve` on a free port and `db`.
fn serve_binary(db: &std::path::Path) -> Result<BinaryServer, String> {
    let mut command = progressd();
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db);
    BinaryServer::spawn(command)
}

#[test]
fn binary_help_and_version() -> TestResult {
    let help = progressd().arg("--help").output()?;
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout)?;
    for option in [
        "--listen",
        "--db",
        "--threads",
        "--expire-interval",
        "--default-maxage",
        "serve",
    ] {
        assert!(text.contains(option), "{option} in --help");
    }
    let version = progressd().arg("--version").output()?;
    assert_eq!(
        String::from_utf8(version.stdout)?.trim(),
        format!("progressd {}", env!("CARGO_PKG_VERSION"))
    );
    Ok(())
}

#[test]
fn binary_takes_options_from_the_environment() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("env.sqlite3");
    let mut command = progressd();
    command
        .env("PROGRESSD_LISTEN", "127.0.0.1:0")
        .env("PROGRESSD_DB", &db);
    let server = BinaryServer::spawn(command)?;
    assert!(
        server.log_line.contains(&db.display().to_string()),
        "{}",
        server.log_line
    );
    drop(server);
    // A bad value from the environment is refused like a bad option.
    let mut child = progressd()
        .env("PROGRESSD_LISTEN", "127.0.0.1:0")
        .env("PROGRESSD_DB", &db)
        .env("PROGRESSD_THREADS", "0")
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("PROGRESSD_THREADS=0 was ignored: the server started".into());
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(2));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().ok_or("stderr")?, &mut stderr)?;
    assert!(stderr.contains("--threads"), "{stderr}");
    Ok(())
}

#[test]
fn binary_refuses_a_database_from_a_newer_version() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("future.sqlite3");
    rusqlite::Connection::open(&db)?.pragma_update(None, "user_version", 999)?;
    let stderr = refused_start(&db)?;
    assert!(stderr.contains("newer than this progressd"), "{stderr}");
    Ok(())
}

#[test]
fn binary_reports_a_missing_database_directory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("no/such/dir/x.sqlite3");
    let stderr = refused_start(&db)?;
    assert!(
        stderr.contains("does not exist") && stderr.contains("no/such/dir"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn binary_reports_a_database_directory_it_cannot_write() -> TestResult {
    // /proc takes no new files, even from root (tests may run as root, who
    // ignores permission bits).
    let stderr = refused_start(std::path::Path::new("/proc/progressd-test.sqlite3"))?;
    assert!(
        stderr.contains("cannot use database directory /proc: cannot create files in it"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn demo_runs_simulated_workers_on_a_temporary_database() -> TestResult {
    demo_with(&[], "")
}

#[test]
fn the_demo_sends_the_servers_write_token() -> TestResult {
    // Without it, every report of the demo was refused (401) and the page
    // stayed empty.
    demo_with(
        &["--write-token", "demo-w", "--read-token", "demo-r"],
        "&token=demo-r",
    )
}

/// Runs `progressd demo` with `options`, reading its pages with `token`
/// (a query suffix), and checks its workers report.
fn demo_with(options: &[&str], token: &str) -> TestResult {
    use std::io::BufRead;
    let cwd = tempfile::tempdir()?;
    // Killed should the test fail before it stops the demo itself.
    let mut child = Reaped(
        progressd()
            .args(["demo", "--listen", "127.0.0.1:0"])
            .args(options)
            .current_dir(cwd.path())
            .env_remove("PROGRESSD_DB")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let show = loop {
        let line = lines
            .next()
            .ok_or("demo ended before printing its link")??;
        if let Some(url) = line.split("watch it at ").nth(1) {
            break url.to_string();
        }
    };
    let show = format!("{show}{token}");
    let status_url = show.replace("/show?", "/status?");
    let started = Instant::now();
    let workers = loop {
        let status: serde_json::Value = ureq::get(&status_url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .and_then(|body| serde_json::from_str(&body).ok())
            .unwrap_or_default();
        let reported = status["workers"].as_array().map_or(0, |workers| {
            workers
                .iter()
                .filter(|w| w["state"] != "not_started")
                .count()
        });
        let expected = status["workers"].as_array().map_or(0, Vec::len);
        if reported == 23 || started.elapsed() > Duration::from_secs(15) {
            break (reported, expected);
        }
        thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        workers,
        (23, 24),
        "every simulated worker but the late one reported; the roster names all"
    );
    assert!(ureq::get(&show).call().is_ok_and(|r| r.status() == 200));
    let demo_dir = std::env::temp_dir().join(format!("progressd-demo-{}", child.0.id()));
    assert!(
        demo_dir.join("demo.sqlite3").exists(),
        "a temporary database"
    );
    let _ = Command::new("kill")
        .args(["-s", "INT", &child.0.id().to_string()])
        .status();
    let status = child.0.wait()?;
    assert!(status.success(), "Ctrl-C ends it: {status}");
    assert!(!demo_dir.exists(), "the temporary database is removed");
    assert_eq!(
        std::fs::read_dir(cwd.path())?.count(),
        0,
        "nothing in the cwd"
    );
    Ok(())
}

/// A child process, killed if it is still running when this is dropped.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
