//! Slow readers: do clients that ask for a large page and never read it
//! hold progressd's request threads, and what do they cost it?
//!
//! Starts the release binary (`target/release/progressd`, or `--binary`)
//! on a temp database with its defaults (8 request threads, a 10 s
//! `--request-timeout`), creates a job of N workers (its show page is about
//! 48 MB at 100,000), then opens K connections that each ask for that page
//! and never read a byte. Once every answer has begun, it probes `/healthz`
//! P times, each on a new connection, as it did before the readers came.
//!
//! Prints the probes' p50 and max latency alone and beside the readers,
//! with the server's thread count and resident memory (from `/proc`), and
//! the bytes it keeps for the readers (`progressd_unsent_bytes`, at most
//! `--max-unsent-mib`; past it, answers are cut short and their
//! connections closed); then, past the response deadline, how many readers
//! the server has closed and its threads and memory again. Exits non-zero
//! if a probe failed.
//!
//! Run: `scripts/slow-readers.sh [--workers N] [--readers K] [--probes P]
//! [--binary PATH]` (defaults 100,000 workers, 8 readers, 50 probes; talks
//! only to 127.0.0.1).

mod common;

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use common::{HttpConnection, Server, percentile_ms, process_size, progressd_binary};

/// Longest wait for the job's creation and for one probe: longer than the
/// server's default response deadline, so a probe held up by the readers
/// is measured rather than given up on.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for every reader's answer to begin (the pages are built
/// first).
const BEGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between probes.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// How long after the answers began the readers are checked again: past
/// the default 10 s response deadline.
const PAST_DEADLINE: Duration = Duration::from_secs(12);

/// The settings of one run, from the command line.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "/healthz latency alone and beside clients that ask for a large page \
             and never read it, with progressd's threads and memory",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// Workers of the job whose page the readers ask for.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..=100_000)
    )]
    workers: u64,
    /// Connections that ask for the page and never read.
    #[arg(
        long,
        value_name = "K",
        default_value_t = 8,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000)
    )]
    readers: usize,
    /// `/healthz` probes in each phase.
    #[arg(
        long,
        value_name = "P",
        default_value_t = 50,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000)
    )]
    probes: usize,
    /// The progressd binary to run [default: target/release/progressd].
    #[arg(long, value_name = "PATH")]
    binary: Option<PathBuf>,
}

fn main() -> ExitCode {
    common::exit_code("slowreaders", run(Settings::parse()))
}

