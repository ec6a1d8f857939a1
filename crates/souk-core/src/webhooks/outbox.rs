//! The outbox: an event is written in the same transaction as the business change it
//! reports (an order paid, shipped or refunded; a payout sent), with one delivery queued for
//! each of the shop's enabled endpoints subscribed to it. If the change rolls back, so does
//! the event; once it commits, the worker delivers it at least once, however the process
//! fares afterwards. Payloads carry ids, statuses and amounts, never personal data.

use souk_domain::ids::{ShopId, new_uuid_v7};
use souk_domain::{Entropy, Timestamp};
use souk_store::orders::OrderRow;
use souk_store::webhooks as store;
use sqlx::AnyConnection;

use super::EventType;
use crate::CoreError;

/// Writes `event` about `shop` with `data` to the outbox, in the caller's transaction.
/// Returns the event's id.
pub async fn emit_in(
    conn: &mut AnyConnection,
    entropy: &dyn Entropy,
    now: Timestamp,
    shop: ShopId,
    event: EventType,
    data: serde_json::Value,
) -> Result<String, CoreError> {
    let id = format!("evt_{}", new_uuid_v7(now, entropy).simple());
    let payload = serde_json::json!({
        "id": id,
        "type": event.as_str(),
        "created": now.as_micros().div_euclid(1_000_000),
        "data": data,
    })
    .to_string();
    store::insert_event(
        conn,
        &store::EventRow {
            id: id.clone(),
            shop,
            event_type: event.as_str().to_owned(),
            payload,
            created_at: now,
        },
    )
    .await?;
    for (endpoint, types) in store::enabled_endpoints(conn, shop).await? {
        if types.split(' ').any(|t| t == event.as_str()) {
            let delivery = new_uuid_v7(now, entropy).to_string();
            store::insert_delivery(conn, &delivery, &endpoint, &id, now).await?;
        }
    }
    Ok(id)
}

/// The part of an order every event about it carries.
#[must_use]
pub fn order_data(order: &OrderRow, status: &str) -> serde_json::Value {
    serde_json::json!({
        "id": order.id,
        "number": order.number,
        "shop": order.shop.to_string(),
        "status": status,
        "currency": order.currency,
        "total_minor": order.total_minor,
        "carrier": order.carrier,
        "tracking_number": order.tracking_number,
    })
}
