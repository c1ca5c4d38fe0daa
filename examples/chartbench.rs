//! Chart benchmark: render time and size of `/progress/render` (PNG) and
//! `/progress/render.svg` charts for 10, 100, 1,000 and 10,000 workers,
//! drawn by `progressd::chart` directly (no HTTP, no SQLite), each the
//! median of several renders.
//!
//! Run: `cargo run --release --example chartbench [-- --out DIR]`; with
//! `--out` the charts are also written there as PNG and SVG files to look
//! at.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use progressd::chart::{self, Format};
use progressd::clock::{Clock, Secs, Time};
use progressd::model::{Job, Worker};

/// A job of `n` workers in every state: most running at varied progress, every
/// 10th done, every 37th failed, every 53rd silent long enough to be stale.
fn job(n: usize, now: Time) -> Job {
    let workers = (0..n)
        .map(|i| {
            let total = 1000.0;
            let current = ((i * 7919) % 1000) as f64;
            let (current, ok, updated) = match i {
                _ if i % 37 == 5 => (current, false, now - Secs(10.0)),
                _ if i % 10 == 3 => (total, true, now - Secs(10.0)),
                _ if i % 53 == 7 => (current, true, now - Secs(900.0)),
                _ => (current, true, now - Secs(5.0)),
            };
            Worker {
                workid: format!("rank{i}"),
                current,
                total,
                ok,
                desc: if i % 3 == 0 {
                    format!("step {} of 40: imaging", i % 40)
                } else {
                    String::new()
                },
                first_seen: now - Secs(1000.0),
                updated,
                rate: Some(current / 995.0),
                updates: 100,
                seq: None,
            }
        })
        .collect();
    Job {
        jobid: format!("bench{n}"),
        desc: format!("Benchmark job with {n} workers"),
        created: now - Secs(1000.0),
        updated: now - Secs(5.0),
        maxage: Secs(604_800.0),
        workers,
        history: Vec::new(),
    }
}

/// The settings of one run, from the command line.
#[derive(Parser, Debug)]
#[command(
    about = "Render time and size of progressd's PNG and SVG charts for 10 to \
             10,000 workers",
    // Given twice, an option's last value counts.
    args_override_self = true
)]
struct Settings {
    /// Also write the charts to this directory, as PNG and SVG files to
    /// look at.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn main() {
    let out = Settings::parse().out;
    chart::load_fonts();
    let now = Clock::system().now();
    println!(
        "{:>8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>12}",
        "workers", "PNG ms", "best ms", "PNG bytes", "SVG ms", "best ms", "SVG bytes"
    );
    for n in [10, 100, 1000, 10_000] {
        let job = job(n, now);
        let runs = if n >= 10_000 { 5 } else { 21 };
        let png = measure(&job, now, Format::Png, runs);
        let svg = measure(&job, now, Format::Svg, runs);
        println!(
            "{n:>8} {:>10.2} {:>10.2} {:>12} {:>10.2} {:>10.2} {:>12}",
            png.median_ms,
            png.best_ms,
            png.bytes.len(),
            svg.median_ms,
            svg.best_ms,
            svg.bytes.len()
        );
        if let Some(dir) = &out {
            for (chart, ext) in [(&png, "png"), (&svg, "svg")] {
                let path = dir.join(format!("chart-{n}.{ext}"));
                if let Err(e) =
                    std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &chart.bytes))
                {
                    eprintln!("chartbench: cannot write {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
    }
}

/// Render times of one chart and its bytes.
struct Measured {
    median_ms: f64,
    best_ms: f64,
    bytes: Vec<u8>,
}

/// Renders the chart of `job` in `format` `runs` times.
fn measure(job: &Job, now: Time, format: Format, runs: usize) -> Measured {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        bytes = match chart::render_job(job, now, chart::DEFAULT_WIDTH, format) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("chartbench: encoding failed: {e}");
                std::process::exit(1);
            }
        };
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Measured {
        median_ms: times[runs / 2],
        best_ms: times[0],
        bytes,
    }
}
