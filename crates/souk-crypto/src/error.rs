//! What can go wrong with keys and ciphertexts. Decryption failures say nothing about why
//! (wrong key, wrong context, tampering): the distinction would help an attacker.

use std::path::PathBuf;

/// A cryptographic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failed: wrong key, wrong context, or a modified ciphertext.
    #[error("decryption failed")]
    Decrypt,
    /// The bytes are not a ciphertext in a format this version understands.
    #[error("not a recognised ciphertext")]
    Format,
    /// The ciphertext or wrapped key names a key version that is not loaded.
    #[error("key version {0} is not available")]
    UnknownKeyVersion(u32),
    /// Key material of the wrong length or encoding.
    #[error("invalid key material: {0}")]
    KeyMaterial(&'static str),
    #[error("key file {path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`", path = path.display())]
    KeyFilePermissions { path: PathBuf, mode: u32 },
    #[error("cannot use key file {path}: {reason}", path = path.display())]
    KeyFile { path: PathBuf, reason: String },
    #[error("no master key is configured")]
    NoMasterKey,
    #[error("{0}")]
    Provider(String),
}
