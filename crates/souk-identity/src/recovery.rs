//! Recovery codes: ten single-use codes shown once when a second factor is set up, for the
//! day the phone is lost. What the user sees (`7hq3k-m2xp9-c4tzr`: 15 characters of an
//! alphabet without look-alikes, about 74 bits), how typed input is normalized, and what
//! the server stores: only HMAC-SHA256 of each code under a server key, so a database leak
//! alone yields no usable code and no offline guessing.

use ring::hmac;
use secrecy::SecretString;
use souk_domain::Entropy;
use subtle::{ConditionallySelectable as _, ConstantTimeEq as _};
use zeroize::Zeroizing;

/// How many codes a set holds.
pub const COUNT: usize = 10;
/// Characters in a code, not counting the dashes between groups.
pub const LEN: usize = 15;
/// Characters per group when shown.
const GROUP: usize = 5;

/// The code alphabet: digits and lowercase letters without `0`, `1`, `i`, `l` and `o`, which
/// are easily confused with each other (and with `I`, `L`, `O` once case is folded). 31
/// symbols, so each carries log2(31) ≈ 4.95 bits and 15 of them about 74 bits.
const ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Hashes and finds recovery codes under a server key.
pub struct RecoveryKey(hmac::Key);

impl std::fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryKey(***)")
    }
}

/// A fresh set: the codes to show the user once, and the hashes to store, in the same order.
pub struct RecoveryCodes {
    pub shown: Vec<SecretString>,
    pub hashes: Vec<[u8; 32]>,
}

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecoveryCodes").field("count", &self.shown.len()).finish_non_exhaustive()
    }
}

impl RecoveryKey {
    /// From 32 bytes of key material (a system key of the key hierarchy).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// A new set of `COUNT` codes drawn from the entropy source. Replaces any earlier set:
    /// the caller stores `hashes` in place of the old ones.
    #[must_use]
    pub fn generate(&self, entropy: &dyn Entropy) -> RecoveryCodes {
        let mut shown = Vec::with_capacity(COUNT);
        let mut hashes = Vec::with_capacity(COUNT);
        for _ in 0..COUNT {
            let code = random_code(entropy);
            hashes.push(self.tag(&code));
            shown.push(SecretString::from(grouped(&code)));
        }
        RecoveryCodes { shown, hashes }
    }

    /// The stored form of a code as typed; `None` if it cannot be a recovery code.
    #[must_use]
    pub fn hash(&self, code: &str) -> Option<[u8; 32]> {
        normalize(code).map(|c| self.tag(&c))
    }

    /// The position in `stored` of the hash of `code`, which the caller then removes (the
    /// code is single-use). Compares against every stored hash in constant time, so the
    /// time taken tells neither whether nor where the code matched.
    #[must_use]
    pub fn find(&self, code: &str, stored: &[[u8; 32]]) -> Option<usize> {
        let wanted = self.hash(code)?;
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (i, candidate) in (0u64..).zip(stored) {
            let hit = candidate.ct_eq(&wanted);
            index.conditional_assign(&i, hit);
            found |= hit;
        }
        if bool::from(found) { usize::try_from(index).ok() } else { None }
    }

    fn tag(&self, normalized: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (dst, src) in out.iter_mut().zip(hmac::sign(&self.0, normalized.as_bytes()).as_ref()) {
            *dst = *src;
        }
        out
    }
}

/// `LEN` symbols, each uniform over the alphabet: five random bits per symbol, values 31 and
/// up rejected and drawn again (a modulo would favour the first symbols).
fn random_code(entropy: &dyn Entropy) -> Zeroizing<String> {
    let mut code = Zeroizing::new(String::with_capacity(LEN));
    let mut pool = Zeroizing::new([0u8; 32]);
    while code.len() < LEN {
        entropy.fill(&mut pool[..]);
        for b in pool.iter() {
            if let Some(&c) = ALPHABET.get(usize::from(b & 0x1f))
                && code.len() < LEN
            {
                code.push(char::from(c));
            }
        }
    }
    code
}

