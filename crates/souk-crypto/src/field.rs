//! Sealed personal-data fields.
//!
//! Wire format: `format (1) ‖ dek_version (u32 BE) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! New fields are sealed as format 2; format 1 fields (sealed before ADR 0014) still open.
//! The 5-byte header is authenticated along with the field's context (table, column, row
//! id), so a ciphertext copied to another row, column or table, or relabelled with another
//! format or key version, fails to open. The two formats differ only in how that
//! authenticated data is encoded: format 2 encodes it in 32 bytes for a UUID row id (two
//! GHASH blocks) where format 1 spelled it out in ~70 (five), and ring hashes authenticated
//! data block by block (see BENCHMARKS.md).

use std::cell::RefCell;

use crate::CryptoError;
use crate::keyring::DataKey;
use crate::keyring::TAG_LEN;
use crate::nonce::{NONCE_LEN, Nonces};

const FORMAT_V1: u8 = 0x01;
const FORMAT_V2: u8 = 0x02;
const HEADER_LEN: usize = 5;
type Header = [u8; HEADER_LEN];

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

/// Splits stored bytes into a header of a known format and the rest.
fn split_header(bytes: &[u8]) -> Result<(&Header, &[u8]), CryptoError> {
    match bytes.split_first_chunk::<HEADER_LEN>() {
        Some((header @ [FORMAT_V1 | FORMAT_V2, ..], body)) => Ok((header, body)),
        _ => Err(CryptoError::Format),
    }
}

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

    /// The data-key version named in the header (either format).
    pub fn key_version(&self) -> Result<u32, CryptoError> {
        let ([_, a, b, c, d], _) = split_header(&self.0)?;
        Ok(u32::from_be_bytes([*a, *b, *c, *d]))
    }
}

/// Copies `parts` one after another and runs `f` with the result. Up to `INLINE` bytes are
/// built on the stack: sealing and opening sit on every read and write of personal data,
/// and an allocation per call would cost as much as the bookkeeping around the cipher.
fn with_parts<const INLINE: usize, T>(parts: &[&[u8]], f: impl FnOnce(&[u8]) -> T) -> T {
    let mut inline = [0u8; INLINE];
    let mut len = 0;
    let mut rest: &mut [u8] = &mut inline;
    for part in parts {
        match rest.split_at_mut_checked(part.len()) {
            Some((dst, tail)) => {
                dst.copy_from_slice(part);
                rest = tail;
                len += part.len();
            }
            None => return f(&parts.concat()),
        }
    }
    match inline.get(..len) {
        Some(aad) => f(aad),
        None => f(&parts.concat()),
    }
}

/// Authenticated data of a format-1 field:
/// `"souk/field/v1\0" ‖ header ‖ table ‖ 0 ‖ column ‖ 0 ‖ row id`.
const AAD_PREFIX: &[u8] = b"souk/field/v1\0";

/// Runs `f` with the authenticated data of a format-1 field. The contents are not secret
/// (header and field location).
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
    with_parts::<128, T>(&parts, f)
}

/// Length of a column identifier in format-2 authenticated data: the most that keeps a
/// UUID row's authenticated data within two 16-byte blocks.
const COLUMN_ID_LEN: usize = 10;
type ColumnId = [u8; COLUMN_ID_LEN];
/// Row kinds in format-2 authenticated data.
const ROW_TEXT: u8 = 0x00;
const ROW_UUID: u8 = 0x01;

/// Identifies `table.column` in format-2 authenticated data: the first 80 bits of
/// `SHA-256("souk/field/v2/column\0" ‖ len(table) (u64 BE) ‖ table ‖ column)`. The length
/// prefix keeps ("ab", "c") and ("a", "bc") apart. 80 bits because the identifier stands
/// for the names, and two columns sharing one could swap fields of one row: among 100
/// columns that happens with a chance below 2⁻⁶⁷ (with a 2-byte identifier, about 1 in 350
/// among just 20).
fn derive_column_id(table: &str, column: &str) -> ColumnId {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    hash.update(b"souk/field/v2/column\0");
    hash.update(&u64::try_from(table.len()).unwrap_or(u64::MAX).to_be_bytes());
    hash.update(table.as_bytes());
    hash.update(column.as_bytes());
    let mut id = [0u8; COLUMN_ID_LEN];
    for (dst, src) in id.iter_mut().zip(hash.finish().as_ref()) {
        *dst = *src;
    }
    id
}

