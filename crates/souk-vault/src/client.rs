//! How the marketplace talks to the vault: the [`VaultClient`] trait and its request and
//! answer types. The in-process implementation is [`crate::InProcessVault`]; a remote one
//! (`souk vault serve` behind mTLS) implements the same trait.
//!
//! No call returns a card number or a security code. A card goes in once ([`NewCard`]) and
//! comes back as a [`StoredCard`] (token, brand, last four, expiry, BIN country, keyed
//! fingerprint); payments name the token and the vault forwards the card to the processor.

use secrecy::SecretString;
use souk_domain::{Money, Timestamp};
use souk_payments::connector::card::Brand;
use souk_payments::connector::{BoxFuture, ChallengeId, IdempotencyKey, OperationStatus, Outcome, PaymentId};

use crate::VaultError;
use crate::token::{CardFingerprint, CardToken};

/// Who is asking, for rate limits and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// A stable name for the caller: `account:<id>`, `checkout:<id>`, `system:reconcile`.
    /// Rate limits are counted per actor.
    pub actor: String,
    pub request_id: Option<String>,
}

impl CallContext {
    #[must_use]
    pub fn new(actor: impl Into<String>) -> Self {
        Self { actor: actor.into(), request_id: None }
    }
}

/// A card as the buyer typed it. The number is a secret (zeroized when dropped, never
/// printed). The security code, when given, is never stored: the vault keeps it in memory
/// (zeroized, for [`crate::PENDING_CVC_TTL`] at most) for the first authorization of
/// the new token, so the code typed into the card form never reaches the marketplace.
#[derive(Debug)]
pub struct NewCard {
    pub number: SecretString,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: Option<SecretString>,
}

/// What the marketplace may store about a card: everything here is safe to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCard {
    /// Random, not derived from the card number.
    pub token: CardToken,
    pub brand: Brand,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    /// The issuer's country by BIN, when known (ISO 3166-1 alpha-2).
    pub bin_country: Option<String>,
    /// Equal for equal card numbers: duplicate and velocity checks.
    pub fingerprint: CardFingerprint,
    pub created_at: Timestamp,
}

/// An authorization of a stored card.
#[derive(Debug)]
pub struct AuthorizeCard {
    pub token: CardToken,
    /// The security code the buyer typed for this payment: used for this one authorization,
    /// zeroized after, never written anywhere. `None`: the code given at tokenization, if it
    /// is still held (first authorization of the token only), else none (merchant-initiated).
    pub cvc: Option<SecretString>,
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
    /// The marketplace's reference (a checkout or order id).
    pub reference: String,
    /// Ask the issuer for 3-D Secure whatever the card's own policy (risk step-up).
    pub require_challenge: bool,
}

/// The vault, as the marketplace sees it.
///
/// Payment calls answer with the processor's [`Outcome`]; a
/// [`VaultError::Connector`]`(Timeout)` means the outcome is unknown: resolve it with
/// [`VaultClient::status`] under the same idempotency key.
pub trait VaultClient: Send + Sync + std::fmt::Debug {
    /// Validates and stores a card; answers its token and safe details.
    fn tokenize<'a>(
        &'a self,
        ctx: &'a CallContext,
        card: NewCard,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>>;

    /// The safe details of a stored card (never its number).
    fn card<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>>;

    /// Deletes a stored card (the buyer removed it, or erasure). Idempotent.
    fn forget<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<(), VaultError>>;

    /// Forwards the card behind `request.token` to the processor for authorization.
    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: AuthorizeCard,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>>;

    /// Finishes a 3-D Secure challenge with what the buyer brought back.
    fn complete_challenge<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        challenge: &'a ChallengeId,
        response: &'a str,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>>;

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>>;

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>>;

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>>;

    /// What the processor did with the call made under `idempotency_key` (reconciliation).
    fn status<'a>(
        &'a self,
        ctx: &'a CallContext,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, VaultError>>;
}
