//! [`RemoteVault`]: the [`VaultClient`] of a vault running as its own process
//! (`souk vault serve`), over HTTPS with TLS 1.3, the vault's CA pinned as the only trust
//! root, a client certificate, and a scoped bearer credential. No answer carries a card
//! number; transport failures map to [`VaultError`].

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use souk_domain::Money;
use souk_payments::connector::{
    BoxFuture, ChallengeId, ConnectorError, IdempotencyKey, OperationStatus, Outcome, PaymentId,
};

use crate::VaultError;
use crate::audit::VaultOperation;
use crate::client::{AuthorizeCard, CallContext, NewCard, StoredCard, VaultClient};
use crate::token::CardToken;
use crate::wire::{self, WireCard, WireContext, WireError, WireOutcome, WireStatus};

/// How to reach a vault process.
#[derive(Clone)]
pub struct RemoteVaultConfig {
    /// `https://host:port` of `souk vault serve`; the host must be in its certificate.
    pub url: String,
    /// The vault CA (PEM): the only root trusted for the vault's certificate.
    pub ca_pem: Vec<u8>,
    /// This client's certificate chain and key (PEM), issued by the vault CA.
    pub client_cert_pem: Vec<u8>,
    pub client_key_pem: SecretString,
    /// The bearer credential the vault knows by its hash.
    pub credential: SecretString,
    /// The longest wait for one call (past it a payment call's outcome is unknown).
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for RemoteVaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteVaultConfig")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteVaultConfig {
    /// The default wait for one call: a little above the vault's own processor timeout.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(35);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
}

/// A vault in another process.
#[derive(Debug, Clone)]
pub struct RemoteVault {
    http: reqwest::Client,
    base: String,
    credential: Arc<SecretString>,
}

fn config_error(what: &str, e: &dyn std::fmt::Display) -> VaultError {
    VaultError::Config(format!("remote vault {what}: {e}"))
}

/// Whether an operation may have run when its answer was lost (a payment call).
const fn moves_money(op: VaultOperation) -> bool {
    matches!(
        op,
        VaultOperation::Authorize
            | VaultOperation::CompleteChallenge
            | VaultOperation::Capture
            | VaultOperation::Void
            | VaultOperation::Refund
    )
}