/// Columns whose identifier this thread has computed, by the addresses of their names.
const COLUMN_CACHE: usize = 16;
type CachedColumn = (&'static str, &'static str, ColumnId);

struct ColumnIds {
    entries: [Option<CachedColumn>; COLUMN_CACHE],
    /// The entry to replace next when the cache is full.
    next: usize,
}

impl ColumnIds {
    fn get(&mut self, table: &'static str, column: &'static str) -> ColumnId {
        // Matching by address and length, not by content, is exact: a `'static` string is
        // never freed, so its address can hold no other text while the program runs. A name
        // spelled at two places may have two addresses; that costs a second entry, not a
        // wrong identifier.
        for (t, c, id) in self.entries.iter().flatten() {
            if std::ptr::eq(*t, table) && std::ptr::eq(*c, column) {
                return *id;
            }
        }
        let id = derive_column_id(table, column);
        if let Some(slot) = self.entries.get_mut(self.next % COLUMN_CACHE) {
            *slot = Some((table, column, id));
        }
        self.next = self.next.wrapping_add(1);
        id
    }
}

thread_local! {
    static COLUMN_IDS: RefCell<ColumnIds> =
        const { RefCell::new(ColumnIds { entries: [None; COLUMN_CACHE], next: 0 }) };
}

/// The column's identifier, computed once per thread: hashing the names costs more than
/// the cipher's work on a short field.
fn column_id(table: &'static str, column: &'static str) -> ColumnId {
    match COLUMN_IDS.try_with(|cell| cell.try_borrow_mut().ok().map(|mut ids| ids.get(table, column))) {
        Ok(Some(id)) => id,
        Ok(None) | Err(_) => derive_column_id(table, column),
    }
}

/// The value of a lowercase hex digit; 0xff for any other byte.
fn hex_digit(c: u8) -> u8 {
    let digit = c.wrapping_sub(b'0');
    let letter = c.wrapping_sub(b'a');
    if digit < 10 {
        digit
    } else if letter < 6 {
        letter + 10
    } else {
        0xff
    }
}

/// The 16 bytes of a UUID written in its canonical form (lowercase hex, hyphens after the
/// 8th, 12th, 16th and 20th digit), or `None` for any other text. Only the canonical form
/// is accepted so that text and bytes correspond one to one: "A…" and "a…" are different
/// row ids, and must not yield the same authenticated data.
fn canonical_uuid(row_id: &[u8]) -> Option<[u8; 16]> {
    let text: &[u8; 36] = row_id.try_into().ok()?;
    let hyphens = [8, 13, 18, 23].iter().all(|&i| text.get(i) == Some(&b'-'));
    if !hyphens {
        return None;
    }
    // The 32 digits side by side, then decoded with no branch per digit and one test at
    // the end, which the compiler turns into vector code: this runs on every seal and
    // open, and took ~5 ns here against ~35 ns digit by digit with early exits.
    let mut digits = [0u8; 32];
    let mut rest: &mut [u8] = &mut digits;
    for group in [0..8, 9..13, 14..18, 19..23, 24..36] {
        let source = text.get(group)?;
        let (dst, tail) = rest.split_at_mut_checked(source.len())?;
        dst.copy_from_slice(source);
        rest = tail;
    }
    let mut invalid = 0u8;
    for d in &mut digits {
        *d = hex_digit(*d);
        invalid |= *d;
    }
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        if let [high, low] = pair {
            *byte = (high << 4) | low;
        }
    }
    // A valid digit is at most 0x0f; anything else was 0xff.
    (invalid < 0x10).then_some(bytes)
}

/// Runs `f` with the authenticated data of a format-2 field:
/// `header (5) ‖ column id (10) ‖ 0x01 ‖ UUID (16)` when the row id is a canonical UUID,
/// `header (5) ‖ column id (10) ‖ 0x00 ‖ row id` otherwise.
///
/// Distinct contexts never share authenticated data (short of two columns sharing an
/// identifier, see [`derive_column_id`]): header, column id and row kind have fixed lengths
/// and positions, the row takes the rest (its length is part of what GCM authenticates),
/// and each kind maps row ids to bytes one to one, so the header, the column id and the row
/// id can all be read back. The header's first byte (the format) also tells this encoding
/// from format 1's, which begins with `"s"`.
fn with_aad_v2<T>(header: Header, ctx: &FieldContext<'_>, f: impl FnOnce(&[u8]) -> T) -> T {
    let column = column_id(ctx.table, ctx.column);
    match canonical_uuid(ctx.row_id.as_bytes()) {
        Some(uuid) => {
            let mut aad = [ROW_UUID; HEADER_LEN + COLUMN_ID_LEN + 1 + 16];
            let (head, rest) = aad.split_at_mut(HEADER_LEN);
            head.copy_from_slice(&header);
            let (col, rest) = rest.split_at_mut(COLUMN_ID_LEN);
            col.copy_from_slice(&column);
            // The row kind byte is already ROW_UUID.
            if let Some(row) = rest.get_mut(1..) {
                row.copy_from_slice(&uuid);
            }
            f(&aad)
        }
        None => with_parts::<64, T>(&[&header, &column, &[ROW_TEXT], ctx.row_id.as_bytes()], f),
    }
}

