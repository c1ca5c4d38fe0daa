// progressd: a deadline for a whole request or response, not just for each
// read or write. A socket timeout alone lets a client that trickles one byte
// every few seconds hold a connection thread for ever.

use std::convert::TryFrom;
use std::io::{Error as IoError, ErrorKind, Result as IoResult};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A moment by which the current request (or response) must be done; armed
/// and disarmed from another owner of the same connection.
pub(crate) struct Deadline {
    base: Instant,
    /// Nanoseconds after `base`; 0 while disarmed.
    at: AtomicU64,
    limit: Option<Duration>,
    /// While set, the deadline never passes: the connection's last request
    /// is still being answered, and the client waits for that answer
    /// before it sends the next.
    paused: AtomicBool,
}

impl Deadline {
    /// A disarmed deadline that, once armed, falls `limit` later (never when
    /// `limit` is None).
    pub(crate) fn new(limit: Option<Duration>) -> Deadline {
        Deadline {
            base: Instant::now(),
            at: AtomicU64::new(0),
            limit,
            paused: AtomicBool::new(false),
        }
    }

    /// Sets the deadline to `limit` from now.
    pub(crate) fn arm(&self) {
        if let Some(limit) = self.limit {
            let at = (self.base.elapsed() + limit).as_nanos();
            self.at
                .store(u64::try_from(at).unwrap_or(u64::MAX).max(1), Ordering::Relaxed);
        }
    }

    /// Sets the deadline unless it is set already.
    pub(crate) fn arm_if_disarmed(&self) {
        if self.at.load(Ordering::Relaxed) == 0 {
            self.arm();
        }
    }

    pub(crate) fn disarm(&self) {
        self.at.store(0, Ordering::Relaxed);
    }

    /// Stops the clock until `resume`.
    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Starts the clock again, from the whole limit.
    pub(crate) fn resume(&self) {
        self.arm();
        self.paused.store(false, Ordering::SeqCst);
    }

    /// The time left, None while disarmed; an error once it has passed.
    /// While paused, the whole limit is left.
    pub(crate) fn remaining(&self) -> IoResult<Option<Duration>> {
        if self.paused.load(Ordering::SeqCst) {
            return Ok(self.limit);
        }
        let at = self.at.load(Ordering::Relaxed);
        if at == 0 {
            return Ok(None);
        }
        let left = Duration::from_nanos(at).saturating_sub(self.base.elapsed());
        if left.is_zero() {
            return Err(IoError::new(ErrorKind::TimedOut, "request deadline passed"));
        }
        Ok(Some(left))
    }
}
