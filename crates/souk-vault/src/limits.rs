//! Rate limits on every vault operation, per caller: a GCRA token bucket (a burst, then a
//! steady rate) kept in memory and driven by the vault's [`Clock`](souk_domain::Clock).

use std::collections::HashMap;
use std::sync::Mutex;

use souk_domain::Timestamp;

use crate::audit::VaultOperation;

/// A steady rate with an allowed burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// The limits per kind of operation, per caller ([`crate::CallContext::actor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Storing a card: card testing (trying stolen numbers) starts here.
    pub tokenize: RateLimit,
    /// Forwarding a card to the processor.
    pub authorize: RateLimit,
    /// Reading a card's stored details, forgetting a card.
    pub read: RateLimit,
    /// Challenge completion, capture, void, refund and status.
    pub follow_up: RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            tokenize: RateLimit { per_minute: 10, burst: 5 },
            authorize: RateLimit { per_minute: 20, burst: 10 },
            read: RateLimit { per_minute: 120, burst: 60 },
            follow_up: RateLimit { per_minute: 120, burst: 60 },
        }
    }
}

impl RateLimits {
    /// The budget of one credential of the vault's listener, whatever actors its calls
    /// name: the per-actor limits bound one account, this bounds a client (a stolen
    /// credential cannot multiply its budget by inventing actors).
    #[must_use]
    pub const fn per_credential() -> Self {
        Self {
            tokenize: RateLimit { per_minute: 600, burst: 120 },
            authorize: RateLimit { per_minute: 1_200, burst: 240 },
            read: RateLimit { per_minute: 6_000, burst: 1_200 },
            follow_up: RateLimit { per_minute: 6_000, burst: 1_200 },
        }
    }

    const fn for_operation(&self, op: VaultOperation) -> RateLimit {
        match op {
            VaultOperation::Tokenize => self.tokenize,
            VaultOperation::Authorize => self.authorize,
            VaultOperation::ReadCard | VaultOperation::Forget => self.read,
            VaultOperation::CompleteChallenge
            | VaultOperation::Capture
            | VaultOperation::Void
            | VaultOperation::Refund
            | VaultOperation::Status => self.follow_up,
        }
    }
}

/// Callers above this many tracked buckets trigger a sweep of idle ones.
const SWEEP_ABOVE: usize = 10_000;

/// The buckets: for each operation and caller, the theoretical arrival time (GCRA).
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: RateLimits,
    tats: Mutex<HashMap<(VaultOperation, String), i64>>,
}

impl Limiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self { limits, tats: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `actor`'s `op` at `now`, or says how many seconds to wait.
    pub(crate) fn check(&self, op: VaultOperation, actor: &str, now: Timestamp) -> Result<(), u64> {
        let limit = self.limits.for_operation(op);
        let interval = 60_000_000 / i64::from(limit.per_minute.max(1));
        let window = interval.saturating_mul(i64::from(limit.burst.max(1)));
        let now = now.as_micros();
        let mut tats = self.tats.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tats.len() > SWEEP_ABOVE {
            tats.retain(|_, tat| *tat > now);
        }
        let tat = tats.get(&(op, actor.to_owned())).copied().unwrap_or(now).max(now);
        let next = tat.saturating_add(interval);
        if next - now > window {
            let wait = next - now - window;
            return Err(u64::try_from(wait).unwrap_or(1).div_ceil(1_000_000).max(1));
        }
        tats.insert((op, actor.to_owned()), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_per_caller_and_operation() {
        let limiter = Limiter::new(RateLimits {
            tokenize: RateLimit { per_minute: 6, burst: 3 },
            ..RateLimits::default()
        });
        let t0 = Timestamp::from_micros(1_000_000_000);
        for _ in 0..3 {
            assert!(limiter.check(VaultOperation::Tokenize, "a", t0).is_ok());
        }
        assert_eq!(limiter.check(VaultOperation::Tokenize, "a", t0), Err(10), "one every 10 s");
        assert!(limiter.check(VaultOperation::Tokenize, "b", t0).is_ok(), "callers are separate");
        assert!(limiter.check(VaultOperation::ReadCard, "a", t0).is_ok(), "operations are separate");
        assert!(limiter.check(VaultOperation::Tokenize, "a", t0.plus_micros(10_000_000)).is_ok());
        assert!(limiter.check(VaultOperation::Tokenize, "a", t0.plus_micros(10_000_000)).is_err());
    }
}
