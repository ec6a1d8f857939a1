//! Blind indexes: equality lookups over encrypted columns (find an account by email)
//! without storing the value in clear.
//!
//! The index is HMAC-SHA256 of the normalized value under a key derived (HKDF-SHA256) from
//! a root blind-index key for one table and column, truncated to a number of bits chosen by
//! CipherSweet's rule: with R rows and L bits, each index value is shared by about
//! C = R / 2^L rows, and we want 2 ≤ C ≤ √R, so that an index value never identifies a row
//! on its own (C ≥ 2) yet a lookup decrypts few candidates (C ≤ √R). A lookup fetches the
//! rows with a matching index and opens each to compare.

use ring::{hkdf, hmac};

use crate::key::KeyBytes;

/// A per-column blind index key.
pub struct BlindIndexKey {
    key: hmac::Key,
}

impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey(***)")
    }
}

struct HmacLen;

impl hkdf::KeyType for HmacLen {
    fn len(&self) -> usize {
        32
    }
}

impl BlindIndexKey {
    /// Derives the key for `table.column` from the root blind-index key.
    #[must_use]
    pub fn derive(root: &KeyBytes, table: &str, column: &str) -> Self {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"souk/blind-index/v1");
        let prk = salt.extract(root.expose());
        let info = [table.as_bytes(), b"\0", column.as_bytes()];
        let mut okm = zeroize::Zeroizing::new([0u8; 32]);
        // INVARIANT: 32 bytes is far below HKDF-SHA256's 255 × 32 output limit.
        if let Ok(material) = prk.expand(&info, HmacLen) {
            let _ = material.fill(&mut okm[..]);
        }
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, &okm[..]) }
    }

    /// The index of an already-normalized value, truncated to `bits` (1 to 256).
    #[must_use]
    pub fn index(&self, normalized: &[u8], bits: u32) -> Vec<u8> {
        let bits = bits.clamp(1, 256);
        let tag = hmac::sign(&self.key, normalized);
        let bytes = usize::try_from(bits.div_ceil(8)).unwrap_or(32);
        let mut out: Vec<u8> = tag.as_ref().iter().take(bytes).copied().collect();
        let spare = bytes * 8 - usize::try_from(bits).unwrap_or(256);
        if let Some(last) = out.last_mut() {
            *last &= 0xffu8 << spare;
        }
        out
    }
}

/// The number of index bits for a column expected to hold `rows` rows: the middle of
/// CipherSweet's safe range `log2(√R) ≤ L ≤ log2(R/2)`, at least 8.
#[must_use]
pub fn bits_for_rows(rows: u64) -> u32 {
    let log2 = rows.max(4).ilog2(); // floor(log2 R)
    let low = log2.div_ceil(2); // log2(√R), rounded up
    let high = log2.saturating_sub(1); // log2(R/2)
    u32::midpoint(low, high).max(8)
}

/// Normalizes an email address for indexing: trimmed and lower-cased.
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    #[test]
    fn same_value_same_index_per_column_and_truncated() {
        let root = KeyBytes::generate(&SeededEntropy::new(9));
        let email = BlindIndexKey::derive(&root, "accounts", "email");
        let phone = BlindIndexKey::derive(&root, "accounts", "phone");
        let a = email.index(normalize_email(" Amina@Example.org ").as_bytes(), 20);
        assert_eq!(a, email.index(b"amina@example.org", 20));
        assert_ne!(a, phone.index(b"amina@example.org", 20), "columns do not share indexes");
        assert_eq!(a.len(), 3);
        assert_eq!(a[2] & 0x0f, 0, "bits past the length are zero");
    }

    #[test]
    fn sizing_stays_in_ciphersweets_range() {
        for rows in [1_000u64, 100_000, 1_000_000, 100_000_000] {
            let l = bits_for_rows(rows);
            let collisions = rows >> l;
            assert!(collisions >= 2 || l == 8, "{rows}: {l} bits gives {collisions}");
            assert!(collisions * collisions <= rows, "{rows}: {l} bits gives {collisions}");
        }
    }
}
