//! Identity: who people are and how they prove it. Passwords: hashing with argon2id and
//! the acceptance policy (`password`, `breached`); session tokens, timeouts and step-up
//! (`session`); CSRF tokens and origin checks (`csrf`); passkeys: WebAuthn registration,
//! passwordless and step-up sign-in (`passkey`); the TOTP second factor with replay
//! protection and a per-step attempt limit (`totp`); single-use recovery codes stored
//! only as keyed hashes (`recovery`); API keys with a checksummed token format and scopes
//! (`api_key`); the login-throttle policy of short graduated delays, with a hard lock for
//! staff (`throttle`). The use cases that combine them live in `souk-core`.

pub mod api_key;
pub mod breached;
pub mod csrf;
pub mod passkey;
pub mod password;
pub mod recovery;
pub mod session;
pub mod throttle;
pub mod totp;
pub use password::{PasswordHash, PasswordHasher, PasswordPolicy, Rejection};
