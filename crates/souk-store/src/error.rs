//! The store's error type: what went wrong, in terms a use case can act on.

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached, refused the connection, is shutting down, or no
    /// connection was free in time. Retrying later may succeed.
    #[error("the database is unavailable: {cause}")]
    Unavailable { cause: String },
    /// The URL names no supported engine, or is malformed.
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// A uniqueness or other named constraint refused the change.
    #[error("constraint {constraint} refused the change")]
    Conflict { constraint: String },
    /// A stored row does not decode into a domain value (corruption or a bad migration).
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Query(sqlx::Error),
}

impl StoreError {
    /// Any failure to obtain a connection means the database is unavailable, except a URL
    /// that can never work.
    pub(crate) fn from_connect(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Configuration(c) => Self::UnsupportedUrl(c.to_string()),
            other => Self::Unavailable { cause: other.to_string() },
        }
    }

    pub(crate) fn unavailable(cause: impl std::fmt::Display) -> Self {
        Self::Unavailable { cause: cause.to_string() }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable { cause: e.to_string() }
            }
            sqlx::Error::Database(db) if crate::dialect::is_transient(db.code().as_deref()) => {
                Self::Unavailable { cause: e.to_string() }
            }
            sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
                // PostgreSQL names the constraint; SQLite names the columns in its message
                // ("UNIQUE constraint failed: shops.slug"), which serves the same purpose.
                let constraint = db.constraint().map_or_else(
                    || db.message().rsplit(": ").next().unwrap_or_default().to_owned(),
                    str::to_owned,
                );
                Self::Conflict { constraint }
            }
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::ColumnNotFound(_) => Self::Corrupt(e.to_string()),
            _ => Self::Query(e),
        }
    }
}
