//! Load generator: how many `/progress/update` requests progressd answers
//! per second, next to a bare tiny_http server that answers `OK\n` with no
//! work at all, and whether every acknowledged update was stored.
//!
//! Both servers get the same number of request threads (progressd's default)
//! and the same hand-written HTTP/1.1 client, so the ratio progressd/bare is
//! the cost of progressd's own work: routing, parsing, and the group-commit
//! writer. Each server is measured in two modes: keep-alive (one connection
//! per client thread, requests back to back) and a new connection per
//! request (`Connection: close`). Modes run in turn (bare, then progressd) so
//! background noise hits both servers alike.
//!
//! With `--batch L` it measures batch updates instead: each client thread
//! POSTs, over one kept-alive connection, a body of L lines, one update
//! for each of its own L workers, and the figure is worker updates per
//! second (requests answered 200 times L).
//!
//! For progressd it also prints the CPU time its writer thread and its
//! request threads spent per update (from `/proc`): unlike updates per
//! second, that hardly changes when other programs share the machine, and
//! one over the writer's figure is the most one writer thread can commit.
//!
//! After each progressd run the service is shut down and its database is
//! opened read-only: every worker's stored `current` must be at least the
//! last value acknowledged with a 200. The program exits non-zero if not.
//!
//! Run: `cargo run --release --example loadgen [-- --connections K --seconds D --threads N --batch L]`
//! (defaults: 32 connections, 5 seconds per run; talks only to 127.0.0.1).

mod common;

use common::ServerCpu;
use std::error::Error;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use common::HttpConnection;
use progressd::config::Config;
use rusqlite::OptionalExtension;

/// Longest wait for one connect, read or write: it bounds how far a run can
/// overshoot its duration when a server stalls.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after an I/O error, so a refused connect does not spin a core.
const ERROR_BACKOFF: Duration = Duration::from_millis(1);
/// The `total` every update reports; larger than any `current` reached.
const TOTAL: u64 = 1_000_000_000;

/// How a client thread uses connections, and what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One connection per client thread, requests back to back.
    KeepAlive,
    /// `Connection: close` and a new connection for every request.
    NewConnection,
    /// One connection per client thread, batches of this many lines back
    /// to back.
    Batch(usize),
}

impl Mode {
    /// Worker updates one request carries.
    fn updates(self) -> u64 {
        match self {
            Mode::Batch(lines) => lines as u64,
            Mode::KeepAlive | Mode::NewConnection => 1,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::KeepAlive => f.write_str("keep-alive"),
            Mode::NewConnection => f.write_str("new-conn"),
            Mode::Batch(lines) => write!(f, "batch-{lines}"),
        }
    }
}

/// The settings of one benchmark, from the command line.
#[derive(Parser, Debug, Clone, Copy)]
#[command(
    about = "Updates per second of progressd beside a bare tiny_http server, and \
             whether every acknowledged update was stored",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// Client threads, each with its own connection and worker id.
    #[arg(
        long,
        value_name = "K",
        default_value_t = 32,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024)
    )]
    connections: usize,
    /// Seconds of each run; fractions allowed.
    #[arg(
        long = "seconds",
        value_name = "D",
        default_value = "5",
        allow_negative_numbers = true,
        value_parser = run_length
    )]
    duration: Duration,
    /// Request threads of each server [default: as many as `progressd serve`
    /// would run].
    #[arg(
        long,
        value_name = "N",
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024)
    )]
    threads: Option<usize>,
    /// Measure batch updates instead, L lines a request [default: single
    /// updates].
    #[arg(
        long,
        value_name = "L",
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new()
            .range(2..=progressd::params::MAX_BATCH_UPDATES as u64)
    )]
    batch: Option<usize>,
}

/// The length of a run from `--seconds`: above 0, at most an hour.
fn run_length(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|d| *d > 0.0 && *d <= 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "must be above 0 and at most 3600".to_string())
}

