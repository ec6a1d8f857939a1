//! The sign-in gate: token buckets per client address and per network, checked before any
//! password hashing, so a login flood from one place cannot take the CPU from everyone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Per-address and per-network sign-in budgets.
pub struct LoginGate {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_network: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl std::fmt::Debug for LoginGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginGate")
    }
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

/// An address's own bucket key: IPv4 as is, IPv6 by /64 (one subscriber's allocation).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// The network's bucket key: IPv4 /24, IPv6 /48.
fn network_key(ip: IpAddr) -> IpAddr {
    match address_key(ip) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let [a, b, c, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0))
        }
    }
}

impl LoginGate {
    #[must_use]
    pub fn new(per_address_per_minute: u32, per_network_per_minute: u32) -> Self {
        Self {
            per_address: RateLimiter::keyed(quota(per_address_per_minute)),
            per_network: RateLimiter::keyed(quota(per_network_per_minute.max(per_address_per_minute))),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(seconds to wait)` when the address or its network is over budget. The address is
    /// checked first, so one noisy address that is already refused does not go on spending
    /// its neighbours' network budget.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), u64> {
        let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let wait = |not_until: governor::NotUntil<_>| {
            let w = not_until.wait_time_from(self.clock.now());
            (w.as_secs() + u64::from(w.subsec_nanos() > 0)).max(1)
        };
        self.per_address.check_key(&address_key(ip)).map_err(wait)?;
        self.per_network.check_key(&network_key(ip)).map_err(wait)
    }

    /// Forgets quiet clients so memory stays bounded.
    pub fn forget_idle(&self) {
        self.per_address.retain_recent();
        self.per_network.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_and_its_network_have_budgets() {
        let gate = LoginGate::new(3, 5);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            assert!(gate.check(Some(a)).is_ok());
        }
        assert!(gate.check(Some(a)).unwrap_err() >= 1, "the address is over budget");
        let neighbour: IpAddr = "203.0.113.8".parse().unwrap();
        assert!(gate.check(Some(neighbour)).is_ok());
        assert!(gate.check(Some(neighbour)).is_ok(), "a refused attempt did not spend the network's budget");
        assert!(gate.check(Some(neighbour)).is_err(), "the /24 is over budget (5 per minute)");
        assert!(gate.check(Some("198.51.100.1".parse().unwrap())).is_ok(), "another network is not");
        let v6a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        for _ in 0..3 {
            assert!(gate.check(Some(v6a)).is_ok());
        }
        assert!(gate.check(Some(v6b)).is_err(), "one /64 is one address");
    }
}
