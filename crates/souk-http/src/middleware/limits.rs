//! Bounds on what a request may be: header count and size, URI length, declared body size,
//! time to answer; and a guard that turns a panic into a 500 instead of a dropped connection.

use std::panic::AssertUnwindSafe;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use futures_util::FutureExt as _;

use crate::{AppState, Problem};

/// More headers than any browser or API client sends.
const MAX_HEADERS: usize = 64;
/// Longer than any URL Souk generates, by far.
const MAX_URI_BYTES: usize = 8 * 1024;

pub(crate) async fn request_shape(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Problem> {
    let limit = state.config().header_limit_bytes;
    let headers = req.headers();
    if headers.len() > MAX_HEADERS {
        return Err(Problem::of("headers_too_large").with_detail(format!("At most {MAX_HEADERS} headers.")));
    }
    let total: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    if total > limit {
        return Err(
            Problem::of("headers_too_large").with_detail(format!("At most {limit} bytes of headers."))
        );
    }
    if req.uri().to_string().len() > MAX_URI_BYTES {
        return Err(Problem::of("uri_too_long"));
    }
    // Uploads (identity documents, listing images) take a larger body; every other route
    // keeps the configured limit.
    let body_limit = if req.uri().path().ends_with("/documents") || req.uri().path().ends_with("/images") {
        crate::api::shops::UPLOAD_LIMIT_BYTES.max(state.config().body_limit_bytes)
    } else {
        state.config().body_limit_bytes
    };
    if let Some(len) = headers.get(header::CONTENT_LENGTH) {
        let declared = len.to_str().ok().and_then(|s| s.parse::<u64>().ok());
        match declared {
            None => return Err(Problem::of("bad_request").with_detail("Invalid Content-Length.")),
            Some(n) if n > u64::try_from(body_limit).unwrap_or(u64::MAX) => {
                return Err(Problem::of("payload_too_large")
                    .with_detail(format!("At most {body_limit} bytes of body.")));
            }
            Some(_) => {}
        }
    }
    Ok(next.run(req).await)
}

pub(crate) async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config().request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!("request timed out");
            Problem::of("timeout").retry_after(1).into_response()
        }
    }
}

pub(crate) async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!("handler panicked");
            Problem::of("internal").into_response()
        }
    }
}
