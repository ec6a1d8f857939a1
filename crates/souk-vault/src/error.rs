//! What can go wrong in the vault. No variant carries a card number, a security code or key
//! material; card validation errors say which rule failed, never the digits.

use souk_payments::connector::ConnectorError;
use souk_payments::connector::card::CardError;

/// A vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The card number, expiry or security code was refused (which rule, not the digits).
    #[error("invalid card: {0}")]
    InvalidCard(#[from] CardError),
    /// No card with this token (never issued, malformed, or forgotten).
    #[error("no card with this token")]
    UnknownToken,
    /// Too many operations of this kind by this caller; try again after the given seconds.
    #[error("too many vault operations; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The vault's master key does not open its data keys: wrong key file, or another vault's.
    #[error("the vault's master key does not open this vault database")]
    WrongKey,
    /// Keys could not be loaded (no master key, unreadable or too permissive key file).
    #[error("vault keys: {0}")]
    Keys(souk_crypto::CryptoError),
    /// The vault database failed.
    #[error("vault database: {0}")]
    Database(String),
    /// The payment processor did not produce an outcome (see [`ConnectorError`]).
    #[error("payment connector: {0}")]
    Connector(#[from] ConnectorError),
    /// The vault is configured wrongly.
    #[error("vault configuration: {0}")]
    Config(String),
    /// A remote vault refused the caller's credential or client certificate (wrong, missing,
    /// or not granted this operation).
    #[error("vault access refused: {0}")]
    Refused(String),
    /// A remote vault could not be reached, or answered something unreadable, before the
    /// operation ran. (A payment call that may have run answers
    /// [`ConnectorError::Timeout`] instead: ask `status`.)
    #[error("vault transport: {0}")]
    Transport(String),
}

impl From<souk_crypto::CryptoError> for VaultError {
    fn from(e: souk_crypto::CryptoError) -> Self {
        use souk_crypto::CryptoError as C;
        match e {
            C::Decrypt | C::UnknownKeyVersion(_) => Self::WrongKey,
            other => Self::Keys(other),
        }
    }
}
