//! Crash test: is every update progressd acknowledged still in the database
//! after the process is killed with SIGKILL at a random moment under load?
//!
//! Each round starts the real release binary (`target/release/progressd`,
//! next to this example's own executable) on the same temp database and a
//! free port, lets W client threads send updates as fast as they are
//! answered, and kills the server a pseudo-random 50–700 ms after it
//! started listening. Each client owns one worker of job `crash` and counts
//! its `current` up by one per request (1, 2, 3, ... across all rounds), so
//! the last `current` answered 200 names exactly what the server promised to
//! keep.
//!
//! The kill comes first, while requests are in flight, and only then are the
//! clients stopped: a kill in an idle moment would test nothing. That order
//! is still exact, because progressd answers 200 only after the commit, so a
//! 200 that reaches the client, even one read after the kill, was committed
//! before it. The database is checked once every client has finished its
//! last request: `PRAGMA integrity_check` must say ok, the job tallies and
//! stale minutes the writer keeps must agree with the rows, and each
//! worker's stored `current` must be at least its last acknowledged one. A request
//! that got no answer may or may not be stored; both are fine.
//!
//! The check opens the file read-only, so the write-ahead log the killed
//! process left behind is still there for the next round's server to
//! recover, as it would be after a real crash.
//!
//! Prints one line per kill and a summary; exits non-zero when an
//! acknowledged update was lost or the integrity check failed. The seed is
//! printed so a run can be repeated with `--seed`; by default it comes from
//! the clock.
//!
//! With `--batch L`, each client POSTs batches of L lines, one for each of
//! its own L workers, all at its next `current`: every worker must keep
//! its batch's last acknowledged `current`, and a client's workers must
//! all hold the same one (a batch is stored whole or not at all).
//!
//! Run: `scripts/crash-test.sh [--kills N --workers W --seed S --batch L]`, or, with
//! `target/release/progressd` already built and current,
//! `cargo run --release --example crashtest [-- --kills N --workers W --seed S]`
//! (defaults: 20 kills, 16 workers; talks only to 127.0.0.1).

mod common;

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use common::{HttpConnection, Server, progressd_binary};
use rusqlite::OptionalExtension;

/// Longest wait for one connect, read or write: it bounds how long a client
/// can take to notice that a round is over when the server stalls.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a connection error before trying again on a fresh
/// connection, so a dead port does not spin a core.
const ERROR_BACKOFF: Duration = Duration::from_millis(5);
/// The range of the delay from a server's start to its kill, in ms.
const KILL_AFTER_MS: (u64, u64) = (50, 700);
/// The job every client reports to.
const JOBID: &str = "crash";
/// The `total` every update reports; larger than any `current` reached.
const TOTAL: u64 = 1_000_000_000;

/// The settings of one crash test, from the command line.
#[derive(Parser, Debug, Clone, Copy)]
#[command(
    about = "Kills progressd with SIGKILL at random moments under load and checks \
             that every acknowledged update survived",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// How many times the server is started and killed.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    kills: u32,
    /// Client threads, each reporting for its own worker id.
    #[arg(
        long,
        value_name = "W",
        default_value_t = 16,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024)
    )]
    workers: usize,
    /// Seed of the kill delays, printed so that a run can be repeated
    /// [default: from the clock].
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Each client POSTs batches of L lines, one for each of its own L
    /// workers, all at the same `current` [default: single updates].
    #[arg(
        long,
        value_name = "L",
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(2..=1000)
    )]
    batch: Option<usize>,
}

fn main() -> ExitCode {
    common::exit_code("crashtest", run(Settings::parse()))
}

