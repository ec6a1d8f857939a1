//! API keys for sellers and integrators: the token format, what the server stores, and the
//! scopes a key grants.
//!
//! A token reads `souk_sk_<id>_<secret><checksum>`: a 12-character public key id (base62,
//! ~71 bits, used to find the key and shown in the key list), a 43-character secret
//! (base62, 256 bits) and a 6-character base62 CRC32 of everything before it. The fixed
//! prefix and checksum let secret scanners (ours in CI, GitHub's push protection) recognise
//! a leaked Souk key offline without false positives, and let the server refuse mistyped or
//! made-up tokens before any database lookup. The checksum is not a security measure:
//! anyone can compute it; the secret's 256 bits are.
//!
//! The server stores SHA-256 of the whole token. A slow password hash would add nothing:
//! it slows guessing of low-entropy secrets, and guessing 256 random bits is hopeless at
//! any speed; it would only make every API request expensive and hand attackers a cheap
//! way to burn CPU.

use std::fmt;
use std::str::FromStr;

use ring::digest;
use secrecy::{ExposeSecret, SecretString};
use souk_domain::Entropy;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// What every token starts with (`sk`: secret key).
pub const PREFIX: &str = "souk_sk_";
const ID_LEN: usize = 12;
const SECRET_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// Length of a whole token.
pub const TOKEN_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// An API key token as the integrator holds it. Zeroized on drop; `Debug` shows the public
/// id only. `expose_secret` gives the full token, to show once at creation.
pub struct ApiKeyToken(SecretString);

/// A key's public id: what the server looks the key up by, and what the key list shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(String);

/// What the server stores to check a token: SHA-256 of the whole token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyHash(pub [u8; 32]);

impl ApiKeyToken {
    /// A new key: its token (show once), its id and its hash (store both).
    #[must_use]
    pub fn generate(entropy: &dyn Entropy) -> (Self, ApiKeyId, ApiKeyHash) {
        let id = Zeroizing::new(random_base62(entropy, ID_LEN));
        let secret = random_base62(entropy, SECRET_LEN);
        let mut token = Zeroizing::new(String::with_capacity(TOKEN_LEN));
        token.push_str(PREFIX);
        token.push_str(&id);
        token.push('_');
        token.push_str(&secret);
        let sum = checksum(&token);
        token.push_str(&sum);
        let token = Self(SecretString::from(token.as_str()));
        let hash = token.hash();
        (token, ApiKeyId(id.to_string()), hash)
    }

    /// A token as presented (in an `Authorization: Bearer` header). `None` unless it has
    /// Souk's prefix, the exact length, base62 parts and a matching checksum; check this
    /// before any lookup, then find the key by id and `verify` the hash.
    #[must_use]
    pub fn parse(presented: &str) -> Option<(ApiKeyId, Self)> {
        let (id, secret, sum) = split(presented)?;
        if !is_base62(id) || !is_base62(secret) || !is_base62(sum) {
            return None;
        }
        let body = presented.get(..presented.len() - CHECKSUM_LEN)?;
        if checksum(body) != sum {
            return None;
        }
        Some((ApiKeyId(id.to_owned()), Self(SecretString::from(presented))))
    }

    /// The id inside the token.
    #[must_use]
    pub fn id(&self) -> Option<ApiKeyId> {
        split(self.0.expose_secret()).map(|(id, _, _)| ApiKeyId(id.to_owned()))
    }

    /// The stored form of this token.
    #[must_use]
    pub fn hash(&self) -> ApiKeyHash {
        let d = digest::digest(&digest::SHA256, self.0.expose_secret().as_bytes());
        let mut out = [0u8; 32];
        for (dst, src) in out.iter_mut().zip(d.as_ref()) {
            *dst = *src;
        }
        ApiKeyHash(out)
    }

    /// Whether this token is the one `stored` was made from (constant time).
    #[must_use]
    pub fn verify(&self, stored: &ApiKeyHash) -> bool {
        self.hash().0.ct_eq(&stored.0).into()
    }
}

