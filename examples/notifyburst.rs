//! Notifications under a burst (issue 15): 1,000 jobs that asked to be
//! told finish at once while other clients keep updating, against a
//! receiver that answers at once, one that takes 100 ms per message, and
//! one that is down. For each it prints the updates' latency before and
//! during the burst, how long the messages took to arrive, and the
//! server's memory, so the cost of notifying is read against a baseline of
//! the same run. Talks only to 127.0.0.1.
//!
//!   cargo build --release && cargo run --release --example notifyburst [-- --jobs 1000 --seconds 8]

mod common;

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{HttpConnection, Server, exit_code, percentile_ms, process_size, progressd_binary};

/// Options.
#[derive(Parser, Debug)]
#[command(about = "Update latency while 1,000 notifying jobs finish at once")]
struct Options {
    /// Jobs that finish in the burst, each of one worker.
    #[arg(long, default_value_t = 1000)]
    jobs: usize,
    /// Seconds of steady updates per receiver; the burst comes at a third.
    #[arg(long, default_value_t = 9)]
    seconds: u64,
    /// Client threads sending steady updates.
    #[arg(long, default_value_t = 4)]
    clients: usize,
}

/// How the receiver behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Receiving {
    /// Answers 200 at once.
    Fast,
    /// Answers 200 after 100 ms.
    Slow,
    /// Nobody listens.
    Down,
}

fn main() -> ExitCode {
    exit_code("notifyburst", run(&Options::parse()))
}

fn run(options: &Options) -> Result<bool, Box<dyn Error>> {
    let binary = progressd_binary()?;
    println!(
        "{} jobs finish at once {} s into {} s of updates from {} clients",
        options.jobs,
        options.seconds / 3,
        options.seconds,
        options.clients
    );
    println!(
        "{:<10} {:>22} {:>22} {:>10} {:>12} {:>12}",
        "receiver",
        "before: p50/p99/max ms",
        "during: p50/p99/max ms",
        "upd/s",
        "messages",
        "RSS MB"
    );
    let mut sound = true;
    for receiving in [Receiving::Fast, Receiving::Slow, Receiving::Down] {
        sound &= one_run(&binary, options, receiving)?;
    }
    Ok(sound)
}

/// One receiver's run; false when a message went missing.
fn one_run(
    binary: &std::path::Path,
    options: &Options,
    receiving: Receiving,
) -> Result<bool, Box<dyn Error>> {
    let receiver = Receiver::start(receiving)?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("burst.sqlite3");
    let url = format!("http://{}/hook", receiver.addr);
    let server = Server::start_with(binary, &db, &["--notify-url", &url])?;
    let addr = server.addr;
    let timeout = Duration::from_secs(10);
    let mut conn = HttpConnection::open(addr, timeout)?;
    for j in 0..options.jobs {
        get_ok(
            &mut conn,
            &format!("/progress/create?jobid=b{j}&workers=1&notify=1"),
        )?;
        get_ok(
            &mut conn,
            &format!("/progress/update?jobid=b{j}&workid=0&current=5&total=10"),
        )?;
    }
    let rss_before = process_size(server.pid()).map_or(0, |(_, kb)| kb);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let samples: Arc<Mutex<Vec<(Duration, u64)>>> = Arc::default();
    let clients: Vec<_> = (0..options.clients)
        .map(|c| {
            let (stop, samples) = (stop.clone(), samples.clone());
            thread::spawn(move || steady_updates(addr, c, start, &stop, &samples))
        })
        .collect();
    thread::sleep(Duration::from_secs(options.seconds / 3));
    let burst_start = start.elapsed();
    let burst = {
        let jobs = options.jobs;
        thread::spawn(move || finish_jobs(addr, jobs))
    };
    burst.join().map_err(|_| "the burst thread panicked")??;
    let burst_sent = start.elapsed();
    // A fast receiver gets every message (or the run fails); the others
    // get what they can until the run ends, with updates going on.
    let end = start + Duration::from_secs(options.seconds);
    let deadline = Instant::now() + Duration::from_secs(30);
    let arrived = loop {
        let got = receiver.taken.load(Ordering::SeqCst);
        let waiting = match receiving {
            Receiving::Fast => got < options.jobs && Instant::now() < deadline,
            _ => Instant::now() < end,
        };
        if !waiting {
            break got;
        }
        thread::sleep(Duration::from_millis(10));
    };
    let delivered_after = start.elapsed() - burst_start;
    thread::sleep(end.saturating_duration_since(Instant::now()));
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.join().map_err(|_| "a client thread panicked")?;
    }
    let rss_after = process_size(server.pid()).map_or(0, |(_, kb)| kb);
    let samples = samples.lock().map_err(|_| "samples lock")?.clone();
    // "During": from the burst's first update until its messages are in
    // (the end of the run, for a slow receiver or one that is down), and
    // at least until the burst is sent, and 1 s.
    let during_end = (burst_start + delivered_after)
        .max(burst_sent)
        .max(burst_start + Duration::from_secs(1));
    let before: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at < burst_start)
        .map(|(_, us)| *us)
        .collect();
    let during: Vec<u64> = samples
        .iter()
        .filter(|(at, _)| *at >= burst_start && *at <= during_end)
        .map(|(_, us)| *us)
        .collect();
    let rate = samples.len() as f64 / start.elapsed().as_secs_f64();
    let messages = match receiving {
        Receiving::Down => format!("{} waiting", waiting_notices(&db)?),
        _ => format!("{arrived} in {:.1}s", delivered_after.as_secs_f64()),
    };
    let figures = |l: &[u64]| {
        format!(
            "{:.1}/{:.1}/{:.1}",
            percentile_ms(l, 0.5),
            percentile_ms(l, 0.99),
            percentile_ms(l, 1.0)
        )
    };
    println!(
        "{:<10} {:>22} {:>22} {:>10.0} {:>12} {:>5.0} → {:<5.0}",
        format!("{receiving:?}").to_lowercase(),
        figures(&before),
        figures(&during),
        rate,
        messages,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
    );
    drop(server);
    let complete = receiving != Receiving::Fast || arrived >= options.jobs;
    if !complete {
        println!("  only {arrived} of {} messages arrived", options.jobs);
    }
    Ok(complete)
}