/// What one client thread saw.
#[derive(Debug, Default)]
struct ClientReport {
    /// Requests sent (or attempted).
    requests: u64,
    /// Requests answered with something other than 200, or failed by I/O.
    errors: u64,
    /// The last `current` acknowledged with 200; 0 when none was.
    last_acked: u64,
    /// Latency of each request answered with 200, in microseconds.
    latencies_us: Vec<u64>,
    /// The first error, with the `current` it happened at.
    first_error: Option<String>,
    /// The `current` of every request that failed: the server may still
    /// apply one after the client gave up on it.
    failed: Vec<u64>,
}

/// What one run (one server, one mode) measured.
#[derive(Debug)]
struct RunReport {
    mode: Mode,
    server: &'static str,
    elapsed: Duration,
    clients: Vec<ClientReport>,
    /// CPU seconds progressd's writer and request threads spent in the
    /// run, when `/proc` tells.
    cpu: Option<ServerCpu>,
}

impl RunReport {
    fn requests(&self) -> u64 {
        self.clients.iter().map(|c| c.requests).sum()
    }

    fn errors(&self) -> u64 {
        self.clients.iter().map(|c| c.errors).sum()
    }

    fn requests_per_sec(&self) -> f64 {
        let ok = self.requests() - self.errors();
        ok as f64 / self.elapsed.as_secs_f64()
    }

    fn updates_per_sec(&self) -> f64 {
        self.requests_per_sec() * self.mode.updates() as f64
    }

