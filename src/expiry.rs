//! The cron-style thread that deletes expired jobs.
//!
//! Every interval it asks the writer to delete expired jobs, a small batch at
//! a time, so updates queued behind it never wait long: each batch is one
//! operation among the updates in the writer's queue.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::store::{WriteOp, WriteOutcome, Writer};

/// Most jobs deleted in one write operation.
const JOBS_PER_BATCH: usize = 100;

/// The running expiry thread.
pub struct Expiry {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Expiry {
    /// Starts the thread; it first runs one interval from now.
    pub fn start(writer: Writer, interval: Duration) -> std::io::Result<Expiry> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("progressd-expiry".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    expire_jobs(&writer);
                }
            })?;
        Ok(Expiry { stop, thread })
    }

    /// Stops the thread, waiting for a run in progress to finish.
    pub fn stop(self) {
        // Dropping the sender would do as well; sending says why.
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log::error!("the expiry thread panicked");
        }
    }
}

/// Deletes every job expired by now, in batches.
fn expire_jobs(writer: &Writer) {
    let mut deleted = 0;
    loop {
        match writer.submit(WriteOp::Expire {
            limit: JOBS_PER_BATCH,
        }) {
            Ok(WriteOutcome::Expired(n)) => {
                deleted += n;
                if n < JOBS_PER_BATCH {
                    break;
                }
            }
            Ok(other) => {
                log::error!("expiry got an unexpected answer from the writer: {other:?}");
                break;
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
}
