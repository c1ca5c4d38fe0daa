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

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::periodic::Periodic;
use crate::store::{Reader, Writer};

/// Most jobs deleted in one write operation, which the updates in its
/// batch wait for: 100 took 3-8 ms (measured with `scripts/slices.sh`,
/// 10,000 jobs expiring), 20 take about a millisecond.
const JOBS_PER_BATCH: usize = 20;

/// What the thread needs to look for stale workers to announce.
pub struct StaleScan {
    /// Its own read connection.
    pub reader: Reader,
    /// The clock the writer reads too.
    pub clock: Clock,
}

/// Starts the expiry thread; it first runs one interval from now.
/// Each run is counted in `metrics`. With `stale` (when notifications go
/// somewhere), each run then announces the workers that turned stale.
pub fn start(
    writer: Writer,
    stale: Option<StaleScan>,
    interval: Duration,
    metrics: Arc<Metrics>,
) -> std::io::Result<Periodic> {
    Periodic::start(
        "progressd-expiry",
        interval,
        (writer, stale),
        move |(writer, stale), stopping| {
            metrics.expiry_run(expire_jobs(writer, stopping));
            if let Some(stale) = stale {
                notice_stale(writer, stale);
            }
        },
        drop,
    )
}

/// Announces the workers that turned stale since the last run in the
/// jobs that asked: found by a read on `stale`'s connection at its clock's
/// time, so the writer only writes the notices.
fn notice_stale(writer: &Writer, stale: &StaleScan) {
    let found = match stale.reader.turned_stale(stale.clock.now()) {
        Ok(found) if found.is_empty() => return,
        Ok(found) => found,
        Err(e) => {
            log::warn!("looking for stale workers to announce failed, will retry: {e}");
            return;
        }
    };
    if let Err(e) = writer.notice_stale(found) {
        log::warn!("announcing stale workers failed, will retry: {e}");
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