impl ExposeSecret<str> for ApiKeyToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match split(self.0.expose_secret()) {
            Some((id, _, _)) => write!(f, "ApiKeyToken({PREFIX}{id}_***)"),
            None => f.write_str("ApiKeyToken(***)"),
        }
    }
}

impl ApiKeyId {
    /// An id as it appears in a URL or the database; `None` unless it has the shape Souk
    /// issues.
    #[must_use]
    pub fn parse(id: &str) -> Option<Self> {
        (id.len() == ID_LEN && is_base62(id)).then(|| Self(id.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id, secret and checksum of a token of the right length and prefix.
fn split(token: &str) -> Option<(&str, &str, &str)> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let rest = token.strip_prefix(PREFIX)?;
    let (id, rest) = (rest.get(..ID_LEN)?, rest.get(ID_LEN..)?);
    let rest = rest.strip_prefix('_')?;
    Some((id, rest.get(..SECRET_LEN)?, rest.get(SECRET_LEN..)?))
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `len` base62 characters, each uniform: bytes of 248 and up are dropped (248 = 4 × 62),
/// so `b % 62` favours no character.
fn random_base62(entropy: &dyn Entropy, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut pool = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        entropy.fill(&mut pool[..]);
        for &b in pool.iter().filter(|&&b| b < 248) {
            if let Some(&c) = BASE62.get(usize::from(b % 62))
                && out.len() < len
            {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// CRC32 (IEEE) of `body`, as exactly `CHECKSUM_LEN` base62 digits, most significant first
/// (62^6 > 2^32, so every value fits).
fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for d in digits.iter_mut().rev() {
        if let Some(&c) = BASE62.get(usize::try_from(n % 62).unwrap_or(0)) {
            *d = c;
        }
        n /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

/// What an API key may do. The string forms are stable: they are stored with each key and
/// appear in the API's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    ListingsRead,
    ListingsWrite,
    OrdersRead,
    OrdersWrite,
    ShopRead,
    PayoutsRead,
    WebhooksManage,
}

impl Scope {
    /// Every scope, in canonical order.
    pub const ALL: [Self; 7] = [
        Self::ListingsRead,
        Self::ListingsWrite,
        Self::OrdersRead,
        Self::OrdersWrite,
        Self::ShopRead,
        Self::PayoutsRead,
        Self::WebhooksManage,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ListingsRead => "listings:read",
            Self::ListingsWrite => "listings:write",
            Self::OrdersRead => "orders:read",
            Self::OrdersWrite => "orders:write",
            Self::ShopRead => "shop:read",
            Self::PayoutsRead => "payouts:read",
            Self::WebhooksManage => "webhooks:manage",
        }
    }

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name Souk does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(String);

impl FromStr for Scope {
    type Err = UnknownScope;

    /// Exact, case-sensitive names only: a near miss such as `Orders:Write` is refused
    /// rather than guessed at, so what is stored is always what was granted.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.chars().take(64).collect()))
    }
}

/// The scopes granted to a key. Each scope stands alone: `listings:write` does not imply
/// `listings:read`, so a key holds exactly what its owner ticked and `allows` is a plain
/// membership test that is easy to audit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const EMPTY: Self = Self(0);

    #[must_use]
    pub const fn allows(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    #[must_use]
    pub const fn with(self, scope: Scope) -> Self {
        Self(self.0 | scope.bit())
    }

    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes held, in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.allows(*s))
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        iter.into_iter().fold(Self::EMPTY, Self::with)
    }
}

impl FromStr for Scopes {
    type Err = UnknownScope;

    /// Space-separated scope names (OAuth's `scope` syntax); any unknown name refuses the
    /// whole set.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split_ascii_whitespace().map(str::parse).collect()
    }
}

impl fmt::Display for Scopes {
    /// Space-separated, in canonical order: the stored form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape_and_parse_back() {
        let (token, id, hash) = ApiKeyToken::generate(&OsEntropy::new());
        let t = token.expose_secret();
        assert_eq!(t.len(), TOKEN_LEN);
        assert_eq!(TOKEN_LEN, 70);
        assert!(t.starts_with(&format!("{PREFIX}{id}_")));
        assert!(t.bytes().skip(PREFIX.len()).all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        assert_eq!(t.matches('_').count(), 3);
        let (parsed_id, parsed) = ApiKeyToken::parse(t).unwrap();
        assert_eq!(parsed_id, id);
        assert_eq!(parsed.id(), Some(id.clone()));
        assert_eq!(parsed.hash(), hash);
        assert!(parsed.verify(&hash));
        assert_eq!(ApiKeyId::parse(id.as_str()), Some(id));
        // The hash is SHA-256 of the token text, so it can be recomputed anywhere.
        let d = digest::digest(&digest::SHA256, t.as_bytes());
        assert_eq!(&hash.0[..], d.as_ref());
    }

    #[test]
    fn tokens_are_unique_and_the_secret_carries_256_bits() {
        let e = OsEntropy::new();
        let mut seen = HashSet::new();
        let mut ids = HashSet::new();
        for _ in 0..500 {
            let (token, id, hash) = ApiKeyToken::generate(&e);
            assert!(seen.insert(hash), "{token:?}");
            assert!(ids.insert(id));
        }
        // 43 base62 characters hold at least 256 bits.
        assert!(f64::from(u32::try_from(SECRET_LEN).unwrap()) * 62f64.log2() >= 256.0);
        let same = |seed| ApiKeyToken::generate(&SeededEntropy::new(seed)).2;
        assert_eq!(same(1), same(1), "deterministic under a seeded source");
        assert_ne!(same(1), same(2));
    }

    #[test]
    fn any_single_changed_character_fails_the_checksum() {
        let (token, _, _) = ApiKeyToken::generate(&SeededEntropy::new(7));
        let t = token.expose_secret();
        for (i, original) in t.char_indices().skip(PREFIX.len()) {
            for replacement in ['0', 'z', 'Q', '_'] {
                if replacement == original {
                    continue;
                }
                let mut bad = t.to_owned();
                bad.replace_range(i..=i, &replacement.to_string());
                assert!(ApiKeyToken::parse(&bad).is_none(), "{bad}");
            }
        }
        // Swapping two adjacent different characters is caught too.
        let mut bytes = t.as_bytes().to_vec();
        let i = (PREFIX.len() + ID_LEN + 1..TOKEN_LEN - 1).find(|&i| bytes[i] != bytes[i + 1]).unwrap();
        bytes.swap(i, i + 1);
        assert!(ApiKeyToken::parse(std::str::from_utf8(&bytes).unwrap()).is_none());
    }

    #[test]
    fn wrong_prefix_length_or_charset_is_refused_before_any_lookup() {
        let (token, _, _) = ApiKeyToken::generate(&SeededEntropy::new(8));
        let t = token.expose_secret();
        let rest = &t[PREFIX.len()..];
        // A well-formed checksum over a wrong prefix is still refused.
        let with_prefix = |prefix: &str| {
            let body = format!("{prefix}{}", &rest[..rest.len() - CHECKSUM_LEN]);
            let sum = checksum(&body);
            format!("{body}{sum}")
        };
        assert!(ApiKeyToken::parse(&with_prefix(PREFIX)).is_some(), "the helper is sound");
        for prefix in ["souk_pk_", "SOUK_SK_", "ghp_sk__", "souk-sk_", "xoxb_sk_"] {
            assert!(ApiKeyToken::parse(&with_prefix(prefix)).is_none(), "{prefix}");
        }
        for bad in [
            String::new(),
            PREFIX.to_owned(),
            t[..TOKEN_LEN - 1].to_owned(),
            format!("{t}0"),
            format!(" {}", &t[1..]),
            format!("Bearer {t}"),
            t.replacen('_', "-", 3),
            format!("{}é{}", &t[..30], &t[32..]),
            format!("{}-{}", &t[..30], &t[31..]),
            format!("{}{}", &t[..PREFIX.len() + ID_LEN], &t[PREFIX.len() + ID_LEN + 1..]) + "0",
        ] {
            assert!(ApiKeyToken::parse(&bad).is_none(), "{bad:?}");
        }
        assert!(ApiKeyId::parse("short").is_none());
        assert!(ApiKeyId::parse("abcdefghijk!").is_none());
        assert!(ApiKeyId::parse("abcdefghijkl").is_some());
    }

    #[test]
    fn another_token_with_the_same_id_does_not_verify() {
        let (a, id, hash) = ApiKeyToken::generate(&SeededEntropy::new(9));
        // An attacker who knows the public id forges a well-formed token around it.
        let forged_body = format!("{PREFIX}{id}_{}", "A".repeat(SECRET_LEN));
        let forged = format!("{forged_body}{}", checksum(&forged_body));
        let (forged_id, forged) = ApiKeyToken::parse(&forged).unwrap();
        assert_eq!(forged_id, id);
        assert!(!forged.verify(&hash));
        assert!(a.verify(&hash));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let (token, id, _) = ApiKeyToken::generate(&OsEntropy::new());
        let debug = format!("{token:?}");
        let secret = &token.expose_secret()[PREFIX.len() + ID_LEN + 1..];
        assert_eq!(debug, format!("ApiKeyToken({PREFIX}{id}_***)"));
        assert!(!debug.contains(&secret[..8]));
        assert!(!format!("{:?}", token.hash()).contains(&secret[..8]));
    }

    #[test]
    fn checksum_is_crc32_in_six_base62_digits() {
        // CRC32("") = 0; CRC32("123456789") = 0xCBF43926, the standard check value,
        // which is 3jZRME in base62 (computed independently).
        assert_eq!(checksum(""), "000000");
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum("123456789"), "3jZRME");
        assert_eq!(checksum("souk"), checksum("souk"));
        assert_ne!(checksum("souk"), checksum("Souk"));
    }

    #[test]
    fn scopes_have_stable_names_and_refuse_unknown_ones() {
        let names = [
            "listings:read",
            "listings:write",
            "orders:read",
            "orders:write",
            "shop:read",
            "payouts:read",
            "webhooks:manage",
        ];
        for (scope, name) in Scope::ALL.into_iter().zip(names) {
            assert_eq!(scope.as_str(), name);
            assert_eq!(scope.to_string(), name);
            assert_eq!(name.parse::<Scope>(), Ok(scope));
        }
        for bad in ["", "listings", "Listings:read", "listings:read ", "orders:*", "admin", "shop:write"] {
            assert!(bad.parse::<Scope>().is_err(), "{bad:?}");
        }
        let long = "x".repeat(10_000);
        assert_eq!(long.parse::<Scope>().unwrap_err().0.len(), 64, "errors do not echo unbounded input");
    }

    #[test]
    fn a_scope_set_allows_exactly_its_members() {
        let s: Scopes = "orders:read  listings:write\torders:read".parse().unwrap();
        assert!(s.allows(Scope::OrdersRead) && s.allows(Scope::ListingsWrite));
        assert!(!s.allows(Scope::ListingsRead), "write does not imply read");
        assert!(!s.allows(Scope::OrdersWrite) && !s.allows(Scope::PayoutsRead));
        assert_eq!(s.to_string(), "listings:write orders:read", "canonical order, no duplicates");
        assert_eq!(s.to_string().parse::<Scopes>(), Ok(s));
        assert_eq!(format!("{s:?}"), "{ListingsWrite, OrdersRead}");
        assert!("orders:read admin".parse::<Scopes>().is_err(), "one unknown name refuses all");
        let empty: Scopes = "".parse().unwrap();
        assert!(empty.is_empty() && Scope::ALL.iter().all(|&x| !empty.allows(x)));
        let all: Scopes = Scope::ALL.into_iter().collect();
        assert!(Scope::ALL.iter().all(|&x| all.allows(x)));
        assert_eq!(all.iter().count(), 7);
        for scope in Scope::ALL {
            let one = Scopes::EMPTY.with(scope);
            assert_eq!(one.iter().collect::<Vec<_>>(), vec![scope], "bits do not overlap");
        }
    }
}
