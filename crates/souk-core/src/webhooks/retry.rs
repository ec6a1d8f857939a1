//! When a failed delivery is tried again: exponential backoff with jitter. The n-th failure
//! waits `first × 2^(n-1)`, capped at a day, and a random part of up to half of that is
//! taken off so that endpoints failing together do not all come back at the same instant.

use std::time::Duration;

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_hours(24);

/// The wait (microseconds) after `failures` failed attempts (1 or more); `random` is a
/// uniformly random number that picks the jitter.
#[must_use]
pub fn delay_micros(first: Duration, failures: u32, random: u64) -> i64 {
    let first = i64::try_from(first.as_micros()).unwrap_or(i64::MAX).max(1);
    let cap = i64::try_from(MAX_DELAY.as_micros()).unwrap_or(i64::MAX);
    let exponent = failures.saturating_sub(1).min(40);
    let full = first.saturating_mul(1_i64 << exponent).min(cap);
    // Jitter: between half the delay and the whole of it.
    let half = full / 2;
    let span = u64::try_from(half).unwrap_or(0).saturating_add(1);
    let jitter = i64::try_from(random % span).unwrap_or(0);
    full - jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_up_to_a_day_with_jitter_taking_off_at_most_half() {
        let first = Duration::from_mins(1);
        let min = |n| delay_micros(first, n, u64::MAX - 1) / 1_000_000;
        let max = |n| delay_micros(first, n, 0) / 1_000_000;
        assert_eq!(max(1), 60);
        assert_eq!(max(2), 120);
        assert_eq!(max(3), 240);
        assert_eq!(max(11), 61_440);
        assert_eq!(max(12), 86_400);
        assert_eq!(max(60), 86_400);
        for n in 1..20 {
            assert!(min(n) >= max(n) / 2, "attempt {n}");
            assert!(min(n) <= max(n));
            for r in [1, 7, 1_000_003, u64::MAX] {
                let d = delay_micros(first, n, r);
                assert!(d >= max(n) * 1_000_000 / 2 && d <= max(n) * 1_000_000, "{n} {r} {d}");
            }
        }
    }
}
