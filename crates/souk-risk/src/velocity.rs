//! Velocity features: exact sliding-window counts, sums and distinct counts of past events
//! per key (card fingerprint, device, IP, /24 network, account, email domain, shipping
//! address), over 10 minutes, 1 hour, 24 hours, 7 days and 30 days.
//!
//! The window rule, shared by every backend: at time `now`, an event at time `t` is inside
//! window `w` when `now - w < t <= now`. Events are recorded only after the decision they
//! belong to, so an event never counts itself. [`Windows`] is the exact in-memory form
//! (one process, the traffic generator, tests); the database form answers the same question
//! with the same bounds so counts survive restarts and agree across processes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;

/// The windows every velocity feature is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    TenMinutes,
    Hour,
    Day,
    Week,
    Month,
}

impl Window {
    pub const ALL: [Self; 5] = [Self::TenMinutes, Self::Hour, Self::Day, Self::Week, Self::Month];

    pub fn seconds(self) -> i64 {
        match self {
            Self::TenMinutes => 600,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 30 * 86_400,
        }
    }

    /// The suffix in attribute names: `cards_per_ip_24h`.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::TenMinutes => "10m",
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    /// Whether an event at `t` (unix seconds) is inside this window at `now`.
    pub fn contains(self, now: i64, t: i64) -> bool {
        t <= now && t > now.saturating_sub(self.seconds())
    }
}

/// The network an address belongs to for the `network` key: the /24 of an IPv4 address, the
/// /64 of an IPv6 one (what one customer or one host is usually given).
pub fn network_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

/// The figures of one key over one window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    pub count: u64,
    pub sum: i64,
    pub distinct: u64,
}

#[derive(Debug, Clone)]
struct Event {
    at: i64,
    amount: i64,
    /// What is counted as distinct for this key (cards per IP: the card fingerprint).
    other: Option<String>,
}

/// Exact sliding windows over events per key, in memory.
#[derive(Debug, Default)]
pub struct Windows {
    events: HashMap<String, VecDeque<Event>>,
}

impl Windows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an event for `key` at `at` (after its decision). Events arrive in time order;
    /// a late one is placed where it belongs.
    pub fn record(&mut self, key: &str, at: i64, amount: i64, other: Option<&str>) {
        let queue = self.events.entry(key.to_owned()).or_default();
        let event = Event { at, amount, other: other.map(str::to_owned) };
        let position = queue.iter().rposition(|e| e.at <= at).map_or(0, |p| p + 1);
        queue.insert(position, event);
    }

    /// Forgets events older than the longest window at `now`.
    pub fn prune(&mut self, now: i64) {
        let oldest = now.saturating_sub(Window::Month.seconds());
        self.events.retain(|_, q| {
            while q.front().is_some_and(|e| e.at <= oldest) {
                q.pop_front();
            }
            !q.is_empty()
        });
    }

    /// The figures of `key` over `window` at `now`.
    pub fn figures(&self, key: &str, window: Window, now: i64) -> Figures {
        let Some(queue) = self.events.get(key) else { return Figures::default() };
        let mut f = Figures::default();
        let mut seen = HashSet::new();
        for e in queue.iter().rev().take_while(|e| e.at > now.saturating_sub(window.seconds())) {
            if !window.contains(now, e.at) {
                continue;
            }
            f.count += 1;
            f.sum = f.sum.saturating_add(e.amount);
            if let Some(o) = &e.other
                && seen.insert(o.as_str())
            {
                f.distinct += 1;
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn window_edges_are_exclusive_at_the_start_and_inclusive_at_now() {
        let now = 1_000_000;
        assert!(Window::Hour.contains(now, now));
        assert!(Window::Hour.contains(now, now - 3_599));
        assert!(!Window::Hour.contains(now, now - 3_600), "exactly one window ago is out");
        assert!(!Window::Hour.contains(now, now + 1), "the future is out");
        let names: Vec<&str> = Window::ALL.iter().map(|w| w.suffix()).collect();
        assert_eq!(names, ["10m", "1h", "24h", "7d", "30d"]);
    }

    #[test]
    fn counts_sums_and_distinct_values_per_window() {
        let mut w = Windows::new();
        let now = 10_000_000;
        w.record("ip:203.0.113.7", now - 30, 500, Some("fp_a"));
        w.record("ip:203.0.113.7", now - 599, 700, Some("fp_b"));
        w.record("ip:203.0.113.7", now - 600, 900, Some("fp_c"));
        w.record("ip:203.0.113.7", now - 7_200, 100, Some("fp_a"));
        w.record("ip:198.51.100.1", now - 10, 1, Some("fp_z"));
        let f = |window| w.figures("ip:203.0.113.7", window, now);
        assert_eq!(f(Window::TenMinutes), Figures { count: 2, sum: 1_200, distinct: 2 });
        assert_eq!(f(Window::Hour), Figures { count: 3, sum: 2_100, distinct: 3 });
        assert_eq!(f(Window::Day), Figures { count: 4, sum: 2_200, distinct: 3 });
        assert_eq!(w.figures("ip:unknown", Window::Day, now), Figures::default());
        // An event recorded after the decision is not seen by a decision at an earlier time.
        w.record("ip:203.0.113.7", now + 5, 1, Some("fp_new"));
        assert_eq!(w.figures("ip:203.0.113.7", Window::TenMinutes, now).count, 2);
        w.prune(now + 31 * 86_400);
        assert_eq!(w.figures("ip:203.0.113.7", Window::Month, now + 31 * 86_400), Figures::default());
    }

    #[test]
    fn networks() {
        assert_eq!(network_of("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(network_of("2001:db8:1:2:3:4:5:6".parse().unwrap()), "2001:db8:1:2::/64");
    }

    proptest! {
        /// The windows agree with a brute-force count over the same events, in any arrival
        /// order, at any moment.
        #[test]
        fn matches_brute_force(
            events in prop::collection::vec((0i64..5_000_000, 0i64..1_000, 0u8..5), 0..60),
            now in 0i64..6_000_000,
        ) {
            let mut w = Windows::new();
            for (at, amount, card) in &events {
                w.record("k", *at, *amount, Some(&card.to_string()));
            }
            for window in Window::ALL {
                let inside: Vec<_> = events.iter().filter(|(at, _, _)| window.contains(now, *at)).collect();
                let distinct: HashSet<u8> = inside.iter().map(|(_, _, c)| *c).collect();
                let expected = Figures {
                    count: inside.len() as u64,
                    sum: inside.iter().map(|(_, a, _)| a).sum(),
                    distinct: distinct.len() as u64,
                };
                prop_assert_eq!(w.figures("k", window, now), expected);
            }
        }
    }
}
