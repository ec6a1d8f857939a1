//! The HTTP call of one delivery: a POST of the event's JSON over TLS (the public web PKI,
//! plus any CA the operator added), connecting only to the addresses the SSRF guard checked
//! (so a second DNS answer cannot swap in a private address), following no redirect (a 3xx
//! is a failure: a redirect could point anywhere), within a short timeout. The answer's
//! body is not read beyond what the connection needs; only its status counts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::destination::Destination;
use crate::CoreError;

/// The header that carries the event's id, for receivers to drop duplicates (delivery is
/// at least once).
pub const EVENT_ID_HEADER: &str = "Souk-Event-Id";
/// The header that carries the signature (see [`super::signature`]).
pub const SIGNATURE_HEADER: &str = "Souk-Signature";

/// What one HTTP attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The answer's status, when there was one.
    pub status: Option<u16>,
    /// Why it failed (empty on a 2xx).
    pub error: String,
    pub duration_ms: i64,
}

impl Sent {
    #[must_use]
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Posts deliveries; holds the TLS configuration built once at start.
#[derive(Debug, Clone)]
pub struct Sender {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl Sender {
    /// Trusts the public web PKI and `extra_roots` (DER certificates).
    pub fn new(extra_roots: &[Vec<u8>], timeout: Duration) -> Result<Self, CoreError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        for der in extra_roots {
            roots
                .add(rustls_pki_types::CertificateDer::from(der.clone()))
                .map_err(|e| CoreError::Internal(Box::new(e)))?;
        }
        let mut tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| CoreError::Internal(Box::new(e)))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self { tls: Arc::new(tls), timeout })
    }

    /// Posts `body` to a checked destination.
    pub async fn post(&self, to: &Destination, event_id: &str, signature: &str, body: String) -> Sent {
        let started = Instant::now();
        let elapsed = |started: Instant| i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let port = to.url.port_or_known_default().unwrap_or(443);
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured((*self.tls).clone())
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent("Souk-Webhooks/1");
        // SECURITY: pin the connection to the checked addresses. An IP-literal URL needs no
        // lookup; a host name is resolved to these addresses only, never asked of DNS again.
        if let Some(url::Host::Domain(host)) = to.url.host() {
            let addrs: Vec<SocketAddr> = to.addresses.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
            builder = builder.resolve_to_addrs(host, &addrs);
        }
        let client = match builder.build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook client");
                return Sent { status: None, error: "internal error".into(), duration_ms: 0 };
            }
        };
        let answer = client
            .post(to.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, event_id)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await;
        match answer {
            Ok(res) => {
                let status = res.status().as_u16();
                let error = match status {
                    200..=299 => String::new(),
                    300..=399 => format!("answered {status}: redirects are not followed"),
                    _ => format!("answered {status}"),
                };
                Sent { status: Some(status), error, duration_ms: elapsed(started) }
            }
            Err(e) => {
                let error = if e.is_timeout() {
                    format!("no answer within {} s", self.timeout.as_secs())
                } else if e.is_connect() {
                    "could not connect".to_owned()
                } else {
                    "the request failed".to_owned()
                };
                Sent { status: None, error, duration_ms: elapsed(started) }
            }
        }
    }
}