    /// Latency percentiles (p50, p99) in milliseconds over requests answered
    /// with 200; `None` when there were none.
    fn percentiles_ms(&self) -> Option<(f64, f64)> {
        let mut all: Vec<u64> = self
            .clients
            .iter()
            .flat_map(|c| c.latencies_us.iter().copied())
            .collect();
        if all.is_empty() {
            return None;
        }
        all.sort_unstable();
        let at = |p: f64| all[((all.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
        Some((at(0.50), at(0.99)))
    }
}

fn main() -> ExitCode {
    common::exit_code("loadgen", run(Settings::parse()))
}

/// Runs the four benchmarks and prints the results; `Ok(false)` when an
/// acknowledged update is missing from the database.
fn run(settings: Settings) -> Result<bool, Box<dyn Error>> {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let dir = tempfile::tempdir()?;
    let threads = match settings.threads {
        Some(threads) => threads,
        None => Config::from_args(&[])?.threads,
    };
    println!(
        "loadgen: {cores} cores, {} connections, {:.1} s per run, {threads} request threads per server",
        settings.connections,
        settings.duration.as_secs_f64()
    );

    let modes = match settings.batch {
        Some(lines) => vec![Mode::Batch(lines)],
        None => vec![Mode::KeepAlive, Mode::NewConnection],
    };
    let mut reports = Vec::new();
    let mut durability = Vec::new();
    for &mode in &modes {
        let bare = BareServer::start(threads)?;
        reports.push(drive(bare.addr, "bare", mode, settings));
        bare.shutdown();

        let db = dir.path().join(format!("bench-{mode}.sqlite3"));
        let config = Config::from_args(&[
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db.to_string_lossy(),
            "--threads",
            &threads.to_string(),
            "--log-level",
            "warn",
        ])?;
        let running = progressd::start(&config)?;
        let before = ServerCpu::of(std::process::id());
        let mut report = drive(running.addr(), "progressd", mode, settings);
        report.cpu = ServerCpu::of(std::process::id())
            .zip(before)
            .map(|(after, before)| after.since(before));
        running.shutdown();
        durability.push((mode, check_durability(&db, &report)?));
        reports.push(report);
    }
    print_table(&reports, &modes);
    for (mode, (durable, total)) in &durability {
        println!("durable: {durable}/{total} workers have every acknowledged update ({mode})");
    }
    Ok(durability
        .iter()
        .all(|(_, (durable, total))| durable == total))
}

/// A tiny_http server doing nothing but answer `OK\n`: the ceiling progressd
/// is measured against.
struct BareServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl BareServer {
    fn start(threads: usize) -> Result<BareServer, Box<dyn Error>> {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| e.to_string())?);
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or("the bare server has no IP address")?;
        let stopping = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|i| {
                let server = Arc::clone(&server);
                let stopping = Arc::clone(&stopping);
                thread::Builder::new()
                    .name(format!("bare-http-{i}"))
                    .spawn(move || {
                        while !stopping.load(Ordering::SeqCst) {
                            if let Ok(request) = server.recv() {
                                // A failed send means the client went away.
                                let _ = request.respond(tiny_http::Response::from_string("OK\n"));
                            }
                        }
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BareServer {
            server,
            addr,
            stopping,
            threads,
        })
    }

    fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Each unblock wakes exactly one thread blocked in recv().
        for _ in &self.threads {
            self.server.unblock();
        }
        for thread in self.threads {
            if thread.join().is_err() {
                eprintln!("loadgen: a bare server thread panicked");
            }
        }
    }
}

/// Runs `settings.connections` client threads against `addr` for
/// `settings.duration`.
fn drive(addr: SocketAddr, server: &'static str, mode: Mode, settings: Settings) -> RunReport {
    let start = Instant::now();
    let deadline = start + settings.duration;
    let handles: Vec<_> = (0..settings.connections)
        .map(|worker| thread::spawn(move || client_loop(addr, mode, worker, deadline)))
        .collect();
    let clients = handles
        .into_iter()
        .map(|h| h.join().expect("a client thread panicked"))
        .collect();
    RunReport {
        mode,
        server,
        elapsed: start.elapsed(),
        clients,
        cpu: None,
    }
}

/// The workids client thread `worker` reports: `w{worker}`, or for a
/// batch of L lines `w{worker}-0` to `w{worker}-{L-1}`.
fn workids(mode: Mode, worker: usize) -> Vec<String> {
    match mode {
        Mode::Batch(lines) => (0..lines).map(|i| format!("w{worker}-{i}")).collect(),
        Mode::KeepAlive | Mode::NewConnection => vec![format!("w{worker}")],
    }
}

/// Writes into `request` the request that reports `current` for each of
/// `workids`.
fn write_request(
    request: &mut Vec<u8>,
    addr: SocketAddr,
    mode: Mode,
    workids: &[String],
    current: u64,
) {
    request.clear();
    // Writing to a Vec cannot fail.
    match mode {
        Mode::KeepAlive | Mode::NewConnection => {
            let close = if mode == Mode::NewConnection {
                "Connection: close\r\n"
            } else {
                ""
            };
            let _ = write!(
                request,
                "GET /progress/update?jobid=bench&workid={}&current={current}&total={TOTAL} HTTP/1.1\r\nHost: {addr}\r\n{close}\r\n",
                workids[0]
            );
        }
        Mode::Batch(_) => {
            let mut body = Vec::with_capacity(workids.len() * 48);
            for workid in workids {
                let _ = writeln!(body, "workid={workid}&current={current}&total={TOTAL}");
            }
            let _ = write!(
                request,
                "POST /progress/update?jobid=bench HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            request.extend_from_slice(&body);
        }
    }
}

/// One client thread: sends updates for its workers (see [`workids`]), all
/// with `current` counting up from 1, until `deadline`.
fn client_loop(addr: SocketAddr, mode: Mode, worker: usize, deadline: Instant) -> ClientReport {
    let mut report = ClientReport::default();
    let mut connection: Option<HttpConnection> = None;
    let workids = workids(mode, worker);
    let mut request = Vec::with_capacity(256);
    let mut current = 0;
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            return report;
        }
        current += 1;
        report.requests += 1;
        write_request(&mut request, addr, mode, &workids, current);
        let outcome = match connection.take() {
            Some(conn) => Ok(conn),
            None => HttpConnection::open(addr, IO_TIMEOUT),
        }
        .and_then(|mut conn| conn.exchange(&request).map(|answer| (conn, answer)));
        match outcome {
            Ok((conn, answer)) => {
                if answer.status == 200 {
                    report.last_acked = current;
                    report
                        .latencies_us
                        .push(sent.elapsed().as_micros().try_into().unwrap_or(u64::MAX));
                } else {
                    report.errors += 1;
                    report.failed.push(current);
                    report.first_error.get_or_insert_with(|| {
                        format!("current={current}: status {}", answer.status)
                    });
                }
                if mode != Mode::NewConnection && !answer.close {
                    connection = Some(conn);
                }
            }
            Err(e) => {
                report.errors += 1;
                report.failed.push(current);
                report.first_error.get_or_insert_with(|| {
                    format!(
                        "current={current}: {e} after {:.1} s",
                        sent.elapsed().as_secs_f64()
                    )
                });
                thread::sleep(ERROR_BACKOFF);
            }
        }
    }
}

/// Counts the workers whose stored `current` is at least the last one
/// acknowledged: (durable, all). Prints each worker that falls short.
fn check_durability(db: &Path, report: &RunReport) -> Result<(usize, usize), Box<dyn Error>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut query = conn.prepare(
        "SELECT w.current FROM workers w JOIN jobs j ON j.id = w.job \
         WHERE j.jobid = 'bench' AND w.workid = ?1",
    )?;
    let mut durable = 0;
    let mut workers = 0;
    for (worker, client) in report.clients.iter().enumerate() {
        for workid in workids(report.mode, worker) {
            workers += 1;
            let stored: Option<f64> = query.query_row([&workid], |row| row.get(0)).optional()?;
            // `current` is stored as REAL; counts stay far below 2^53, so the
            // comparison is exact. A worker with nothing acknowledged owes nothing.
            if client.last_acked == 0 || stored.is_some_and(|s| s >= client.last_acked as f64) {
                durable += 1;
            } else {
                // A request the client gave up on (a timeout) may be applied
                // after later ones were acknowledged, overwriting them.
                let late = stored
                    .filter(|s| client.failed.iter().any(|&f| f as f64 == *s))
                    .map_or(String::new(), |s| {
                        format!(" (written late by its own failed request current={s})")
                    });
                println!(
                    "missing ({}): worker {workid} acknowledged current={} but stored {stored:?}{late}",
                    report.mode, client.last_acked
                );
            }
        }
    }
    Ok((durable, workers))
}

