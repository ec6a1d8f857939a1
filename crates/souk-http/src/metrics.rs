//! Prometheus metrics: requests by route and status, latency histograms, the database pool,
//! served at `/metrics` to loopback scrapers or to holders of the metrics token.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};

use crate::{AppState, Problem};

const LATENCY_BUCKETS: &[f64] =
    &[0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the process-wide metrics recorder once and returns its handle.
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    LATENCY_BUCKETS,
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

pub(crate) async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    // SECURITY: label values must come from a fixed set, or a client inventing methods
    // grows the metrics registry without bound.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
    .to_owned();
    // The route template, not the raw path, so ids do not explode the label space.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

fn authorized(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    match &state.config().metrics_token {
        Some(token) => {
            let offered = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            // Comparing digests keeps the comparison's timing independent of the token.
            Sha256::digest(offered.as_bytes()) == Sha256::digest(token.expose_secret().as_bytes())
        }
        None => peer.is_some_and(|p| p.ip().is_loopback()),
    }
}

async fn scrape(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if !authorized(&state, peer.map(|c| (c.0).0), &headers) {
        return Err(
            Problem::of("forbidden").with_detail("Metrics need the metrics token, or a loopback client.")
        );
    }
    let pool = state.souk().store.pool_stats();
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(pool.idle));
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.max));
    state.metrics().run_upkeep();
    let mut res = state.metrics().render().into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(res)
}
