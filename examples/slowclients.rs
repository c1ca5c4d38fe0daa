//! Slow clients: do 1,000 idle or trickling connections hurt a normal
//! client, and do they make progressd's threads or memory grow without
//! bound?
//!
//! Starts the release binary (`target/release/progressd`) on a temp database
//! and runs a normal client twice for the same time: alone (the baseline),
//! then while N slow connections stay open. Half of them connect and send
//! nothing; the other half send a request head one byte every half second,
//! so a per-read timeout would never fire. Whenever the server cuts one off,
//! it is opened again at once, so N stay open throughout. The normal client
//! sends `/progress/update` requests one after another, each on a new
//! connection, as a job's `curl` would.
//!
//! Prints the normal client's latency (p50, p99, max) in both phases, how
//! often the server cut a slow connection off, and the server's thread count
//! and resident memory (from `/proc`) alone and at their peak under the slow
//! connections. Exits non-zero if a normal request failed.
//!
//! Run: `scripts/slow-clients.sh [--connections N --seconds D]` (defaults
//! 1,000 connections, 12 s per phase; talks only to 127.0.0.1).

mod common;

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use clap::builder::RangedU64ValueParser;
use common::{HttpConnection, Server, process_size, progressd_binary};

/// Longest wait for one connect, read or write of the normal client.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often each trickling connection sends its next byte.
const TRICKLE_EVERY: Duration = Duration::from_millis(500);
/// Threads that keep the slow connections open and trickling.
const SLOW_THREADS: usize = 4;

/// The settings of one run, from the command line.
#[derive(Parser, Debug, Clone, Copy)]
#[command(
    about = "A normal client's latency alone and beside many idle or trickling \
             connections, with progressd's threads and memory",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// Slow connections held open in the second phase.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        allow_negative_numbers = true,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=4000)
    )]
    connections: usize,
    /// Seconds of each phase.
    #[arg(
        long,
        value_name = "D",
        default_value_t = 12,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(u64).range(1..=600)
    )]
    seconds: u64,
}

fn main() -> ExitCode {
    common::exit_code("slowclients", run(Settings::parse()))
}

