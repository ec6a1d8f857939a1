//! Sealed personal-data fields.
//!
//! Wire format (version 1): `0x01 ‖ dek_version (u32 BE) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! The header is authenticated along with the field's context (table, column, row id), so a
//! ciphertext copied to another row or column, or relabelled with another key version,
//! fails to open.

use crate::CryptoError;
use crate::keyring::DataKey;
use crate::keyring::TAG_LEN;
use crate::nonce::{NONCE_LEN, Nonces};

const FORMAT_V1: u8 = 0x01;
const HEADER_LEN: usize = 5;

/// Where a field lives; part of its authenticated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldContext<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row_id: &'a str,
}

/// A sealed field, as stored. Only [`DataKey::seal`] makes one from plaintext, so a store
/// API that takes `&Sealed` cannot be handed a plain value by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Wraps bytes read back from storage (not yet verified; opening verifies).
    #[must_use]
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The data-key version named in the header.
    pub fn key_version(&self) -> Result<u32, CryptoError> {
        match self.0.get(..HEADER_LEN) {
            Some([FORMAT_V1, a, b, c, d]) => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(CryptoError::Format),
        }
    }
}

/// Authenticated data of a field: `"souk/field/v1\0" ‖ header ‖ table ‖ 0 ‖ column ‖ 0 ‖ row id`.
const AAD_PREFIX: &[u8] = b"souk/field/v1\0";
/// Authenticated data up to this length (any table and column with a UUID row id) is built
/// on the stack; sealing and opening sit on every read and write of personal data, and an
/// allocation per call would cost as much as the bookkeeping around the cipher.
const AAD_INLINE: usize = 128;

/// Runs `f` with the authenticated data of a field. The contents are not secret (header and
/// field location).
fn with_aad<T>(header: &[u8], ctx: &FieldContext<'_>, f: impl FnOnce(&[u8]) -> T) -> T {
    let parts: [&[u8]; 7] = [
        AAD_PREFIX,
        header,
        ctx.table.as_bytes(),
        b"\0",
        ctx.column.as_bytes(),
        b"\0",
        ctx.row_id.as_bytes(),
    ];
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut inline = [0u8; AAD_INLINE];
    let mut rest: &mut [u8] = &mut inline;
    for part in parts {
        match rest.split_at_mut_checked(part.len()) {
            Some((dst, tail)) => {
                dst.copy_from_slice(part);
                rest = tail;
            }
            None => return f(&parts.concat()),
        }
    }
    match inline.get(..len) {
        Some(aad) => f(aad),
        None => f(&parts.concat()),
    }
}

