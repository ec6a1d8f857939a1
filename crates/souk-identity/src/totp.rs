//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits), the
//! second factor any authenticator app offers: the shared secret and how it is shown
//! (base32, an `otpauth://` URL and its QR code), code verification with replay protection,
//! and the per-step attempt limit.
//!
//! SHA-1 here is the algorithm every authenticator app implements, and its use inside HMAC
//! is not affected by SHA-1's collision attacks. Time comes from the caller as a
//! `Timestamp`; the caller stores the secret sealed at rest (`as_bytes`), the last accepted
//! step, and the `TotpGuard`.

use data_encoding::BASE32_NOPAD;
use ring::hmac;
use secrecy::SecretString;
use souk_domain::{Entropy, Timestamp};
use subtle::{Choice, ConstantTimeEq as _};
use zeroize::Zeroizing;

/// Length of a step in seconds (RFC 6238's default, the only one apps reliably support).
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: u32 = 6;
/// Length of a secret: 160 bits, RFC 4226's recommendation and HMAC-SHA1's block-sized key.
pub const SECRET_LEN: usize = 20;
/// Failed codes allowed within one step before TOTP is locked for the rest of that step.
pub const MAX_FAILURES_PER_STEP: u32 = 3;

const STEP_MICROS: i64 = STEP_SECS * 1_000_000;

/// A TOTP shared secret. Zeroized on drop; `Debug` never shows it.
pub struct TotpSecret(Zeroizing<[u8; SECRET_LEN]>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

impl TotpSecret {
    /// A fresh secret: 160 bits from the entropy source.
    #[must_use]
    pub fn generate(entropy: &dyn Entropy) -> Self {
        let mut raw = Zeroizing::new([0u8; SECRET_LEN]);
        entropy.fill(&mut raw[..]);
        Self(raw)
    }

    /// A secret unsealed from storage; `None` unless it is exactly `SECRET_LEN` bytes.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let raw: [u8; SECRET_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(raw)))
    }

    /// The raw secret, to be sealed before it is stored.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// The secret in base32 (RFC 4648, no padding), for typing into an app by hand.
    #[must_use]
    pub fn to_base32(&self) -> SecretString {
        SecretString::from(BASE32_NOPAD.encode(&self.0[..]))
    }

    /// A secret typed or pasted in base32 (case and spaces ignored); `None` unless it is
    /// exactly 20 bytes.
    #[must_use]
    pub fn from_base32(text: &str) -> Option<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect(),
        );
        let bytes = Zeroizing::new(BASE32_NOPAD.decode(cleaned.as_bytes()).ok()?);
        Self::from_bytes(&bytes)
    }

    /// The code an authenticator app shows at `now` (what a user would type): for tools and
    /// tests that play the user's part.
    #[must_use]
    pub fn code_at(&self, now: Timestamp) -> Option<String> {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0[..]);
        let code = hotp(&key, step_at(now)?, DIGITS)?;
        Some(format!("{code:06}"))
    }

    /// The `otpauth://` URL an authenticator app scans. It contains the secret, hence the
    /// `SecretString`: show it once (as a QR code) and never log it.
    ///
    /// The label is `issuer:account`, and the issuer is repeated as a parameter because
    /// apps differ in which one they read. Both are percent-encoded, a `:` inside either
    /// included, so an account label cannot smuggle in another issuer or parameter.
    #[must_use]
    pub fn otpauth_url(&self, issuer: &str, account_label: &str) -> SecretString {
        let secret = Zeroizing::new(BASE32_NOPAD.encode(&self.0[..]));
        let (issuer, account) = (percent_encode(issuer), percent_encode(account_label));
        SecretString::from(format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            secret.as_str()
        ))
    }

    /// Checks a code typed by the user at `now`. Accepts the codes of the current step and
    /// of one step either side (clock drift between phone and server), and returns the step
    /// that matched, which the caller must store as the next `last_used_step`.
    ///
    /// # SECURITY:
    /// - A code is accepted once only: any step at or before `last_used_step` is refused,
    ///   so a code seen over a shoulder or phished in real time cannot be replayed.
    /// - All three candidates are computed and compared in constant time, so timing tells
    ///   neither which digits were right nor which step matched.
    /// - Input that is not exactly six ASCII digits is refused before any comparison.
    /// - The caller checks `TotpGuard::allowed` first and records failures: three guesses
    ///   per step against three valid codes is what keeps guessing impractical.
    #[must_use]
    pub fn verify(&self, code: &str, now: Timestamp, last_used_step: Option<u64>) -> Option<u64> {
        let given = parse_code(code)?;
        let current = step_at(now)?;
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0[..]);
        let mut matched: Option<u64> = None;
        for step in [current.checked_sub(1), Some(current), current.checked_add(1)].into_iter().flatten() {
            let Some(expected) = hotp(&key, step, DIGITS) else { continue };
            let fresh = Choice::from(u8::from(last_used_step.is_none_or(|last| step > last)));
            // Later candidates win, so a collision between two steps burns the later one.
            if bool::from(expected.ct_eq(&given) & fresh) {
                matched = Some(step);
            }
        }
        matched
    }
}

