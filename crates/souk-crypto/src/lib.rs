//! Keys and encryption at rest.
//!
//! The hierarchy: a versioned master key (KEK) from a [`provider::KeyProvider`] wraps one
//! data key (DEK) per data subject (an account, a shop); DEKs are stored only wrapped.
//! Personal fields are sealed under their subject's DEK with AES-256-GCM, bound to their
//! table, column and row, and name the key version that sealed them. Destroying a DEK
//! makes every field of that subject unreadable at once, backups included
//! (crypto-shredding). Blind indexes (keyed HMAC, truncated) allow equality lookups without
//! storing the value in clear. All primitives come from `ring`, except the ChaCha20 that
//! generates field nonces (the `chacha20` crate); none is written here.
//! See `docs/design/key-hierarchy.md`.

pub mod blind_index;
mod error;
pub mod field;
pub mod key;
pub mod keyring;
pub mod nonce;
pub mod provider;

pub use error::CryptoError;
pub use field::{FieldContext, Sealed};
pub use key::KeyBytes;
pub use keyring::{DataKey, Kek, Keyring, Subject, WrappedKey};