impl RemoteVault {
    /// Builds the client (no connection is made yet).
    pub fn new(config: &RemoteVaultConfig) -> Result<Self, VaultError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(&config.ca_pem) {
            let ca = ca.map_err(|e| config_error("CA", &e))?;
            roots.add(ca).map_err(|e| config_error("CA", &e))?;
        }
        if roots.is_empty() {
            return Err(VaultError::Config("remote vault CA: no certificate".into()));
        }
        let chain = CertificateDer::pem_slice_iter(&config.client_cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| config_error("client certificate", &e))?;
        if chain.is_empty() {
            return Err(VaultError::Config("remote vault client certificate: none found".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(config.client_key_pem.expose_secret().as_bytes())
            .map_err(|e| config_error("client key", &e))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| config_error("TLS", &e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| config_error("client certificate", &e))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| config_error("HTTP client", &e))?;
        Ok(Self {
            http,
            base: config.url.trim_end_matches('/').to_owned(),
            credential: Arc::new(config.credential.clone()),
        })
    }

    async fn call<T: DeserializeOwned>(&self, op: VaultOperation, body: Value) -> Result<T, VaultError> {
        let url = format!("{}{}", self.base, wire::path(op));
        let sent = self.http.post(url).bearer_auth(self.credential.expose_secret()).json(&body).send().await;
        drop(body);
        let res = match sent {
            Ok(res) => res,
            Err(e) if e.is_connect() || e.is_builder() => {
                return Err(VaultError::Transport(format!("cannot reach the vault: {e}")));
            }
            // Sent, no answer: a payment call's outcome is unknown.
            Err(_) if moves_money(op) => return Err(VaultError::Connector(ConnectorError::Timeout)),
            Err(e) => return Err(VaultError::Transport(format!("no answer from the vault: {e}"))),
        };
        let status = res.status();
        let bytes = match res.bytes().await {
            Ok(b) => b,
            Err(_) if moves_money(op) => return Err(VaultError::Connector(ConnectorError::Timeout)),
            Err(e) => return Err(VaultError::Transport(format!("the vault's answer was cut: {e}"))),
        };
        if status.is_success() {
            serde_json::from_slice(&bytes)
                .map_err(|_| VaultError::Transport(format!("the vault answered {} unreadably", op.name())))
        } else {
            match serde_json::from_slice::<WireError>(&bytes) {
                Ok(e) => Err(e.into()),
                Err(_) => Err(VaultError::Transport(format!("the vault answered HTTP {status}"))),
            }
        }
    }

    async fn outcome(&self, op: VaultOperation, body: Value) -> Result<Outcome, VaultError> {
        self.call::<WireOutcome>(op, body).await.map(Outcome::from)
    }
}

fn ctx_json(ctx: &CallContext) -> Value {
    json!(WireContext::from(ctx))
}

impl VaultClient for RemoteVault {
    fn tokenize<'a>(
        &'a self,
        ctx: &'a CallContext,
        card: NewCard,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "number": card.number.expose_secret(),
                "exp_month": card.exp_month,
                "exp_year": card.exp_year,
                "cvc": card.cvc.as_ref().map(secrecy::ExposeSecret::expose_secret),
            });
            drop(card);
            StoredCard::try_from(self.call::<WireCard>(VaultOperation::Tokenize, body).await?)
        })
    }

    fn card<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        Box::pin(async move {
            let body = json!({ "ctx": ctx_json(ctx), "token": token.as_str() });
            StoredCard::try_from(self.call::<WireCard>(VaultOperation::ReadCard, body).await?)
        })
    }

    fn forget<'a>(
        &'a self,
        ctx: &'a CallContext,
        token: &'a CardToken,
    ) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async move {
            let body = json!({ "ctx": ctx_json(ctx), "token": token.as_str() });
            self.call::<Value>(VaultOperation::Forget, body).await.map(|_| ())
        })
    }

    fn authorize<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: AuthorizeCard,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "token": request.token.as_str(),
                "cvc": request.cvc.as_ref().map(secrecy::ExposeSecret::expose_secret),
                "amount": request.amount,
                "idempotency_key": request.idempotency_key.as_str(),
                "reference": request.reference,
                "require_challenge": request.require_challenge,
            });
            drop(request);
            self.outcome(VaultOperation::Authorize, body).await
        })
    }

    fn complete_challenge<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        challenge: &'a ChallengeId,
        response: &'a str,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "payment": payment.as_str(),
                "challenge": challenge.as_str(),
                "response": response,
                "idempotency_key": idempotency_key.as_str(),
            });
            self.outcome(VaultOperation::CompleteChallenge, body).await
        })
    }

    fn capture<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "payment": payment.as_str(),
                "amount": amount,
                "idempotency_key": idempotency_key.as_str(),
            });
            self.outcome(VaultOperation::Capture, body).await
        })
    }

    fn void<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "payment": payment.as_str(),
                "idempotency_key": idempotency_key.as_str(),
            });
            self.outcome(VaultOperation::Void, body).await
        })
    }

    fn refund<'a>(
        &'a self,
        ctx: &'a CallContext,
        payment: &'a PaymentId,
        amount: Money,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        Box::pin(async move {
            let body = json!({
                "ctx": ctx_json(ctx),
                "payment": payment.as_str(),
                "amount": amount,
                "idempotency_key": idempotency_key.as_str(),
            });
            self.outcome(VaultOperation::Refund, body).await
        })
    }

    fn status<'a>(
        &'a self,
        ctx: &'a CallContext,
        idempotency_key: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, VaultError>> {
        Box::pin(async move {
            let body = json!({ "ctx": ctx_json(ctx), "idempotency_key": idempotency_key.as_str() });
            self.call::<WireStatus>(VaultOperation::Status, body).await.map(OperationStatus::from)
        })
    }
}