fn print_table(reports: &[RunReport], modes: &[Mode]) {
    println!();
    println!(
        "{:<11} {:<10} {:>9} {:>10} {:>10} {:>8} {:>8} {:>7}",
        "mode", "server", "requests", "requests/s", "updates/s", "p50 ms", "p99 ms", "errors"
    );
    for r in reports {
        let (p50, p99) = r
            .percentiles_ms()
            .map_or(("-".into(), "-".into()), |(p50, p99)| {
                (format!("{p50:.2}"), format!("{p99:.2}"))
            });
        println!(
            "{:<11} {:<10} {:>9} {:>10.0} {:>10.0} {:>8} {:>8} {:>7}",
            r.mode.to_string(),
            r.server,
            r.requests(),
            r.requests_per_sec(),
            r.updates_per_sec(),
            p50,
            p99,
            r.errors()
        );
    }
    println!();
    for r in reports {
        let failing = r.clients.iter().filter(|c| c.errors > 0).count();
        let first = r.clients.iter().enumerate().find_map(|(worker, c)| {
            c.first_error
                .as_ref()
                .map(|error| format!("w{worker} {error}"))
        });
        if let Some(first) = first {
            println!(
                "errors ({} {}): {failing} workers, first: {first}",
                r.mode, r.server
            );
        }
    }
    for r in reports {
        let updates = (r.requests() - r.errors()) * r.mode.updates();
        if let Some(cpu) = r.cpu.filter(|_| updates > 0) {
            let micros = |seconds: f64| seconds * 1e6 / updates as f64;
            println!(
                "progressd CPU per update ({}): writer {:.2} µs (at most {:.0} updates/s on one core), \
                 request threads {:.2} µs",
                r.mode,
                micros(cpu.writer),
                updates as f64 / cpu.writer,
                micros(cpu.requests)
            );
        }
    }
    for &mode in modes {
        let rate = |server: &str| {
            reports
                .iter()
                .find(|r| r.mode == mode && r.server == server)
                .map(RunReport::updates_per_sec)
        };
        if let (Some(bare), Some(progressd)) = (rate("bare"), rate("progressd")) {
            let ratio = if bare > 0.0 { progressd / bare } else { 0.0 };
            println!("ratio progressd/bare ({mode}): {ratio:.2}");
        }
    }
}
