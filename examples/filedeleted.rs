//! The database deleted under load: does any update get 200 once the
//! server could have noticed?
//!
//! Starts the release binary (`target/release/progressd`, next to this
//! example's own executable) on a temp database, creates a job of 500
//! workers and runs C kept-alive clients that update them in turn as fast
//! as they are answered. After `--before` seconds it deletes the database,
//! then its `-wal` and `-shm`, as `rm DB*` would, and the clients go on for
//! `--after` seconds. Every answer is kept with the moments its request was
//! sent and its answer arrived.
//!
//! The server checks the file before each commit, so what may still get
//! 200 after the deletion is the one commit in flight: requests sent before
//! it, at most one per client (each waits for its answer before the next).
//! "After the deletion" means answered after `unlink` of the database
//! returned, the moment the file is gone from its path.
//!
//! Prints the update rate before the deletion, then the answers after it:
//! 200s (split by whether their request was sent before or after the
//! deletion), 503s, anything else, how long until the first 503 and the
//! last 200, and `/healthz` before and after. Exits 1 when a request sent
//! after the deletion got 200, when more 200s came after it than one commit
//! holds, when an answer was neither 200 nor 503, or when `/healthz` did
//! not go from 200 to 503.
//!
//! Run: `scripts/file-deleted.sh [--clients C] [--before S] [--after S]`
//! (defaults 8 clients, 3 s, 5 s; talks only to 127.0.0.1).

mod common;

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use common::{HttpConnection, Server, progressd_binary};

/// Longest wait for one connect, read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a connection error before a fresh connection, so a dead
/// port does not spin a core.
const ERROR_BACKOFF: Duration = Duration::from_millis(5);
/// The job the clients update, and its roster's size.
const JOBID: &str = "deleted";
const WORKERS: usize = 500;

/// The settings of one run, from the command line.
#[derive(Parser, Debug, Clone, Copy)]
#[command(
    about = "Deletes progressd's database under load and counts the 200s that \
             came after",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// Kept-alive connections sending updates.
    #[arg(
        long,
        value_name = "C",
        default_value_t = 8,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=256)
    )]
    clients: usize,
    /// Seconds of updates before the deletion.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 3,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    before: u64,
    /// Seconds of updates after it.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 5,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    after: u64,
}

/// One request: when it was sent and answered, in µs from the start, and
/// the answer's status (0: no answer, the connection failed).
#[derive(Debug, Clone, Copy)]
struct Exchange {
    sent_us: u64,
    answered_us: u64,
    status: u16,
}

fn main() -> ExitCode {
    common::exit_code("filedeleted", run(Settings::parse()))
}

