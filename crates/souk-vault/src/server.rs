//! The vault as its own process (`souk vault serve`): an HTTPS listener that requires TLS
//! 1.3 with a client certificate issued by the vault's CA, then a scoped bearer credential
//! per request, and serves exactly the [`VaultClient`] operations as JSON ([`crate::wire`]).
//! Every refusal of a credential is audited like a refused operation, and an address that
//! presents too many refused credentials is locked out for a minute.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use souk_domain::{Clock, Entropy};
use souk_payments::connector::{ChallengeId, IdempotencyKey, PaymentId};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::VaultError;
use crate::audit::{VaultAuditEvent, VaultAuditSink, VaultOperation};
use crate::client::{AuthorizeCard, CallContext, NewCard, VaultClient};
use crate::limits::{Limiter, RateLimits};
use crate::token::{CardToken, letters};
use crate::wire::{
    AuthorizeBody, ChallengeBody, PaymentBody, StatusBody, TokenBody, TokenizeBody, WireCard, WireContext,
    WireError, WireOutcome, WireStatus,
};

/// The largest request body the vault reads.
const BODY_LIMIT: usize = 16 * 1024;
/// How long a client has to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client's credential: a name (for the audit trail), the SHA-256 of its bearer token
/// (the token itself is never stored by the vault) and the operations it may call.
#[derive(Clone)]
pub struct Credential {
    pub name: String,
    token_sha256: [u8; 32],
    pub operations: Vec<VaultOperation>,
    /// When set, the credential is accepted only from a connection whose client certificate
    /// was issued for this client name ([`crate::pki::client_san`]).
    pub client: Option<String>,
    /// The credential's own rate limits, counted on the credential however its calls name
    /// their actors ([`RateLimits::per_credential`] unless set).
    pub limits: RateLimits,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("operations", &self.operations)
            .finish_non_exhaustive()
    }
}

