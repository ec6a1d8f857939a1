//! What the marketplace knows about one event when it asks for a decision, and the keys
//! the event is counted under. Keys other than account ids are keyed hashes from the key
//! service (full length, so two keys never share counters), never an address in clear.

use std::net::IpAddr;

use souk_domain::ids::AccountId;
use souk_risk::Value;
use souk_store::risk::EventRow;

use super::schema::KeyKind;
use crate::Souk;

/// The events the marketplace asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Signup,
    Login,
    Payment,
    PayoutChange,
    Listing,
    Message,
    RefundRequest,
}

impl EventKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::Login => "login",
            Self::Payment => "payment",
            Self::PayoutChange => "payout_change",
            Self::Listing => "listing",
            Self::Message => "message",
            Self::RefundRequest => "refund_request",
        }
    }
}

/// The facts of one event.
#[derive(Debug, Clone)]
pub struct Signals {
    pub kind: EventKind,
    pub account: Option<AccountId>,
    /// What the decision is about: a checkout, a listing, a conversation…
    pub subject: Option<String>,
    pub ip: Option<IpAddr>,
    /// The SHA-256 of the browser's device cookie.
    pub device: Option<Vec<u8>>,
    /// The vault's card fingerprint.
    pub card: Option<String>,
    /// The email address (hashed before anything is stored).
    pub email: Option<String>,
    /// The shipping address, normalized (hashed before anything is stored).
    pub address: Option<String>,
    pub amount: Option<i64>,
    /// Event-specific attributes (`email_verified`, `card_country`, …).
    pub facts: Vec<(&'static str, Value)>,
}

impl Signals {
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            account: None,
            subject: None,
            ip: None,
            device: None,
            card: None,
            email: None,
            address: None,
            amount: None,
            facts: Vec::new(),
        }
    }

    #[must_use]
    pub fn fact(mut self, name: &'static str, value: Value) -> Self {
        self.facts.push((name, value));
        self
    }

    /// The email's domain, lower case.
    pub fn email_domain(&self) -> Option<String> {
        let email = self.email.as_deref()?;
        let (_, domain) = email.rsplit_once('@')?;
        Some(domain.trim().to_ascii_lowercase())
    }
}

/// The keys of one event: (kind, stored key value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    pub keys: Vec<(KeyKind, String)>,
    /// The card's key, the other side counted under the IP, device, network and account.
    pub card: Option<String>,
    pub account: Option<String>,
}

impl Keys {
    pub fn of(souk: &Souk, s: &Signals) -> Self {
        let mut keys = Vec::new();
        let hashed = |kind: KeyKind, raw: &[u8]| souk.keys.risk_key(kind.as_str(), raw);
        let card = s.card.as_deref().map(|c| hashed(KeyKind::Card, c.as_bytes()));
        if let Some(c) = &card {
            keys.push((KeyKind::Card, c.clone()));
        }
        if let Some(d) = &s.device {
            keys.push((KeyKind::Device, hashed(KeyKind::Device, d)));
        }
        if let Some(ip) = s.ip {
            keys.push((KeyKind::Ip, hashed(KeyKind::Ip, ip.to_string().as_bytes())));
            let net = souk_risk::velocity::network_of(ip);
            keys.push((KeyKind::Network, hashed(KeyKind::Network, net.as_bytes())));
        }
        let account = s.account.map(|a| a.to_string());
        if let Some(a) = &account {
            keys.push((KeyKind::Account, a.clone()));
        }
        if let Some(d) = s.email_domain() {
            keys.push((KeyKind::EmailDomain, hashed(KeyKind::EmailDomain, d.as_bytes())));
        }
        if let Some(a) = &s.address {
            keys.push((KeyKind::Address, hashed(KeyKind::Address, a.as_bytes())));
        }
        Self { keys, card, account }
    }

    pub fn get(&self, kind: KeyKind) -> Option<&str> {
        self.keys.iter().find(|(k, _)| *k == kind).map(|(_, v)| v.as_str())
    }

    /// The rows recording `event` under every key: under a card or an address the other
    /// side is the account, elsewhere the card (or, for `seen`, the account).
    pub fn rows<'a>(&'a self, event: &'a str, amount: i64) -> Vec<EventRow<'a>> {
        self.keys
            .iter()
            .map(|(kind, value)| {
                let other = match kind {
                    KeyKind::Card | KeyKind::Address => self.account.as_deref(),
                    _ if event == "seen" => self.account.as_deref(),
                    _ => self.card.as_deref().or(self.account.as_deref()),
                };
                EventRow { key_kind: kind.as_str(), key_value: value, event_kind: event, other, amount }
            })
            .collect()
    }
}