impl DataKey {
    /// Seals `plaintext` for the field at `ctx`.
    pub fn seal(
        &self,
        ctx: &FieldContext<'_>,
        plaintext: &[u8],
        nonces: &Nonces,
    ) -> Result<Sealed, CryptoError> {
        let [a, b, c, d] = self.version.to_be_bytes();
        let header = [FORMAT_V1, a, b, c, d];
        // One allocation of the final size: header, then nonce, ciphertext and tag in place.
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&header);
        with_aad(&header, ctx, |aad| self.aead.seal_into(nonces, aad, plaintext, &mut out))?;
        Ok(Sealed(out))
    }

    /// Opens a field sealed for `ctx` by this key.
    pub fn open(
        &self,
        ctx: &FieldContext<'_>,
        sealed: &Sealed,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let version = sealed.key_version()?;
        if version != self.version {
            return Err(CryptoError::UnknownKeyVersion(version));
        }
        let (header, body) = sealed.0.split_at_checked(HEADER_LEN).ok_or(CryptoError::Format)?;
        with_aad(header, ctx, |aad| self.aead.open(aad, body))
    }

    /// Opens a text field.
    pub fn open_text(&self, ctx: &FieldContext<'_>, sealed: &Sealed) -> Result<String, CryptoError> {
        let mut bytes = self.open(ctx, sealed)?;
        // Moves the plaintext into the string instead of copying it; if it is not UTF-8,
        // the bytes come back and are wiped.
        String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
            drop(zeroize::Zeroizing::new(e.into_bytes()));
            CryptoError::Format
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use souk_domain::OsEntropy;

    use super::*;
    use crate::KeyBytes;

    fn setup() -> (DataKey, Nonces) {
        let e = OsEntropy::new();
        (DataKey::new(3, &KeyBytes::generate(&e)).unwrap(), Nonces::new(Box::new(OsEntropy::new())))
    }

    const CTX: FieldContext<'static> = FieldContext { table: "accounts", column: "email", row_id: "a1" };

    #[test]
    fn moved_relabelled_or_foreign_ciphertexts_fail_cleanly() {
        let (k, n) = setup();
        let s = k.seal(&CTX, b"amina@example.org", &n).unwrap();
        assert_eq!(k.open_text(&CTX, &s).unwrap(), "amina@example.org");
        assert_eq!(s.key_version().unwrap(), 3);
        let other_row = FieldContext { row_id: "a2", ..CTX };
        let other_col = FieldContext { column: "name", ..CTX };
        let other_table = FieldContext { table: "shops", ..CTX };
        for ctx in [other_row, other_col, other_table] {
            assert!(matches!(k.open(&ctx, &s), Err(CryptoError::Decrypt)), "{ctx:?}");
        }
        let (other_key, _) = setup();
        assert!(matches!(other_key.open(&CTX, &s), Err(CryptoError::Decrypt)));
        let mut relabelled = s.as_bytes().to_vec();
        relabelled[4] = 4;
        assert!(k.open(&CTX, &Sealed::from_stored(relabelled)).is_err());
        for junk in [vec![], vec![1], vec![2, 0, 0, 0, 3], vec![1, 0, 0, 0, 3, 9, 9]] {
            assert!(k.open(&CTX, &Sealed::from_stored(junk)).is_err());
        }
    }

    proptest! {
        #[test]
        fn round_trips_and_every_single_byte_change_fails(plain in proptest::collection::vec(any::<u8>(), 0..200), pos in any::<usize>(), flip in 1u8..=255) {
            let (k, n) = setup();
            let s = k.seal(&CTX, &plain, &n).unwrap();
            let opened = k.open(&CTX, &s).unwrap();
            prop_assert_eq!(opened.as_slice(), plain.as_slice());
            let mut bytes = s.as_bytes().to_vec();
            let i = pos % bytes.len();
            bytes[i] ^= flip;
            prop_assert!(k.open(&CTX, &Sealed::from_stored(bytes)).is_err());
        }
    }

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write as _;
        bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Ciphertexts produced by the implementation before the per-thread nonce buffers and
    /// in-place opening (commit 0cb92c3), with fixed key and nonce sources: the format and
    /// the authenticated data must not change, or stored fields would stop opening.
    #[test]
    fn known_answers_from_the_previous_implementation() {
        use souk_domain::entropy::SeededEntropy;
        let k = DataKey::new(7, &KeyBytes::generate(&SeededEntropy::new(1))).unwrap();
        let n = Nonces::new(Box::new(SeededEntropy::new(2)));
        let ctx = FieldContext {
            table: "accounts",
            column: "email",
            row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f",
        };
        let field = "0100000007ce56971cde355897421efc0b479bbf4ed50d72f5b163d758dd570cd4ea9cc98d3f0c335c47bbb2db96a006629e";
        let empty = "01000000071046c8bf2f537eddbfbc7b986625a6f8b6b07703a77f9b75f046e7ce";
        let s = k.seal(&ctx, b"amina@example.org", &n).unwrap();
        assert_eq!(hex(s.as_bytes()), field);
        assert_eq!(k.open_text(&ctx, &s).unwrap(), "amina@example.org");
        let e = k.seal(&ctx, b"", &n).unwrap();
        assert_eq!(hex(e.as_bytes()), empty);
        assert!(k.open(&ctx, &e).unwrap().is_empty());
    }

    #[test]
    fn authenticated_data_is_the_same_on_the_stack_and_on_the_heap() {
        let long = "r".repeat(300);
        for row_id in ["a1", "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f", &long] {
            let ctx = FieldContext { row_id, ..CTX };
            let header = [FORMAT_V1, 0, 0, 0, 3];
            let mut expected = b"souk/field/v1\0".to_vec();
            expected.extend_from_slice(&header);
            expected.extend_from_slice(b"accounts\0email\0");
            expected.extend_from_slice(row_id.as_bytes());
            assert_eq!(with_aad(&header, &ctx, <[u8]>::to_vec), expected);
            let (k, n) = setup();
            let s = k.seal(&ctx, b"v", &n).unwrap();
            assert_eq!(k.open(&ctx, &s).unwrap().as_slice(), b"v");
            assert!(k.open(&FieldContext { row_id: "other", ..ctx }, &s).is_err());
        }
    }

    #[test]
    fn non_utf8_text_is_a_format_error() {
        let (k, n) = setup();
        let s = k.seal(&CTX, &[0xff, 0xfe], &n).unwrap();
        assert!(matches!(k.open_text(&CTX, &s), Err(CryptoError::Format)));
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let (k, n) = setup();
        assert_ne!(k.seal(&CTX, b"x", &n).unwrap(), k.seal(&CTX, b"x", &n).unwrap());
    }
}
