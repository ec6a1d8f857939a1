//! The client's address. Directly connected clients are who they connect from. Behind a
//! reverse proxy every request comes from the proxy, so `X-Forwarded-For` is read, but only
//! when the connecting peer is a configured trusted proxy, and only the right-most address
//! not itself a trusted proxy is taken: entries further left were written by the client and
//! prove nothing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The resolved client address of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// A network in CIDR notation, e.g. `10.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// The text is not a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a network in CIDR notation (like 10.0.0.0/8): {0:?}")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| bad())?, p.parse::<u8>().map_err(|_| bad())?),
            None => {
                let a = s.trim().parse::<IpAddr>().map_err(|_| bad())?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { network: addr, prefix })
    }
}

impl Cidr {
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Resolves the client address from the peer and the forwarding header.
#[must_use]
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops = forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).rev();
    for hop in hops {
        let Ok(ip) = hop.parse::<IpAddr>().or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip())) else {
            // A malformed entry: nothing left of it can be trusted either.
            return peer;
        };
        if !is_trusted(ip) {
            return ip;
        }
    }
    peer
}

pub(crate) async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let trusted = &state.config().trusted_proxies;
    let client = if trusted.is_empty() {
        peer
    } else {
        let headers: Vec<&str> =
            req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        resolve(peer, &headers, trusted)
    };
    req.extensions_mut().insert(ClientIp(client));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.200.3.4")) && !c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")), "IPv4-mapped addresses match IPv4 networks");
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::9")) && !v6.contains(ip("2001:db9::1")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["", "10.0.0.0/33", "nope/8", "::/129", "10.0.0.0/-1"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies: Vec<Cidr> = vec!["10.0.0.0/8".parse().unwrap()];
        // Directly connected: the header is ignored, whatever it says.
        assert_eq!(resolve(ip("198.51.100.7"), &["203.0.113.9"], &proxies), ip("198.51.100.7"));
        // Through the proxy: the right-most untrusted hop is the client.
        assert_eq!(resolve(ip("10.0.0.2"), &["203.0.113.9"], &proxies), ip("203.0.113.9"));
        // A client forging an entry only adds to the left, which is never read.
        assert_eq!(resolve(ip("10.0.0.2"), &["1.2.3.4, 203.0.113.9"], &proxies), ip("203.0.113.9"));
        // Chains of trusted proxies are skipped; several headers read as one list.
        assert_eq!(resolve(ip("10.0.0.2"), &["203.0.113.9", "10.0.0.5"], &proxies), ip("203.0.113.9"));
        // Garbage stops the walk at the proxy.
        assert_eq!(resolve(ip("10.0.0.2"), &["evil, 10.0.0.5"], &proxies), ip("10.0.0.2"));
        assert_eq!(resolve(ip("10.0.0.2"), &[], &proxies), ip("10.0.0.2"));
    }
}
