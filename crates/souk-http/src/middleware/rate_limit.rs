//! Per-client request budgets (token buckets, GCRA) keyed by client address, with IPv6
//! clients grouped by /64 since one subscriber usually holds a whole /64.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::{AppState, Problem, RateLimitConfig};

/// Probes and scrapes come from infrastructure at a fixed pace; they are never limited.
const EXEMPT: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// The keyed limiter.
pub(crate) struct Limiter {
    inner: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl Limiter {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        let per_second = NonZeroU32::new(config.per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.burst).unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self { inner: RateLimiter::keyed(quota), clock: DefaultClock::default() }
    }

    /// `Err(seconds)` to wait when `client` is over budget.
    fn check(&self, client: IpAddr) -> Result<(), u64> {
        self.inner.check_key(&bucket(client)).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }

    pub(crate) fn forget_idle(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// The key a client is counted under.
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(s))
            }
        },
    }
}

pub(crate) async fn enforce(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Problem> {
    if let Some(limiter) = state.limiter()
        && !EXEMPT.contains(&req.uri().path())
    {
        let client = req
            .extensions()
            .get::<super::client_ip::ClientIp>()
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |c| c.0);
        if let Err(wait) = limiter.check(client) {
            metrics::counter!("http_rate_limited_total").increment(1);
            return Err(Problem::of("rate_limited")
                .retry_after(wait.max(1))
                .with_detail(format!("Too many requests from your address; retry in {} s.", wait.max(1))));
        }
    }
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(bucket(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn burst_then_refusal_with_a_wait() {
        let l = Limiter::new(RateLimitConfig { per_second: 1, burst: 3 });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
        }
        let wait = l.check(ip).unwrap_err();
        assert!((1..=2).contains(&wait), "{wait}");
        assert!(l.check("192.0.2.8".parse().unwrap()).is_ok(), "other clients are unaffected");
    }
}
