//! Counters behind `GET /metrics`, in the Prometheus text format.
//!
//! Everything is a fixed set of atomics, and one figure read from the HTTP
//! server at each scrape: labels are route names and status codes, never
//! job ids (their number is unbounded), so recording costs a few atomic
//! adds and a scrape's size never grows with the jobs stored.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The statuses requests are counted by; anything else is counted as 0.
const STATUSES: [u16; 15] = [
    200, 302, 304, 400, 401, 404, 405, 408, 413, 415, 429, 431, 500, 503, 0,
];

/// Upper bounds of the request latency histogram, in seconds.
const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds of the group-commit batch size histogram.
const BATCH_BOUNDS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 512.0, 4096.0];

/// A histogram with fixed bounds (a `+Inf` bucket past the last).
struct Histogram<const N: usize> {
    bounds: [f64; N],
    /// One count per bound, then `+Inf`; not cumulative (summed on output).
    counts: Vec<AtomicU64>,
    /// The sum of observations, in millionths.
    sum_micros: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: [f64; N]) -> Histogram<N> {
        Histogram {
            bounds,
            counts: (0..=N).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        let bucket = self.bounds.iter().position(|b| value <= *b).unwrap_or(N);
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or("+Inf".to_string(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// A figure read from another part of the service at each scrape.
type Reading = Box<dyn Fn() -> u64 + Send + Sync>;

/// The service's counters, shared by every thread.
pub struct Metrics {
    /// The labels requests are counted by: the routes' paths, then `other`.
    endpoints: Vec<&'static str>,
    /// Requests by endpoint (row) and status (column).
    requests: Vec<AtomicU64>,
    latency: Histogram<12>,
    batches: Histogram<10>,
    updates_committed: AtomicU64,
    updates_ignored: AtomicU64,
    update_batches: AtomicU64,
    expiry_runs: AtomicU64,
    jobs_expired: AtomicU64,
    backups: AtomicU64,
    backup_failures: AtomicU64,
    /// How long the last scheduled backup took, in milliseconds.
    backup_last_ms: AtomicU64,
    /// The bytes the HTTP server keeps for clients that have not read
    /// their answers yet; set once the server runs.
    unsent_bytes: OnceLock<Reading>,
}

/// What a scrape reads from the store at that moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stored {
    /// Jobs stored.
    pub jobs: u64,
    /// Workers stored, over all jobs.
    pub workers: u64,
    /// Bytes of the database file and its write-ahead log.
    pub database_bytes: u64,
}

impl Metrics {
    /// Counters that tell requests apart by `routes` (each route's label,
    /// in the order `request` names them by), and count the rest as
    /// `other`.
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Metrics {
        let endpoints: Vec<&'static str> = routes.into_iter().chain(["other"]).collect();
        Metrics {
            requests: (0..endpoints.len() * STATUSES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            endpoints,
            latency: Histogram::new(LATENCY_BOUNDS),
            batches: Histogram::new(BATCH_BOUNDS),
            updates_committed: AtomicU64::new(0),
            updates_ignored: AtomicU64::new(0),
            update_batches: AtomicU64::new(0),
            expiry_runs: AtomicU64::new(0),
            jobs_expired: AtomicU64::new(0),
            backups: AtomicU64::new(0),
            backup_failures: AtomicU64::new(0),
            backup_last_ms: AtomicU64::new(0),
            unsent_bytes: OnceLock::new(),
        }
    }

    /// Counts one answered request to route `route` (its place among the
    /// routes given to [`Metrics::new`]), or to no route.
    pub fn request(&self, route: Option<usize>, status: u16, took: Duration) {
        let other = self.endpoints.len() - 1;
        let endpoint = route.filter(|&r| r < other).unwrap_or(other);
        let code = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len() - 1);
        self.requests[endpoint * STATUSES.len() + code].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(took.as_secs_f64());
    }

    /// Counts one committed batch of `size` operations: `updates` worker
    /// updates stored, `ignored` ones acknowledged but older (by seq) than
    /// what was stored.
    pub fn batch(&self, size: usize, updates: usize, ignored: usize) {
        self.batches.observe(size as f64);
        self.updates_committed
            .fetch_add(updates as u64, Ordering::Relaxed);
        self.updates_ignored
            .fetch_add(ignored as u64, Ordering::Relaxed);
    }

    /// Counts one committed batch update (a POST of several lines); its
    /// reports are counted by [`batch`](Metrics::batch) with the others.
    pub fn update_batch(&self) {
        self.update_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one run of the expiry thread and the jobs it deleted.
    pub fn expiry_run(&self, deleted: usize) {
        self.expiry_runs.fetch_add(1, Ordering::Relaxed);
        self.jobs_expired
            .fetch_add(deleted as u64, Ordering::Relaxed);
    }

    /// Counts one scheduled backup taken, which took `took`.
    pub fn backup_taken(&self, took: Duration) {
        self.backups.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.backup_last_ms.store(ms, Ordering::Relaxed);
    }

    /// Counts one scheduled backup that failed.
    pub fn backup_failed(&self) {
        self.backup_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads `unsent_bytes` at each scrape for `progressd_unsent_bytes`
    /// (only the first call counts: there is one HTTP server).
    pub fn watch_unsent_bytes(&self, unsent_bytes: impl Fn() -> u64 + Send + Sync + 'static) {
        let _ = self.unsent_bytes.set(Box::new(unsent_bytes));
    }

    /// Everything, in the Prometheus text exposition format.
    pub fn render(&self, stored: Stored) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str(
            "# HELP progressd_requests_total Requests answered, by endpoint and status \
             (status 0: any other).\n# TYPE progressd_requests_total counter\n",
        );
        for (e, endpoint) in self.endpoints.iter().enumerate() {
            for (c, status) in STATUSES.iter().enumerate() {
                let n = self.requests[e * STATUSES.len() + c].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "progressd_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        self.latency.write(
            &mut out,
            "progressd_request_duration_seconds",
            "Time from a request's arrival at a request thread to its answer.",
        );
        self.batches.write(
            &mut out,
            "progressd_commit_batch_size",
            "Operations committed together in one transaction (group commit).",
        );
        let counters = [
            (
                "progressd_updates_committed_total",
                "Worker updates committed.",
                self.updates_committed.load(Ordering::Relaxed),
            ),
            (
                "progressd_updates_ignored_total",
                "Worker updates acknowledged but not applied: their seq was below the stored one.",
                self.updates_ignored.load(Ordering::Relaxed),
            ),
            (
                "progressd_update_batches_total",
                "Batch updates committed (POST bodies of several lines); their worker updates \
                 count in progressd_updates_committed_total and _ignored_total.",
                self.update_batches.load(Ordering::Relaxed),
            ),
            (
                "progressd_expiry_runs_total",
                "Runs of the expiry thread.",
                self.expiry_runs.load(Ordering::Relaxed),
            ),
            (
                "progressd_jobs_expired_total",
                "Jobs deleted by the expiry thread.",
                self.jobs_expired.load(Ordering::Relaxed),
            ),
            (
                "progressd_backups_total",
                "Scheduled backups taken (--backup-dir).",
                self.backups.load(Ordering::Relaxed),
            ),
            (
                "progressd_backup_failures_total",
                "Scheduled backups that failed; each is tried again at the next interval.",
                self.backup_failures.load(Ordering::Relaxed),
            ),
        ];
        let gauges = [
            ("progressd_jobs", "Jobs stored.", stored.jobs),
            (
                "progressd_workers",
                "Workers stored, over all jobs.",
                stored.workers,
            ),
            (
                "progressd_database_bytes",
                "Size of the database file and its write-ahead log.",
                stored.database_bytes,
            ),
            (
                "progressd_unsent_bytes",
                "Bytes of answers kept for clients that have not read them yet \
                 (at most --max-unsent-mib).",
                self.unsent_bytes.get().map_or(0, |read| read()),
            ),
            (
                "progressd_backup_last_duration_milliseconds",
                "How long the last scheduled backup took (0: none yet).",
                self.backup_last_ms.load(Ordering::Relaxed),
            ),
        ];
        let rows = counters
            .iter()
            .map(|row| ("counter", row))
            .chain(gauges.iter().map(|row| ("gauge", row)));
        for (kind, (name, help, value)) in rows {
            {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_with_bounded_labels() {
        let m = Metrics::new(["/progress/update", "/progress/assets"]);
        m.request(Some(0), 200, Duration::from_micros(300));
        m.request(Some(0), 200, Duration::from_millis(3));
        m.request(Some(1), 200, Duration::from_millis(1));
        m.request(None, 404, Duration::from_millis(1));
        m.request(Some(0), 418, Duration::from_millis(1));
        let text = m.render(Stored::default());
        assert!(
            text.contains(
                "progressd_requests_total{endpoint=\"/progress/update\",status=\"200\"} 2"
            )
        );
        assert!(
            text.contains(
                "progressd_requests_total{endpoint=\"/progress/assets\",status=\"200\"} 1"
            )
        );
        assert!(text.contains("progressd_requests_total{endpoint=\"other\",status=\"404\"} 1"));
        assert!(
            text.contains("progressd_requests_total{endpoint=\"/progress/update\",status=\"0\"} 1")
        );
        assert!(!text.contains("some-job-id"));
        // Cumulative buckets: 0.3 ms is under 0.5 ms; 3 ms under 5 ms.
        assert!(text.contains("progressd_request_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("progressd_request_duration_seconds_bucket{le=\"0.005\"} 5\n"));
        assert!(text.contains("progressd_request_duration_seconds_bucket{le=\"+Inf\"} 5\n"));
        assert!(text.contains("progressd_request_duration_seconds_count 5\n"));
    }

    #[test]
    fn batches_expiry_and_stored_figures() {
        let m = Metrics::new([]);
        m.batch(1, 1, 0);
        m.batch(40, 36, 2);
        m.update_batch();
        m.expiry_run(0);
        m.expiry_run(7);
        m.watch_unsent_bytes(|| 5000);
        let text = m.render(Stored {
            jobs: 3,
            workers: 12,
            database_bytes: 4096,
        });
        assert!(text.contains("progressd_commit_batch_size_bucket{le=\"1\"} 1\n"));
        assert!(text.contains("progressd_commit_batch_size_bucket{le=\"64\"} 2\n"));
        assert!(text.contains("progressd_commit_batch_size_sum 41\n"));
        assert!(text.contains("progressd_updates_committed_total 37\n"));
        assert!(text.contains("progressd_updates_ignored_total 2\n"));
        assert!(text.contains("progressd_update_batches_total 1\n"));
        assert!(text.contains("progressd_expiry_runs_total 2\n"));
        assert!(text.contains("progressd_jobs_expired_total 7\n"));
        assert!(text.contains("# TYPE progressd_jobs gauge\nprogressd_jobs 3\n"));
        assert!(text.contains("progressd_workers 12\n"));
        assert!(text.contains("progressd_database_bytes 4096\n"));
        assert!(
            text.contains("# TYPE progressd_unsent_bytes gauge\nprogressd_unsent_bytes 5000\n")
        );
    }
}
