//! The key hierarchy's two levels: master keys (KEKs, versioned, held by a provider) and
//! data keys (DEKs, one per subject, stored only wrapped by a KEK).

use std::collections::BTreeMap;
use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::key::KeyBytes;
use crate::nonce::{NONCE_LEN, Nonces};

/// AES-GCM's authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// Whose data a data key protects: `("account", id)` or `("shop", id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    pub kind: &'static str,
    pub id: &'a str,
}

/// AES-256-GCM under one key. ring expands the key schedule once, here, when the key is
/// loaded; sealing and opening reuse it.
pub(crate) struct Aead {
    key: LessSafeKey,
}

impl Aead {
    pub(crate) fn new(bytes: &KeyBytes) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes.expose())
            .map_err(|_| CryptoError::KeyMaterial("AES-256 key"))?;
        Ok(Self { key: LessSafeKey::new(unbound) })
    }

    /// Appends `nonce ‖ ciphertext ‖ tag` to `out`, encrypting in place in `out`'s spare
    /// capacity (callers size it so that nothing is reallocated). The caller draws the nonce:
    /// fields and wrapped keys draw theirs differently (see [`Nonces`]).
    pub(crate) fn seal_into(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let body = out.get_mut(start..).ok_or(CryptoError::Format)?;
        let tag = self
            .key
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
            .map_err(|_| CryptoError::Decrypt)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Opens `nonce ‖ ciphertext ‖ tag` into a buffer of exactly the plaintext's length that
    /// is wiped when dropped, whether or not the ciphertext was authentic.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN).ok_or(CryptoError::Format)?;
        let tag_at = body.len().checked_sub(TAG_LEN).ok_or(CryptoError::Format)?;
        let (ciphertext, tag) = body.split_at_checked(tag_at).ok_or(CryptoError::Format)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Format)?;
        let tag = Tag::try_from(tag).map_err(|_| CryptoError::Format)?;
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.key
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, &mut buf, 0..)
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(buf)
    }
}

/// A master key-encryption key of one version.
pub struct Kek {
    version: u32,
    aead: Aead,
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kek(v{})", self.version)
    }
}

/// A data key wrapped by a KEK, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}

fn wrap_aad(subject: Subject<'_>, dek_version: u32, kek_version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(b"souk/dek/v1\0");
    aad.extend_from_slice(subject.kind.as_bytes());
    aad.push(0);
    aad.extend_from_slice(subject.id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&dek_version.to_be_bytes());
    aad.extend_from_slice(&kek_version.to_be_bytes());
    aad
}

impl Kek {
    pub fn new(version: u32, bytes: &KeyBytes) -> Result<Self, CryptoError> {
        Ok(Self { version, aead: Aead::new(bytes)? })
    }

    #[must_use]
    pub const fn version(&self) -> u32 {
        self.version
    }

    /// Wraps a subject's data key. The wrapping is bound to the subject and both versions,
    /// so a wrapped key copied to another subject's row does not unwrap.
    pub fn wrap(
        &self,
        subject: Subject<'_>,
        dek_version: u32,
        dek: &KeyBytes,
        nonces: &Nonces,
    ) -> Result<WrappedKey, CryptoError> {
        let mut bytes = Vec::with_capacity(NONCE_LEN + KeyBytes::LEN + 16);
        self.aead.seal_into(
            nonces.next_from_source(),
            &wrap_aad(subject, dek_version, self.version),
            dek.expose(),
            &mut bytes,
        )?;
        Ok(WrappedKey { kek_version: self.version, bytes })
    }

    /// Unwraps a data key wrapped by this KEK version.
    pub fn unwrap_key(
        &self,
        subject: Subject<'_>,
        dek_version: u32,
        wrapped: &WrappedKey,
    ) -> Result<KeyBytes, CryptoError> {
        if wrapped.kek_version != self.version {
            return Err(CryptoError::UnknownKeyVersion(wrapped.kek_version));
        }
        let plain = self.aead.open(&wrap_aad(subject, dek_version, self.version), &wrapped.bytes)?;
        KeyBytes::from_slice(&plain)
    }
}

/// Every loaded KEK version; the newest wraps new keys, any can unwrap.
#[derive(Debug, Default)]
pub struct Keyring {
    keks: BTreeMap<u32, Kek>,
}

impl Keyring {
    pub fn insert(&mut self, kek: Kek) {
        self.keks.insert(kek.version, kek);
    }

    /// The KEK that wraps new data keys: the highest version.
    pub fn current(&self) -> Result<&Kek, CryptoError> {
        self.keks.values().next_back().ok_or(CryptoError::NoMasterKey)
    }

    pub fn get(&self, version: u32) -> Result<&Kek, CryptoError> {
        self.keks.get(&version).ok_or(CryptoError::UnknownKeyVersion(version))
    }