fn run(settings: Settings) -> Result<bool, Box<dyn Error>> {
    let binary = match settings.binary {
        Some(binary) => binary,
        None => progressd_binary()?,
    };
    let dir = std::env::temp_dir().join(format!("progressd-slowreaders-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = Server::start(&binary, &dir.join("readers.sqlite3"))?;
    println!(
        "slowreaders: {} (pid {}), a job of {} workers, {} clients that never read its show page",
        server.addr,
        server.pid(),
        settings.workers,
        settings.readers
    );
    let create = format!(
        "GET /progress/create?jobid=big&workers={} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        settings.workers, server.addr
    );
    let created = HttpConnection::open(server.addr, IO_TIMEOUT)?.exchange(create.as_bytes())?;
    if created.status != 200 {
        return Err(format!("creating the job answered {}", created.status).into());
    }

    let alone = Probes::run(&server, settings.probes, "alone");

    let opened = Instant::now();
    let show = format!(
        "GET /progress/show?jobid=big HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    );
    let mut readers = Vec::with_capacity(settings.readers);
    for _ in 0..settings.readers {
        let mut stream = TcpStream::connect_timeout(&server.addr, IO_TIMEOUT)?;
        stream.write_all(show.as_bytes())?;
        readers.push(stream);
    }
    let begun = readers
        .iter()
        .filter(|r| answer_begins(r, BEGIN_TIMEOUT.saturating_sub(opened.elapsed())))
        .count();
    let begun_after = opened.elapsed();
    let beside = Probes::run(&server, settings.probes, "beside the readers");
    let kept = unsent_bytes(&server);

    thread::sleep(PAST_DEADLINE.saturating_sub(opened.elapsed() - begun_after));
    let closed = readers.iter().filter(|r| is_closed(r)).count();
    let (threads_after, rss_after) = process_size(server.pid()).unwrap_or_default();
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{:<20} {:>7} {:>9} {:>9} {:>8} {:>8}",
        "/healthz", "probes", "p50 ms", "max ms", "threads", "RSS MiB"
    );
    for p in [&alone, &beside] {
        println!(
            "{:<20} {:>7} {:>9.2} {:>9.2} {:>8} {:>8.1}",
            p.name,
            p.latencies_us.len(),
            percentile_ms(&p.latencies_us, 0.5),
            percentile_ms(&p.latencies_us, 1.0),
            p.threads,
            p.rss_kib as f64 / 1024.0
        );
    }
    match kept {
        Some(bytes) => println!(
            "kept for the readers: {:.1} MiB of answers",
            bytes as f64 / f64::from(1 << 20)
        ),
        None => println!("kept for the readers: not reported (a build before --max-unsent-mib)"),
    }
    println!(
        "answers begun: {begun} of {} after {:.1} s; {} s later the server had closed \
         {closed} of them, threads {threads_after}, RSS {:.1} MiB",
        settings.readers,
        begun_after.as_secs_f64(),
        PAST_DEADLINE.as_secs(),
        rss_after as f64 / 1024.0
    );
    let failed = alone.failures + beside.failures;
    if failed > 0 {
        println!("FAILED: {failed} probes got no 200");
    }
    Ok(failed == 0)
}

/// `/healthz` probes one after another, and the server's size after them.
struct Probes {
    name: &'static str,
    latencies_us: Vec<u64>,
    failures: usize,
    threads: u64,
    rss_kib: u64,
}

impl Probes {
    fn run(server: &Server, probes: usize, name: &'static str) -> Probes {
        let request = format!(
            "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        );
        let mut latencies_us = Vec::with_capacity(probes);
        let mut failures = 0;
        for _ in 0..probes {
            let sent = Instant::now();
            let answer = HttpConnection::open(server.addr, IO_TIMEOUT)
                .and_then(|mut conn| conn.exchange(request.as_bytes()));
            match answer {
                Ok(a) if a.status == 200 => {
                    latencies_us.push(sent.elapsed().as_micros().try_into().unwrap_or(u64::MAX))
                }
                _ => failures += 1,
            }
            thread::sleep(PROBE_EVERY);
        }
        let (threads, rss_kib) = process_size(server.pid()).unwrap_or_default();
        Probes {
            name,
            latencies_us,
            failures,
            threads,
            rss_kib,
        }
    }
}

/// The bytes the server keeps for clients that have not read their
/// answers, from `/metrics`; None from a build that does not report them.
fn unsent_bytes(server: &Server) -> Option<u64> {
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let mut conn = HttpConnection::open(server.addr, IO_TIMEOUT).ok()?;
    conn.exchange(request.as_bytes()).ok()?;
    String::from_utf8_lossy(conn.body())
        .lines()
        .find_map(|l| l.strip_prefix("progressd_unsent_bytes "))
        .and_then(|n| n.parse().ok())
}

/// Whether the start of an answer arrives on `stream` within `within`,
/// looked at without reading it.
fn answer_begins(stream: &TcpStream, within: Duration) -> bool {
    stream
        .set_read_timeout(Some(within.max(Duration::from_millis(1))))
        .is_ok()
        && stream.peek(&mut [0u8; 1]).is_ok_and(|n| n > 0)
}

/// Whether the server has closed `stream`: what it sent is read and thrown
/// away until the end (closed) or a pause (still open).
fn is_closed(mut stream: &TcpStream) -> bool {
    if stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .is_err()
    {
        return false;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => return !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }
}
