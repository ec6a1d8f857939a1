//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! The policy follows NIST SP 800-63B rev 4: length, not composition rules; at least 15
//! characters when the password is the only factor and 8 with MFA; at least 64 allowed; no
//! forced periodic change; screening against passwords seen in breaches (offline, compiled
//! in, see `breached`) and against guessable choices (zxcvbn, with the user's own details as
//! context, and its feedback shown to the user). Passwords are normalized with
//! NFKC first, so the same password typed on different keyboards matches.
//!
//! Hashing is argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane) or stronger, an
//! optional pepper (argon2's secret input, from the key hierarchy), a fresh 128-bit salt,
//! and a rehash on login when the parameters have risen.

use argon2::password_hash::{PasswordHash as Phc, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret as _, SecretString};
use souk_domain::Entropy;
use unicode_normalization::UnicodeNormalization as _;
use zeroize::Zeroizing;

/// What a new password must satisfy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length (characters) when the password is the only factor.
    pub min_single_factor: usize,
    /// Minimum length when the account has another factor (passkey or TOTP).
    pub min_with_mfa: usize,
    /// Maximum length; NIST asks that at least 64 be allowed. Bounds hashing work.
    pub max: usize,
    /// Lowest acceptable zxcvbn score (0 to 4).
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_single_factor: 15, min_with_mfa: 8, max: 128, min_score: 3 }
    }
}

/// Why a password was refused, with what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("use at least {min} characters")]
    TooShort { min: usize },
    #[error("use at most {max} characters")]
    TooLong { max: usize },
    #[error("this password is too easy to guess")]
    Guessable { score: u8, warning: Option<String>, suggestions: Vec<String> },
    #[error("this password has appeared in data breaches; choose another")]
    Breached,
}

/// How strong an accepted password is, for the security centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strength {
    pub score: u8,
    pub suggestions: Vec<String>,
}

fn normalize(password: &str) -> Zeroizing<String> {
    Zeroizing::new(password.nfkc().collect())
}

impl PasswordPolicy {
    /// Checks a new password. `context` holds the user's own details (email, handle, name),
    /// which make a password guessable when it contains them.
    pub fn check(
        &self,
        password: &SecretString,
        has_mfa: bool,
        context: &[&str],
    ) -> Result<Strength, Rejection> {
        let normalized = normalize(password.expose_secret());
        let chars = normalized.chars().count();
        let min = if has_mfa { self.min_with_mfa } else { self.min_single_factor };
        if chars < min {
            return Err(Rejection::TooShort { min });
        }
        if chars > self.max.max(64) {
            return Err(Rejection::TooLong { max: self.max.max(64) });
        }
        if crate::breached::is_breached(&normalized) {
            return Err(Rejection::Breached);
        }
        let estimate = zxcvbn::zxcvbn(&normalized, context);
        let score = u8::from(estimate.score());
        let suggestions: Vec<String> = estimate
            .feedback()
            .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        if score < self.min_score {
            let warning =
                estimate.feedback().and_then(zxcvbn::feedback::Feedback::warning).map(|w| w.to_string());
            return Err(Rejection::Guessable { score, warning, suggestions });
        }
        Ok(Strength { score, suggestions })
    }
}

/// A stored password hash (PHC string format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    #[must_use]
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The outcome of checking a password against a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    /// Correct; `rehash` means the stored hash uses weaker parameters than today's.
    Yes {
        rehash: bool,
    },
}

/// Hashing failed (never because of the password's content).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords with argon2id.
pub struct PasswordHasher {
    params: Params,
    pepper: Option<Zeroizing<Vec<u8>>>,
    /// A hash of a random password, verified against when an account does not exist, so
    /// the answer takes the same time either way (no user enumeration by timing).
    decoy: PasswordHash,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("pepper", &self.pepper.is_some())
            .finish_non_exhaustive()
    }
}

/// OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
pub fn owasp_params() -> Params {
    Params::new(19_456, 2, 1, None).unwrap_or_default()
}

impl PasswordHasher {
    pub fn new(params: Params, pepper: Option<&[u8]>, entropy: &dyn Entropy) -> Result<Self, HashError> {
        let mut hasher = Self {
            params,
            pepper: pepper.map(|p| Zeroizing::new(p.to_vec())),
            decoy: PasswordHash(String::new()),
        };
        let mut random = Zeroizing::new([0u8; 24]);
        entropy.fill(&mut random[..]);
        // Any unguessable value will do: only the time its verification takes matters.
        let decoy_password =
            SecretString::from(random.iter().map(|b| char::from(b'a' + b % 26)).collect::<String>());
        hasher.decoy = hasher.hash(&decoy_password, entropy)?;
        Ok(hasher)
    }

