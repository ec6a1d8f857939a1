//! Signed checkpoints (tree heads). The signed text follows the shape of C2SP's
//! `tlog-checkpoint` notes, so an auditor can check a checkpoint with any Ed25519 tool:
//!
//! ```text
//! souk.audit/<log id, hex>
//! <tree size>
//! <root hash, base64>
//! <signed at, microseconds since the epoch>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{self, Ed25519KeyPair, KeyPair as _};
use sha2::{Digest as _, Sha256};

use crate::merkle::Hash;

/// A signed tree head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root: Hash,
    pub signed_at: i64,
    pub key_version: u32,
    pub signature: Vec<u8>,
}

/// The log's identity: SHA-256 of the signing public key.
#[must_use]
pub fn log_id(public_key: &[u8]) -> Hash {
    Sha256::digest(public_key).into()
}

/// The exact bytes a checkpoint's signature covers.
#[must_use]
pub fn signed_text(public_key: &[u8], tree_size: u64, root: &Hash, signed_at: i64) -> String {
    let id = crate::hex(&log_id(public_key));
    format!("souk.audit/{id}\n{tree_size}\n{}\n{signed_at}\n", STANDARD.encode(root))
}

/// Signs checkpoints with an Ed25519 key held in memory only while the process runs.
pub struct Signer {
    pair: Ed25519KeyPair,
    version: u32,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer(v{})", self.version)
    }
}

/// The seed was not a valid Ed25519 private key.
#[derive(Debug)]
pub struct BadSeed;

impl std::fmt::Display for BadSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid Ed25519 seed")
    }
}

impl std::error::Error for BadSeed {}

impl Signer {
    /// From a 32-byte seed (kept wrapped by the master key in storage).
    pub fn from_seed(seed: &[u8], version: u32) -> Result<Self, BadSeed> {
        Ed25519KeyPair::from_seed_unchecked(seed).map(|pair| Self { pair, version }).map_err(|_| BadSeed)
    }

    #[must_use]
    pub fn public_key(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    #[must_use]
    pub fn sign(&self, tree_size: u64, root: &Hash, signed_at: i64) -> Checkpoint {
        let text = signed_text(&self.public_key(), tree_size, root, signed_at);
        Checkpoint {
            tree_size,
            root: *root,
            signed_at,
            key_version: self.version,
            signature: self.pair.sign(text.as_bytes()).as_ref().to_vec(),
        }
    }
}

/// Whether `checkpoint` was signed by `public_key`.
#[must_use]
pub fn verify(public_key: &[u8], checkpoint: &Checkpoint) -> bool {
    let text = signed_text(public_key, checkpoint.tree_size, &checkpoint.root, checkpoint.signed_at);
    signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
        .verify(text.as_bytes(), &checkpoint.signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_any_change_breaks_them() {
        let signer = Signer::from_seed(&[7u8; 32], 1).unwrap();
        let cp = signer.sign(42, &[9u8; 32], 1_790_000_000_000_000);
        assert!(verify(&signer.public_key(), &cp));
        assert!(!verify(&signer.public_key(), &Checkpoint { tree_size: 43, ..cp.clone() }));
        assert!(!verify(&signer.public_key(), &Checkpoint { root: [8u8; 32], ..cp.clone() }));
        assert!(!verify(&signer.public_key(), &Checkpoint { signed_at: 1, ..cp.clone() }));
        let other = Signer::from_seed(&[8u8; 32], 1).unwrap();
        assert!(!verify(&other.public_key(), &cp));
        assert!(signed_text(&signer.public_key(), 42, &[9u8; 32], 5).starts_with("souk.audit/"));
    }
}
