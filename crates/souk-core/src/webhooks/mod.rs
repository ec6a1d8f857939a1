//! Outbound webhooks to sellers' and integrators' endpoints: how a delivery is signed
//! (`signature`), which destinations may be called at all (`destination`, the SSRF guard),
//! the endpoints a shop registers (`endpoints`), the outbox written in the business
//! change's transaction (`outbox`), the retry schedule (`retry`), the HTTP call
//! (`sender`), the worker that delivers (`worker`) and the delivery log (`deliveries`).

pub mod deliveries;
pub mod destination;
pub mod endpoints;
pub mod outbox;
pub mod retry;
pub mod sender;
pub mod signature;
pub mod worker;

use std::time::Duration;

/// The events a webhook endpoint may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    OrderPaid,
    OrderShipped,
    OrderRefunded,
    PayoutSent,
}

impl EventType {
    pub const ALL: [Self; 4] = [Self::OrderPaid, Self::OrderShipped, Self::OrderRefunded, Self::PayoutSent];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OrderPaid => "order.paid",
            Self::OrderShipped => "order.shipped",
            Self::OrderRefunded => "order.refunded",
            Self::PayoutSent => "payout.sent",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// The webhook settings and the client that sends deliveries.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub config: WebhookConfig,
    pub sender: sender::Sender,
}

impl Webhooks {
    pub fn new(config: WebhookConfig) -> Result<Self, crate::CoreError> {
        let sender = sender::Sender::new(&config.extra_roots, config.timeout)?;
        Ok(Self { config, sender })
    }
}

/// The operator's webhook settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Development only: lets endpoints on loopback and private networks (and plain http)
    /// be registered and called. Off in production: it would open the SSRF guard.
    pub allow_private_destinations: bool,
    /// How long one delivery may take (connect, send, answer).
    pub timeout: Duration,
    /// Attempts before a delivery is given up (and its endpoint disabled).
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each, up to [`retry::MAX_DELAY`].
    pub first_retry: Duration,
    /// How often the worker looks for due deliveries.
    pub poll_interval: Duration,
    /// Certificate authorities trusted for destinations besides the public web PKI (a
    /// private CA; the tests' receivers). DER.
    pub extra_roots: Vec<Vec<u8>>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_private_destinations: false,
            timeout: Duration::from_secs(10),
            max_attempts: 12,
            first_retry: Duration::from_mins(1),
            poll_interval: Duration::from_secs(1),
            extra_roots: Vec::new(),
        }
    }
}
