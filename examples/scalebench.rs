//! Cluster scale in one run (issue 12): the release progressd on a temp
//! database, jobs of 10, 1,000 and 100,000 workers, then 10,000 more jobs
//! to make 1,000,000 worker rows, and every figure of the table
//! printed next to its target, with the small jobs' figures beside the big
//! ones for comparison. Talks only to 127.0.0.1.
//!
//!   cargo run --release --example scalebench [-- --big 100000 --jobs 10000 --per-job 90]
//!
//! It builds the server binary first (`cargo build --release --bin
//! progressd`), as `cargo run --example` builds only the example.

mod common;

use std::error::Error;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use common::{Server, ServerCpu, percentile_ms, process_size, progressd_binary};
use progressd::history;

/// Options.
#[derive(Parser, Debug)]
#[command(about = "Cluster-scale figures of progressd, each beside its target")]
struct Options {
    /// Workers in the big job.
    #[arg(long, default_value_t = 100_000)]
    big: usize,
    /// Further jobs, to fill the database.
    #[arg(long, default_value_t = 10_000)]
    jobs: usize,
    /// Workers in each further job.
    #[arg(long, default_value_t = 90)]
    per_job: usize,
    /// Seconds after which the further jobs expire (the expiry figure waits
    /// for it).
    #[arg(long, default_value_t = 60)]
    expire_after: u64,
}

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// A kept-alive HTTP client.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// GET `url`: status, body length, time taken.
fn get(agent: &ureq::Agent, url: &str) -> Result<(u16, usize, Duration)> {
    let started = Instant::now();
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()?;
    Ok((status, body.len(), started.elapsed()))
}

/// GET `url`, which must answer 200.
fn get_ok(agent: &ureq::Agent, url: &str) -> Result<(usize, Duration)> {
    let (status, bytes, took) = get(agent, url)?;
    if status != 200 {
        return Err(format!("{url} answered {status}").into());
    }
    Ok((bytes, took))
}

/// The median time of `runs` GETs of `url`, in ms, and its body length.
fn median_get(agent: &ureq::Agent, url: &str, runs: usize) -> Result<(f64, usize)> {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let (b, took) = get_ok(agent, url)?;
        bytes = b;
        times.push(took.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], bytes))
}

/// POSTs a batch of updates (one per line) to job `jobid`.
fn post_batch(agent: &ureq::Agent, base: &str, jobid: &str, lines: &str) -> Result<()> {
    let mut response = agent
        .post(format!("{base}/update?jobid={jobid}"))
        .content_type("application/x-www-form-urlencoded")
        .send(lines)?;
    let status = response.status().as_u16();
    if status != 200 {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        return Err(format!("batch answered {status}: {}", body.trim()).into());
    }
    Ok(())
}

/// Single updates of a small job, kept alive, timed one by one, until
/// stopped: what a user's job sees while something big happens.
struct Probe {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Vec<u64>>,
}

impl Probe {
    fn start(base: &str) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, base) = (Arc::clone(&stop), base.to_string());
        let thread = thread::spawn(move || {
            let agent = agent();
            let mut latencies = Vec::new();
            let mut step = 0u64;
            while !flag.load(Ordering::Relaxed) {
                step += 1;
                let url = format!(
                    "{base}/update?jobid=probe&workid=w{}&current={step}&total=1000000000",
                    step % 4
                );
                let started = Instant::now();
                if get(&agent, &url).is_ok_and(|(s, _, _)| s == 200) {
                    latencies.push(started.elapsed().as_micros() as u64);
                }
                // About 500 updates a second: a busy job, not a flood.
                thread::sleep(Duration::from_millis(2));
            }
            latencies
        });
        Probe { stop, thread }
    }

    /// Stops it: p50, p99 and max in ms, and the updates.
    fn finish(self) -> (f64, f64, f64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let latencies = self.thread.join().unwrap_or_default();
        (
            percentile_ms(&latencies, 0.5),
            percentile_ms(&latencies, 0.99),
            percentile_ms(&latencies, 1.0),
            latencies.len(),
        )
    }
}

/// The most resident memory seen of `pid` while it runs, sampled every 5 ms.
struct RssPeak {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: thread::JoinHandle<()>,
}

