//! Identity: who people are and how they prove it. This first part holds passwords:
//! hashing with argon2id and the acceptance policy; session tokens, timeouts and step-up;
//! CSRF tokens and origin checks; passkeys (WebAuthn registration, passwordless and step-up
//! sign-in). Accounts, TOTP and API keys follow (issue 4).

pub mod breached;
pub mod csrf;
pub mod passkey;
pub mod password;
pub mod session;
pub use password::{PasswordHash, PasswordHasher, PasswordPolicy, Rejection};
