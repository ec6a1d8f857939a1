//! Souk's HTTP surface: the JSON API under `/api/v1`, the server-rendered pages, the
//! middleware every request passes through, and the TLS server that runs them.
//!
//! Handlers are thin: they parse, call one `souk_core` use case and map the result. Errors
//! are rendered in exactly one place ([`middleware::errors`]), as RFC 9457 problem+json on
//! the API and as a readable page on the web.

pub mod api;
mod assets;
mod error;
mod metrics;
mod middleware;
pub mod server;
mod state;
pub mod tls;
mod web;

use axum::Router;

pub use error::Problem;
pub use metrics::install_recorder;
pub use middleware::client_ip::{Cidr, ClientIp};
pub use state::{AppState, HttpConfig, RateLimitConfig};

/// The whole application as a router: API, pages, static assets, probes and metrics,
/// wrapped in the middleware stack. `server::serve` runs it behind TLS.
pub fn app(state: AppState) -> Router {
    let (api, _) = api::router().split_for_parts();
    let routes = Router::new()
        .merge(api)
        .merge(api::docs::router())
        .merge(web::router())
        .merge(metrics::router())
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(web::nav::mark))
        .layer(axum::extract::DefaultBodyLimit::max(state.config().body_limit_bytes));
    middleware::apply(routes, &state).with_state(state)
}