/// `LEN` characters as groups of `GROUP` joined by dashes, the way people copy them down.
fn grouped(code: &str) -> String {
    let mut out = String::with_capacity(LEN + LEN / GROUP);
    for (i, c) in code.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// A typed code in canonical form: case folded, spaces and dashes (of any kind people paste)
/// dropped; `None` unless what remains is `LEN` characters of the alphabet.
fn normalize(input: &str) -> Option<Zeroizing<String>> {
    // Bounds the work an absurd input can cause before it is refused.
    if input.len() > 4 * LEN {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(LEN));
    for c in input.chars() {
        if c.is_whitespace() || matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2212}') {
            continue;
        }
        let c = c.to_ascii_lowercase();
        if !u8::try_from(c).is_ok_and(|b| ALPHABET.contains(&b)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;
    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    fn key() -> RecoveryKey {
        RecoveryKey::new(&[5u8; 32])
    }

    #[test]
    fn a_set_is_ten_distinct_well_formed_codes_stored_only_as_hashes() {
        let k = key();
        let set = k.generate(&OsEntropy::new());
        assert_eq!((set.shown.len(), set.hashes.len()), (COUNT, COUNT));
        for (i, code) in set.shown.iter().enumerate() {
            let code = code.expose_secret();
            assert_eq!(code.len(), 17, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 3);
            assert!(groups.iter().all(|g| g.len() == 5 && g.bytes().all(|b| ALPHABET.contains(&b))));
            assert!(!code.contains(['0', '1', 'i', 'l', 'o', 'I', 'L', 'O']));
            assert_eq!(k.find(code, &set.hashes), Some(i));
            assert_eq!(k.hash(code), Some(set.hashes[i]));
        }
        let mut unique = set.hashes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), COUNT);
        assert!(!format!("{set:?}").contains(set.shown[0].expose_secret()));
        assert_eq!(format!("{k:?}"), "RecoveryKey(***)");
    }

    #[test]
    fn symbols_are_spread_over_the_whole_alphabet() {
        let set = key().generate(&SeededEntropy::new(11));
        let more = key().generate(&SeededEntropy::new(12));
        let all: String =
            set.shown.iter().chain(&more.shown).map(|c| c.expose_secret().replace('-', "")).collect();
        assert_eq!(all.len(), 2 * COUNT * LEN);
        let distinct = ALPHABET.iter().filter(|&&a| all.as_bytes().contains(&a)).count();
        // 300 uniform draws from 31 symbols miss any given one with probability ~5e-5.
        assert!(distinct >= 29, "{distinct} of 31 symbols seen");
        // The same seed gives the same set; a different seed a different one.
        assert_eq!(key().generate(&SeededEntropy::new(11)).hashes, set.hashes);
        assert_ne!(more.hashes, set.hashes);
    }

    #[test]
    fn typed_codes_are_normalized() {
        let k = key();
        let canonical = k.hash("7hq3k-m2xp9-c4tzr").unwrap();
        for typed in [
            "7hq3km2xp9c4tzr",
            "7HQ3K-M2XP9-C4TZR",
            " 7hq3k m2xp9 c4tzr ",
            "7hq3k\u{2013}m2xp9\u{2014}c4tzr",
            "7hq3k--m2xp9\t-c4tzr\n",
            "7hq 3km 2xp 9c4 tzr",
        ] {
            assert_eq!(k.hash(typed), Some(canonical), "{typed:?}");
        }
        for bad in [
            "",
            "7hq3k-m2xp9-c4tz",
            "7hq3k-m2xp9-c4tzrr",
            "7hq3k-m2xp9-c4tz0",
            "7hq3k-m2xp9-c4tzl",
            "7hq3k_m2xp9_c4tzr",
            "7hq3k-m2xp9-c4tzé",
            "７hq3k-m2xp9-c4tzr",
            &format!("{}7hq3km2xp9c4tzr", " ".repeat(100)),
        ] {
            assert_eq!(k.hash(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn wrong_removed_and_other_key_codes_are_not_found() {
        let k = key();
        let set = k.generate(&SeededEntropy::new(1));
        let other = k.generate(&SeededEntropy::new(2));
        assert_eq!(k.find(other.shown[0].expose_secret(), &set.hashes), None, "another user's code");
        assert_eq!(k.find("7hq3k-m2xp9-c4tzr", &set.hashes), None);
        assert_eq!(k.find("garbage", &set.hashes), None);
        let code = set.shown[3].expose_secret();
        let mut stored = set.hashes.clone();
        let used = k.find(code, &stored).unwrap();
        stored.remove(used);
        assert_eq!(k.find(code, &stored), None, "a code works once");
        assert_eq!(k.find(set.shown[9].expose_secret(), &stored), Some(8), "the others still work");
        assert_eq!(k.find(code, &[]), None);
        let rotated = RecoveryKey::new(&[6u8; 32]);
        assert_eq!(rotated.find(code, &set.hashes), None, "the hash depends on the server key");
    }

    #[test]
    fn grouping_and_rejection_sampling() {
        // A source of only 0xff bytes maps to 31 every time, which is rejected; 0x00 and
        // 0x1e are the first and last symbols.
        #[derive(Debug)]
        struct Bytes(std::sync::Mutex<Vec<u8>>);
        impl Entropy for Bytes {
            fn fill(&self, buf: &mut [u8]) {
                let mut queue = self.0.lock().unwrap();
                for b in buf {
                    *b = if queue.is_empty() { 0x1e } else { queue.remove(0) };
                }
            }
        }
        assert_eq!(grouped("abcdefghjkmnpqr"), "abcde-fghjk-mnpqr");
        let mut queue = vec![0xff; 40];
        queue[7] = 0x00;
        queue[35] = 0x20; // 0x20 & 0x1f = 0: the high bits are ignored
        let code = random_code(&Bytes(std::sync::Mutex::new(queue)));
        assert_eq!(code.as_str(), "22zzzzzzzzzzzzz");
    }
}
