//! The card vault: the only code in Souk that ever sees a card number (PAN).
//!
//! It validates a card (length, Luhn, brand by BIN range), stores the number sealed under
//! the vault's own keys in the vault's own database, and answers a random token with the
//! details the marketplace may keep (brand, last four, expiry, BIN country, a keyed
//! fingerprint). Payments name the token; the vault opens the card and forwards it to the
//! payment connector itself, so no call of [`VaultClient`] returns a card number. Security
//! codes live in memory for one authorization and are zeroized. Every operation is rate
//! limited and recorded, without card numbers, through a [`VaultAuditSink`].
//!
//! The vault runs in-process ([`InProcessVault`]) or as its own process (`souk vault serve`,
//! [`server`]) reached through [`RemoteVault`] over mutually authenticated TLS.
//!
//! See `docs/design/card-vault.md`, ADR 0017 and ADR 0019.

pub mod audit;
pub mod client;
mod error;
pub mod limits;
pub mod pki;
pub mod remote;
pub mod server;
mod store;
pub mod token;
mod vault;
pub mod wire;

pub use audit::{MemoryAuditSink, VaultAuditEvent, VaultAuditSink, VaultOperation};
pub use client::{AuthorizeCard, CallContext, NewCard, StoredCard, VaultClient};
pub use error::VaultError;
pub use limits::{RateLimit, RateLimits};
pub use remote::{RemoteVault, RemoteVaultConfig};
pub use server::{Credential, RunningVaultServer};
pub use store::VaultDatabase;
pub use token::{CardFingerprint, CardToken};
pub use vault::{BinLookup, InProcessVault, PENDING_CVC_TTL, TestCardBins, VaultConfig};

#[cfg(test)]
mod remote_tests;
#[cfg(test)]
mod tests;