/// What the marketplace needs by default: everything but `forget` (erasure is granted on
/// purpose, to the credential that runs it).
pub const MARKETPLACE_OPERATIONS: [VaultOperation; 8] = [
    VaultOperation::Tokenize,
    VaultOperation::ReadCard,
    VaultOperation::Authorize,
    VaultOperation::CompleteChallenge,
    VaultOperation::Capture,
    VaultOperation::Void,
    VaultOperation::Refund,
    VaultOperation::Status,
];

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Credential {
    /// A credential from its token's hash as written in the vault's configuration
    /// ([`Self::hash_token`]).
    pub fn new(
        name: impl Into<String>,
        token_sha256: &str,
        operations: Vec<VaultOperation>,
    ) -> Result<Self, VaultError> {
        let name = name.into();
        let bad = || VaultError::Config(format!("credential {name:?}: token_sha256 is not 64 letters a-p"));
        let raw = token_sha256.as_bytes();
        if raw.len() != 64 || !raw.iter().all(|b| (b'a'..=b'p').contains(b)) {
            return Err(bad());
        }
        let mut hash = [0u8; 32];
        for (out, pair) in hash.iter_mut().zip(raw.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *out = ((hi - b'a') << 4) | (lo - b'a');
            }
        }
        Ok(Self { name, token_sha256: hash, operations, client: None, limits: RateLimits::per_credential() })
    }

    /// Binds the credential to one client certificate name.
    #[must_use]
    pub fn for_client(mut self, client: impl Into<String>) -> Self {
        self.client = Some(client.into());
        self
    }

    /// Limits the credential to `limits` (counted on the credential, not on actors).
    #[must_use]
    pub const fn with_limits(mut self, limits: RateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether `peer` (the connection's client certificate) may present this credential.
    fn admits(&self, peer: Option<&CertificateDer<'static>>) -> bool {
        let Some(client) = &self.client else { return true };
        let Some(peer) = peer else { return false };
        let Ok(name) = ServerName::try_from(crate::pki::client_san(client)) else { return false };
        rustls::server::ParsedCertificate::try_from(peer)
            .is_ok_and(|cert| rustls::client::verify_server_name(&cert, &name).is_ok())
    }

    /// A new random bearer token (256 bits, `svt_` and letters).
    pub fn generate_token(entropy: &dyn Entropy) -> SecretString {
        let mut bytes = [0u8; 32];
        entropy.fill(&mut bytes);
        SecretString::from(format!("svt_{}", letters(&bytes)))
    }

    /// The hash of a token as the vault's configuration holds it.
    #[must_use]
    pub fn hash_token(token: &SecretString) -> String {
        letters(&sha256(token.expose_secret().as_bytes()))
    }
}

/// The rustls configuration of the vault's listener: TLS 1.3 only, the vault's server
/// certificate, and a client certificate required and verified against the vault's CA.
pub fn server_tls(ca_pem: &[u8], cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, VaultError> {
    let tls = |what: &str, e: &dyn std::fmt::Display| VaultError::Config(format!("{what}: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem) {
        let ca = ca.map_err(|e| tls("vault CA certificate", &e))?;
        roots.add(ca).map_err(|e| tls("vault CA certificate", &e))?;
    }
    if roots.is_empty() {
        return Err(VaultError::Config("the vault CA file holds no certificate".into()));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .map_err(|e| tls("client certificate verifier", &e))?;
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls("vault server certificate", &e))?;
    if chain.is_empty() {
        return Err(VaultError::Config("the vault server certificate file holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| tls("vault server key", &e))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls("TLS", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| tls("vault server certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Who is on the other end of a connection: its address and the client certificate it
/// was authenticated with.
#[derive(Debug)]
struct Peer {
    addr: SocketAddr,
    cert: Option<CertificateDer<'static>>,
}

/// Refused credentials per client address in the current window; past
/// [`MAX_REFUSALS`] every request from the address is refused until the window ends.
#[derive(Debug, Default)]
struct Refusals {
    by_ip: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

/// Refused credentials an address may present per [`REFUSAL_WINDOW_MICROS`].
const MAX_REFUSALS: u32 = 20;
const REFUSAL_WINDOW_MICROS: i64 = 60_000_000;

impl Refusals {
    /// Seconds until `ip` may try again, if it is locked out at `now`.
    fn locked(&self, ip: IpAddr, now: i64) -> Option<u64> {
        let by_ip = self.by_ip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, count) = by_ip.get(&ip).copied()?;
        let left = start + REFUSAL_WINDOW_MICROS - now;
        (count >= MAX_REFUSALS && left > 0).then(|| u64::try_from(left).unwrap_or(1).div_ceil(1_000_000))
    }

    fn note(&self, ip: IpAddr, now: i64) {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_ip.len() > 10_000 {
            by_ip.retain(|_, (start, _)| *start + REFUSAL_WINDOW_MICROS > now);
        }
        let entry = by_ip.entry(ip).or_insert((now, 0));
        if entry.0 + REFUSAL_WINDOW_MICROS <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

struct Shared {
    vault: Arc<dyn VaultClient>,
    audit: Arc<dyn VaultAuditSink>,
    clock: Arc<dyn Clock>,
    credentials: Vec<Credential>,
    refusals: Refusals,
    /// Per credential (by name): the caller-supplied actor does not enter the key.
    limiters: std::collections::HashMap<String, Limiter>,
}

/// A running vault listener.
#[derive(Debug)]
pub struct RunningVaultServer {
    /// The address it listens on (useful with port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningVaultServer {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves `vault` on `listener` behind `tls` (from [`server_tls`]) for `credentials`.
pub fn serve(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    vault: Arc<dyn VaultClient>,
    audit: Arc<dyn VaultAuditSink>,
    clock: Arc<dyn Clock>,
    credentials: Vec<Credential>,
) -> Result<RunningVaultServer, VaultError> {
    let addr = listener.local_addr().map_err(|e| VaultError::Config(format!("listener: {e}")))?;
    let limiters = credentials.iter().map(|c| (c.name.clone(), Limiter::new(c.limits))).collect();
    let shared =
        Arc::new(Shared { vault, audit, clock, credentials, refusals: Refusals::default(), limiters });
    let app = Router::new()
        .route("/v1/{operation}", axum::routing::post(handle))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared);
    let acceptor = TlsAcceptor::from(tls);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, peer) = tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "vault: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        tracing::warn!(%peer, error = %e, "vault: TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "vault: TLS handshake timed out");
                        return;
                    }
                };
                let cert = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
                let app = app.layer(Extension(Arc::new(Peer { addr: peer, cert })));
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder
                    .http1()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .max_buf_size(64 * 1024);
                if let Err(e) =
                    builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app)).await
                {
                    tracing::debug!(%peer, error = %e, "vault: connection ended with an error");
                }
            });
        }
    });
    Ok(RunningVaultServer { addr, stop, task })
}

fn answer<T: Serialize>(result: Result<T, VaultError>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => refuse(&WireError::from(&e)),
    }
}

fn refuse(e: &WireError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, axum::Json(e)).into_response();
    if matches!(e, WireError::Unauthenticated) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    res
}

/// Equal slices of 32 bytes, in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Shared {
    /// The credential presented in `Authorization: Bearer …`, compared with every
    /// configured one in constant time.
    fn credential(&self, headers: &HeaderMap) -> Option<&Credential> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))?;
        let hash = sha256(presented.trim().as_bytes());
        let mut found = None;
        for c in &self.credentials {
            if same(&c.token_sha256, &hash) {
                found = Some(c);
            }
        }
        found
    }

    fn audit_refusal(&self, op: VaultOperation, actor: String, result: &str) {
        self.audit.record(VaultAuditEvent {
            at: self.clock.now(),
            operation: op,
            actor,
            request_id: None,
            token: None,
            card: None,
            payment: None,
            idempotency_key: None,
            amount: None,
            result: result.to_owned(),
        });
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    // The parser's message may quote the body (a card number): never echoed.
    serde_json::from_slice(body).map_err(|_| WireError::BadRequest)
}