/// The step (RFC 6238's `T`) that contains `now`; `None` before the Unix epoch.
#[must_use]
pub fn step_at(now: Timestamp) -> Option<u64> {
    u64::try_from(now.as_micros().div_euclid(STEP_MICROS)).ok()
}

/// A code as typed: exactly `DIGITS` ASCII digits (no signs, spaces or other scripts'
/// digits, which `str::parse` or `char::is_numeric` would let through).
fn parse_code(code: &str) -> Option<u32> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    code.parse().ok()
}

/// RFC 4226 HOTP: HMAC-SHA1 of the big-endian counter, dynamic truncation, then the last
/// `digits` decimal digits. `None` only if the tag is not SHA-1 sized, which cannot happen
/// with the key above but is not worth a panic.
fn hotp(key: &hmac::Key, counter: u64, digits: u32) -> Option<u32> {
    let tag = hmac::sign(key, &counter.to_be_bytes());
    let tag: &[u8; 20] = tag.as_ref().try_into().ok()?;
    let offset = usize::from(tag.last()? & 0x0f);
    let window: [u8; 4] = tag.get(offset..offset + 4)?.try_into().ok()?;
    let binary = u32::from_be_bytes(window) & 0x7fff_ffff;
    Some(binary % 10u32.checked_pow(digits)?)
}

/// Percent-encodes everything but RFC 3986's unreserved characters. Spaces become `%20`,
/// which every app decodes (`+` is not a space in a URL path).
fn percent_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An SVG QR code for `data` (the `otpauth://` URL), for inline use in a page. Colours are
/// presentation attributes, never `style` attributes, so the page's strict
/// `style-src` policy needs no exception; the XML prolog is dropped so it can be inlined in
/// HTML. `None` if `data` is too long for any QR code.
///
/// # SECURITY: the SVG encodes the secret; serve it only on the enrolment page, with
/// `Cache-Control: no-store`.
#[must_use]
pub fn qr_svg(data: &str) -> Option<String> {
    // Medium error correction: scans from a screen reliably and keeps the code small.
    let code = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    // The prolog ends at the first "?>"; if the crate ever stops emitting one, keep all.
    let body = match svg.find("?>") {
        Some(end) if svg.starts_with("<?xml") => svg.get(end + 2..).unwrap_or(&svg),
        _ => &svg,
    };
    Some(body.to_owned())
}

/// Whether another code may be tried, given the failures already recorded in this step.
#[must_use]
pub const fn totp_attempt_allowed(failures_in_step: u32) -> bool {
    failures_in_step < MAX_FAILURES_PER_STEP
}

/// Failed TOTP codes in the latest step with failures, which the caller persists per
/// account. After `MAX_FAILURES_PER_STEP` failures, TOTP is locked for the rest of that
/// 30-second step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TotpGuard {
    pub step: u64,
    pub failures: u32,
}

impl TotpGuard {
    /// The failures that count at `now`. A guard from an earlier step counts none; a guard
    /// from a later step (the clock went backwards) still counts in full, so moving the
    /// clock back never lifts a lock. A time before the epoch counts as locked.
    fn failures_at(self, now: Timestamp) -> u32 {
        match step_at(now) {
            Some(current) if self.step < current => 0,
            Some(_) => self.failures,
            None => MAX_FAILURES_PER_STEP,
        }
    }

    /// Whether a code may be checked at `now`.
    #[must_use]
    pub fn allowed(self, now: Timestamp) -> bool {
        totp_attempt_allowed(self.failures_at(now))
    }

    /// The guard after a wrong code at `now`.
    #[must_use]
    pub fn record_failure(self, now: Timestamp) -> Self {
        let failures = self.failures_at(now).saturating_add(1);
        let step = step_at(now).unwrap_or(0).max(self.step);
        Self { step, failures }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;
    use souk_domain::OsEntropy;
    use souk_domain::entropy::SeededEntropy;

    use super::*;

    /// RFC 4226 appendix D and RFC 6238 appendix B use this ASCII secret for SHA-1.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn rfc() -> TotpSecret {
        TotpSecret::from_bytes(RFC_SECRET).unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_micros(secs * 1_000_000)
    }

    fn code_at(secret: &TotpSecret, step: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
        format!("{:06}", hotp(&key, step, DIGITS).unwrap())
    }