/// Runs `f` with the authenticated data of a field in the header's format.
fn with_header_aad<T>(
    header: Header,
    ctx: &FieldContext<'_>,
    f: impl FnOnce(&[u8]) -> Result<T, CryptoError>,
) -> Result<T, CryptoError> {
    match header {
        [FORMAT_V1, ..] => with_aad(&header, ctx, f),
        [FORMAT_V2, ..] => with_aad_v2(header, ctx, f),
        _ => Err(CryptoError::Format),
    }
}

impl DataKey {
    /// Seals `plaintext` for the field at `ctx` (format 2).
    pub fn seal(
        &self,
        ctx: &FieldContext<'_>,
        plaintext: &[u8],
        nonces: &Nonces,
    ) -> Result<Sealed, CryptoError> {
        self.seal_as(FORMAT_V2, ctx, plaintext, nonces.next())
    }

    /// Seals in a given format with a given nonce; tests pin both formats through it.
    fn seal_as(
        &self,
        format: u8,
        ctx: &FieldContext<'_>,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<Sealed, CryptoError> {
        let [a, b, c, d] = self.version.to_be_bytes();
        let header = [format, a, b, c, d];
        // One allocation of the final size: header, then nonce, ciphertext and tag in place.
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&header);
        with_header_aad(header, ctx, |aad| self.aead.seal_into(nonce, aad, plaintext, &mut out))?;
        Ok(Sealed(out))
    }

    /// Opens a field sealed for `ctx` by this key, in either format.
    pub fn open(
        &self,
        ctx: &FieldContext<'_>,
        sealed: &Sealed,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        let (header, body) = split_header(&sealed.0)?;
        let [_, a, b, c, d] = *header;
        let version = u32::from_be_bytes([a, b, c, d]);
        if version != self.version {
            return Err(CryptoError::UnknownKeyVersion(version));
        }
        with_header_aad(*header, ctx, |aad| self.aead.open(aad, body))
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

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    const UUID_CTX: FieldContext<'static> =
        FieldContext { table: "accounts", column: "email", row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f" };
    /// Format-1 fields pinned below, as stored before format 2 existed.
    const V1_FIELD: &str = "0100000007ce56971cde355897421efc0b479bbf4ed50d72f5b163d758dd570cd4ea9cc98d3f0c335c47bbb2db96a006629e";
    const V1_EMPTY: &str = "01000000071046c8bf2f537eddbfbc7b986625a6f8b6b07703a77f9b75f046e7ce";

    /// Ciphertexts produced by the implementation before the per-thread nonce buffers and
    /// in-place opening (commit 0cb92c3), with fixed key and nonce sources: the format and
    /// the authenticated data must not change, or stored fields would stop opening. New
    /// fields are format 2, so format 1 is sealed here through the test seam, with the
    /// nonces that implementation drew: its source's bytes in order, 12 per field.
    #[test]
    fn known_answers_from_the_previous_implementation() {
        use souk_domain::Entropy as _;
        use souk_domain::entropy::SeededEntropy;
        let k = DataKey::new(7, &KeyBytes::generate(&SeededEntropy::new(1))).unwrap();
        let mut nonces = [0u8; 24];
        SeededEntropy::new(2).fill(&mut nonces);
        let (first, second) = nonces.split_at(12);
        let ctx = UUID_CTX;
        let field = V1_FIELD;
        let empty = V1_EMPTY;
        let s = k.seal_as(FORMAT_V1, &ctx, b"amina@example.org", first.try_into().unwrap()).unwrap();
        assert_eq!(hex(s.as_bytes()), field);
        assert_eq!(k.open_text(&ctx, &s).unwrap(), "amina@example.org");
        let e = k.seal_as(FORMAT_V1, &ctx, b"", second.try_into().unwrap()).unwrap();
        assert_eq!(hex(e.as_bytes()), empty);
        assert!(k.open(&ctx, &e).unwrap().is_empty());
    }

    #[test]
    fn stored_format_1_fields_still_open_and_stay_bound_to_their_place() {
        use souk_domain::entropy::SeededEntropy;
        let k = DataKey::new(7, &KeyBytes::generate(&SeededEntropy::new(1))).unwrap();
        let field = Sealed::from_stored(unhex(V1_FIELD));
        assert_eq!(field.key_version().unwrap(), 7);
        assert_eq!(k.open_text(&UUID_CTX, &field).unwrap(), "amina@example.org");
        assert!(k.open(&UUID_CTX, &Sealed::from_stored(unhex(V1_EMPTY))).unwrap().is_empty());
        let other_row = FieldContext { row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e50", ..UUID_CTX };
        assert!(matches!(k.open(&other_row, &field), Err(CryptoError::Decrypt)));
        // Relabelled as format 2: opened with format 2's authenticated data, which differs.
        let mut as_v2 = unhex(V1_FIELD);
        as_v2[0] = FORMAT_V2;
        assert!(matches!(k.open(&UUID_CTX, &Sealed::from_stored(as_v2)), Err(CryptoError::Decrypt)));
    }

    /// Format 2, byte for byte. The expected values were computed outside this code (Python:
    /// `hashlib` for the column identifiers, `cryptography`'s AESGCM and ChaCha20 for the
    /// ciphertexts and the generator's nonces) from the same SplitMix64 key and seeds; the
    /// same script reproduces the format-1 answers above.
    #[test]
    fn format_2_known_answers() {
        use souk_domain::entropy::SeededEntropy;
        let key = DataKey::new(7, &KeyBytes::generate(&SeededEntropy::new(1))).unwrap();
        assert_eq!(hex(&derive_column_id("accounts", "email")), "bddf6fcf971b0b25480b");
        assert_eq!(hex(&derive_column_id("audit_log", "ip")), "56c53ceb6e46eec1a353");
        // A UUID row: header ‖ column id ‖ 0x01 ‖ the UUID's 16 bytes, two GHASH blocks.
        let header = [FORMAT_V2, 0, 0, 0, 7];
        let aad = with_aad_v2(header, &UUID_CTX, <[u8]>::to_vec);
        assert_eq!(hex(&aad), "0200000007bddf6fcf971b0b25480b010192f0c0a1b27c3d8e9f0a1b2c3d4e5f");
        // Any other row: header ‖ column id ‖ 0x00 ‖ the row id's bytes.
        let seq = FieldContext { table: "audit_log", column: "ip", row_id: "42" };
        assert_eq!(hex(&with_aad_v2(header, &seq, <[u8]>::to_vec)), "020000000756c53ceb6e46eec1a353003432");
        // Through the public API: nonces from the per-thread generator seeded by the source.
        let nonces = Nonces::new(Box::new(SeededEntropy::new(2)));
        let field = key.seal(&UUID_CTX, b"amina@example.org", &nonces).unwrap();
        assert_eq!(
            hex(field.as_bytes()),
            "0200000007321779ff974f2623c25a409c5a865c756eb3c9984e8b5a40078e5e418667834d57563a8c99b78bf1b8edfe8530"
        );
        assert_eq!(key.open_text(&UUID_CTX, &field).unwrap(), "amina@example.org");
        let empty = key.seal(&UUID_CTX, b"", &nonces).unwrap();
        assert_eq!(
            hex(empty.as_bytes()),
            "020000000786e5715f9b4aaaf0fe49463f273023431d3396a6da10d8fefb322b95"
        );
        assert!(key.open(&UUID_CTX, &empty).unwrap().is_empty());
        // A fixed nonce, a row id that is not a UUID.
        let nonce: [u8; 12] = std::array::from_fn(|i| u8::try_from(i).unwrap());
        let text = key.seal_as(FORMAT_V2, &seq, b"192.0.2.0/24", nonce).unwrap();
        assert_eq!(
            hex(text.as_bytes()),
            "0200000007000102030405060708090a0ba80b2067b32c7b3688352ac443b9439a907a48270dd1c9b469a6de62"
        );
        assert_eq!(key.open_text(&seq, &text).unwrap(), "192.0.2.0/24");
        assert_eq!(text.key_version().unwrap(), 7);
    }

    #[test]
    fn format_2_fields_moved_or_relabelled_fail() {
        let (k, n) = setup();
        let s = k.seal(&UUID_CTX, b"amina@example.org", &n).unwrap();
        assert_eq!(s.as_bytes()[0], FORMAT_V2);
        assert_eq!(s.key_version().unwrap(), 3);
        let moved = [
            FieldContext { row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e50", ..UUID_CTX },
            // The same UUID in other spellings is another row id.
            FieldContext { row_id: "0192F0C0-A1B2-7C3D-8E9F-0A1B2C3D4E5F", ..UUID_CTX },
            FieldContext { row_id: "0192f0c0a1b27c3d8e9f0a1b2c3d4e5f", ..UUID_CTX },
            FieldContext { column: "name", ..UUID_CTX },
            FieldContext { table: "email_changes", ..UUID_CTX },
            FieldContext { table: "email", column: "accounts", ..UUID_CTX },
            FieldContext { table: "accountse", column: "mail", ..UUID_CTX },
            FieldContext { table: "accounts\0email", column: "", ..UUID_CTX },
        ];
        for ctx in moved {
            assert!(matches!(k.open(&ctx, &s), Err(CryptoError::Decrypt)), "{ctx:?}");
        }
        let text_row = FieldContext { row_id: "17", ..CTX };
        let t = k.seal(&text_row, b"x", &n).unwrap();
        assert_eq!(k.open(&text_row, &t).unwrap().as_slice(), b"x");
        for row_id in ["170", "1", "", "17\0"] {
            assert!(matches!(k.open(&FieldContext { row_id, ..text_row }, &t), Err(CryptoError::Decrypt)));
        }
        // The header is authenticated: the same key under another version number, and the
        // same bytes labelled format 1, both fail; an unknown format is not even tried.
        let mut relabelled = s.as_bytes().to_vec();
        relabelled[4] = 4;
        let relabelled = Sealed::from_stored(relabelled);
        assert!(matches!(k.open(&UUID_CTX, &relabelled), Err(CryptoError::UnknownKeyVersion(4))));
        let same_bytes = KeyBytes::generate(&OsEntropy::new());
        let k3 = DataKey::new(3, &same_bytes).unwrap();
        let same_key_v4 = DataKey::new(4, &same_bytes).unwrap();
        let s3 = k3.seal(&UUID_CTX, b"amina@example.org", &n).unwrap();
        let mut s3_as_v4 = s3.as_bytes().to_vec();
        s3_as_v4[4] = 4;
        assert!(matches!(
            same_key_v4.open(&UUID_CTX, &Sealed::from_stored(s3_as_v4)),
            Err(CryptoError::Decrypt)
        ));
        let mut as_v1 = s.as_bytes().to_vec();
        as_v1[0] = FORMAT_V1;
        assert!(matches!(k.open(&UUID_CTX, &Sealed::from_stored(as_v1)), Err(CryptoError::Decrypt)));
        let mut unknown = s.as_bytes().to_vec();
        unknown[0] = 3;
        let unknown = Sealed::from_stored(unknown);
        assert!(matches!(k.open(&UUID_CTX, &unknown), Err(CryptoError::Format)));
        assert!(matches!(unknown.key_version(), Err(CryptoError::Format)));
    }

    #[test]
    fn uuids_are_recognised_only_in_canonical_form() {
        let text = *b"0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f";
        let bytes = unhex("0192f0c0a1b27c3d8e9f0a1b2c3d4e5f");
        assert_eq!(canonical_uuid(&text).unwrap().as_slice(), bytes.as_slice());
        // Every byte value at every position: accepted exactly when the text stays
        // canonical, and then decoded to the digit it spells.
        for at in 0..36 {
            for c in 0..=255u8 {
                let mut changed = text;
                changed[at] = c;
                let hyphen_slot = matches!(at, 8 | 13 | 18 | 23);
                let canonical =
                    if hyphen_slot { c == b'-' } else { c.is_ascii_digit() || (b'a'..=b'f').contains(&c) };
                match canonical_uuid(&changed) {
                    Some(decoded) => {
                        assert!(canonical, "{at} {c:#x}");
                        let expected = unhex(&String::from_utf8(changed.to_vec()).unwrap().replace('-', ""));
                        assert_eq!(decoded.as_slice(), expected.as_slice());
                    }
                    None => assert!(!canonical, "{at} {c:#x}"),
                }
            }
        }
        for other in
            [&text[..35], b"{0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f}", b"", b"0192f0c0a1b27c3d8e9f0a1b2c3d4e5f"]
        {
            assert!(canonical_uuid(other).is_none());
        }
        let mut longer = text.to_vec();
        longer.push(b'0');
        assert!(canonical_uuid(&longer).is_none());
    }

    proptest! {
        #[test]
        fn uuids_round_trip(bytes in any::<[u8; 16]>()) {
            let text = format!(
                "{}-{}-{}-{}-{}",
                hex(&bytes[..4]), hex(&bytes[4..6]), hex(&bytes[6..8]), hex(&bytes[8..10]), hex(&bytes[10..])
            );
            prop_assert_eq!(canonical_uuid(text.as_bytes()), Some(bytes));
            let upper = text.to_uppercase();
            prop_assert_eq!(canonical_uuid(upper.as_bytes()).is_some(), upper == text);
        }

        /// Two contexts share format-2 authenticated data only if they are the same context
        /// under the same header. The second context is often the first one nudged: a name
        /// character moved across the table/column boundary, the row's UUID in another
        /// spelling or as 16 characters of text equal to its bytes, another key version.
        #[test]
        fn format_2_authenticated_data_is_unambiguous((a, b) in context_pair()) {
            let header = |v: u8| [FORMAT_V2, 0, 0, 0, v];
            let ctx_a = FieldContext { table: a.1, column: a.2, row_id: &a.3 };
            let ctx_b = FieldContext { table: b.1, column: b.2, row_id: &b.3 };
            let aad_a = with_aad_v2(header(a.0), &ctx_a, <[u8]>::to_vec);
            let aad_b = with_aad_v2(header(b.0), &ctx_b, <[u8]>::to_vec);
            prop_assert_eq!(aad_a == aad_b, (a.0, ctx_a) == (b.0, ctx_b));
        }
    }

    /// Key version, table, column, row id; names leaked to be `'static` like real ones.
    type TestContext = (u8, &'static str, &'static str, String);

    fn leak(s: String) -> &'static str {
        s.leak()
    }

    fn uuid_text(bytes: &[u8]) -> String {
        let h = hex(bytes);
        format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
    }

    /// A context from few symbols; UUID rows are often made of printable bytes so that
    /// they can be spelled as 16 characters of text too.
    fn context_strategy() -> impl Strategy<Value = TestContext> {
        let name = || "[ab0\u{0}]{0,3}".prop_map(leak);
        let uuid_bytes = prop_oneof![any::<[u8; 16]>(), proptest::array::uniform16(0x20u8..0x7f)];
        let row = prop_oneof![
            uuid_bytes.prop_map(|b| uuid_text(&b)),
            Just(uuid_text(&[0; 16])),
            "[0a\u{0}-]{0,4}",
        ];
        (0u8..3, name(), name(), row)
    }

    fn context_pair() -> impl Strategy<Value = (TestContext, TestContext)> {
        (context_strategy(), context_strategy(), 0..7usize).prop_map(|(a, other, nudge)| {
            let (version, table, column, row) = a.clone();
            let b = match nudge {
                0 => other,
                1 => a.clone(),
                2 => ((version + 1) % 3, table, column, row),
                3 => {
                    // The column's first character moved to the end of the table name.
                    let mut chars = column.chars();
                    let first = chars.next().map(String::from).unwrap_or_default();
                    (version, leak(format!("{table}{first}")), leak(chars.collect()), row)
                }
                4 => (version, table, column, row.to_uppercase()),
                5 => (version, table, column, row.replace('-', "")),
                _ => {
                    // A text row whose bytes are the UUID's bytes, when they are text.
                    let bytes = canonical_uuid(row.as_bytes()).map(|b| b.to_vec()).unwrap_or_default();
                    let text = String::from_utf8(bytes).unwrap_or_else(|_| format!("{row}0"));
                    (version, table, column, text)
                }
            };
            (a, b)
        })
    }

    #[test]
    fn column_ids_are_cached_by_address_yet_follow_the_names() {
        // More columns than the cache holds, each asked for twice, and equal names at other
        // addresses: every answer is the identifier of the names.
        let names: Vec<(&'static str, &'static str)> =
            (0..40).map(|i| (&*format!("t{}", i % 7).leak(), &*format!("c{i}").leak())).collect();
        for _ in 0..2 {
            for &(t, c) in &names {
                assert_eq!(column_id(t, c), derive_column_id(t, c));
                let (t2, c2): (&'static str, &'static str) = (t.to_owned().leak(), c.to_owned().leak());
                assert_eq!(column_id(t2, c2), column_id(t, c));
            }
        }
        assert_ne!(derive_column_id("ab", "c"), derive_column_id("a", "bc"));
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
