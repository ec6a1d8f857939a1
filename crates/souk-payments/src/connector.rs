//! The payment processor connector: one trait ([`PaymentConnector`]) for authorize, 3-D
//! Secure challenge, capture, void, refund and an idempotency-key status lookup, so real
//! processors (Stripe, Adyen) can be added as adapters beside the built-in
//! [`simulator::Simulator`].
//!
//! Every call carries an [`IdempotencyKey`]: a processor answers a repeated key with the
//! first answer and never moves money twice, and [`PaymentConnector::status`] tells a
//! reconciliation job what happened to a call that timed out. Card secrets cross the trait
//! only as [`card::Pan`] and [`card::Cvc`] (zeroized, redacted `Debug`), and only the card
//! vault calls [`PaymentConnector::authorize`].

pub mod card;
pub mod simulator;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use souk_domain::Money;

use crate::connector::card::CardDetails;

/// A boxed future, so that the trait stays object-safe (`Arc<dyn PaymentConnector>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A caller-chosen key that makes a call safe to repeat: 1 to 128 characters from
/// `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

/// The key is empty, too long or has characters outside `[A-Za-z0-9_.:-]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an idempotency key has 1 to 128 characters from A-Z a-z 0-9 _ . : -")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    pub fn new(key: &str) -> Result<Self, InvalidIdempotencyKey> {
        let ok = (1..=128).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if ok { Ok(Self(key.to_owned())) } else { Err(InvalidIdempotencyKey) }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! reference {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a reference issued by the processor (read back from storage).
            #[must_use]
            pub fn new(reference: impl Into<String>) -> Self {
                Self(reference.into())
            }

            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

reference!(
    /// The processor's reference for a payment (one authorization and what follows it).
    PaymentId
);
reference!(
    /// The processor's reference for a 3-D Secure challenge the buyer must complete.
    ChallengeId
);
reference!(
    /// The processor's reference for one refund.
    RefundId
);

/// Why a processor declined a card. The buyer may be told; none of it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    InsufficientFunds,
    /// The issuer reports the card lost or stolen. Tell the buyer only "declined".
    StolenCard,
    ExpiredCard,
    IncorrectCvc,
    /// The buyer failed (or abandoned) the 3-D Secure challenge.
    AuthenticationFailed,
    /// Any other refusal by the issuer.
    Generic,
}

impl DeclineReason {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InsufficientFunds => "insufficient_funds",
            Self::StolenCard => "stolen_card",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::AuthenticationFailed => "authentication_failed",
            Self::Generic => "declined",
        }
    }
}

/// What a processor did with one call. Stored by the processor under the call's
/// idempotency key and returned again for a repeated key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Funds are held on the card for `amount`; capture or void follows.
    Authorized { payment: PaymentId, amount: Money },
    /// The issuer refused; nothing is held.
    Declined { reason: DeclineReason },
    /// The issuer wants the buyer to authenticate (3-D Secure) before it decides; call
    /// [`PaymentConnector::complete_challenge`] once the buyer is back.
    ChallengeRequired { payment: PaymentId, challenge: ChallengeId },
    /// `amount` of the authorization was captured (taken); `total` captured so far.
    Captured { payment: PaymentId, amount: Money, total: Money },
    /// The authorization was released without capture.
    Voided { payment: PaymentId },
    /// `amount` was refunded; `total` refunded so far.
    Refunded { payment: PaymentId, refund: RefundId, amount: Money, total: Money },
}

/// A call that did not produce an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The processor failed; nothing happened. A new attempt needs a new key.
    #[error("the payment processor reported a processing error")]
    Processing,
    /// No answer in time: the outcome is unknown. Ask [`PaymentConnector::status`] with the
    /// same key (or repeat the call with it) before anything else.
    #[error("the payment processor did not answer in time; the outcome is unknown")]
    Timeout,
    /// The key was used before for a different request; nothing was done.
    #[error("the idempotency key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the processor knows no such payment")]
    UnknownPayment,
    #[error("the processor knows no such challenge for this payment")]
    UnknownChallenge,
    /// The operation does not apply to the payment in its current state.
    #[error("the payment cannot be {0} in its current state")]
    InvalidState(&'static str),
    /// Zero, negative, or in another currency than the payment.
    #[error("the amount is not valid for this payment")]
    InvalidAmount,
    /// More than is left to capture or to refund.
    #[error("the amount exceeds what is left ({available})")]
    AmountExceeds { available: Money },
    /// The connector cannot reach its processor at all (configuration, network).
    #[error("the payment processor is unavailable: {0}")]
    Unavailable(String),
}

impl ConnectorError {
    /// Whether the outcome is unknown and must be resolved through `status` before the
    /// caller decides anything (a timeout).
    #[must_use]
    pub const fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Timeout)
    }
}

/// What a processor knows about an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationStatus {
    /// The processor never received a call with this key: it is safe to send it again.
    NotReceived,
    /// The call completed with this outcome (even if its caller timed out waiting).
    Completed(Outcome),
    /// The call failed without doing anything.
    Failed(ConnectorError),
}

/// One card authorization, as the vault forwards it.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    pub card: &'a CardDetails,
    pub amount: Money,
    pub idempotency_key: &'a IdempotencyKey,
    /// The marketplace's reference (an order or checkout id), shown on the processor's side.
    pub reference: &'a str,
    /// The merchant asks the issuer for 3-D Secure whatever the card's own policy (the
    /// marketplace's risk step answered step-up).
    pub require_challenge: bool,
}

/// A payment processor, as Souk uses it.
///
/// Every method is idempotent by its key: a repeated key returns the first call's result
/// and moves no money; a key reused for a different request is refused.
pub trait PaymentConnector: Send + Sync + fmt::Debug {
    /// A short name for logs and the audit trail ("simulator", "stripe").
    fn name(&self) -> &'static str;

    /// Asks the issuer to hold `amount` on the card.
    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>>;

    /// Finishes a 3-D Secure challenge: `response` is what the buyer's browser brought back
    /// from the issuer's page. Answers `Authorized` or `Declined`.
    fn complete_challenge<'a>(
        &'a self,
        payment: &'a PaymentId,
        challenge: &'a ChallengeId,
        response: &'a str,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>>;

    /// Takes `amount` (at most what is authorized and not yet captured).
    fn capture<'a>(
        &'a self,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>>;

    /// Releases an authorization that nothing was captured from.
    fn void<'a>(
        &'a self,
        payment: &'a PaymentId,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>>;

    /// Gives back `amount` (at most what is captured and not yet refunded).
    fn refund<'a>(
        &'a self,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, ConnectorError>>;

    /// What happened to the call made with `idempotency_key`, for reconciliation after a
    /// timeout. Moves no money.
    fn status<'a>(
        &'a self,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, ConnectorError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_bounded_and_plain() {
        assert!(IdempotencyKey::new("checkout:0190a1b2-c3d4").is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new(&"a".repeat(129)).is_err());
        assert!(IdempotencyKey::new("has space").is_err());
        assert!(IdempotencyKey::new("naïve").is_err());
    }
}