/// Runs every round and prints the results; `Ok(false)` when an
/// acknowledged update was lost or the database failed its integrity check.
fn run(settings: Settings) -> Result<bool, Box<dyn Error>> {
    let binary = progressd_binary()?;
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("crash.sqlite3");
    let seed = settings.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos() as u64)
    });
    println!(
        "crashtest: {} kills, {} workers, seed {}, binary {}",
        settings.kills,
        settings.workers,
        seed,
        binary.display()
    );
    let mut rng = SplitMix64(seed);
    let lines = settings.batch.unwrap_or(1);
    let mut clients: Vec<Client> = (0..settings.workers)
        .map(|worker| Client::new(worker, lines))
        .collect();
    let mut acknowledged = 0;
    let mut lost = 0;
    let mut intact = 0;
    for kill in 1..=settings.kills {
        let delay = Duration::from_millis(rng.in_range(KILL_AFTER_MS.0, KILL_AFTER_MS.1));
        let round = run_round(&binary, &db, delay, &mut clients)?;
        let check = check_database(&db, &clients)?;
        let integrity = if check.integrity == ["ok"] {
            intact += 1;
            "ok".to_string()
        } else {
            format!("FAILED: {}", check.integrity.join("; "))
        };
        println!(
            "kill {kill:>3}: {:>4} ms after start, {:>6} updates acknowledged, {} lost, integrity {integrity}{}",
            round.killed_after.as_millis(),
            round.acknowledged,
            check.lost,
            if round.refused > 0 {
                format!(" ({} answers not 200)", round.refused)
            } else {
                String::new()
            }
        );
        for shortfall in &check.shortfalls {
            println!("  {shortfall}");
        }
        acknowledged += round.acknowledged;
        lost += check.lost;
    }
    println!(
        "crashtest: {} kills, {acknowledged} acknowledged updates, {lost} lost, integrity ok {intact}/{}",
        settings.kills, settings.kills
    );
    if acknowledged == 0 {
        println!("crashtest: no update was acknowledged, so nothing was tested");
    }
    Ok(acknowledged > 0 && lost == 0 && intact == settings.kills)
}

/// What one round between a start and a kill did.
struct Round {
    /// From the server's "listening on" line to its kill.
    killed_after: Duration,
    /// Updates answered 200 in this round.
    acknowledged: u64,
    /// Answers other than 200 in this round.
    refused: u64,
}

/// Starts the server on `db`, runs every client against it and kills it
/// `delay` after it started listening; returns once every client has
/// finished its last request, so their `acked` are final.
fn run_round(
    binary: &Path,
    db: &Path,
    delay: Duration,
    clients: &mut [Client],
) -> Result<Round, Box<dyn Error>> {
    let server = Server::start(binary, db)?;
    let started = Instant::now();
    let stop = AtomicBool::new(false);
    let (killed_after, counts) = thread::scope(|scope| {
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|client| {
                let stop = &stop;
                let addr = server.addr;
                scope.spawn(move || client.run_until(addr, stop))
            })
            .collect();
        thread::sleep(delay.saturating_sub(started.elapsed()));
        let killed_after = started.elapsed();
        server.kill();
        // Only now: a client's request in flight at the kill ends with an
        // answer or an error, and either way its outcome counts as it is.
        stop.store(true, Ordering::SeqCst);
        let counts: Vec<(u64, u64)> = handles
            .into_iter()
            .map(|h| h.join().expect("a client thread panicked"))
            .collect();
        (killed_after, counts)
    });
    Ok(Round {
        killed_after,
        acknowledged: counts.iter().map(|(acked, _)| acked).sum(),
        refused: counts.iter().map(|(_, refused)| refused).sum(),
    })
}

/// One client: the worker `w{worker}` (or, in batches of L, the workers
/// `w{worker}-0` to `w{worker}-{L-1}`) and what the server acknowledged of
/// it.
struct Client {
    worker: usize,
    /// Lines a request holds: 1 for a single update.
    lines: usize,
    /// The `current` of the next request; never sent twice.
    next: u64,
    /// The last `current` answered 200; 0 when none was.
    acked: u64,
    /// Every `current` that got no answer: for diagnosing a shortfall.
    unanswered: Vec<u64>,
}

impl Client {
    fn new(worker: usize, lines: usize) -> Client {
        Client {
            worker,
            lines,
            next: 1,
            acked: 0,
            unanswered: Vec::new(),
        }
    }