    #[test]
    fn base32_round_trips_and_codes_verify() {
        let secret = TotpSecret::generate(&souk_domain::entropy::SeededEntropy::new(9));
        let text = secret.to_base32();
        let again = TotpSecret::from_base32(&text.expose_secret().to_lowercase()).unwrap();
        assert_eq!(again.as_bytes(), secret.as_bytes());
        assert!(TotpSecret::from_base32("AAAA").is_none(), "too short");
        assert!(TotpSecret::from_base32("!!!!").is_none());
        let now = Timestamp::from_micros(1_790_000_000_000_000);
        let code = secret.code_at(now).unwrap();
        assert_eq!(code.len(), 6);
        assert!(secret.verify(&code, now, None).is_some());
    }

    #[test]
    fn hotp_matches_rfc_4226_appendix_d() {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, RFC_SECRET);
        let expected =
            [755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871, 520_489];
        for (counter, want) in (0u64..).zip(expected) {
            assert_eq!(hotp(&key, counter, 6), Some(want), "counter {counter}");
        }
    }

    #[test]
    fn totp_matches_rfc_6238_appendix_b_sha1() {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, RFC_SECRET);
        let vectors: [(i64, u32); 6] = [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ];
        for (secs, eight) in vectors {
            let step = step_at(at(secs)).unwrap();
            assert_eq!(hotp(&key, step, 8), Some(eight), "8 digits at {secs}");
            // Six digits are the same truncation modulo 10^6: the last six of the eight.
            let six = format!("{:06}", eight % 1_000_000);
            assert_eq!(rfc().verify(&six, at(secs), None), Some(step), "6 digits at {secs}");
        }
    }

    #[test]
    fn accepts_one_step_of_drift_either_side_and_no_more() {
        let s = TotpSecret::generate(&SeededEntropy::new(3));
        let now = at(1_700_000_000);
        let t = step_at(now).unwrap();
        assert_eq!(s.verify(&code_at(&s, t), now, None), Some(t));
        assert_eq!(s.verify(&code_at(&s, t - 1), now, None), Some(t - 1));
        assert_eq!(s.verify(&code_at(&s, t + 1), now, None), Some(t + 1));
        for far in [t - 2, t + 2, t - 100] {
            let code = code_at(&s, far);
            // Skip the one-in-a-million case where a far code equals a valid one.
            if [t - 1, t, t + 1].iter().all(|&ok| code_at(&s, ok) != code) {
                assert_eq!(s.verify(&code, now, None), None, "step {far}");
            }
        }
        let other = TotpSecret::generate(&SeededEntropy::new(4));
        assert_eq!(other.verify(&code_at(&s, t), now, None), None, "another account's secret");
    }

    #[test]
    fn a_code_is_accepted_only_once() {
        let s = rfc();
        let now = at(59);
        let step = s.verify("287082", now, None).unwrap();
        assert_eq!(s.verify("287082", now, Some(step)), None, "replay within the step");
        assert_eq!(s.verify("287082", at(61), Some(step)), None, "replay in the next step");
        // Having used the code of step t+1 (phone ahead), the older step t is spent too.
        let t = step_at(at(1_700_000_000)).unwrap();
        let used = s.verify(&code_at(&s, t + 1), at(1_700_000_000), None).unwrap();
        assert_eq!(used, t + 1);
        assert_eq!(s.verify(&code_at(&s, t), at(1_700_000_000), Some(used)), None);
        // A new code in a later step still works.
        assert_eq!(s.verify(&code_at(&s, t + 2), at(1_700_000_000 + 30), Some(used)), Some(t + 2));
    }

    #[test]
    fn refuses_anything_but_six_ascii_digits() {
        let s = rfc();
        let now = at(59);
        assert!(s.verify("287082", now, None).is_some());
        for bad in [
            "",
            "28708",
            "2870820",
            " 287082",
            "287082 ",
            "287 082",
            "+87082",
            "-87082",
            "28708a",
            "\u{0662}87082",
            "２87082",
            "94287082",
            "0x1234",
        ] {
            assert_eq!(s.verify(bad, now, None), None, "{bad:?}");
        }
        assert_eq!(s.verify("287082", at(-1), None), None, "before the epoch");
        assert_eq!(s.verify("287082", Timestamp::from_micros(i64::MAX), None), None);
        assert_eq!(s.verify("287082", Timestamp::from_micros(i64::MIN), None), None);
    }

    #[test]
    fn secrets_are_random_redacted_and_round_trip() {
        let e = OsEntropy::new();
        let (a, b) = (TotpSecret::generate(&e), TotpSecret::generate(&e));
        assert_ne!(a.as_bytes(), b.as_bytes());
        let restored = TotpSecret::from_bytes(a.as_bytes()).unwrap();
        assert_eq!(restored.as_bytes(), a.as_bytes());
        assert!(TotpSecret::from_bytes(&[0u8; 19]).is_none());
        assert!(TotpSecret::from_bytes(&[0u8; 21]).is_none());
        let b32 = a.to_base32();
        assert_eq!(b32.expose_secret().len(), 32);
        assert_eq!(BASE32_NOPAD.decode(b32.expose_secret().as_bytes()).unwrap(), a.as_bytes());
        let debug = format!("{a:?}");
        assert!(!debug.contains(b32.expose_secret()) && !debug.contains(&format!("{:?}", a.as_bytes())));
        assert_eq!(rfc().to_base32().expose_secret(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn otpauth_url_is_percent_encoded_and_complete() {
        let url = rfc().otpauth_url("Souk", "alice@example.com");
        assert_eq!(
            url.expose_secret(),
            "otpauth://totp/Souk:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Souk&algorithm=SHA1&digits=6&period=30"
        );
        let tricky = rfc().otpauth_url("Souk Staff", "Evil:bob&issuer=Other?x=1#y /é");
        let url = tricky.expose_secret();
        assert!(
            url.starts_with(
                "otpauth://totp/Souk%20Staff:Evil%3Abob%26issuer%3DOther%3Fx%3D1%23y%20%2F%C3%A9?"
            )
        );
        assert_eq!(url.matches('?').count(), 1);
        assert_eq!(url.matches("issuer=").count(), 1);
        assert_eq!(url.matches(':').count(), 2, "the scheme's and the label separator only");
        assert!(!url.contains(' ') && !url.contains('#'));
    }

    #[test]
    fn qr_svg_is_inline_svg_without_style_attributes() {
        let url = rfc().otpauth_url("Souk", "alice@example.com");
        let svg = qr_svg(url.expose_secret()).unwrap();
        assert!(svg.starts_with("<svg "), "{}", &svg[..40]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
        assert!(!svg.to_ascii_lowercase().contains("style"), "no style attribute or element");
        assert!(!svg.to_ascii_lowercase().contains("script"));
        assert!(svg.contains(r##"fill="#000""##) && svg.contains(r##"fill="#fff""##));
        assert_eq!(svg, qr_svg(url.expose_secret()).unwrap(), "deterministic");
        assert_ne!(svg, qr_svg("otpauth://totp/other").unwrap());
        assert!(qr_svg(&"a".repeat(8000)).is_none(), "too long for any QR code");
    }

    /// Rasterizes the SVG (its background and the dark path's `M l t h w v h H l V t`
    /// rectangles) and reads it back with an independent QR decoder.
    fn scan(svg: &str) -> String {
        let number = |s: &str, key: &str| -> usize {
            let rest = &s[s.find(key).unwrap() + key.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        };
        let (w, h) = (number(svg, "width=\""), number(svg, "height=\""));
        let mut dark = vec![false; w * h];
        let d = &svg[svg.find(" d=\"").unwrap() + 4..];
        let d = &d[..d.find('"').unwrap()];
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let nums: Vec<usize> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let (left, top, width, height) = (nums[0], nums[1], nums[2], nums[3]);
            for y in top..top + height {
                for x in left..left + width {
                    dark[y * w + x] = true;
                }
            }
        }
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| if dark[y * w + x] { 0 } else { 255 });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn qr_svg_scans_back_to_the_url() {
        let url = TotpSecret::generate(&SeededEntropy::new(9)).otpauth_url("Souk", "bob@example.com");
        assert_eq!(scan(&qr_svg(url.expose_secret()).unwrap()), url.expose_secret());
    }

    #[test]
    fn three_failures_lock_the_rest_of_the_step() {
        assert!(totp_attempt_allowed(0) && totp_attempt_allowed(2));
        assert!(!totp_attempt_allowed(3) && !totp_attempt_allowed(u32::MAX));
        let start = at(1_700_000_010); // the first second of step 56_666_667
        let mut g = TotpGuard::default();
        for _ in 0..3 {
            assert!(g.allowed(start));
            g = g.record_failure(start);
        }
        assert!(!g.allowed(start));
        assert!(!g.allowed(at(1_700_000_029)), "last second of the step");
        assert!(g.allowed(at(1_700_000_040)), "next step");
        assert!(!g.allowed(at(1_700_000_000)), "a clock moved back stays locked");
        assert!(!g.allowed(at(-5)), "before the epoch is locked");
        let next = g.record_failure(at(1_700_000_040));
        assert_eq!(next, TotpGuard { step: step_at(at(1_700_000_040)).unwrap(), failures: 1 });
        let back = g.record_failure(at(1_600_000_000));
        assert_eq!(back.step, g.step, "a clock moved back does not rewind the guard");
        assert_eq!(back.failures, 4);
        assert_eq!(TotpGuard { step: 0, failures: u32::MAX }.record_failure(at(0)).failures, u32::MAX);
    }
}