fn run(settings: Settings) -> Result<bool, Box<dyn Error>> {
    let binary = progressd_binary()?;
    let dir = std::env::temp_dir().join(format!("progressd-filedeleted-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("deleted.sqlite3");
    let result = measure(&binary, &db, settings);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(binary: &Path, db: &Path, settings: Settings) -> Result<bool, Box<dyn Error>> {
    let server = Server::start(binary, db)?;
    println!(
        "filedeleted: {} (pid {}), {} kept-alive clients updating {WORKERS} workers; \
         {} s, then {} removed with its -wal and -shm, then {} s",
        server.addr,
        server.pid(),
        settings.clients,
        settings.before,
        db.display(),
        settings.after
    );
    let created = get(
        server.addr,
        &format!("/progress/create?jobid={JOBID}&workers={WORKERS}"),
    )?;
    if created != 200 {
        return Err(format!("creating the job answered {created}").into());
    }
    let healthz_before = get(server.addr, "/healthz")?;

    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..settings.clients)
        .map(|c| {
            let stop = Arc::clone(&stop);
            let (addr, clients) = (server.addr, settings.clients);
            thread::spawn(move || update_loop(addr, c, clients, start, &stop))
        })
        .collect();

    thread::sleep(Duration::from_secs(settings.before));
    let unlinking_us = micros(start);
    std::fs::remove_file(db)?;
    let deleted_us = micros(start);
    for suffix in ["-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        // SQLite may not have made the -shm yet; that is no failure.
        let _ = std::fs::remove_file(PathBuf::from(path));
    }
    thread::sleep(Duration::from_secs(settings.after));
    let healthz_after = get(server.addr, "/healthz")?;
    stop.store(true, Ordering::Relaxed);
    let mut exchanges = Vec::new();
    for client in clients {
        exchanges.extend(client.join().map_err(|_| "a client thread panicked")?);
    }
    server.kill();

    let before: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.answered_us <= unlinking_us)
        .collect();
    let after: Vec<&Exchange> = exchanges
        .iter()
        .filter(|e| e.answered_us > deleted_us)
        .collect();
    let count = |set: &[&Exchange], keep: &dyn Fn(&Exchange) -> bool| {
        set.iter().filter(|e| keep(e)).count()
    };
    let ok_before = count(&before, &|e| e.status == 200);
    let ok_after = count(&after, &|e| e.status == 200);
    let ok_sent_after = count(&after, &|e| e.status == 200 && e.sent_us > deleted_us);
    let refused_after = count(&after, &|e| e.status == 503);
    let other_after = count(&after, &|e| e.status != 200 && e.status != 503);
    let since = |us: u64| us.saturating_sub(deleted_us) as f64 / 1000.0;
    let first_503 = after
        .iter()
        .filter(|e| e.status == 503)
        .map(|e| e.answered_us)
        .min();
    let last_200 = after
        .iter()
        .filter(|e| e.status == 200)
        .map(|e| e.answered_us)
        .max();

    println!(
        "before the deletion: {} answers in {:.1} s ({:.0} updates/s), {ok_before} of them 200; \
         /healthz {healthz_before}",
        before.len(),
        unlinking_us as f64 / 1e6,
        ok_before as f64 / (unlinking_us as f64 / 1e6)
    );
    println!(
        "after the deletion: {} answers: {ok_after} answered 200 ({} sent before the deletion, \
         {ok_sent_after} after; allowance: the commit in flight, at most {}), \
         {refused_after} answered 503, {other_after} other; /healthz {healthz_after}",
        after.len(),
        ok_after - ok_sent_after,
        settings.clients
    );
    let last_before = before.iter().map(|e| e.answered_us).max();
    println!(
        "first 503 {} after the deletion, last 200 {}; the last answer before it came \
         {} before; unlink took {:.2} ms, {} answers arrived during it",
        first_503.map_or("none".into(), |us| format!("{:.2} ms", since(us))),
        last_200.map_or("none".into(), |us| format!("{:.2} ms after", since(us))),
        last_before.map_or("none".into(), |us| format!(
            "{:.2} ms",
            unlinking_us.saturating_sub(us) as f64 / 1000.0
        )),
        (deleted_us - unlinking_us) as f64 / 1000.0,
        exchanges.len() - before.len() - after.len()
    );
    let held = ok_sent_after == 0
        && ok_after <= settings.clients
        && other_after == 0
        && refused_after > 0
        && healthz_before == 200
        && healthz_after == 503;
    if !held {
        println!("FAILED: see above");
    }
    Ok(held)
}

/// One client: updates workers `c`, `c + clients`, ... in turn on one
/// kept-alive connection until `stop`, and returns every exchange.
fn update_loop(
    addr: SocketAddr,
    c: usize,
    clients: usize,
    start: Instant,
    stop: &AtomicBool,
) -> Vec<Exchange> {
    let mut exchanges = Vec::new();
    let mut conn = None;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let workid = (n * clients + c) % WORKERS;
        n += 1;
        let request = format!(
            "GET /progress/update?jobid={JOBID}&workid={workid}&current={n}&total=1000000000 \
             HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        );
        let sent_us = micros(start);
        let answer = match conn.take() {
            Some(open) => Ok(open),
            None => HttpConnection::open(addr, IO_TIMEOUT),
        }
        .and_then(|mut open| open.exchange(request.as_bytes()).map(|a| (open, a)));
        let status = match answer {
            Ok((open, answer)) => {
                if !answer.close {
                    conn = Some(open);
                }
                answer.status
            }
            Err(_) => {
                thread::sleep(ERROR_BACKOFF);
                0
            }
        };
        exchanges.push(Exchange {
            sent_us,
            answered_us: micros(start),
            status,
        });
    }
    exchanges
}

/// The status of a GET on a new connection.
fn get(addr: SocketAddr, target: &str) -> Result<u16, Box<dyn Error>> {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    Ok(HttpConnection::open(addr, IO_TIMEOUT)?
        .exchange(request.as_bytes())?
        .status)
}

fn micros(start: Instant) -> u64 {
    start.elapsed().as_micros().try_into().unwrap_or(u64::MAX)
}
