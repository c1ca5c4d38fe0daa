//! Time as progressd counts it: an instant is a [`Time`] (Unix seconds, as
//! the store keeps it and the API shows it), a length of time is [`Secs`],
//! and the present comes from a [`Clock`] handed to the request threads
//! and the writer.
//!
//! A clock is the system's in service. A test makes a [`Clock::manual`]
//! one and moves it, so staleness, rates, expiry and history are tested at
//! exact times without sleeping.

use std::fmt;
use std::ops::{Add, Div, Mul, Sub};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant: seconds since the Unix epoch, with fractions.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Time(f64);

/// A length of time in seconds, with fractions; negative when the later of
/// two times was taken first (a clock stepped back).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Secs(pub f64);

impl Time {
    /// The instant `secs` seconds after the Unix epoch.
    pub const fn unix(secs: f64) -> Time {
        Time(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn as_unix(self) -> f64 {
        self.0
    }

    /// The later of two times.
    pub fn max(self, other: Time) -> Time {
        Time(self.0.max(other.0))
    }

    /// The earlier of two times.
    pub fn min(self, other: Time) -> Time {
        Time(self.0.min(other.0))
    }

    /// The smallest time after this one: a writer whose clock did not move
    /// (or stepped back) still gives each batch a time of its own.
    pub fn next_up(self) -> Time {
        Time(self.0.next_up())
    }
}

impl fmt::Display for Time {
    /// Unix seconds, as the page's attributes carry it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Secs {
    /// Seconds, as a plain number.
    pub const fn get(self) -> f64 {
        self.0
    }

    /// The longer of two lengths.
    pub fn max(self, other: Secs) -> Secs {
        Secs(self.0.max(other.0))
    }
}

impl Mul<f64> for Secs {
    type Output = Secs;

    fn mul(self, times: f64) -> Secs {
        Secs(self.0 * times)
    }
}

impl Div<f64> for Secs {
    type Output = Secs;

    fn div(self, by: f64) -> Secs {
        Secs(self.0 / by)
    }
}

impl Sub for Time {
    type Output = Secs;

    /// How long after `earlier` this time is.
    fn sub(self, earlier: Time) -> Secs {
        Secs(self.0 - earlier.0)
    }
}

impl Add<Secs> for Time {
    type Output = Time;

    fn add(self, by: Secs) -> Time {
        Time(self.0 + by.0)
    }
}

impl Sub<Secs> for Time {
    type Output = Time;

    fn sub(self, by: Secs) -> Time {
        Time(self.0 - by.0)
    }
}

/// Where the present comes from. Cloning shares it: moving a manual clock
/// moves it for every holder.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None` for the system's clock; else the manual time's bits.
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that stands at `start` until [`Clock::set`] or
    /// [`Clock::advance`] moves it: for tests and simulations.
    pub fn manual(start: Time) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(start.0.to_bits()))),
        }
    }

    /// The present.
    pub fn now(&self) -> Time {
        match &self.manual {
            Some(bits) => Time(f64::from_bits(bits.load(Ordering::SeqCst))),
            None => Time(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64()),
            ),
        }
    }

    /// Moves a manual clock to `to`; the system's clock is not moved.
    pub fn set(&self, to: Time) {
        if let Some(bits) = &self.manual {
            bits.store(to.0.to_bits(), Ordering::SeqCst);
        }
    }

    /// Moves a manual clock on by `by`; the system's clock is not moved.
    pub fn advance(&self, by: Secs) {
        self.set(self.now() + by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_for_every_holder() {
        let clock = Clock::manual(Time::unix(1000.0));
        let held = clock.clone();
        assert_eq!(held.now(), Time::unix(1000.0));
        clock.advance(Secs(2.5));
        assert_eq!(held.now(), Time::unix(1002.5));
        held.set(Time::unix(7.0));
        assert_eq!(clock.now() - Time::unix(1.0), Secs(6.0));
    }

    #[test]
    fn the_system_clock_is_not_moved_by_hand() {
        let clock = Clock::system();
        let before = clock.now();
        clock.set(Time::unix(0.0));
        assert!(clock.now() >= before);
        // Well after 2020-01-01.
        assert!(before > Time::unix(1.577e9));
    }
}