fn context(credential: &Credential, ctx: WireContext) -> CallContext {
    CallContext { actor: format!("{}/{}", credential.name, ctx.actor), request_id: ctx.request_id }
}

fn key(k: &str) -> Result<IdempotencyKey, WireError> {
    IdempotencyKey::new(k).map_err(|_| WireError::BadRequest)
}

fn token(t: &str) -> Result<CardToken, WireError> {
    CardToken::parse(t).ok_or(WireError::UnknownToken)
}

async fn handle(
    State(s): State<Arc<Shared>>,
    Extension(peer): Extension<Arc<Peer>>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(op) = VaultOperation::from_name(&operation) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (ip, now) = (peer.addr.ip(), s.clock.now().as_micros());
    if let Some(retry_after_secs) = s.refusals.locked(ip, now) {
        s.audit_refusal(op, format!("address:{ip}"), "locked_out");
        return refuse(&WireError::RateLimited { retry_after_secs });
    }
    let Some(credential) = s.credential(&headers) else {
        s.refusals.note(ip, now);
        s.audit_refusal(op, "credential:none".into(), "unauthenticated");
        return refuse(&WireError::Unauthenticated);
    };
    if !credential.admits(peer.cert.as_ref()) {
        s.refusals.note(ip, now);
        s.audit_refusal(op, format!("credential:{}", credential.name), "wrong_client_certificate");
        return refuse(&WireError::Unauthenticated);
    }
    if !credential.operations.contains(&op) {
        s.audit_refusal(op, format!("credential:{}", credential.name), "forbidden");
        return refuse(&WireError::Forbidden { operation: op.name().to_owned() });
    }
    // SECURITY: the actor in the body is the client's to choose; the vault's per-actor limits
    // behind this bound each account, and this bounds the credential itself.
    if let Some(limiter) = s.limiters.get(&credential.name)
        && let Err(retry_after_secs) = limiter.check(op, &credential.name, s.clock.now())
    {
        s.audit_refusal(op, format!("credential:{}", credential.name), "rate_limited");
        return refuse(&WireError::RateLimited { retry_after_secs });
    }
    // The call runs on its own task: a caller that hangs up (its timeout) does not cancel
    // a processor call halfway; it finishes, is audited, and `status` reports it.
    let credential = credential.clone();
    let call = tokio::spawn(async move { dispatch(&s, &credential, op, &body).await });
    match call.await {
        Ok(result) => result.unwrap_or_else(|e| refuse(&e)),
        Err(_) => refuse(&WireError::Internal),
    }
}

async fn dispatch(
    s: &Shared,
    credential: &Credential,
    op: VaultOperation,
    body: &[u8],
) -> Result<Response, WireError> {
    let vault = &*s.vault;
    Ok(match op {
        VaultOperation::Tokenize => {
            let b: TokenizeBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            let card = NewCard { number: b.number, exp_month: b.exp_month, exp_year: b.exp_year, cvc: b.cvc };
            answer(vault.tokenize(&ctx, card).await.map(WireCard::from))
        }
        VaultOperation::ReadCard => {
            let b: TokenBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            answer(vault.card(&ctx, &token(&b.token)?).await.map(WireCard::from))
        }
        VaultOperation::Forget => {
            let b: TokenBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            answer(
                vault.forget(&ctx, &token(&b.token)?).await.map(|()| serde_json::json!({"forgotten": true})),
            )
        }
        VaultOperation::Authorize => {
            let b: AuthorizeBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            let request = AuthorizeCard {
                token: token(&b.token)?,
                cvc: b.cvc,
                amount: b.amount,
                idempotency_key: key(&b.idempotency_key)?,
                reference: b.reference,
                require_challenge: b.require_challenge,
            };
            answer(vault.authorize(&ctx, request).await.map(WireOutcome::from))
        }
        VaultOperation::CompleteChallenge => {
            let b: ChallengeBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            let (payment, challenge) = (PaymentId::new(b.payment), ChallengeId::new(b.challenge));
            let k = key(&b.idempotency_key)?;
            answer(
                vault
                    .complete_challenge(&ctx, &payment, &challenge, &b.response, &k)
                    .await
                    .map(WireOutcome::from),
            )
        }
        VaultOperation::Capture | VaultOperation::Void | VaultOperation::Refund => {
            let b: PaymentBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            let payment = PaymentId::new(b.payment);
            let k = key(&b.idempotency_key)?;
            let result = match (op, b.amount) {
                (VaultOperation::Void, _) => vault.void(&ctx, &payment, &k).await,
                (VaultOperation::Capture, Some(amount)) => vault.capture(&ctx, &payment, amount, &k).await,
                (VaultOperation::Refund, Some(amount)) => vault.refund(&ctx, &payment, amount, &k).await,
                _ => return Err(WireError::BadRequest),
            };
            answer(result.map(WireOutcome::from))
        }
        VaultOperation::Status => {
            let b: StatusBody = parse(body)?;
            let ctx = context(credential, b.ctx);
            answer(vault.status(&ctx, &key(&b.idempotency_key)?).await.map(WireStatus::from))
        }
    })
}