impl RssPeak {
    fn start(pid: u32) -> RssPeak {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (flag, seen) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if let Some((_, kib)) = process_size(pid) {
                    seen.fetch_max(kib, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        RssPeak { stop, peak, thread }
    }

    /// Stops it: the peak in MB.
    fn finish(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

fn rss_mb(pid: u32) -> f64 {
    process_size(pid).map_or(f64::NAN, |(_, kib)| kib as f64 / 1024.0)
}

/// Updates/s of single kept-alive updates from 4 threads for `secs`, each
/// to a random worker of `jobid` (of `workers`).
fn single_update_rate(base: &str, jobid: &str, workers: usize, secs: f64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (base, jobid, done) = (base.to_string(), jobid.to_string(), Arc::clone(&done));
            thread::spawn(move || {
                let agent = agent();
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                let mut step = 0;
                while Instant::now() < until {
                    // xorshift: a worker picked at random, cheaply.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    step += 1;
                    let url = format!(
                        "{base}/update?jobid={jobid}&workid={}&current={step}&total=1000000000",
                        x % workers as u64
                    );
                    if get(&agent, &url).is_ok_and(|(s, _, _)| s == 200) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    done.load(Ordering::Relaxed) as f64 / secs
}

/// Reports `workers` workers of `jobid` (ids 0..workers) at percent
/// `i % 101`, every 97th failed, in batches of 100 from 4 threads; returns
/// worker updates/s.
fn report_all(base: &str, jobid: &str, workers: usize) -> Result<f64> {
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (base, jobid) = (base.to_string(), jobid.to_string());
            thread::spawn(move || -> std::result::Result<(), String> {
                let agent = agent();
                let mut start = t * 100;
                while start < workers {
                    let lines: Vec<String> = (start..(start + 100).min(workers))
                        .map(|i| {
                            let ok = if i % 97 == 5 { 0 } else { 1 };
                            format!("workid={i}&current={}&total=100&ok={ok}", i % 101)
                        })
                        .collect();
                    post_batch(&agent, &base, &jobid, &lines.join("\n"))
                        .map_err(|e| e.to_string())?;
                    start += 400;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "reporting thread panicked")??;
    }
    Ok(workers as f64 / started.elapsed().as_secs_f64())
}

/// What SQLite alone takes to rewrite one worker row of `jobid`, in µs:
/// every row is written back with its own figures and history through one
/// prepared UPDATE, 100 rows a commit, on a connection of its own set as
/// the writer's (the server, idle meanwhile, sees no change). The least
/// the writer's CPU per update can be with a row a report.
fn bare_update_floor(db: &std::path::Path, jobid: &str) -> Result<f64> {
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The server checkpoints on a thread of its own.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    let job: i64 = conn.query_row("SELECT id FROM jobs WHERE jobid = ?1", [jobid], |r| {
        r.get(0)
    })?;
    type Row = (Vec<u8>, f64, f64, i64, Option<Vec<u8>>);
    let rows: Vec<Row> = conn
        .prepare("SELECT sortkey, current, updated, updates, history FROM workers WHERE job = ?1")?
        .query_map([job], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = conn.prepare(
        "UPDATE workers SET current = ?3, updated = ?4, updates = ?5, history = ?6
          WHERE job = ?1 AND sortkey = ?2",
    )?;
    let started = Instant::now();
    const ROUNDS: usize = 5;
    for _ in 0..ROUNDS {
        for chunk in rows.chunks(100) {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for (sortkey, current, updated, updates, history) in chunk {
                update.execute(rusqlite::params![
                    job, sortkey, current, updated, updates, history
                ])?;
            }
            conn.execute_batch("COMMIT")?;
        }
    }
    Ok(started.elapsed().as_secs_f64() * 1e6 / (ROUNDS * rows.len()).max(1) as f64)
}

/// One row of the table: what, the figure, the target, whether it is met.
fn row(what: &str, figure: String, target: &str, met: Option<bool>) {
    let mark = match met {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "",
    };
    println!("| {what} | {figure} | {target} | {mark} |");
}

fn main() -> Result<()> {
    let options = Options::parse();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "progressd"])
        .status()?;
    if !built.success() {
        return Err("cargo build --release --bin progressd failed".into());
    }
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("scale.sqlite3");
    let big = options.big.to_string();
    let server = Server::start_with(
        &progressd_binary()?,
        &db,
        &["--max-workers-per-job", &big, "--expire-interval", "1"],
    )?;
    let pid = server.pid();
    let base = format!("http://{}/progress", server.addr);
    let a = agent();
    println!(
        "scalebench: progressd {pid} on {}, big job {} workers, then {} jobs of {}",
        server.addr, options.big, options.jobs, options.per_job
    );
    println!("| what | measured | target | met |");
    println!("| --- | --- | --- | --- |");

    // Small jobs, for comparison.
    for (jobid, n) in [("ten", 10), ("thousand", 1000)] {
        get_ok(&a, &format!("{base}/create?jobid={jobid}"))?;
        report_all(&base, jobid, n)?;
    }
    get_ok(
        &a,
        &format!("{base}/update?jobid=probe&workid=w0&current=0&total=1"),
    )?;

    let (t10, b10) = median_get(&a, &format!("{base}/status?jobid=ten"), 50)?;
    let (t1k, b1k) = median_get(&a, &format!("{base}/status?jobid=thousand"), 50)?;
    row(
        "`status`, 10 workers",
        format!("{t10:.2} ms ({b10} B)"),
        "",
        None,
    );
    row(
        "`status`, 1,000 workers",
        format!("{t1k:.2} ms ({:.0} KB)", b1k as f64 / 1e3),
        "≤ 3 ms",
        Some(t1k <= 3.0),
    );

    // Updates with nothing big happening: the baseline for the probes.
    let probe = Probe::start(&base);
    thread::sleep(Duration::from_secs(2));
    let (p50, p99, max, n) = probe.finish();
    row(
        "update latency, nothing else happening",
        format!("p50 {p50:.2} / p99 {p99:.2} / max {max:.1} ms ({n} updates)"),
        "(baseline)",
        None,
    );

    // The big job's roster, with updates of another job going on.
    let probe = Probe::start(&base);
    thread::sleep(Duration::from_millis(300));
    let (_, took) = get_ok(
        &a,
        &format!("{base}/create?jobid=big&workers={}", options.big),
    )?;
    // Until its roster is all there (it may be inserted in slices).
    let ready = Instant::now();
    loop {
        let list: serde_json::Value =
            serde_json::from_reader(a.get(format!("{base}/jobs")).call()?.body_mut().as_reader())?;
        let workers = list
            .as_array()
            .and_then(|jobs| jobs.iter().find(|j| j["jobid"] == "big"))
            .and_then(|j| j["workers"].as_u64())
            .unwrap_or(0);
        if workers as usize >= options.big || ready.elapsed() > Duration::from_secs(60) {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let whole = took + ready.elapsed();
    thread::sleep(Duration::from_millis(300));
    let (p50, p99, max, _) = probe.finish();
    row(
        &format!("`create … workers={}`", options.big),
        format!(
            "answered in {:.0} ms, roster complete in {:.0} ms",
            took.as_secs_f64() * 1000.0,
            whole.as_secs_f64() * 1000.0
        ),
        "",
        None,
    );
    row(
        "update latency while that roster is created",
        format!("p50 {p50:.2} / p99 {p99:.2} / max {max:.1} ms"),
        "p99 ≤ 10 ms, max ≤ 50 ms",
        Some(p99 <= 10.0 && max <= 50.0),
    );

    // Every worker of the big job reports, in batches of 100: its first
    // report, then a later one; then, in a job of 10,000, enough reports
    // to fill every worker's history (the steady state of a long run).
    let rate_row = |what: &str, reports: &dyn Fn() -> Result<(f64, usize)>| -> Result<()> {
        let before = ServerCpu::of(pid);
        let (rate, updates) = reports()?;
        let cpu = ServerCpu::of(pid)
            .zip(before)
            .map(|(after, before)| after.since(before));
        let per = |seconds: f64| seconds / updates as f64 * 1e6;
        let figure = match cpu {
            Some(cpu) => format!(
                "{rate:.0}/s (CPU per update: writer {:.2} µs, request threads {:.2} µs)",
                per(cpu.writer),
                per(cpu.requests)
            ),
            None => format!("{rate:.0}/s"),
        };
        row(what, figure, "≥ 200,000/s", Some(rate >= 200_000.0));
        Ok(())
    };
    let big_reports = || Ok((report_all(&base, "big", options.big)?, options.big));
    rate_row(
        "worker updates/s in batches of 100 (4 clients), first reports",
        &big_reports,
    )?;
    rate_row(
        "worker updates/s in batches of 100 (4 clients), later reports",
        &big_reports,
    )?;
    const STEADY: usize = 10_000;
    get_ok(&a, &format!("{base}/create?jobid=steady&workers={STEADY}"))?;
    for _ in 0..history::MAX_POINTS {
        report_all(&base, "steady", STEADY)?;
    }
    rate_row(
        "worker updates/s in batches of 100 (4 clients), full histories (10,000 workers)",
        &|| {
            let started = Instant::now();
            for _ in 0..5 {
                report_all(&base, "steady", STEADY)?;
            }
            Ok((
                5.0 * STEADY as f64 / started.elapsed().as_secs_f64(),
                5 * STEADY,
            ))
        },
    )?;
    let floor = bare_update_floor(&db, "steady")?;
    row(
        "a bare SQLite UPDATE of one of those rows, 100 a commit (the floor under the writer)",
        format!("{floor:.2} µs"),
        "",
        None,
    );
    get_ok(&a, &format!("{base}/delete?jobid=steady"))?;

    // Reading the big job.
    let rss_before = rss_mb(pid);
    let (bytes, took) = get_ok(&a, &format!("{base}/status?jobid=big"))?;
    row(
        &format!("`status`, {} workers", options.big),
        format!(
            "{:.0} ms, {:.1} MB of JSON",
            took.as_secs_f64() * 1000.0,
            bytes as f64 / 1e6
        ),
        "",
        None,
    );
    row(
        "server RSS before / after one such `status`",
        format!("{rss_before:.0} MB / {:.0} MB", rss_mb(pid)),
        "",
        None,
    );
    let peak = RssPeak::start(pid);
    let started = Instant::now();
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let url = format!("{base}/status?jobid=big");
            thread::spawn(move || {
                get_ok(&agent(), &url)
                    .map(|(b, _)| b)
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for r in readers {
        r.join().map_err(|_| "reader panicked")??;
    }
    let all = started.elapsed();
    let peak = peak.finish();
    row(
        "server RSS while 16 clients fetch that `status` at once",
        format!(
            "peak {peak:.0} MB (all 16 answered in {:.1} s)",
            all.as_secs_f64()
        ),
        "≤ 128 MB",
        Some(peak <= 128.0),
    );
    let (t, b) = median_get(&a, &format!("{base}/status?jobid=big&workers=0"), 5)?;
    row(
        "`status … workers=0` (summary only)",
        format!("{t:.0} ms ({b} B)"),
        "",
        None,
    );
    let (t, b) = median_get(
        &a,
        &format!("{base}/status?jobid=big&state=failed,stale,slow&sort=attention&limit=100"),
        5,
    )?;
    row(
        "a page of 100 needing attention",
        format!("{t:.0} ms ({:.0} KB)", b as f64 / 1e3),
        "",
        None,
    );

    // Pictures and pages. Each width is drawn once (the render cache would
    // answer a repeat).
    for (format, path) in [("PNG", "render"), ("SVG", "render.svg")] {
        let mut times = Vec::new();
        for (i, jobid) in ["thousand", "big"].iter().enumerate() {
            let mut runs = Vec::new();
            for k in 0..3 {
                let width = 800 + 10 * i + k;
                let (_, took) = get_ok(&a, &format!("{base}/{path}?jobid={jobid}&width={width}"))?;
                runs.push(took.as_secs_f64() * 1000.0);
            }
            runs.sort_by(f64::total_cmp);
            times.push(runs[1]);
        }
        row(
            &format!("{format} of the big job (of 1,000 workers)"),
            format!("{:.0} ms ({:.0} ms)", times[1], times[0]),
            "≤ 50 ms",
            Some(times[1] <= 50.0),
        );
    }
    let (t, b) = median_get(&a, &format!("{base}/show?jobid=big"), 3)?;
    let (t1, b1) = median_get(&a, &format!("{base}/show?jobid=thousand"), 3)?;
    row(
        "`show` page of the big job (of 1,000 workers)",
        format!(
            "{:.0} KB in {t:.0} ms ({:.0} KB in {t1:.0} ms)",
            b as f64 / 1e3,
            b1 as f64 / 1e3
        ),
        "< 200 KB",
        Some(b < 200_000),
    );

    // Updates into the big job against the small one, in turns, so that
    // the machine's load moves both alike: the median of seven each, with
    // the server's CPU per update (writer and request threads), which the
    // load moves less than the rate.
    const TURNS: usize = 7;
    const TURN_SECS: f64 = 1.5;
    let turn = |jobid: &str, workers: usize| -> (f64, f64) {
        let before = ServerCpu::of(pid);
        let rate = single_update_rate(&base, jobid, workers, TURN_SECS);
        let cpu = ServerCpu::of(pid)
            .zip(before)
            .map_or(0.0, |(after, before)| {
                let spent = after.since(before);
                spent.writer + spent.requests
            });
        (rate, cpu / (rate * TURN_SECS).max(1.0) * 1e6)
    };
    let (mut small, mut large) = (Vec::new(), Vec::new());
    for _ in 0..TURNS {
        small.push(turn("ten", 10));
        large.push(turn("big", options.big));
    }
    let median = |turns: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| {
        let mut values: Vec<f64> = turns.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (small_rate, large_rate) = (median(&small, |t| t.0), median(&large, |t| t.0));
    let (small_cpu, large_cpu) = (median(&small, |t| t.1), median(&large, |t| t.1));
    row(
        "single updates/s into the big job / into a 10-worker job (4 clients, medians of 7 turns)",
        format!(
            "{large_rate:.0} / {small_rate:.0} ({:.0} %; server CPU per update {large_cpu:.1} / {small_cpu:.1} µs)",
            100.0 * large_rate / small_rate
        ),
        "within 10 %",
        Some(large_rate >= 0.9 * small_rate),
    );

    // Fill the database: many jobs, their rosters expiring together.
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let fillers: Vec<_> = (0..4)
        .map(|_| {
            let (base, next) = (base.clone(), Arc::clone(&next));
            let (jobs, per_job, maxage) =
                (options.jobs as u64, options.per_job, options.expire_after);
            thread::spawn(move || -> std::result::Result<(), String> {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= jobs {
                        return Ok(());
                    }
                    let url =
                        format!("{base}/create?jobid=fill{i}&workers={per_job}&maxage={maxage}");
                    get_ok(&agent, &url).map_err(|e| e.to_string())?;
                }
            })
        })
        .collect();
    for f in fillers {
        f.join().map_err(|_| "filler panicked")??;
    }
    let filled_at = Instant::now();
    let rows = options.big + 1010 + 4 + options.jobs * options.per_job;
    row(
        "database filled",
        format!(
            "{rows} worker rows in {} jobs ({:.1} s to create)",
            options.jobs + 4,
            started.elapsed().as_secs_f64()
        ),
        "",
        None,
    );
    thread::sleep(Duration::from_secs(2));
    let (t, _) = median_get(&a, &format!("{base}/"), 10)?;
    let (tj, _) = median_get(&a, &format!("{base}/jobs"), 10)?;
    row(
        "`/progress/` / `jobs` with those rows",
        format!("{t:.1} ms / {tj:.1} ms"),
        "≤ 50 ms",
        Some(t <= 50.0 && tj <= 50.0),
    );
    let steady = rss_mb(pid);
    row(
        "server RSS, steady, with those rows",
        format!("{steady:.0} MB"),
        "≤ 64 MB",
        Some(steady <= 64.0),
    );
    let size = std::fs::metadata(&db).map_or(0, |m| m.len());
    row(
        "database file",
        format!("{:.0} MB", size as f64 / 1e6),
        "",
        None,
    );

    // Expiry of the filling jobs, with updates going on.
    let expires = filled_at + Duration::from_secs(options.expire_after);
    let probe = Probe::start(&base);
    let expiring = Instant::now();
    loop {
        let list: serde_json::Value =
            serde_json::from_reader(a.get(format!("{base}/jobs")).call()?.body_mut().as_reader())?;
        let left = list.as_array().map_or(0, Vec::len);
        if (Instant::now() > expires && left <= 4)
            || expiring.elapsed() > Duration::from_secs(options.expire_after + 120)
        {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let (p50, p99, max, n) = probe.finish();
    row(
        &format!(
            "update latency while {} rows expire",
            options.jobs * options.per_job
        ),
        format!("p50 {p50:.2} / p99 {p99:.2} / max {max:.1} ms ({n} updates)"),
        "p99 ≤ 10 ms, max ≤ 50 ms",
        Some(p99 <= 10.0 && max <= 50.0),
    );

    // Deleting the big job.
    let probe = Probe::start(&base);
    thread::sleep(Duration::from_millis(300));
    let (_, took) = get_ok(&a, &format!("{base}/delete?jobid=big"))?;
    thread::sleep(Duration::from_secs(2));
    let (p50, p99, max, _) = probe.finish();
    row(
        "`delete` of the big job; update latency meanwhile",
        format!(
            "answered in {:.0} ms; p50 {p50:.2} / p99 {p99:.2} / max {max:.1} ms",
            took.as_secs_f64() * 1000.0
        ),
        "p99 ≤ 10 ms, max ≤ 50 ms",
        Some(p99 <= 10.0 && max <= 50.0),
    );
    drop(server);
    Ok(())
}
