//! What the vault hands out instead of a card number: a random [`CardToken`] (not derived
//! from the number) and a keyed [`CardFingerprint`] (the same for the same number, for
//! duplicate and velocity checks, useless without the vault's key).
//!
//! Both are spelled in the letters `a` to `p` (four bits a letter), never digits, so that a
//! scanner looking for card numbers (Luhn-valid digit runs) in the marketplace's database
//! and logs never flags one.

use std::fmt;

use souk_domain::Entropy;

/// Encodes bytes as letters `a`..`p`, high nibble first.
pub(crate) fn letters(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b'a' + (b >> 4)));
        s.push(char::from(b'a' + (b & 0x0f)));
    }
    s
}

fn is_letters(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// A stored card's token: `vt_` and 128 random bits. Safe to store, log and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardToken(String);

impl CardToken {
    const PREFIX: &'static str = "vt_";

    pub(crate) fn generate(entropy: &dyn Entropy) -> Self {
        let mut bytes = [0u8; 16];
        entropy.fill(&mut bytes);
        Self(format!("{}{}", Self::PREFIX, letters(&bytes)))
    }

    /// Parses a token read back from the marketplace's storage or a request.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix(Self::PREFIX).filter(|rest| is_letters(rest, 32)).map(|_| Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// HMAC-SHA256 of a card number under the vault's fingerprint key: `fp_` and 256 bits.
/// Equal for equal card numbers, whichever token they were stored under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardFingerprint(String);

impl CardFingerprint {
    const PREFIX: &'static str = "fp_";

    pub(crate) fn from_mac(mac: &[u8]) -> Self {
        Self(format!("{}{}", Self::PREFIX, letters(mac)))
    }

    /// Parses a fingerprint read back from the marketplace's storage.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix(Self::PREFIX).filter(|rest| is_letters(rest, 64)).map(|_| Self(s.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;

    use super::*;

    #[test]
    fn tokens_are_random_letters_and_parse_back() {
        let e = OsEntropy::new();
        let a = CardToken::generate(&e);
        let b = CardToken::generate(&e);
        assert_ne!(a, b);
        assert_eq!(CardToken::parse(a.as_str()), Some(a.clone()));
        assert!(!a.as_str().bytes().any(|c| c.is_ascii_digit()));
        assert_eq!(CardToken::parse("vt_abc"), None);
        assert_eq!(CardToken::parse(&a.as_str().replace("vt_", "xx_")), None);
        let f = CardFingerprint::from_mac(&[0xff; 32]);
        assert_eq!(CardFingerprint::parse(f.as_str()), Some(f));
    }
}