/// Sends GET `path` and fails unless it is answered 200.
fn get_ok(conn: &mut HttpConnection, path: &str) -> Result<(), Box<dyn Error>> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    let answer = conn.exchange(request.as_bytes())?;
    if answer.status != 200 {
        return Err(format!("{path}: {}", answer.status).into());
    }
    Ok(())
}

/// Client `c`: updates its workers of job `steady` back to back until
/// stopped, recording when each was sent and how long it took.
fn steady_updates(
    addr: SocketAddr,
    c: usize,
    start: Instant,
    stop: &AtomicBool,
    samples: &Mutex<Vec<(Duration, u64)>>,
) {
    let Ok(mut conn) = HttpConnection::open(addr, Duration::from_secs(10)) else {
        return;
    };
    let mut mine = Vec::new();
    let mut n: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let path = format!(
            "/progress/update?jobid=steady&workid={c}-{}&current={n}&total=1e12",
            n % 100
        );
        let sent = start.elapsed();
        let t = Instant::now();
        if get_ok(&mut conn, &path).is_err() {
            break;
        }
        mine.push((sent, t.elapsed().as_micros() as u64));
    }
    if let Ok(mut all) = samples.lock() {
        all.extend(mine);
    }
}

/// Finishes every burst job, over four connections at once.
fn finish_jobs(addr: SocketAddr, jobs: usize) -> Result<(), String> {
    let threads: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || -> Result<(), String> {
                let mut conn = HttpConnection::open(addr, Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                for j in (t..jobs).step_by(4) {
                    let path = format!("/progress/update?jobid=b{j}&workid=0&current=10&total=10");
                    get_ok(&mut conn, &path).map_err(|e| e.to_string())?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread.join().map_err(|_| "a burst thread panicked")??;
    }
    Ok(())
}

/// Notices stored and not yet sent.
fn waiting_notices(db: &std::path::Path) -> Result<i64, Box<dyn Error>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(conn.query_row("SELECT COUNT(*) FROM notices", [], |row| row.get(0))?)
}

/// A webhook receiver on 127.0.0.1, counting the messages it takes.
struct Receiver {
    addr: SocketAddr,
    taken: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start(receiving: Receiving) -> Result<Receiver, Box<dyn Error>> {
        let taken = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        if receiving == Receiving::Down {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            let addr = probe.local_addr()?;
            return Ok(Receiver { addr, taken, stop });
        }
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or("the receiver has no IP address")?;
        let (count, flag) = (taken.clone(), stop.clone());
        thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                if receiving == Receiving::Slow {
                    thread::sleep(Duration::from_millis(100));
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = request.respond(tiny_http::Response::empty(200));
            }
        });
        Ok(Receiver { addr, taken, stop })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}
