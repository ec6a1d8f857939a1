//! The vault's wire protocol (`souk vault serve` and [`crate::RemoteVault`]): JSON bodies
//! for `POST /v1/<operation>`, one per [`crate::VaultClient`] call. Answers carry a card's
//! safe details, a processor outcome or an error code, never a card number or security code.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use souk_domain::{Money, Timestamp};
use souk_payments::connector::card::{Brand, CardError};
use souk_payments::connector::{
    ChallengeId, ConnectorError, DeclineReason, OperationStatus, Outcome, PaymentId, RefundId,
};

use crate::VaultError;
use crate::audit::VaultOperation;
use crate::client::{CallContext, StoredCard};
use crate::token::{CardFingerprint, CardToken};

/// The path of an operation's endpoint.
#[must_use]
pub fn path(op: VaultOperation) -> String {
    format!("/v1/{}", op.name())
}

/// Who is asking, as sent on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireContext {
    pub actor: String,
    #[serde(default)]
    pub request_id: Option<String>,
}

impl From<&CallContext> for WireContext {
    fn from(c: &CallContext) -> Self {
        Self { actor: c.actor.clone(), request_id: c.request_id.clone() }
    }
}

/// `tokenize`. The number is the one card number on the wire, in a request only.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenizeBody {
    pub ctx: WireContext,
    pub number: SecretString,
    pub exp_month: u8,
    pub exp_year: u16,
    /// Held in the vault's memory for the token's first authorization, never stored.
    #[serde(default)]
    pub cvc: Option<SecretString>,
}

/// `read_card` and `forget`.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenBody {
    pub ctx: WireContext,
    pub token: String,
}

/// `authorize`.
#[derive(Debug, Deserialize)]
pub(crate) struct AuthorizeBody {
    pub ctx: WireContext,
    pub token: String,
    #[serde(default)]
    pub cvc: Option<SecretString>,
    pub amount: Money,
    pub idempotency_key: String,
    pub reference: String,
    #[serde(default)]
    pub require_challenge: bool,
}

/// `complete_challenge`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChallengeBody {
    pub ctx: WireContext,
    pub payment: String,
    pub challenge: String,
    pub response: String,
    pub idempotency_key: String,
}

/// `capture`, `void` (no amount) and `refund`.
#[derive(Debug, Deserialize)]
pub(crate) struct PaymentBody {
    pub ctx: WireContext,
    pub payment: String,
    #[serde(default)]
    pub amount: Option<Money>,
    pub idempotency_key: String,
}

/// `status`.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusBody {
    pub ctx: WireContext,
    pub idempotency_key: String,
}

/// A stored card's safe details.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCard {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub bin_country: Option<String>,
    pub fingerprint: String,
    pub created_at: i64,
}

impl From<StoredCard> for WireCard {
    fn from(c: StoredCard) -> Self {
        Self {
            token: c.token.as_str().to_owned(),
            brand: c.brand.as_str().to_owned(),
            last4: c.last4,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            bin_country: c.bin_country,
            fingerprint: c.fingerprint.as_str().to_owned(),
            created_at: c.created_at.as_micros(),
        }
    }
}

fn malformed(what: &str) -> VaultError {
    VaultError::Transport(format!("the vault answered a malformed {what}"))
}

impl TryFrom<WireCard> for StoredCard {
    type Error = VaultError;

    fn try_from(c: WireCard) -> Result<Self, VaultError> {
        let last4_ok = c.last4.len() == 4 && c.last4.bytes().all(|b| b.is_ascii_digit());
        if !last4_ok {
            return Err(malformed("card"));
        }
        Ok(Self {
            token: CardToken::parse(&c.token).ok_or_else(|| malformed("token"))?,
            brand: Brand::from_name(&c.brand).ok_or_else(|| malformed("brand"))?,
            last4: c.last4,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            bin_country: c.bin_country,
            fingerprint: CardFingerprint::parse(&c.fingerprint).ok_or_else(|| malformed("fingerprint"))?,
            created_at: Timestamp::from_micros(c.created_at),
        })
    }
}

