//! Key material as a type: 256 bits that are zeroed when dropped and never printed.

use std::fmt;

use souk_domain::Entropy;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::CryptoError;

/// 32 bytes of secret key material.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct KeyBytes([u8; 32]);

impl KeyBytes {
    pub const LEN: usize = 32;

    /// Fresh random key material.
    #[must_use]
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut k = [0u8; 32];
        entropy.fill(&mut k);
        Self(k)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::KeyMaterial("a key is 32 bytes"))?;
        Ok(Self(arr))
    }

    /// A subkey for one purpose (HKDF-SHA256 with a fixed salt and `purpose` as info), so
    /// one stored root serves several independent keys and no two purposes share one.
    #[must_use]
    pub fn derive(&self, purpose: &str) -> Self {
        struct Len32;
        impl ring::hkdf::KeyType for Len32 {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"souk/subkey/v1").extract(&self.0);
        let mut out = [0u8; 32];
        // INVARIANT: 32 bytes is far below HKDF-SHA256's 255 x 32 output limit.
        if let Ok(material) = prk.expand(&[purpose.as_bytes()], Len32) {
            let _ = material.fill(&mut out);
        }
        Self(out)
    }

    /// The raw bytes, for the one call that needs them (a cipher's constructor).
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(***)")
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let k = KeyBytes::generate(&SeededEntropy::new(1));
        assert_eq!(format!("{k:?}"), "KeyBytes(***)");
        assert!(KeyBytes::from_slice(&[0; 31]).is_err());
    }

    #[test]
    fn subkeys_differ_by_purpose_and_root_and_are_stable() {
        let root = KeyBytes::generate(&SeededEntropy::new(1));
        let other = KeyBytes::generate(&SeededEntropy::new(2));
        assert_eq!(root.derive("csrf"), root.derive("csrf"));
        assert_ne!(root.derive("csrf"), root.derive("recovery"));
        assert_ne!(root.derive("csrf"), other.derive("csrf"));
        assert_ne!(root.derive("csrf").expose(), &[0u8; 32]);
    }
}
