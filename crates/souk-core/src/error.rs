//! The core's error type: outcomes a caller must distinguish, never transport details.

use souk_store::StoreError;

/// A use case did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The thing asked for does not exist (or is not visible to this caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request was understood but a value in it is not acceptable.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A risk rule does not parse or type-check: `line` is its 1-based position in the rule
    /// set, `column` the 1-based column in its text (0: the rule as a whole).
    #[error("rule {line}, column {column}: {message}")]
    InvalidRule { line: usize, column: usize, message: String },
    /// The credentials were not accepted (one answer for every reason, so it tells an
    /// attacker nothing about which part was wrong or whether the account exists).
    #[error("sign-in failed")]
    Unauthenticated,
    /// Too many attempts; retry after this many seconds.
    #[error("too many attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// The request is well-formed but refused on its merits (422): a webhook URL the SSRF
    /// guard refuses, with the reason.
    #[error("unacceptable {field}: {reason}")]
    Unacceptable { field: &'static str, reason: String },
    /// Authorization refused the action.
    #[error("not permitted")]
    Forbidden,
    /// The account's role requires a second factor it does not have yet.
    #[error("add a passkey or an authenticator app first")]
    MfaRequired,
    /// Staff actions need a session signed in with a passkey.
    #[error("sign in with a passkey for staff actions")]
    PasskeyRequired,
    /// A sensitive action needs a fresh authentication (step-up) first.
    #[error("confirm it is you first")]
    StepUpRequired,
    /// The request conflicts with the current state (e.g. a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// The money rules refused the amount (a refund beyond what was paid, nothing paid yet):
    /// the request is well formed but can never succeed against these balances as it is.
    #[error("{0}")]
    Refused(String),
    /// The checkout was declined by the risk step (the reason is kept for staff only).
    #[error("this checkout cannot be completed")]
    Declined,
    /// A dependency (the database) is unavailable; the caller may retry later.
    #[error("a dependency is unavailable")]
    Unavailable,
    /// Anything else: logged in full, shown to nobody.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { cause } => {
                tracing::warn!(%cause, "database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl CoreError {
    pub(crate) fn invalid(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Invalid { field, reason: reason.to_string() }
    }
}
