//! Which webhook destinations may be called: the SSRF guard. A URL must be `https` (plain
//! `http` only when development destinations are allowed), carry no user name or password,
//! and every address its host resolves to must be public: no loopback, private, link-local
//! (the cloud metadata address 169.254.169.254 among them), shared (CGNAT), multicast,
//! reserved or documentation ranges, in IPv4 or IPv6, including IPv4 hidden inside IPv6
//! (mapped, NAT64, 6to4). The delivery then connects to the checked addresses only (so a
//! second DNS answer cannot swap in a private one) and does not follow redirects.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// Why a destination was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("the URL cannot be parsed")]
    Unparsable,
    #[error("webhooks are delivered over https only")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("{0} is not a public address")]
    NotPublic(IpAddr),
    #[error("the host resolves to no address")]
    Unresolved,
}

/// A destination that passed the checks: its URL and the addresses to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: Url,
    pub addresses: Vec<IpAddr>,
}

/// Whether an IPv4 address is reachable on the public internet.
pub fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0                                   // "this network"
        || (a == 100 && (64..128).contains(&b))     // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))       // benchmarking
        || a >= 240) // reserved
}

/// Whether an IPv6 address is reachable on the public internet, looking through the forms
/// that carry an IPv4 address.
pub fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address inside.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x2002, hi, lo, ..] => return is_public_v4(embedded(hi, lo)),
        // Never public: the local-use NAT64 prefix (64:ff9b:1::/48, which translates into an
        // operator's own networks with the IPv4 address at several offsets), and everything
        // else in ::/8 (IPv4-compatible, IPv4-translated ::ffff:0:a.b.c.d, reserved forms).
        [0x64, 0xff9b, 1, ..] | [0..=0x00ff, ..] => return false,
        _ => {}
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00                // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80                // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0                // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8)       // documentation
        || (s[0] == 0x2001 && s[1] < 0x0200)        // IETF protocol assignments (Teredo, ORCHID …)
        || s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard-only 100::/64
}

pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// Checks a URL's form (before any DNS lookup): scheme, credentials, host.
pub fn check_url(url: &str, allow_development: bool) -> Result<Url, DestinationError> {
    let url = Url::parse(url).map_err(|_| DestinationError::Unparsable)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_development => {}
        _ => return Err(DestinationError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DestinationError::Credentials);
    }
    if url.host().is_none() {
        return Err(DestinationError::NoHost);
    }
    Ok(url)
}

/// Checks the addresses a URL's host resolved to: all must be public (one private answer
/// refuses the destination) unless development destinations are allowed.
pub fn check_addresses(
    url: Url,
    addresses: Vec<IpAddr>,
    allow_development: bool,
) -> Result<Destination, DestinationError> {
    if addresses.is_empty() {
        return Err(DestinationError::Unresolved);
    }
    if !allow_development && let Some(bad) = addresses.iter().find(|ip| !is_public(**ip)) {
        return Err(DestinationError::NotPublic(*bad));
    }
    Ok(Destination { url, addresses })
}

/// Resolves and checks a destination with the system resolver.
pub async fn resolve(url: &str, allow_development: bool) -> Result<Destination, DestinationError> {
    let url = check_url(url, allow_development)?;
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => {
            return check_addresses(url.clone(), vec![IpAddr::V4(ip)], allow_development);
        }
        Some(url::Host::Ipv6(ip)) => {
            return check_addresses(url.clone(), vec![IpAddr::V6(ip)], allow_development);
        }
        Some(url::Host::Domain(d)) => d.to_owned(),
        None => return Err(DestinationError::NoHost),
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| DestinationError::Unresolved)?
        .map(|a| a.ip())
        .collect();
    check_addresses(url, addresses, allow_development)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "::127.0.0.1",
            "100::1",
        ] {
            assert!(!is_public(ip(s)), "{s} must not be public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn url_form_is_checked_before_any_lookup() {
        assert_eq!(check_url("http://example.com/hook", false), Err(DestinationError::Scheme));
        assert!(check_url("http://localhost:8080/hook", true).is_ok());
        assert_eq!(check_url("ftp://example.com/", true), Err(DestinationError::Scheme));
        assert_eq!(check_url("file:///etc/passwd", true), Err(DestinationError::Scheme));
        assert_eq!(check_url("https://user:pw@example.com/", false), Err(DestinationError::Credentials));
        assert_eq!(check_url("not a url", false), Err(DestinationError::Unparsable));
        assert!(check_url("https://hooks.example.com/souk", false).is_ok());
    }

    #[test]
    fn one_private_answer_refuses_the_destination() {
        let url = check_url("https://rebind.example/", false).unwrap();
        assert_eq!(
            check_addresses(url.clone(), vec![ip("93.184.216.34"), ip("10.0.0.5")], false),
            Err(DestinationError::NotPublic(ip("10.0.0.5")))
        );
        assert_eq!(check_addresses(url.clone(), vec![], false), Err(DestinationError::Unresolved));
        assert!(check_addresses(url.clone(), vec![ip("93.184.216.34")], false).is_ok());
        assert!(check_addresses(url, vec![ip("127.0.0.1")], true).is_ok(), "development allows loopback");
    }

    #[tokio::test]
    async fn literal_and_resolved_hosts_are_checked() {
        assert_eq!(
            resolve("https://169.254.169.254/latest/meta-data/", false).await,
            Err(DestinationError::NotPublic(ip("169.254.169.254")))
        );
        assert_eq!(resolve("https://[::1]:8443/", false).await, Err(DestinationError::NotPublic(ip("::1"))));
        // Decimal and hex spellings of loopback are normalized by the URL parser first.
        assert_eq!(
            resolve("https://2130706433/", false).await,
            Err(DestinationError::NotPublic(ip("127.0.0.1")))
        );
        assert_eq!(
            resolve("https://0x7f.1/", false).await,
            Err(DestinationError::NotPublic(ip("127.0.0.1")))
        );
        // A name that resolves to loopback (no network needed).
        assert!(matches!(resolve("https://localhost/", false).await, Err(DestinationError::NotPublic(_))));
    }
}
