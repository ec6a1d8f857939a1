//! Gives every request an id: set on the response as `X-Request-Id`, carried by the tracing
//! span so every log line of the request has it, and shown on error pages so a user can
//! quote it to support.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use crate::AppState;

/// The id of the request being served.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub Arc<str>);

/// The client's own id, when it sent a well-formed one (kept for correlation only).
fn client_request_id(req: &Request) -> Option<String> {
    let value = req.headers().get("x-request-id")?.to_str().ok()?;
    // SECURITY: only short ids of safe characters are echoed into logs, so a client cannot
    // forge log lines or flood them.
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    ok.then(|| value.to_owned())
}

pub(crate) async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let mut raw = [0u8; 16];
    state.souk().entropy.fill(&mut raw);
    let id = raw.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    let client_id = client_request_id(&req);
    let span = tracing::info_span!(
        "request",
        id = %id,
        client_id = client_id.as_deref().unwrap_or(""),
        method = %req.method(),
        path = %req.uri().path(),
    );
    req.extensions_mut().insert(RequestId(Arc::from(id.as_str())));
    let started = Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(status = res.status().as_u16(), micros = started.elapsed().as_micros(), "served");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}
