//! The delivery log of an endpoint (each delivery with its attempts: when, the answer's
//! status, the error, how long it took, automatic or manual) and manual redelivery, for the
//! endpoint's owners only.

use souk_store::webhooks::{self as store, AttemptRow, DeliveryRow};

use super::endpoints::owned;
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// A delivery with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLog {
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// An endpoint's newest `limit` deliveries, newest first.
pub async fn list(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    endpoint: &str,
    limit: u32,
) -> Result<Vec<DeliveryLog>, CoreError> {
    owned(souk, principal, client, endpoint).await?;
    let mut conn = souk.store.conn().await?;
    let rows = store::deliveries_of(&mut conn, endpoint, limit.clamp(1, 100)).await?;
    let mut out = Vec::with_capacity(rows.len());
    for delivery in rows {
        let attempts = store::attempts_of(&mut conn, &delivery.id).await?;
        out.push(DeliveryLog { delivery, attempts });
    }
    Ok(out)
}

/// Sends a delivery again now (whatever its status, unless it is being sent right now).
/// The attempt is logged as manual; if it fails, it is not retried automatically.
pub async fn redeliver(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    endpoint: &str,
    delivery: &str,
) -> Result<DeliveryRow, CoreError> {
    let row = owned(souk, principal, client, endpoint).await?;
    if row.status != "enabled" {
        return Err(CoreError::Conflict("the endpoint is disabled: enable it first".into()));
    }
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    store::delivery(tx.conn(), endpoint, delivery).await?.ok_or(CoreError::NotFound("delivery"))?;
    if !store::make_due(tx.conn(), delivery, now).await? {
        return Err(CoreError::Conflict("the delivery is being sent right now".into()));
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "webhook.delivery.redeliver",
        target_kind: "webhook_delivery",
        target_id: delivery.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "endpoint": endpoint }),
    }])
    .await?;
    tx.commit().await?;
    let mut conn = souk.store.conn().await?;
    store::delivery(&mut conn, endpoint, delivery).await?.ok_or(CoreError::NotFound("delivery"))
}
