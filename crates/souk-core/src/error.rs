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
