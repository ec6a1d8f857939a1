//! The middleware every request passes through, outermost first:
//! request id → client address → security headers → metrics → error rendering → panic guard →
//! request-shape limits → rate limit → timeout → session and CSRF → the route.

pub(crate) mod auth;
pub mod client_ip;
pub(crate) mod errors;
mod headers;
mod limits;
pub(crate) mod rate_limit;
pub(crate) mod request_id;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};

use crate::AppState;

/// Wraps `routes` in the full stack. Layers added last run first.
pub(crate) fn apply(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(state.clone(), limits::timeout))
        .layer(from_fn_with_state(state.clone(), rate_limit::enforce))
        .layer(from_fn_with_state(state.clone(), limits::request_shape))
        .layer(from_fn(limits::catch_panic))
        .layer(from_fn(errors::render))
        .layer(from_fn(crate::metrics::record))
        .layer(from_fn(headers::security_headers))
        .layer(from_fn_with_state(state.clone(), client_ip::assign))
        .layer(from_fn_with_state(state.clone(), request_id::assign))
}

/// Paths whose errors are answered as problem+json rather than as an HTML page.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/api" | "/healthz" | "/readyz" | "/metrics")
}
