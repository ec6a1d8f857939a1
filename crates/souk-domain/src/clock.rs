//! Where "now" comes from. Use cases take a `&dyn Clock` instead of reading the wall clock,
//! so tests can move time past a session expiry or a risk window without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(clippy::disallowed_methods, reason = "this is the one place the wall clock is read")]
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(time::OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct FakeClock {
    micros: AtomicI64,
}

impl FakeClock {
    #[must_use]
    pub fn at(start: Timestamp) -> Self {
        Self { micros: AtomicI64::new(start.as_micros()) }
    }

    pub fn advance_secs(&self, secs: i64) {
        self.micros.fetch_add(secs.saturating_mul(1_000_000), Ordering::SeqCst);
    }

    pub fn set(&self, at: Timestamp) {
        self.micros.store(at.as_micros(), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_micros(self.micros.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told() {
        let clock = FakeClock::at(Timestamp::from_micros(10));
        assert_eq!(clock.now(), Timestamp::from_micros(10));
        clock.advance_secs(2);
        assert_eq!(clock.now(), Timestamp::from_micros(2_000_010));
    }
}