/// A processor outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WireOutcome {
    Authorized { payment: String, amount: Money },
    Declined { reason: String },
    ChallengeRequired { payment: String, challenge: String },
    Captured { payment: String, amount: Money, total: Money },
    Voided { payment: String },
    Refunded { payment: String, refund: String, amount: Money, total: Money },
}

const DECLINES: [DeclineReason; 6] = [
    DeclineReason::InsufficientFunds,
    DeclineReason::StolenCard,
    DeclineReason::ExpiredCard,
    DeclineReason::IncorrectCvc,
    DeclineReason::AuthenticationFailed,
    DeclineReason::Generic,
];

impl From<Outcome> for WireOutcome {
    fn from(o: Outcome) -> Self {
        let s = |p: PaymentId| p.as_str().to_owned();
        match o {
            Outcome::Authorized { payment, amount } => Self::Authorized { payment: s(payment), amount },
            Outcome::Declined { reason } => Self::Declined { reason: reason.as_str().to_owned() },
            Outcome::ChallengeRequired { payment, challenge } => {
                Self::ChallengeRequired { payment: s(payment), challenge: challenge.as_str().to_owned() }
            }
            Outcome::Captured { payment, amount, total } => {
                Self::Captured { payment: s(payment), amount, total }
            }
            Outcome::Voided { payment } => Self::Voided { payment: s(payment) },
            Outcome::Refunded { payment, refund, amount, total } => {
                Self::Refunded { payment: s(payment), refund: refund.as_str().to_owned(), amount, total }
            }
        }
    }
}

impl From<WireOutcome> for Outcome {
    fn from(o: WireOutcome) -> Self {
        match o {
            WireOutcome::Authorized { payment, amount } => {
                Self::Authorized { payment: PaymentId::new(payment), amount }
            }
            WireOutcome::Declined { reason } => Self::Declined {
                reason: DECLINES
                    .iter()
                    .copied()
                    .find(|r| r.as_str() == reason)
                    .unwrap_or(DeclineReason::Generic),
            },
            WireOutcome::ChallengeRequired { payment, challenge } => Self::ChallengeRequired {
                payment: PaymentId::new(payment),
                challenge: ChallengeId::new(challenge),
            },
            WireOutcome::Captured { payment, amount, total } => {
                Self::Captured { payment: PaymentId::new(payment), amount, total }
            }
            WireOutcome::Voided { payment } => Self::Voided { payment: PaymentId::new(payment) },
            WireOutcome::Refunded { payment, refund, amount, total } => Self::Refunded {
                payment: PaymentId::new(payment),
                refund: RefundId::new(refund),
                amount,
                total,
            },
        }
    }
}

/// What the processor knows about an idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WireStatus {
    NotReceived,
    Completed { outcome: WireOutcome },
    Failed { error: WireError },
}

impl From<OperationStatus> for WireStatus {
    fn from(s: OperationStatus) -> Self {
        match s {
            OperationStatus::NotReceived => Self::NotReceived,
            OperationStatus::Completed(o) => Self::Completed { outcome: o.into() },
            OperationStatus::Failed(e) => Self::Failed { error: WireError::from(&VaultError::Connector(e)) },
        }
    }
}

impl From<WireStatus> for OperationStatus {
    fn from(s: WireStatus) -> Self {
        match s {
            WireStatus::NotReceived => Self::NotReceived,
            WireStatus::Completed { outcome } => Self::Completed(outcome.into()),
            WireStatus::Failed { error } => match VaultError::from(error) {
                VaultError::Connector(c) => Self::Failed(c),
                _ => Self::Failed(ConnectorError::Processing),
            },
        }
    }
}

/// An error answer: a code and the fields needed to rebuild the [`VaultError`]. Internal
/// failures (keys, database, configuration) say only `internal`; details stay in the
/// vault's logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum WireError {
    InvalidCard {
        rule: String,
        #[serde(default)]
        brand: Option<String>,
        #[serde(default)]
        digits: Option<usize>,
    },
    UnknownToken,
    RateLimited {
        retry_after_secs: u64,
    },
    Connector {
        kind: String,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        available: Option<Money>,
    },
    /// No or wrong credential (HTTP 401).
    Unauthenticated,
    /// The credential does not grant this operation (HTTP 403).
    Forbidden {
        operation: String,
    },
    /// The body is not a request of this operation (its content is never echoed).
    BadRequest,
    Internal,
}