fn run(settings: Settings) -> Result<bool, Box<dyn Error>> {
    // This program holds the slow connections' client ends.
    rlimit::increase_nofile_limit(u64::MAX)?;
    let dir = std::env::temp_dir().join(format!("progressd-slowclients-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("slow.sqlite3");
    let server = Server::start(&progressd_binary()?, &db)?;
    let phase = Duration::from_secs(settings.seconds);
    println!(
        "slowclients: progressd {} (pid {}), {} s per phase, {} slow connections",
        server.addr,
        server.pid(),
        settings.seconds,
        settings.connections
    );

    let alone = measure(&server, phase, "alone")?;

    let stop = Arc::new(AtomicBool::new(false));
    let open = Arc::new(AtomicUsize::new(0));
    let cut_off = Arc::new(AtomicUsize::new(0));
    let holders: Vec<_> = (0..SLOW_THREADS)
        .map(|t| {
            let share = settings.connections / SLOW_THREADS
                + usize::from(t < settings.connections % SLOW_THREADS);
            let (stop, open, cut_off) = (stop.clone(), open.clone(), cut_off.clone());
            let addr = server.addr;
            thread::spawn(move || hold_slow_connections(addr, share, &stop, &open, &cut_off))
        })
        .collect();
    // Let every slow connection get its thread before measuring.
    let settle = Instant::now();
    while open.load(Ordering::SeqCst) < settings.connections
        && settle.elapsed() < Duration::from_secs(10)
    {
        thread::sleep(Duration::from_millis(50));
    }
    thread::sleep(Duration::from_millis(500));
    let opened = open.load(Ordering::SeqCst);
    let slow = measure(&server, phase, "with slow connections")?;
    stop.store(true, Ordering::SeqCst);
    for holder in holders {
        let _ = holder.join();
    }
    server.kill();
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{:<24} {:>8} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "phase", "updates", "p50 ms", "p99 ms", "max ms", "threads", "RSS MiB"
    );
    for p in [&alone, &slow] {
        println!(
            "{:<24} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10.1}",
            p.name,
            p.latencies_us.len(),
            p.percentile(0.50),
            p.percentile(0.99),
            p.percentile(1.0),
            p.peak_threads,
            p.peak_rss_kib as f64 / 1024.0
        );
    }
    println!(
        "slow connections open: {opened} of {} at the start of the phase; \
         the server cut {} off at its request deadline (each reopened at once)",
        settings.connections,
        cut_off.load(Ordering::SeqCst)
    );
    println!(
        "with slow connections: p99 {:.2} ms ({:.1}x alone), threads {} ({:+}), RSS {:.1} MiB ({:+.1})",
        slow.percentile(0.99),
        slow.percentile(0.99) / alone.percentile(0.99).max(0.001),
        slow.peak_threads,
        slow.peak_threads as i64 - alone.peak_threads as i64,
        slow.peak_rss_kib as f64 / 1024.0,
        (slow.peak_rss_kib as f64 - alone.peak_rss_kib as f64) / 1024.0
    );
    let failed = alone.failures + slow.failures;
    if failed > 0 {
        println!("FAILED: {failed} normal requests got no 200");
    }
    Ok(failed == 0)
}

/// What the normal client saw in one phase, and the server's peak size.
struct Phase {
    name: &'static str,
    latencies_us: Vec<u64>,
    failures: usize,
    peak_threads: u64,
    peak_rss_kib: u64,
}

impl Phase {
    /// The latency at quantile `q` (0–1), in milliseconds.
    fn percentile(&self, q: f64) -> f64 {
        common::percentile_ms(&self.latencies_us, q)
    }
}

/// Runs the normal client for `length` while sampling the server's threads
/// and memory.
fn measure(server: &Server, length: Duration, name: &'static str) -> Result<Phase, Box<dyn Error>> {
    let done = Arc::new(AtomicBool::new(false));
    let pid = server.pid();
    let sampler = {
        let done = done.clone();
        thread::spawn(move || {
            let mut peak = (0, 0);
            while !done.load(Ordering::SeqCst) {
                if let Some((threads, rss)) = process_size(pid) {
                    peak = (peak.0.max(threads), peak.1.max(rss));
                }
                thread::sleep(Duration::from_millis(100));
            }
            peak
        })
    };
    let mut phase = Phase {
        name,
        latencies_us: Vec::new(),
        failures: 0,
        peak_threads: 0,
        peak_rss_kib: 0,
    };
    let started = Instant::now();
    let mut current = 0;
    while started.elapsed() < length {
        current += 1;
        let request = format!(
            "GET /progress/update?jobid=normal&workid=w&current={current}&total=1000000000 HTTP/1.1\r\n\
             Host: {}\r\nConnection: close\r\n\r\n",
            server.addr
        );
        let sent = Instant::now();
        let answer = HttpConnection::open(server.addr, IO_TIMEOUT)
            .and_then(|mut conn| conn.exchange(request.as_bytes()));
        match answer {
            Ok(a) if a.status == 200 => phase
                .latencies_us
                .push(sent.elapsed().as_micros().try_into().unwrap_or(u64::MAX)),
            _ => phase.failures += 1,
        }
        // About what a busy job's workers would send: not a flood.
        thread::sleep(Duration::from_millis(2));
    }
    done.store(true, Ordering::SeqCst);
    (phase.peak_threads, phase.peak_rss_kib) = sampler.join().map_err(|_| "sampler panicked")?;
    Ok(phase)
}

/// One slow connection: idle ones send nothing; trickling ones send a
/// request head a byte at a time and never finish it.
struct Slow {
    stream: TcpStream,
    trickle: bool,
    sent: usize,
}

/// The endless request head the trickling connections send.
const TRICKLE: &[u8] =
    b"GET /progress/update?jobid=slow&workid=w&current=1&total=2 HTTP/1.1\r\nX-Slow: ";

impl Slow {
    fn open(addr: SocketAddr, trickle: bool) -> Option<Slow> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
        stream.set_nonblocking(true).ok()?;
        Some(Slow {
            stream,
            trickle,
            sent: 0,
        })
    }

    /// Sends the next byte (trickling ones) and says whether the server
    /// still holds the connection open.
    fn tick(&mut self) -> bool {
        if self.trickle {
            let byte = TRICKLE.get(self.sent).copied().unwrap_or(b'a');
            match self.stream.write(&[byte]) {
                Ok(_) => self.sent += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
        let mut buf = [0u8; 512];
        match self.stream.read(&mut buf) {
            Ok(0) => false,
            // The server answered or refused; either way it is done with us.
            Ok(_) => false,
            Err(e) => e.kind() == ErrorKind::WouldBlock,
        }
    }
}

/// Keeps `count` slow connections open until `stop`: every
/// `TRICKLE_EVERY`, each trickles a byte, and each the server closed is
/// counted and opened again.
fn hold_slow_connections(
    addr: SocketAddr,
    count: usize,
    stop: &AtomicBool,
    open: &AtomicUsize,
    cut_off: &AtomicUsize,
) {
    let mut slots: Vec<Option<Slow>> = (0..count).map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        let round = Instant::now();
        for (i, slot) in slots.iter_mut().enumerate() {
            let alive = slot.as_mut().is_some_and(Slow::tick);
            if !alive {
                if slot.take().is_some() {
                    open.fetch_sub(1, Ordering::SeqCst);
                    cut_off.fetch_add(1, Ordering::SeqCst);
                }
                *slot = Slow::open(addr, i % 2 == 1);
                if slot.is_some() {
                    open.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        thread::sleep(TRICKLE_EVERY.saturating_sub(round.elapsed()));
    }
}
