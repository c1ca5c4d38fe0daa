//! Nothing lost, nothing mixed up (issue 11): the log's bound at full write
//! speed, one server per database, a database deleted under a running
//! server.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestResult, TestServer};

/// One kept-alive connection sending GETs one after another, as a job's
/// reporting loop (or wrk) does; for short answers (not chunked).
struct KeepAlive {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl KeepAlive {
    fn connect(addr: &str) -> std::io::Result<KeepAlive> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(KeepAlive {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// Sends `GET target` and returns the answer's status and body.
    fn get(&mut self, target: &str) -> std::io::Result<(u16, String)> {
        write!(self.writer, "GET {target} HTTP/1.1\r\nHost: test\r\n\r\n")?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }
}

fn wal_of(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", db.display()))
}

/// Runs `writers` kept-alive connections of updates over 500 workers as
/// fast as they are answered (and `readers` that poll the job's status) for
/// `seconds`; returns the updates acknowledged and the largest log file
/// seen, sampled every 5 ms.
fn full_speed(s: &TestServer, writers: usize, readers: usize, seconds: u64) -> (usize, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for c in 0..writers {
        let (addr, stop, acknowledged) = (s.addr(), stop.clone(), acknowledged.clone());
        threads.push(thread::spawn(move || {
            let mut conn = KeepAlive::connect(&addr).expect("connect");
            for n in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let target = format!(
                    "/progress/update?jobid=wal&workid=w{}&current={n}&total=1000000",
                    (n * writers + c) % 500
                );
                let (status, _) = conn.get(&target).expect("update answered");
                assert_eq!(status, 200, "update {n} of connection {c}");
                acknowledged.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for _ in 0..readers {
        let (base, stop) = (s.base.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            // Kept alive by the agent; a large answer comes chunked.
            let agent = ureq::Agent::new_with_defaults();
            while !stop.load(Ordering::Relaxed) {
                let r = agent
                    .get(format!("{base}/progress/status?jobid=wal"))
                    .call();
                assert!(r.is_ok_and(|r| r.status() == 200), "status answered");
            }
        }));
    }
    let wal = wal_of(&s.db());
    let started = Instant::now();
    let mut largest = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    (acknowledged.load(Ordering::Relaxed), largest)
}

#[test]
fn the_log_stays_under_8_mib_at_full_write_speed_with_and_without_readers() {
    // Before the fix the log started again only when the writer paused, so
    // under a steady stream it grew by megabytes a second.
    let s = TestServer::start();
    for w in 0..500 {
        let target = format!("/progress/update?jobid=wal&workid=w{w}&current=0&total=1000000");
        assert_eq!(s.get(&target).status, 200);
    }
    let bound = 8 * 1024 * 1024;
    let (updates, largest) = full_speed(&s, 6, 0, 5);
    assert!(updates > 5_000, "load ran: {updates} updates");
    assert!(
        largest < bound,
        "without readers the log file reached {largest} bytes ({updates} updates)"
    );
    let (updates, largest) = full_speed(&s, 6, 2, 5);
    assert!(updates > 2_000, "load ran: {updates} updates");
    assert!(
        largest < bound,
        "with readers the log file reached {largest} bytes ({updates} updates)"
    );
}

#[test]
fn a_second_server_on_the_same_database_is_refused_and_the_first_serves_on() -> TestResult {
    let s = TestServer::start();
    s.update(&[
        ("jobid", "m"),
        ("workid", "a"),
        ("current", "1"),
        ("total", "2"),
    ]);
    let mut second = s.config.clone();
    second.listen = "127.0.0.1:0".into();
    let refused = match progressd::start(&second) {
        Ok(_) => panic!("a second server started on the same database"),
        Err(e) => e.to_string(),
    };
    assert!(
        refused.contains(&s.db().display().to_string())
            && refused.contains("in use by another progressd")
            && refused.contains(&format!("process {}", std::process::id())),
        "{refused}"
    );
    s.update(&[
        ("jobid", "m"),
        ("workid", "b"),
        ("current", "1"),
        ("total", "2"),
    ]);
    assert_eq!(s.status("m")["workers"].as_array().map(Vec::len), Some(2));
    Ok(())
}

/// Starts the binary on `db`, which must refuse to start (exit code 1)
/// within 20 s; returns what it said. One that serves instead is killed.
fn refused_start(db: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let mut child = common::progressd_command()
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill()?;
            child.wait()?;
            panic!("progressd started on {} instead of refusing", db.display());
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr)?;
    }
    assert_eq!(status.code(), Some(1), "{stderr}");
    Ok(stderr)
}

#[test]
fn the_binary_names_the_process_holding_its_database() -> TestResult {
    let s = TestServer::start();
    let stderr = refused_start(&s.db())?;
    assert!(
        stderr.contains(&format!(
            "is in use by another progressd (process {})",
            std::process::id()
        )),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn writes_to_a_deleted_database_answer_503_until_it_is_back() -> TestResult {
    let s = TestServer::start();
    let update = |workid: &str| {
        s.get(&format!(
            "/progress/update?jobid=j&workid={workid}&current=1&total=2"
        ))
        .status
    };
    assert_eq!(update("before"), 200);
    assert_eq!(s.get("/healthz").status, 200);
    // Moved away with its log, as `rm` or `mv` would: the server still
    // holds both open, and SQLite would go on writing to them.
    let dir = tempfile::tempdir()?;
    let (db, wal) = (s.db(), wal_of(&s.db()));
    let (db_aside, wal_aside) = (dir.path().join("db"), dir.path().join("db-wal"));
    std::fs::rename(&db, &db_aside)?;
    std::fs::rename(&wal, &wal_aside)?;
    for n in 0..5 {
        assert_eq!(update(&format!("lost{n}")), 503, "no write acknowledged");
    }
    assert_eq!(s.get("/progress/create?jobid=new").status, 503);
    assert_eq!(s.get("/healthz").status, 503);
    // Put back, the same file is written again.
    std::fs::rename(&db_aside, &db)?;
    std::fs::rename(&wal_aside, &wal)?;
    assert_eq!(update("after"), 200);
    assert_eq!(s.get("/healthz").status, 200);
    let workers: Vec<String> = s.status("j")["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .filter_map(|w| w["workid"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(workers, ["after", "before"]);
    Ok(())
}

#[test]
fn the_binary_refuses_a_database_with_damaged_pages() -> TestResult {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("damaged.sqlite3");
    {
        let mut s = TestServer::start_with(|c| c.db = db.clone());
        for w in 0..400 {
            let desc = "x".repeat(200);
            let target =
                format!("/progress/update?jobid=d&workid=w{w}&current=1&total=2&desc={desc}");
            assert_eq!(s.get(&target).status, 200);
        }
        // A graceful stop leaves every page in the database file.
        s.stop();
    }
    let mut bytes = std::fs::read(&db)?;
    assert!(bytes.len() > 30 * 4096, "{} bytes", bytes.len());
    bytes[20 * 4096..21 * 4096].fill(0x5a);
    std::fs::write(&db, bytes)?;
    let stderr = refused_start(&db)?;
    assert!(stderr.contains("is damaged"), "{stderr}");
    Ok(())
}

#[test]
fn healthz_answers_503_while_no_write_can_commit_and_200_again_after() -> TestResult {
    let s = TestServer::start();
    assert_eq!(s.get("/healthz").status, 200);
    // Another process holds the database's write lock: reads still work,
    // writes cannot commit, and a monitor must hear so.
    let other = rusqlite::Connection::open(s.db())?;
    other.execute_batch("BEGIN IMMEDIATE")?;
    let started = Instant::now();
    let health = s.get("/healthz");
    let took = started.elapsed();
    assert_eq!(health.status, 503, "{}", health.body);
    assert!(health.body.starts_with("not healthy"), "{}", health.body);
    assert!(took < Duration::from_secs(5), "{took:?}");
    other.execute_batch("ROLLBACK")?;
    let started = Instant::now();
    while s.get("/healthz").status != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "healthz stayed 503"
        );
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
