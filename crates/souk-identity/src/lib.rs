//! Identity: who people are and how they prove it. This first part holds passwords:
//! hashing with argon2id and the acceptance policy. Accounts, sessions, passkeys, TOTP
//! and API keys follow (issue 4).

pub mod password;
pub use password::{PasswordHash, PasswordHasher, PasswordPolicy, Rejection};