    fn argon(&self) -> Result<Argon2<'_>, HashError> {
        match &self.pepper {
            Some(p) => Argon2::new_with_secret(p, Algorithm::Argon2id, Version::V0x13, self.params.clone())
                .map_err(|e| HashError(e.to_string())),
            None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())),
        }
    }

    /// Hashes a password with a fresh salt.
    pub fn hash(&self, password: &SecretString, entropy: &dyn Entropy) -> Result<PasswordHash, HashError> {
        let mut salt = [0u8; 16];
        entropy.fill(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
        let normalized = normalize(password.expose_secret());
        let phc = self
            .argon()?
            .hash_password(normalized.as_bytes(), &salt)
            .map_err(|e| HashError(e.to_string()))?;
        Ok(PasswordHash(phc.to_string()))
    }

    /// Checks a password. A malformed stored hash is `No`, never a panic.
    pub fn verify(&self, password: &SecretString, stored: &PasswordHash) -> Result<Verified, HashError> {
        let Ok(phc) = Phc::new(&stored.0) else { return Ok(Verified::No) };
        let normalized = normalize(password.expose_secret());
        if self.argon()?.verify_password(normalized.as_bytes(), &phc).is_err() {
            return Ok(Verified::No);
        }
        let weaker =
            |name: &str, now: u32| phc.params.get_decimal(name).is_none_or(|stored_value| stored_value < now);
        let rehash = phc.algorithm.as_str() != "argon2id"
            || weaker("m", self.params.m_cost())
            || weaker("t", self.params.t_cost())
            || weaker("p", self.params.p_cost());
        Ok(Verified::Yes { rehash })
    }

    /// Spends the time of a verification when there is no account to verify against.
    pub fn verify_decoy(&self, password: &SecretString) -> Result<Verified, HashError> {
        self.verify(password, &self.decoy).map(|_| Verified::No)
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    /// Light parameters keep the unit tests fast; the benchmark measures OWASP's.
    fn fast() -> Params {
        Params::new(1024, 1, 1, None).unwrap()
    }

    #[test]
    fn lengths_follow_nist_and_composition_is_not_required() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check(&secret("short but fine"), false, &[]), Err(Rejection::TooShort { min: 15 }));
        assert!(
            p.check(&secret("correct horse battery staple"), false, &[]).is_ok(),
            "no digits or symbols needed"
        );
        assert!(p.check(&secret("Vx7#mQ2!rT"), true, &[]).is_ok(), "8+ is enough with MFA");
        assert_eq!(p.check(&secret(&"a".repeat(129)), false, &[]), Err(Rejection::TooLong { max: 128 }));
        let sixty_four = "purple elephants juggle tangerines above quiet mountain lakes ok";
        assert_eq!(sixty_four.chars().count(), 64);
        assert!(p.check(&secret(sixty_four), false, &[]).is_ok(), "64 characters are allowed");
    }

    #[test]
    fn breached_passwords_are_refused_whatever_their_case() {
        let p = PasswordPolicy::default();
        for pw in ["momsanaladventure", "1qaz2wsx3edc4rfv", "MomsAnalAdventure", "123456789987654321"] {
            assert_eq!(p.check(&secret(pw), false, &[]), Err(Rejection::Breached), "{pw}");
        }
        // Short breached passwords are refused for length first, as NIST orders the checks.
        assert_eq!(p.check(&secret("password"), true, &[]), Err(Rejection::Breached));
    }

    #[test]
    fn guessable_passwords_are_refused_with_feedback() {
        let p = PasswordPolicy::default();
        match p.check(&secret("passwordpassword1"), false, &[]) {
            Err(Rejection::Guessable { score, .. }) => assert!(score < 3),
            other => panic!("{other:?}"),
        }
        // The user's own details count against a password built from them: it scores lower,
        // and a strict policy (Kanidm's 4 of 4) refuses it.
        let mine = secret("amina.kabbaj.fes.2026");
        let context = ["amina.kabbaj", "fes"];
        let without = p.check(&mine, false, &[]).unwrap().score;
        let with = p.check(&mine, false, &context).unwrap().score;
        assert!(with < without, "{with} < {without}");
        let strict = PasswordPolicy { min_score: 4, ..p };
        assert!(strict.check(&mine, false, &[]).is_ok());
        assert!(matches!(strict.check(&mine, false, &context), Err(Rejection::Guessable { score: 3, .. })));
    }

    #[test]
    fn hashes_verify_and_record_their_parameters() {
        let e = OsEntropy::new();
        let h = PasswordHasher::new(fast(), Some(b"pepper-from-key-hierarchy"), &e).unwrap();
        let stored = h.hash(&secret("correct horse battery staple"), &e).unwrap();
        assert!(stored.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify(&secret("correct horse battery staple"), &stored).unwrap(),
            Verified::Yes { rehash: false }
        );
        assert_eq!(h.verify(&secret("correct horse battery stapl"), &stored).unwrap(), Verified::No);
        assert_eq!(
            h.verify(&secret("x"), &PasswordHash::from_stored("garbage".into())).unwrap(),
            Verified::No
        );
        // Two hashes of one password differ (salted).
        assert_ne!(h.hash(&secret("same"), &e).unwrap(), h.hash(&secret("same"), &e).unwrap());
        // The same password under another pepper does not verify.
        let other = PasswordHasher::new(fast(), Some(b"another pepper"), &e).unwrap();
        assert_eq!(other.verify(&secret("correct horse battery staple"), &stored).unwrap(), Verified::No);
        assert_eq!(h.verify_decoy(&secret("anything")).unwrap(), Verified::No);
    }

    #[test]
    fn weaker_stored_parameters_ask_for_a_rehash() {
        let e = SeededEntropy::new(4);
        let old = PasswordHasher::new(fast(), None, &e).unwrap();
        let stored = old.hash(&secret("correct horse battery staple"), &e).unwrap();
        let stronger = PasswordHasher::new(Params::new(2048, 2, 1, None).unwrap(), None, &e).unwrap();
        assert_eq!(
            stronger.verify(&secret("correct horse battery staple"), &stored).unwrap(),
            Verified::Yes { rehash: true }
        );
    }

    #[test]
    fn normalization_makes_equivalent_input_match() {
        let e = OsEntropy::new();
        let h = PasswordHasher::new(fast(), None, &e).unwrap();
        // "é" precomposed vs "e" + combining acute accent.
        let stored = h.hash(&secret("caf\u{e9} au lait tous les matins"), &e).unwrap();
        assert_eq!(
            h.verify(&secret("cafe\u{301} au lait tous les matins"), &stored).unwrap(),
            Verified::Yes { rehash: false }
        );
    }
}
