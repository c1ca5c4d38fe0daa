//! A thread that runs a task every interval until stopped: the expiry of old
//! jobs and the WAL checkpoints both run on one.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running periodic thread.
pub struct Periodic {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Periodic {
    /// Starts thread `name`, which owns `state`, runs `task` on it one
    /// `interval` from now and every `interval` after, and `last` once when
    /// stopped.
    pub fn start<S: Send + 'static>(
        name: &str,
        interval: Duration,
        mut state: S,
        mut task: impl FnMut(&mut S) + Send + 'static,
        last: impl FnOnce(S) + Send + 'static,
    ) -> std::io::Result<Periodic> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new().name(name.into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                task(&mut state);
            }
            last(state);
        })?;
        Ok(Periodic { stop, thread })
    }

    /// Stops the thread, waiting for a run in progress (and `last`) to
    /// finish.
    pub fn stop(self) {
        // Dropping the sender would do as well; sending says why.
        let _ = self.stop.send(());
        if self.thread.join().is_err() {
            log::error!("a periodic thread panicked");
        }
    }
}