impl WireError {
    /// The HTTP status of this answer.
    #[must_use]
    pub const fn status(&self) -> u16 {
        match self {
            Self::InvalidCard { .. } => 422,
            Self::UnknownToken => 404,
            Self::RateLimited { .. } => 429,
            Self::Connector { .. } => 502,
            Self::Unauthenticated => 401,
            Self::Forbidden { .. } => 403,
            Self::BadRequest => 400,
            Self::Internal => 500,
        }
    }
}

fn card_rule(e: &CardError) -> (&'static str, Option<String>, Option<usize>) {
    match e {
        CardError::NotDigits => ("not_digits", None, None),
        CardError::Length => ("length", None, None),
        CardError::UnknownBrand => ("unknown_brand", None, None),
        CardError::LengthForBrand(b) => ("length_for_brand", Some(b.as_str().to_owned()), None),
        CardError::Luhn => ("luhn", None, None),
        CardError::Cvc(n) => ("cvc", None, Some(*n)),
        CardError::ExpiryFormat => ("expiry_format", None, None),
        CardError::Expired => ("expired", None, None),
    }
}

fn connector_kind(e: &ConnectorError) -> (&'static str, Option<String>, Option<Money>) {
    match e {
        ConnectorError::Processing => ("processing", None, None),
        ConnectorError::Timeout => ("timeout", None, None),
        ConnectorError::IdempotencyKeyReused => ("idempotency_key_reused", None, None),
        ConnectorError::UnknownPayment => ("unknown_payment", None, None),
        ConnectorError::UnknownChallenge => ("unknown_challenge", None, None),
        ConnectorError::InvalidState(s) => ("invalid_state", Some((*s).to_owned()), None),
        ConnectorError::InvalidAmount => ("invalid_amount", None, None),
        ConnectorError::AmountExceeds { available } => ("amount_exceeds", None, Some(*available)),
        // The detail may name the processor's configuration: it stays in the vault's logs.
        ConnectorError::Unavailable(_) => ("unavailable", None, None),
    }
}

impl From<&VaultError> for WireError {
    fn from(e: &VaultError) -> Self {
        match e {
            VaultError::InvalidCard(c) => {
                let (rule, brand, digits) = card_rule(c);
                Self::InvalidCard { rule: rule.to_owned(), brand, digits }
            }
            VaultError::UnknownToken => Self::UnknownToken,
            VaultError::RateLimited { retry_after_secs } => {
                Self::RateLimited { retry_after_secs: *retry_after_secs }
            }
            VaultError::Connector(c) => {
                let (kind, state, available) = connector_kind(c);
                Self::Connector { kind: kind.to_owned(), state, available }
            }
            VaultError::Refused(_) => Self::Unauthenticated,
            VaultError::WrongKey
            | VaultError::Keys(_)
            | VaultError::Database(_)
            | VaultError::Config(_)
            | VaultError::Transport(_) => Self::Internal,
        }
    }
}

/// The processor states the connector names (`InvalidState` holds a `&'static str`).
fn static_state(s: &str) -> &'static str {
    ["authenticated", "captured", "voided", "authorized", "refunded", "declined"]
        .into_iter()
        .find(|k| *k == s)
        .unwrap_or("changed")
}

