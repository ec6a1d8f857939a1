//! The attributes rules and the model see, and the velocity figures behind most of them:
//! each velocity attribute is one key kind, one event kind, one measure and one window, so
//! adding a figure is adding a line here.

use std::sync::LazyLock;

use souk_risk::velocity::Window;
use souk_risk::{AttributeType, Schema};

/// What an event is keyed by for velocity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Card,
    Device,
    Ip,
    /// The /24 (IPv4) or /64 (IPv6) of the address.
    Network,
    Account,
    EmailDomain,
    /// The blind index of the shipping address.
    Address,
}

impl KeyKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Device => "device",
            Self::Ip => "ip",
            Self::Network => "network",
            Self::Account => "account",
            Self::EmailDomain => "email_domain",
            Self::Address => "address",
        }
    }
}

/// What a velocity attribute measures over its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Count,
    Sum,
    /// Distinct values of the other side (cards under an IP, accounts under a device).
    Distinct,
}

/// One velocity attribute.
#[derive(Debug, Clone, Copy)]
pub struct Velocity {
    pub name: &'static str,
    pub key: KeyKind,
    pub event: &'static str,
    pub measure: Measure,
    pub window: Window,
}

const fn v(
    name: &'static str,
    key: KeyKind,
    event: &'static str,
    measure: Measure,
    window: Window,
) -> Velocity {
    Velocity { name, key, event, measure, window }
}

use KeyKind::{Account, Address, Card, Device, EmailDomain, Ip, Network};
use Measure::{Count, Distinct, Sum};
use Window::{Day, Hour, Month, TenMinutes, Week};

/// Every velocity attribute. Event kinds are those [`super::signals`] records: `payment`
/// (an attempt, the other side is the card, or the account under a card or address),
/// `payment_declined`, `payment_paid`, `seen` (any event; the other side is the account),
/// `signup`, `login_failed`, `message`, `listing`, `listing_high_value`, `payout_change`,
/// `refund_request`.
pub const VELOCITY: &[Velocity] = &[
    v("payments_per_ip_10m", Ip, "payment", Count, TenMinutes),
    v("cards_per_ip_1h", Ip, "payment", Distinct, Hour),
    v("cards_per_ip_24h", Ip, "payment", Distinct, Day),
    v("cards_per_network_24h", Network, "payment", Distinct, Day),
    v("cards_per_device_24h", Device, "payment", Distinct, Day),
    v("cards_per_account_24h", Account, "payment", Distinct, Day),
    v("cards_per_account_30d", Account, "payment", Distinct, Month),
    v("accounts_per_card_30d", Card, "payment", Distinct, Month),
    v("accounts_per_address_30d", Address, "payment", Distinct, Month),
    v("orders_per_address_24h", Address, "payment", Count, Day),
    v("failed_payments_per_card_1h", Card, "payment_declined", Count, Hour),
    v("failed_payments_per_card_24h", Card, "payment_declined", Count, Day),
    v("failed_payments_per_ip_1h", Ip, "payment_declined", Count, Hour),
    v("failed_payments_per_ip_24h", Ip, "payment_declined", Count, Day),
    v("failed_payments_per_account_24h", Account, "payment_declined", Count, Day),
    v("buyer_payments_30d", Account, "payment_paid", Count, Month),
    v("buyer_paid_amount_30d", Account, "payment_paid", Sum, Month),
    v("accounts_per_device_7d", Device, "seen", Distinct, Week),
    v("accounts_per_ip_24h", Ip, "seen", Distinct, Day),
    v("accounts_per_network_24h", Network, "seen", Distinct, Day),
    v("signups_per_ip_24h", Ip, "signup", Count, Day),
    v("signups_per_network_24h", Network, "signup", Count, Day),
    v("signups_per_email_domain_1h", EmailDomain, "signup", Count, Hour),
    v("failed_logins_per_ip_1h", Ip, "login_failed", Count, Hour),
    v("failed_logins_per_account_1h", Account, "login_failed", Count, Hour),
    v("messages_per_account_10m", Account, "message", Count, TenMinutes),
    v("messages_per_account_24h", Account, "message", Count, Day),
    v("listings_per_account_24h", Account, "listing", Count, Day),
    v("high_value_listings_per_account_7d", Account, "listing_high_value", Count, Week),
    v("payout_changes_per_account_30d", Account, "payout_change", Count, Month),
    v("refund_requests_per_account_30d", Account, "refund_request", Count, Month),
];

/// Attributes that are not velocity figures, with their types.
pub const OTHERS: &[(&str, AttributeType)] = &[
    ("risk_score", AttributeType::Number),
    ("amount", AttributeType::Number),
    ("account_age_days", AttributeType::Number),
    ("amount_vs_buyer_average", AttributeType::Number),
    ("hours_since_password_change", AttributeType::Number),
    ("shop_age_days", AttributeType::Number),
    ("price_drop_percent", AttributeType::Number),
    ("event", AttributeType::Text),
    ("email", AttributeType::Text),
    ("email_domain", AttributeType::Text),
    ("card_country", AttributeType::Text),
    ("shipping_country", AttributeType::Text),
    ("email_verified", AttributeType::Bool),
    ("mfa_enabled", AttributeType::Bool),
    ("new_device", AttributeType::Bool),
    ("disposable_email", AttributeType::Bool),
    ("billing_shipping_country_mismatch", AttributeType::Bool),
    ("shop_verified", AttributeType::Bool),
    ("new_shop", AttributeType::Bool),
];

/// The lists staff keep. Email entries are stored as blind indexes (as `:email:` is), so
/// the lists hold no address in clear.
pub const LISTS: &[&str] =
    &["blocked_emails", "allowed_emails", "blocked_email_domains", "blocked_cards", "blocked_countries"];

/// Lists whose entries are email addresses, kept as blind indexes.
pub const EMAIL_LISTS: &[&str] = &["blocked_emails", "allowed_emails"];

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    let mut s = Schema::new();
    for (name, ty) in OTHERS {
        s = s.attribute(name, *ty);
    }
    for vel in VELOCITY {
        s = s.attribute(vel.name, AttributeType::Number);
    }
    for list in LISTS {
        s = s.list(list);
    }
    s
});

/// The schema every rule is checked against and every feature vector follows.
pub fn schema() -> &'static Schema {
    &SCHEMA
}

/// The type of an attribute by name.
pub fn type_of(name: &str) -> Option<AttributeType> {
    schema().lookup(name).map(|(_, ty)| ty)
}
