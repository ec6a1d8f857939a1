//! The vault's audit trail: every operation, allowed or refused, becomes a
//! [`VaultAuditEvent`] handed to a [`VaultAuditSink`] that the marketplace provides (its
//! audit log). An event names the token, brand and last four digits at most: never a card
//! number, never a security code.

use std::sync::Mutex;

use souk_domain::{Money, Timestamp};
use souk_payments::connector::{IdempotencyKey, PaymentId};

use crate::token::CardToken;

/// The vault's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VaultOperation {
    Tokenize,
    ReadCard,
    Forget,
    Authorize,
    CompleteChallenge,
    Capture,
    Void,
    Refund,
    Status,
}

impl VaultOperation {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tokenize => "vault.tokenize",
            Self::ReadCard => "vault.read_card",
            Self::Forget => "vault.forget",
            Self::Authorize => "vault.authorize",
            Self::CompleteChallenge => "vault.complete_challenge",
            Self::Capture => "vault.capture",
            Self::Void => "vault.void",
            Self::Refund => "vault.refund",
            Self::Status => "vault.status",
        }
    }

    /// Every operation.
    pub const ALL: [Self; 9] = [
        Self::Tokenize,
        Self::ReadCard,
        Self::Forget,
        Self::Authorize,
        Self::CompleteChallenge,
        Self::Capture,
        Self::Void,
        Self::Refund,
        Self::Status,
    ];

    /// The operation's short name (`tokenize`, `read_card`, …): its endpoint and the name a
    /// remote vault credential grants it by.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.as_str().trim_start_matches("vault.")
    }

    /// The operation named `name` ([`Self::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// One vault operation, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultAuditEvent {
    pub at: Timestamp,
    pub operation: VaultOperation,
    /// Who asked ([`crate::CallContext::actor`]).
    pub actor: String,
    pub request_id: Option<String>,
    pub token: Option<CardToken>,
    /// Brand and last four digits, when the operation touched a card.
    pub card: Option<String>,
    pub payment: Option<PaymentId>,
    pub idempotency_key: Option<IdempotencyKey>,
    pub amount: Option<Money>,
    /// `ok`, the processor's outcome (`authorized`, `declined:insufficient_funds`,
    /// `challenge_required`, …), or why it was refused (`rate_limited`, `invalid_card`,
    /// `unknown_token`, `error:timeout`, …).
    pub result: String,
}

/// Where vault audit events go. The marketplace implements it over its audit log; a sink
/// must not lose events (buffer them durably if its store is slow) and must not block long.
pub trait VaultAuditSink: Send + Sync + std::fmt::Debug {
    fn record(&self, event: VaultAuditEvent);
}

/// Keeps events in memory: for tests and development, not for production.
#[derive(Debug, Default)]
pub struct MemoryAuditSink {
    events: Mutex<Vec<VaultAuditEvent>>,
}

impl MemoryAuditSink {
    /// Every event so far, oldest first.
    pub fn events(&self) -> Vec<VaultAuditEvent> {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl VaultAuditSink for MemoryAuditSink {
    fn record(&self, event: VaultAuditEvent) {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(event);
    }
}
