//! Who is calling, and whether a state change may come from where it came from. Reads the
//! session cookie (a live server-side session becomes a [`Session`] extension) and, on
//! every state-changing request a browser could have sent, checks `Origin` (or `Referer`)
//! against Souk's own origin; cookie-authenticated API calls must also carry the session's
//! `X-CSRF-Token`. Web forms carry the same token in a `csrf` field, checked by the handler.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use souk_core::identity::Client;
use souk_core::identity::sessions::Authenticated;
use souk_identity::session::{COOKIE, SessionToken};

use crate::{AppState, Problem};

/// The long-lived cookie that names a browser, for new-device alerts.
pub(crate) const DEVICE_COOKIE: &str = "__Host-souk_device";
/// The short-lived cookie of a sign-in waiting for its second factor.
pub(crate) const PENDING_COOKIE: &str = "__Host-souk_pending";

/// The authenticated session of this request, if any.
#[derive(Clone)]
pub(crate) struct CurrentSession(pub Option<Arc<Authenticated>>);

/// The account behind an `Authorization: Bearer souk_sk_…` API key, if any.
#[derive(Clone)]
pub(crate) struct CurrentApiKey(pub Option<Arc<souk_core::identity::Principal>>);

/// A cookie's value from the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Problem> {
    let token = cookie(req.headers(), COOKIE).and_then(SessionToken::from_cookie);
    let session = match token {
        Some(t) => souk_core::identity::sessions::authenticate(state.souk(), &t).await?.map(Arc::new),
        None => None,
    };
    // Bearer values that look like Souk API keys are checked here; other bearer tokens (the
    // metrics scrape token) belong to their routes.
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| token.starts_with(souk_identity::api_key::PREFIX));
    let api_key = match presented {
        None => None,
        Some(token) => match souk_core::identity::api_keys::authenticate(state.souk(), token).await? {
            Some(p) => Some(Arc::new(p)),
            None => {
                return Err(
                    Problem::of("unauthorized").with_detail("The API key is not valid, expired or revoked.")
                );
            }
        },
    };
    if unsafe_method(req.method()) {
        let headers = req.headers();
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
        let from_browser = origin.is_some() || headers.contains_key(header::COOKIE);
        // SECURITY: a cross-site page can make the browser send cookies, never a same-origin
        // `Origin`; this stops login CSRF and every other forged form before any handler.
        if from_browser && !souk_identity::csrf::origin_allowed(origin, referer, &state.config().public_url) {
            return Err(Problem::of("csrf_failed").with_detail("The request came from another site."));
        }
        if let Some(s) = &session
            && crate::middleware::is_api_path(req.uri().path())
        {
            let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if !state.souk().identity.csrf_valid(&s.key, sent) {
                return Err(Problem::of("csrf_failed")
                    .with_detail("Cookie-authenticated API calls need the session's X-CSRF-Token header."));
            }
        }
    }
    req.extensions_mut().insert(CurrentSession(session));
    req.extensions_mut().insert(CurrentApiKey(api_key));
    Ok(next.run(req).await)
}

/// An extractor for API routes that need a signed-in user (401 otherwise).
pub(crate) struct Session(pub Arc<Authenticated>);

impl FromRequestParts<AppState> for Session {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<CurrentSession>() {
            Some(CurrentSession(Some(s))) => Ok(Self(s.clone())),
            _ => Err(Problem::of("unauthorized").with_detail("Sign in first (POST /api/v1/auth/login).")),
        }
    }
}

/// An extractor for API routes open to signed-in people and API keys alike: the caller's
/// principal (a key's scopes are checked by the use case).
pub(crate) struct Caller(pub souk_core::identity::Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(CurrentApiKey(Some(p))) = parts.extensions.get::<CurrentApiKey>() {
            return Ok(Self(p.as_ref().clone()));
        }
        match parts.extensions.get::<CurrentSession>() {
            Some(CurrentSession(Some(s))) => Ok(Self(s.principal.clone())),
            _ => {
                Err(Problem::of("unauthorized").with_detail("Sign in, or send an API key as a bearer token."))
            }
        }
    }
}

/// The optional session, for pages that show more to signed-in users.
pub(crate) struct MaybeSession(pub Option<Arc<Authenticated>>);

impl FromRequestParts<AppState> for MaybeSession {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<CurrentSession>().and_then(|c| c.0.clone())))
    }
}

/// Where the request came from, for use cases.
pub(crate) struct ClientInfo(pub Client);

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<crate::ClientIp>().map(|c| c.0);
        let request_id = parts
            .extensions
            .get::<super::request_id::RequestId>()
            .map(|r| r.0.to_string())
            .unwrap_or_default();
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect())
            .unwrap_or_default();
        let device = cookie(&parts.headers, DEVICE_COOKIE).and_then(SessionToken::from_cookie);
        Ok(Self(Client { ip, user_agent, device, request_id }))
    }
}

/// Gives the client a device token if its browser has none yet; returns the new one, whose
/// cookie the response must set.
pub(crate) fn ensure_device(client: &mut Client, entropy: &dyn souk_domain::Entropy) -> Option<SessionToken> {
    if client.device.is_some() {
        return None;
    }
    let fresh = SessionToken::generate(entropy);
    client.device = Some(fresh.clone());
    Some(fresh)
}

/// `Set-Cookie` for the device cookie (a year; renewed at each sign-in).
pub(crate) fn device_cookie(token: &SessionToken) -> String {
    use secrecy::ExposeSecret as _;
    format!(
        "{DEVICE_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=31536000",
        token.expose().expose_secret()
    )
}
