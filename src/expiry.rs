//! The cron-style thread that deletes expired jobs, and raises the
//! notices of workers that went stale in jobs that asked (`notify=`):
//! staleness comes with time, not with a write, so it is looked for here.
//!
//! Every interval it asks the writer to delete expired jobs, a small batch at
//! a time, so updates queued behind it never wait long: each batch is one
//! operation among the updates in the writer's queue. An operation only
//! removes the jobs' rows, so they are gone for readers at once; the writer
//! deletes their workers afterwards in slices (`store::slices`), however
//! many there are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::metrics::Metrics;
use crate::periodic::Periodic;
use crate::store::Writer;

/// Most jobs deleted in one write operation, which the updates in its
/// batch wait for: 100 took 3-8 ms (measured with `scripts/slices.sh`,
/// 10,000 jobs expiring), 20 take about a millisecond.
const JOBS_PER_BATCH: usize = 20;

/// Starts the expiry thread; it first runs one interval from now.
/// Each run is counted in `metrics`.
pub fn start(
    writer: Writer,
    interval: Duration,
    metrics: Arc<Metrics>,
) -> std::io::Result<Periodic> {
    Periodic::start(
        "progressd-expiry",
        interval,
        writer,
        move |writer, stopping| {
            metrics.expiry_run(expire_jobs(writer, stopping));
            notice_stale(writer, stopping);
        },
        drop,
    )
}

/// Most stale workers announced in one write operation.
const STALE_PER_BATCH: usize = 1000;

/// Raises a notice for every worker that turned stale since the last run
/// in a job that asked, in batches, until done or `stopping`.
fn notice_stale(writer: &Writer, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        match writer.notice_stale(STALE_PER_BATCH) {
            Ok(n) if n < STALE_PER_BATCH => break,
            Ok(_) => {}
            Err(e) => {
                log::warn!("looking for stale workers to announce failed, will retry: {e}");
                break;
            }
        }
    }
}

/// Deletes every job expired by now, in batches, until done or `stopping`
/// (a long backlog must not hold up a shutdown; the rest waits for the next
/// start); returns how many it deleted.
fn expire_jobs(writer: &Writer, stopping: &AtomicBool) -> usize {
    let mut deleted = 0;
    while !stopping.load(Ordering::SeqCst) {
        match writer.expire(JOBS_PER_BATCH) {
            Ok(n) => {
                deleted += n;
                if n < JOBS_PER_BATCH {
                    break;
                }
            }
            Err(e) => {
                log::warn!("expiring jobs failed, will retry next interval: {e}");
                break;
            }
        }
    }
    if deleted > 0 {
        log::info!("expired {deleted} jobs");
    }
    deleted
}