    #[must_use]
    pub fn versions(&self) -> Vec<u32> {
        self.keks.keys().copied().collect()
    }

    /// Unwraps with whichever version wrapped the key.
    pub fn unwrap_key(
        &self,
        subject: Subject<'_>,
        dek_version: u32,
        wrapped: &WrappedKey,
    ) -> Result<KeyBytes, CryptoError> {
        self.get(wrapped.kek_version)?.unwrap_key(subject, dek_version, wrapped)
    }

    /// Re-wraps a key under the current KEK (rotation). Returns `None` if it already is.
    pub fn rewrap(
        &self,
        subject: Subject<'_>,
        dek_version: u32,
        wrapped: &WrappedKey,
        nonces: &Nonces,
    ) -> Result<Option<WrappedKey>, CryptoError> {
        let current = self.current()?;
        if wrapped.kek_version == current.version {
            return Ok(None);
        }
        let dek = self.unwrap_key(subject, dek_version, wrapped)?;
        current.wrap(subject, dek_version, &dek, nonces).map(Some)
    }
}

/// An unwrapped data key, ready to seal and open its subject's fields.
pub struct DataKey {
    pub(crate) version: u32,
    pub(crate) aead: Aead,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(v{})", self.version)
    }
}

impl DataKey {
    pub fn new(version: u32, bytes: &KeyBytes) -> Result<Self, CryptoError> {
        Ok(Self { version, aead: Aead::new(bytes)? })
    }

    #[must_use]
    pub const fn version(&self) -> u32 {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;

    use super::*;

    fn nonces() -> Nonces {
        Nonces::new(Box::new(OsEntropy::new()))
    }

    #[test]
    fn wrapped_keys_unwrap_only_for_their_subject_and_versions() {
        let e = OsEntropy::new();
        let kek = Kek::new(1, &KeyBytes::generate(&e)).unwrap();
        let dek = KeyBytes::generate(&e);
        let alice = Subject { kind: "account", id: "alice" };
        let w = kek.wrap(alice, 1, &dek, &nonces()).unwrap();
        assert_eq!(kek.unwrap_key(alice, 1, &w).unwrap(), dek);
        assert!(matches!(
            kek.unwrap_key(Subject { kind: "account", id: "bob" }, 1, &w),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            kek.unwrap_key(Subject { kind: "shop", id: "alice" }, 1, &w),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(kek.unwrap_key(alice, 2, &w), Err(CryptoError::Decrypt)));
        let other = Kek::new(1, &KeyBytes::generate(&e)).unwrap();
        assert!(matches!(other.unwrap_key(alice, 1, &w), Err(CryptoError::Decrypt)), "wrong master key");
    }

    /// A wrapped key produced by the implementation before the per-thread nonces and in-place
    /// opening (commit 0cb92c3): stored wrapped keys must keep unwrapping.
    #[test]
    fn known_answer_from_the_previous_implementation() {
        use souk_domain::entropy::SeededEntropy;
        let kek = Kek::new(3, &KeyBytes::generate(&SeededEntropy::new(4))).unwrap();
        let dek = KeyBytes::generate(&SeededEntropy::new(1));
        let subject = Subject { kind: "account", id: "a1" };
        let w = kek.wrap(subject, 2, &dek, &Nonces::new(Box::new(SeededEntropy::new(5)))).unwrap();
        let hex = w.bytes.iter().fold(String::new(), |mut s, b| {
            let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{b:02x}"));
            s
        });
        assert_eq!(
            hex,
            "5ac389a30c3b0363f8369793b8e25b4c343d474760c6235cde1c84a8fc40f7756fce233ae273f8f449dc5c036099b6ef6df864672f29bfe36ac97179"
        );
        assert_eq!(kek.unwrap_key(subject, 2, &w).unwrap(), dek);
    }

    #[test]
    fn rotation_rewraps_to_the_newest_version() {
        let e = OsEntropy::new();
        let mut ring = Keyring::default();
        ring.insert(Kek::new(1, &KeyBytes::generate(&e)).unwrap());
        let s = Subject { kind: "shop", id: "s1" };
        let dek = KeyBytes::generate(&e);
        let w1 = ring.current().unwrap().wrap(s, 1, &dek, &nonces()).unwrap();
        assert!(ring.rewrap(s, 1, &w1, &nonces()).unwrap().is_none(), "nothing to do");
        ring.insert(Kek::new(2, &KeyBytes::generate(&e)).unwrap());
        let w2 = ring.rewrap(s, 1, &w1, &nonces()).unwrap().unwrap();
        assert_eq!(w2.kek_version, 2);
        assert_eq!(ring.unwrap_key(s, 1, &w2).unwrap(), dek);
        assert_eq!(ring.unwrap_key(s, 1, &w1).unwrap(), dek, "old versions still unwrap until retired");
        assert_eq!(format!("{:?}", ring.current().unwrap()), "Kek(v2)");
    }
}