impl From<WireError> for VaultError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::InvalidCard { rule, brand, digits } => Self::InvalidCard(match rule.as_str() {
                "not_digits" => CardError::NotDigits,
                "length" => CardError::Length,
                "unknown_brand" => CardError::UnknownBrand,
                "length_for_brand" => match brand.as_deref().and_then(Brand::from_name) {
                    Some(b) => CardError::LengthForBrand(b),
                    None => CardError::Length,
                },
                "luhn" => CardError::Luhn,
                "cvc" => CardError::Cvc(digits.unwrap_or(3)),
                "expired" => CardError::Expired,
                _ => CardError::ExpiryFormat,
            }),
            WireError::UnknownToken => Self::UnknownToken,
            WireError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            WireError::Connector { kind, state, available } => Self::Connector(match kind.as_str() {
                "processing" => ConnectorError::Processing,
                "timeout" => ConnectorError::Timeout,
                "idempotency_key_reused" => ConnectorError::IdempotencyKeyReused,
                "unknown_payment" => ConnectorError::UnknownPayment,
                "unknown_challenge" => ConnectorError::UnknownChallenge,
                "invalid_state" => ConnectorError::InvalidState(static_state(state.as_deref().unwrap_or(""))),
                "invalid_amount" => ConnectorError::InvalidAmount,
                "amount_exceeds" => match available {
                    Some(available) => ConnectorError::AmountExceeds { available },
                    None => ConnectorError::InvalidAmount,
                },
                _ => ConnectorError::Unavailable("the vault's processor is unavailable".into()),
            }),
            WireError::Unauthenticated => Self::Refused("the vault refused the credential".into()),
            WireError::Forbidden { operation } => {
                Self::Refused(format!("the vault credential does not grant {operation}"))
            }
            WireError::BadRequest => Self::Transport("the vault refused the request as malformed".into()),
            WireError::Internal => Self::Transport("the vault failed internally".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::Currency;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn through_json<T: Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        serde_json::from_slice(&serde_json::to_vec(value).unwrap()).unwrap()
    }

    #[test]
    fn outcomes_and_errors_cross_the_wire_unchanged() {
        let p = || PaymentId::new("pay_1");
        let mut outcomes = vec![
            Outcome::Authorized { payment: p(), amount: eur(100) },
            Outcome::ChallengeRequired { payment: p(), challenge: ChallengeId::new("ch_1") },
            Outcome::Captured { payment: p(), amount: eur(50), total: eur(100) },
            Outcome::Voided { payment: p() },
            Outcome::Refunded { payment: p(), refund: RefundId::new("re_1"), amount: eur(5), total: eur(5) },
        ];
        outcomes.extend(DECLINES.iter().map(|&reason| Outcome::Declined { reason }));
        for o in outcomes {
            assert_eq!(Outcome::from(through_json(&WireOutcome::from(o.clone()))), o);
            let status = OperationStatus::Completed(o);
            assert_eq!(OperationStatus::from(through_json(&WireStatus::from(status.clone()))), status);
        }
        let connector = [
            ConnectorError::Processing,
            ConnectorError::Timeout,
            ConnectorError::IdempotencyKeyReused,
            ConnectorError::UnknownPayment,
            ConnectorError::UnknownChallenge,
            ConnectorError::InvalidState("captured"),
            ConnectorError::InvalidAmount,
            ConnectorError::AmountExceeds { available: eur(7) },
        ];
        for c in connector {
            let back = VaultError::from(through_json(&WireError::from(&VaultError::Connector(c.clone()))));
            assert!(matches!(&back, VaultError::Connector(b) if *b == c), "{back:?}");
            let status = OperationStatus::Failed(c);
            assert_eq!(OperationStatus::from(through_json(&WireStatus::from(status.clone()))), status);
        }
        let cards = [
            CardError::NotDigits,
            CardError::Length,
            CardError::UnknownBrand,
            CardError::LengthForBrand(Brand::Amex),
            CardError::Luhn,
            CardError::Cvc(4),
            CardError::ExpiryFormat,
            CardError::Expired,
        ];
        for c in cards {
            let back = VaultError::from(through_json(&WireError::from(&VaultError::InvalidCard(c))));
            assert!(matches!(&back, VaultError::InvalidCard(b) if *b == c), "{back:?}");
        }
        let limited = VaultError::from(through_json(&WireError::from(&VaultError::RateLimited {
            retry_after_secs: 9,
        })));
        assert!(matches!(limited, VaultError::RateLimited { retry_after_secs: 9 }));
        // Internal details never cross: keys, database and configuration say `internal`.
        let internal =
            serde_json::to_string(&WireError::from(&VaultError::Database("secret detail".into()))).unwrap();
        assert_eq!(internal, r#"{"error":"internal"}"#);
        assert!(matches!(
            VaultError::from(through_json(&WireError::from(&VaultError::Connector(ConnectorError::Unavailable(
                "processor key abc".into()
            ))))),
            VaultError::Connector(ConnectorError::Unavailable(m)) if !m.contains("abc")
        ));
    }
}
