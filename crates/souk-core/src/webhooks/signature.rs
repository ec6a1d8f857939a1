//! The `Souk-Signature` header: HMAC-SHA256 over `"{timestamp}.{body}"` with the endpoint's
//! secret, sent as `t=<unix seconds>,v1=<hex>`. Receivers recompute it, compare in constant
//! time and refuse timestamps more than the tolerance away from their clock, so a captured
//! delivery cannot be replayed later. During a secret rotation the header carries one `v1`
//! per active secret, and a receiver accepts any of them.

use ring::hmac;

/// How far a delivery's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Souk-Signature header is malformed")]
    Malformed,
    #[error("the delivery is {0} seconds away from now, beyond the tolerance")]
    Stale(i64),
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    ctx.sign()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

/// The header value for a delivery of `body` at `timestamp`, signed with every secret given
/// (normally one; two while rotating).
pub fn sign(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex(mac(secret, timestamp, body).as_ref()));
    }
    header
}

/// Checks a received header against the body and the receiver's clock (`now`, unix seconds).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", sig)) => candidates.push(unhex(sig).ok_or(SignatureError::Malformed)?),
            // Unknown schemes are ignored, so that a later scheme can be added beside v1.
            Some(_) => {}
            None => return Err(SignatureError::Malformed),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let skew = now.saturating_sub(timestamp);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale(skew));
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = timestamp.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    // ring's verify compares in constant time.
    if candidates.iter().any(|c| hmac::verify(&key, &signed, c).is_ok()) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret";
    const BODY: &[u8] = br#"{"type":"order.paid","order":"o_1"}"#;

    #[test]
    fn known_answer() {
        // HMAC-SHA256(key="key", "1700000000.body"), computed independently with Python's hmac.
        assert_eq!(
            sign(&[b"key"], 1_700_000_000, b"body"),
            "t=1700000000,v1=47b6ce0fca59474308e2921c247cb2493dce6b8101d90ac05bd0c6a37d0e046e"
        );
    }

    #[test]
    fn a_signed_delivery_verifies_within_the_tolerance_only() {
        let header = sign(&[SECRET], 1_000, BODY);
        assert_eq!(verify(SECRET, &header, BODY, 1_000), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, 1_300), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, 700), Ok(()));
        assert_eq!(verify(SECRET, &header, BODY, 1_301), Err(SignatureError::Stale(301)));
        assert_eq!(verify(SECRET, &header, BODY, 699), Err(SignatureError::Stale(-301)));
    }

    #[test]
    fn any_change_is_refused() {
        let header = sign(&[SECRET], 1_000, BODY);
        assert_eq!(verify(b"other secret", &header, BODY, 1_000), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(SECRET, &header, br#"{"type":"order.paid","order":"o_2"}"#, 1_000),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp to dodge the tolerance breaks the signature.
        let moved = header.replace("t=1000", "t=5000");
        assert_eq!(verify(SECRET, &moved, BODY, 5_000), Err(SignatureError::Mismatch));
        for i in 0..BODY.len() {
            let mut body = BODY.to_vec();
            body[i] ^= 1;
            assert_eq!(verify(SECRET, &header, &body, 1_000), Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn rotation_signs_with_both_secrets() {
        let header = sign(&[b"old", b"new"], 10, BODY);
        assert_eq!(header.matches(",v1=").count(), 2);
        assert_eq!(verify(b"old", &header, BODY, 10), Ok(()));
        assert_eq!(verify(b"new", &header, BODY, 10), Ok(()));
        assert_eq!(verify(b"neither", &header, BODY, 10), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "t=1,v1=0", "garbage", "t=1,v1=é0"] {
            assert_eq!(verify(SECRET, header, BODY, 1), Err(SignatureError::Malformed), "{header:?}");
        }
        assert_eq!(verify(SECRET, "t=1,v0=ab,v1=00", BODY, 1), Err(SignatureError::Mismatch));
    }
}
