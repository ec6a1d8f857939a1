//! Cross-site request forgery protection for cookie-authenticated requests: every
//! state-changing request must carry a token bound to the session (HMAC of the session key
//! under a server key, compared in constant time) and, when the browser sends one, an
//! `Origin` equal to Souk's own.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use crate::session::SessionKey;

/// Issues and checks CSRF tokens.
pub struct CsrfKey(hmac::Key);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(***)")
    }
}

impl CsrfKey {
    /// From 32 bytes of key material (a system key of the key hierarchy).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// The token for forms and `X-CSRF-Token` headers of this session.
    #[must_use]
    pub fn token(&self, session: &SessionKey) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, &session.0).as_ref())
    }

    /// Whether `token` belongs to `session` (constant time).
    #[must_use]
    pub fn verify(&self, session: &SessionKey, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => hmac::verify(&self.0, &session.0, &tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// Whether a request's `Origin` (or, failing that, `Referer`) allows a state change.
/// Browsers send `Origin` on cross-origin and POST requests; a missing one is accepted only
/// when the `Referer` is absent too (privacy tools strip both), since the token still holds.
#[must_use]
pub fn origin_allowed(origin: Option<&str>, referer: Option<&str>, public_origin: &str) -> bool {
    match (origin, referer) {
        (Some("null"), _) => false,
        (Some(o), _) => o == public_origin,
        (None, Some(r)) => {
            r == public_origin || r.strip_prefix(public_origin).is_some_and(|rest| rest.starts_with('/'))
        }
        (None, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::OsEntropy;

    use super::*;
    use crate::session::SessionToken;

    #[test]
    fn tokens_bind_to_their_session_and_key() {
        let e = OsEntropy::new();
        let key = CsrfKey::new(&[7u8; 32]);
        let (a, b) = (SessionToken::generate(&e).key(), SessionToken::generate(&e).key());
        let t = key.token(&a);
        assert!(key.verify(&a, &t));
        assert!(!key.verify(&b, &t), "another session's token");
        assert!(!CsrfKey::new(&[8u8; 32]).verify(&a, &t), "another server key");
        for bad in ["", "!!", &t[..t.len() - 1], &format!("{t}A")] {
            assert!(!key.verify(&a, bad), "{bad:?}");
        }
    }

    #[test]
    fn only_our_origin_may_change_state() {
        let me = "https://localhost:8443";
        assert!(origin_allowed(Some(me), None, me));
        assert!(!origin_allowed(Some("https://evil.example"), Some("https://localhost:8443/x"), me));
        assert!(!origin_allowed(Some("null"), None, me), "sandboxed frames and file: pages");
        assert!(!origin_allowed(Some("https://localhost:8443.evil.example"), None, me));
        assert!(origin_allowed(None, Some("https://localhost:8443/cart"), me));
        assert!(!origin_allowed(None, Some("https://localhost:8443.evil.example/cart"), me));
        assert!(!origin_allowed(None, Some("https://evil.example/"), me));
        assert!(origin_allowed(None, None, me));
    }
}
