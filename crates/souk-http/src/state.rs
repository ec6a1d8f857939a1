//! What every handler can reach: the use-case context, the HTTP settings, and the shared
//! pieces of the middleware (rate limiter, metrics, the drain flag).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use souk_core::Souk;

use crate::middleware::rate_limit::Limiter;

/// Per-client request budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client address (per /64 for IPv6).
    pub per_second: u32,
    /// How many requests may arrive at once before the sustained rate applies.
    pub burst: u32,
}

/// The HTTP layer's settings, already validated by the CLI.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The origin people and browsers use, e.g. `https://localhost:8443` (no trailing slash).
    pub public_url: String,
    pub body_limit_bytes: usize,
    pub header_limit_bytes: usize,
    pub request_timeout: Duration,
    pub rate_limit: Option<RateLimitConfig>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (empty: none).
    pub trusted_proxies: Vec<crate::middleware::client_ip::Cidr>,
    /// Where to report vulnerabilities (a `mailto:` or `https:` URI), for security.txt.
    pub security_contact: String,
    /// Bearer token for `/metrics`; without one, only loopback clients may scrape.
    pub metrics_token: Option<SecretString>,
}

/// Shared application state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    souk: Souk,
    config: HttpConfig,
    limiter: Option<Limiter>,
    draining: AtomicBool,
    metrics: PrometheusHandle,
    openapi_json: Bytes,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.0.config).finish_non_exhaustive()
    }
}

impl AppState {
    #[must_use]
    pub fn new(souk: Souk, config: HttpConfig, metrics: PrometheusHandle) -> Self {
        let limiter = config.rate_limit.map(Limiter::new);
        let openapi_json = Bytes::from(crate::api::openapi_json());
        Self(Arc::new(Inner {
            souk,
            config,
            limiter,
            draining: AtomicBool::new(false),
            metrics,
            openapi_json,
        }))
    }

    #[must_use]
    pub fn souk(&self) -> &Souk {
        &self.0.souk
    }

    #[must_use]
    pub fn config(&self) -> &HttpConfig {
        &self.0.config
    }

    pub(crate) fn limiter(&self) -> Option<&Limiter> {
        self.0.limiter.as_ref()
    }

    pub(crate) fn metrics(&self) -> &PrometheusHandle {
        &self.0.metrics
    }

    pub(crate) fn openapi_json(&self) -> Bytes {
        self.0.openapi_json.clone()
    }

    /// Marks the process as shutting down: readiness turns 503 so load balancers stop
    /// sending new work while in-flight requests finish.
    pub fn start_draining(&self) {
        self.0.draining.store(true, Ordering::SeqCst);
    }

    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::SeqCst)
    }

    /// Forgets rate-limit state of clients that have been quiet; call periodically.
    pub fn forget_idle_clients(&self) {
        if let Some(l) = &self.0.limiter {
            l.forget_idle();
        }
    }
}
