//! A thread that runs a task every interval until stopped: the expiry of old
//! jobs, the WAL checkpoints and the scheduled backups each run on one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running periodic thread.
pub struct Periodic {
    stop: Sender<()>,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Periodic {
    /// Starts thread `name`, which owns `state`, runs `task` on it one
    /// `interval` from now and every `interval` after, and `last` once when
    /// stopped. A long task should end early once its flag says the thread
    /// is stopping (the flag may be handed to another thread).
    pub fn start<S: Send + 'static>(
        name: &str,
        interval: Duration,
        mut state: S,
        mut task: impl FnMut(&mut S, &Arc<AtomicBool>) + Send + 'static,
        last: impl FnOnce(S) + Send + 'static,
    ) -> std::io::Result<Periodic> {
        let (stop, stopped) = mpsc::channel::<()>();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stopping);
        let thread = thread::Builder::new().name(name.into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                task(&mut state, &flag);
            }
            last(state);
        })?;
        Ok(Periodic {
            stop,
            stopping,
            thread,
        })
    }

    /// Stops the thread, waiting for a run in progress (and `last`) to
    /// finish.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Dropping the sender would do as well; sending says why.
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log::error!("a periodic thread panicked");
        }
    }
}
