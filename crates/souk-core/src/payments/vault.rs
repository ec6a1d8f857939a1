//! Souk's handle on the card vault: [`NoVault`] until one is configured, and the audit sink
//! that copies the vault's events (token, brand and last four at most, never a card number)
//! into Souk's audit log through a channel drained by [`spawn_audit_writer`].

use std::sync::Arc;

use souk_payments::connector::{BoxFuture, ChallengeId, IdempotencyKey, OperationStatus, Outcome, PaymentId};
use souk_vault::{
    AuthorizeCard, CallContext, CardToken, NewCard, StoredCard, VaultAuditEvent, VaultAuditSink, VaultClient,
    VaultError,
};
use tokio::sync::mpsc;

use crate::Souk;
use crate::audit::{Actor, AuditedTx, Event, Outcome as AuditOutcome};

/// The vault of a context built without one (benchmarks, tools that never pay): every call
/// fails with a configuration error.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoVault;

fn none<'a, T: Send + 'a>() -> BoxFuture<'a, Result<T, VaultError>> {
    Box::pin(async { Err(VaultError::Config("no card vault is configured".into())) })
}

impl VaultClient for NoVault {
    fn tokenize<'a>(
        &'a self,
        _: &'a CallContext,
        _: NewCard,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        none()
    }
    fn card<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a CardToken,
    ) -> BoxFuture<'a, Result<StoredCard, VaultError>> {
        none()
    }
    fn forget<'a>(&'a self, _: &'a CallContext, _: &'a CardToken) -> BoxFuture<'a, Result<(), VaultError>> {
        none()
    }
    fn authorize<'a>(
        &'a self,
        _: &'a CallContext,
        _: AuthorizeCard,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        none()
    }
    fn complete_challenge<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a PaymentId,
        _: &'a ChallengeId,
        _: &'a str,
        _: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        none()
    }
    fn capture<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a PaymentId,
        _: souk_domain::Money,
        _: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        none()
    }
    fn void<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a PaymentId,
        _: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        none()
    }
    fn refund<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a PaymentId,
        _: souk_domain::Money,
        _: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<Outcome, VaultError>> {
        none()
    }
    fn status<'a>(
        &'a self,
        _: &'a CallContext,
        _: &'a IdempotencyKey,
    ) -> BoxFuture<'a, Result<OperationStatus, VaultError>> {
        none()
    }
}

/// Hands vault events to [`spawn_audit_writer`]'s task without blocking the vault.
#[derive(Debug)]
pub struct ChannelAuditSink {
    tx: mpsc::UnboundedSender<VaultAuditEvent>,
}

/// The other end of a [`ChannelAuditSink`].
pub type VaultAuditReceiver = mpsc::UnboundedReceiver<VaultAuditEvent>;

/// A sink for the vault's configuration and the receiver to give [`spawn_audit_writer`].
#[must_use]
pub fn audit_channel() -> (Arc<ChannelAuditSink>, VaultAuditReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(ChannelAuditSink { tx }), rx)
}

impl VaultAuditSink for ChannelAuditSink {
    fn record(&self, event: VaultAuditEvent) {
        if self.tx.send(event).is_err() {
            tracing::error!("the vault audit writer has stopped: a vault event was not recorded");
        }
    }
}

/// Whether a vault result string means the operation went through.
fn outcome_of(result: &str) -> AuditOutcome {
    if result == "rate_limited" || result == "unknown_token" || result == "invalid_card" {
        AuditOutcome::Denied
    } else if result.starts_with("error") {
        AuditOutcome::Failure
    } else {
        AuditOutcome::Success
    }
}

/// The audit entry of one vault event. The detail holds what the vault already reduced to
/// safe facts: the caller, token, brand and last four, payment, key, amount and result.
#[must_use]
pub fn audit_event(event: &VaultAuditEvent) -> Event {
    let detail = serde_json::json!({
        "caller": event.actor,
        "card": event.card,
        "payment": event.payment.as_ref().map(|p| p.as_str().to_owned()),
        "idempotency_key": event.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
        "amount_minor": event.amount.map(|m| m.minor),
        "currency": event.amount.map(|m| m.currency.code().to_owned()),
        "result": event.result,
    });
    Event {
        actor: Actor {
            kind: "system",
            id: "vault".into(),
            role: "vault".into(),
            credential: String::new(),
            ip: None,
        },
        action: event.operation.as_str(),
        target_kind: "card",
        target_id: event.token.as_ref().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        outcome: outcome_of(&event.result),
        request_id: event.request_id.clone().unwrap_or_default(),
        detail,
    }
}

/// Writes the vault's events to the audit log, one transaction each, until every sender is
/// gone.
pub fn spawn_audit_writer(souk: Souk, mut rx: VaultAuditReceiver) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let entry = audit_event(&event);
            let written = async {
                let mut tx = AuditedTx::begin(&souk).await?;
                tx.record(&[entry]).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = written {
                tracing::error!(error = %e, operation = event.operation.as_str(), "cannot record a vault event");
            }
        }
    })
}
