//! Server-side sessions: what the browser holds (a 256-bit random token in a `__Host-`
//! cookie), what the server stores (only the token's SHA-256, so a database leak yields no
//! usable session), and when a session ends (idle and absolute timeouts) or is fresh enough
//! for a sensitive action (step-up). Time comes from the caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use secrecy::{ExposeSecret as _, SecretString};
use souk_domain::{Entropy, Timestamp};

/// The session cookie's name. `__Host-` makes the browser refuse it unless it is `Secure`,
/// has `Path=/` and no `Domain`, so no subdomain can set or read it.
pub const COOKIE: &str = "__Host-souk_session";

/// A session token as the browser holds it.
#[derive(Debug, Clone)]
pub struct SessionToken(SecretString);

/// What the server stores to find a session: SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionKey(pub [u8; 32]);

impl SessionToken {
    /// A fresh token: 256 bits from the entropy source.
    #[must_use]
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut raw = zeroize::Zeroizing::new([0u8; 32]);
        entropy.fill(&mut raw[..]);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(&raw[..])))
    }

    /// A token received in a cookie; `None` unless it has the shape Souk issues.
    #[must_use]
    pub fn from_cookie(value: &str) -> Option<Self> {
        let ok =
            value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(SecretString::from(value.to_owned())))
    }

    /// The token itself, to hand to its holder (a cookie, a link in a mail).
    #[must_use]
    pub fn expose(&self) -> &SecretString {
        &self.0
    }

    #[must_use]
    pub fn key(&self) -> SessionKey {
        let d = digest::digest(&digest::SHA256, self.0.expose_secret().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        SessionKey(out)
    }

    /// The `Set-Cookie` value that hands this token to the browser.
    #[must_use]
    pub fn set_cookie(&self, same_site: SameSite, max_age_secs: i64) -> String {
        format!(
            "{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite={}; Max-Age={max_age_secs}",
            self.0.expose_secret(),
            same_site.as_str()
        )
    }
}

/// The `Set-Cookie` value that removes the session cookie.
#[must_use]
pub fn clear_cookie(same_site: SameSite) -> String {
    format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite={}; Max-Age=0", same_site.as_str())
}

/// The cookie's `SameSite`: `Lax` for buyers and sellers (links from mail keep working),
/// `Strict` for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
}

impl SameSite {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
        }
    }
}

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends a session nobody used for this long.
    pub idle_secs: i64,
    /// Ends every session this long after sign-in, used or not.
    pub absolute_secs: i64,
    /// A sensitive action needs an authentication at most this old (step-up).
    pub step_up_secs: i64,
}

impl SessionPolicy {
    /// Buyers and sellers: 30 minutes idle, 7 days absolute.
    pub const MEMBER: Self = Self { idle_secs: 30 * 60, absolute_secs: 7 * 86_400, step_up_secs: 5 * 60 };
    /// Staff: 15 minutes idle, 8 hours absolute.
    pub const STAFF: Self = Self { idle_secs: 15 * 60, absolute_secs: 8 * 3_600, step_up_secs: 5 * 60 };
}

/// The times that decide a session's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The last time the user proved who they are (sign-in or re-authentication).
    pub authenticated_at: Timestamp,
}

/// Whether a session may still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Live,
    IdleExpired,
    AbsoluteExpired,
}

const MICROS: i64 = 1_000_000;

impl SessionPolicy {
    #[must_use]
    pub fn liveness(&self, t: &SessionTimes, now: Timestamp) -> Liveness {
        if now.as_micros() >= t.created_at.as_micros().saturating_add(self.absolute_secs * MICROS) {
            Liveness::AbsoluteExpired
        } else if now.as_micros() >= t.last_seen_at.as_micros().saturating_add(self.idle_secs * MICROS) {
            Liveness::IdleExpired
        } else {
            Liveness::Live
        }
    }

    /// Whether a sensitive action may proceed without asking the user to authenticate again.
    #[must_use]
    pub fn recently_authenticated(&self, t: &SessionTimes, now: Timestamp) -> bool {
        let age = now.as_micros().saturating_sub(t.authenticated_at.as_micros());
        (0..self.step_up_secs * MICROS).contains(&age)
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * MICROS)
    }

    #[test]
    fn tokens_are_random_well_formed_and_stored_only_as_hashes() {
        let e = OsEntropy::new();
        let (a, b) = (SessionToken::generate(&e), SessionToken::generate(&e));
        assert_ne!(a.key(), b.key());
        let cookie = a.set_cookie(SameSite::Lax, 3600);
        let value = cookie.split(';').next().unwrap().strip_prefix("__Host-souk_session=").unwrap();
        assert_eq!(SessionToken::from_cookie(value).unwrap().key(), a.key());
        assert!(format!("{a:?}").contains("REDACTED") || !format!("{a:?}").contains(value));
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{}=", &value[..42]),
            "../../etc/passwd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(SessionToken::from_cookie(bad).is_none(), "{bad:?}");
        }
        assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(clear_cookie(SameSite::Strict).contains("Max-Age=0"));
        let fixed = SessionToken::generate(&SeededEntropy::new(1)).key();
        assert_eq!(
            fixed,
            SessionToken::generate(&SeededEntropy::new(1)).key(),
            "deterministic under a seeded source"
        );
    }

    #[test]
    fn idle_and_absolute_timeouts_and_step_up_window() {
        let p = SessionPolicy::STAFF;
        let t = SessionTimes { created_at: at(0), last_seen_at: at(0), authenticated_at: at(0) };
        assert_eq!(p.liveness(&t, at(899)), Liveness::Live);
        assert_eq!(p.liveness(&t, at(900)), Liveness::IdleExpired);
        let busy = SessionTimes { last_seen_at: at(8 * 3600 - 10), ..t };
        assert_eq!(p.liveness(&busy, at(8 * 3600 - 1)), Liveness::Live);
        assert_eq!(
            p.liveness(&busy, at(8 * 3600)),
            Liveness::AbsoluteExpired,
            "activity never extends past the absolute limit"
        );
        assert!(p.recently_authenticated(&t, at(299)));
        assert!(!p.recently_authenticated(&t, at(300)));
        assert!(!p.recently_authenticated(&t, at(-1)), "a clock running backwards proves nothing");
    }
}
