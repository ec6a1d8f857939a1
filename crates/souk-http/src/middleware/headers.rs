//! The protective headers on every response, and the cookie rule: a cookie that is not
//! `__Host-`, `Secure`, `HttpOnly`, `SameSite` and `Path=/` never leaves the server.

use axum::extract::Request;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy: same-origin scripts and styles only, nothing inline, no
/// framing, no plugins; violations are reported to the API.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; \
base-uri 'none'; object-src 'none'; upgrade-insecure-requests; report-uri /api/v1/csp-reports";

const HEADERS: &[(&str, &str)] = &[
    // Two years, as the HSTS preload list asks; subdomains included.
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    // Order and listing URLs are nobody else's business.
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` on
    // same-origin form posts, which would defeat the CSRF origin check; other sites still
    // learn nothing.
    ("referrer-policy", "same-origin"),
    (
        "permissions-policy",
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), \
         payment=(), usb=(), browsing-topics=(), publickey-credentials-get=(self), \
         publickey-credentials-create=(self)",
    ),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("x-permitted-cross-domain-policies", "none"),
];

pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    for (name, value) in HEADERS {
        // A handler serving untrusted bytes (an uploaded document) sets a stricter policy of
        // its own (`sandbox; default-src 'none'`); it is kept. Only `api::shops` does.
        if *name == "content-security-policy" && headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            continue;
        }
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    // Responses may carry personal data; only what opts in (static assets) is cacheable.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    enforce_cookie_rule(headers);
    res
}

/// Whether a `Set-Cookie` value meets the rule.
pub(crate) fn cookie_is_allowed(set_cookie: &str) -> bool {
    let mut attrs = set_cookie.split(';').map(str::trim);
    let name_ok = attrs.next().is_some_and(|nv| nv.starts_with("__Host-"));
    let attrs: Vec<String> = attrs.map(str::to_ascii_lowercase).collect();
    let has = |a: &str| attrs.iter().any(|x| x == a || x.starts_with(&format!("{a}=")));
    name_ok
        && has("secure")
        && has("httponly")
        && attrs.iter().any(|x| x == "samesite=strict" || x == "samesite=lax")
        && attrs.iter().any(|x| x == "path=/")
        && !has("domain")
}

fn enforce_cookie_rule(headers: &mut axum::http::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for c in cookies {
        if c.to_str().is_ok_and(cookie_is_allowed) {
            headers.append(header::SET_COOKIE, c);
        } else {
            // SECURITY: a weaker cookie is a bug; dropping it fails closed.
            tracing::error!("dropped a Set-Cookie that breaks the __Host-/Secure/HttpOnly/SameSite rule");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_host_prefixed_hardened_cookies_pass() {
        assert!(cookie_is_allowed("__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"));
        assert!(!cookie_is_allowed("sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/; HttpOnly; SameSite=Lax"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/; Secure; SameSite=Lax"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/; Secure; HttpOnly"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=None"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax; Domain=x.org"));
        assert!(!cookie_is_allowed("__Host-sid=abc; Path=/a; Secure; HttpOnly; SameSite=Lax"));
    }

    #[test]
    fn csp_has_no_unsafe_sources() {
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
        assert!(CSP.contains("frame-ancestors 'none'"));
    }
}