    /// Sends updates to `addr` until `stop`, one request at a time, a
    /// fresh connection after each error; returns (worker updates answered
    /// 200, requests answered otherwise).
    fn run_until(&mut self, addr: SocketAddr, stop: &AtomicBool) -> (u64, u64) {
        let mut acked = 0;
        let mut refused = 0;
        let mut connection: Option<HttpConnection> = None;
        let mut request = Vec::with_capacity(256);
        while !stop.load(Ordering::SeqCst) {
            let current = self.next;
            self.next += 1;
            request.clear();
            // Writing to a Vec cannot fail.
            if self.lines == 1 {
                let _ = write!(
                    request,
                    "GET /progress/update?jobid={JOBID}&workid=w{}&current={current}&total={TOTAL} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
                    self.worker
                );
            } else {
                let body: Vec<String> = self
                    .workids()
                    .map(|workid| format!("workid={workid}&current={current}&total={TOTAL}"))
                    .collect();
                let body = body.join("\n");
                let _ = write!(
                    request,
                    "POST /progress/update?jobid={JOBID} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
            let outcome = match connection.take() {
                Some(conn) => Ok(conn),
                None => HttpConnection::open(addr, IO_TIMEOUT),
            }
            .and_then(|mut conn| conn.exchange(&request).map(|answer| (conn, answer)));
            match outcome {
                Ok((conn, answer)) => {
                    if answer.status == 200 {
                        self.acked = current;
                        acked += self.lines as u64;
                    } else {
                        refused += 1;
                    }
                    if !answer.close {
                        connection = Some(conn);
                    }
                }
                Err(_) => {
                    self.unanswered.push(current);
                    thread::sleep(ERROR_BACKOFF);
                }
            }
        }
        (acked, refused)
    }

    /// The ids of this client's workers.
    fn workids(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.lines).map(move |i| match self.lines {
            1 => format!("w{}", self.worker),
            _ => format!("w{}-{i}", self.worker),
        })
    }
}

/// What the database held after a kill.
struct Check {
    /// The rows of `PRAGMA integrity_check`: just `ok` when the file is sound.
    integrity: Vec<String>,
    /// Acknowledged updates missing: for each worker, how far its stored
    /// `current` falls short of its last acknowledged one.
    lost: u64,
    /// One line for each worker that falls short.
    shortfalls: Vec<String>,
}

/// Opens `db` read-only and compares it with what `clients` were promised.
fn check_database(db: &Path, clients: &[Client]) -> Result<Check, Box<dyn Error>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut integrity = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    // What the writer keeps beside the rows must agree with them too: each
    // job's tallies with a recount, each row's stale minute with its own
    // figures.
    let (tallies_off, minutes_off): (i64, i64) = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM job_tallies AS t
                  WHERE (t.workers, t.not_started, t.running, t.done, t.failed,
                         t.percent_micro) IS NOT
                        (SELECT COUNT(*), COALESCE(SUM(state = 'not_started'), 0),
                                COALESCE(SUM(state = 'running'), 0),
                                COALESCE(SUM(state = 'done'), 0),
                                COALESCE(SUM(state = 'failed'), 0),
                                COALESCE(SUM(percent_micro), 0)
                           FROM workers WHERE job = t.job)),
                (SELECT COUNT(*) FROM workers
                  WHERE stale_minute IS NOT
                        (CASE WHEN state = 'running' THEN CAST(stale_at / 60 AS INTEGER) END))",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if tallies_off > 0 {
        integrity.push(format!(
            "{tallies_off} jobs' tallies disagree with a recount"
        ));
    }
    if minutes_off > 0 {
        integrity.push(format!("{minutes_off} rows' stale minutes are wrong"));
    }
    let mut query = conn.prepare(
        "SELECT w.current FROM workers w JOIN jobs j ON j.id = w.job \
         WHERE j.jobid = ?1 AND w.workid = ?2",
    )?;
    let mut lost = 0;
    let mut shortfalls = Vec::new();
    for client in clients {
        let mut stored_all = Vec::with_capacity(client.lines);
        for workid in client.workids() {
            let stored: Option<f64> = query
                .query_row((JOBID, &workid), |row| row.get(0))
                .optional()?;
            stored_all.push(stored);
            // `current` is stored as REAL; counts stay far below 2^53, so
            // the comparison is exact. A worker with nothing acknowledged
            // owes nothing.
            let kept = stored.unwrap_or(0.0);
            if kept >= client.acked as f64 {
                continue;
            }
            lost += client.acked - kept as u64;
            // A request the client gave up on (a timeout, with the server
            // still alive) may be applied after later ones were
            // acknowledged.
            let late = stored
                .filter(|s| client.unanswered.iter().any(|&u| u as f64 == *s))
                .map_or(String::new(), |s| {
                    format!(" (written late by its own unanswered request current={s})")
                });
            shortfalls.push(format!(
                "lost: worker {workid} acknowledged current={} but stored {stored:?}{late}",
                client.acked
            ));
        }
        // A batch is stored whole or not at all, and each sets every one of
        // the client's workers to the same `current`.
        if stored_all.windows(2).any(|pair| pair[0] != pair[1]) {
            lost += 1;
            shortfalls.push(format!(
                "split: the workers of client {} hold {stored_all:?}, not one batch's current",
                client.worker
            ));
        }
    }
    Ok(Check {
        integrity,
        lost,
        shortfalls,
    })
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded generator, good
/// enough to spread kill moments, with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number from `low` to `high`, both included (the tiny modulo bias
    /// does not matter here).
    fn in_range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}
