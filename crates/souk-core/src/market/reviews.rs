//! Reviews and reputation: only the buyer of a completed order reviews it, once; the shop
//! replies once; trust & safety removes abusive reviews with a reason. Reputation counts
//! only the reviews that stand.

use souk_access::{Action, Resource};
use souk_domain::Timestamp;
use souk_domain::ids::ShopId;
use souk_domain::order::OrderStatus;
use souk_store::reviews::{self as store, Reputation, ReviewRow};

use super::{load_shop, notify};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Credential, Principal};
use crate::{CoreError, Souk};

fn event(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    id: &str,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "review",
        target_id: id.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

fn text(field: &'static str, raw: &str, min: usize) -> Result<String, CoreError> {
    souk_domain::catalog::display_text(field, raw, min, 2_000).map_err(|e| CoreError::invalid(field, e))
}

/// Reviews an order: its buyer, once it is completed, once.
pub async fn create(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    order_id: &str,
    rating: i64,
    body: &str,
) -> Result<ReviewRow, CoreError> {
    if !matches!(principal.credential, Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    if !(1..=5).contains(&rating) {
        return Err(CoreError::invalid("rating", "from 1 to 5 stars"));
    }
    let body = text("body", body, 0)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let order = souk_store::orders::order(tx.conn(), order_id).await?.ok_or(CoreError::NotFound("order"))?;
    // Only the buyer: to anyone else the order does not exist.
    if order.buyer != principal.account {
        return Err(CoreError::NotFound("order"));
    }
    if order.status != OrderStatus::Completed.as_str() {
        return Err(CoreError::Conflict("an order can be reviewed once it is completed".into()));
    }
    let review = ReviewRow {
        id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
        order: order.id.clone(),
        shop: order.shop,
        buyer: principal.account,
        buyer_handle: principal.handle.clone(),
        rating,
        body,
        created_at: now,
        reply: None,
        replied_at: None,
        removed: false,
        removal_reason: None,
    };
    match store::insert(tx.conn(), &review).await {
        Err(souk_store::StoreError::Conflict { .. }) => {
            return Err(CoreError::Conflict("this order is already reviewed".into()));
        }
        other => other?,
    }
    tx.record(&[event(
        principal,
        client,
        "review.create",
        &review.id,
        serde_json::json!({ "order": order.id, "rating": rating }),
    )])
    .await?;
    tx.commit().await?;
    let mut conn = souk.store.conn().await?;
    let shop = souk_store::shops::by_id(&mut conn, order.shop).await?;
    drop(conn);
    if let Some(shop) = shop {
        let msg = format!(
            "Order {} received a {rating}-star review. You can reply once from your seller hub.",
            order.number
        );
        notify(souk, shop.owner, "A new review", &msg).await;
    }
    Ok(review)
}

/// The shop's one reply (owner and managers).
pub async fn reply(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
    reply: &str,
) -> Result<(), CoreError> {
    super::require_shop_session(souk, principal).await?;
    let reply = text("reply", reply, 1)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let review = store::by_id(tx.conn(), id).await?.ok_or(CoreError::NotFound("review"))?;
    let shop = load_shop(tx.conn(), review.shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopUpdate,
        &Resource::Shop(&shop.facts),
        client,
    )
    .await?;
    if !store::reply(tx.conn(), id, &reply, principal.account, now).await? {
        return Err(CoreError::Conflict("the shop has already replied to this review".into()));
    }
    tx.record(&[event(principal, client, "review.reply", id, serde_json::json!({}))]).await?;
    tx.commit().await
}

/// Removes an abusive review (trust & safety; never on a shop of one's own).
pub async fn remove(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
    reason: &str,
) -> Result<(), CoreError> {
    let reason = souk_domain::shop::decision_reason(reason).map_err(|e| CoreError::invalid("reason", e))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let review = store::by_id(tx.conn(), id).await?.ok_or(CoreError::NotFound("review"))?;
    let shop = load_shop(tx.conn(), review.shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ReviewRemove,
        &Resource::Shop(&shop.facts),
        client,
    )
    .await?;
    if !store::remove(tx.conn(), id, &reason, principal.account, now).await? {
        return Err(CoreError::Conflict("the review is already removed".into()));
    }
    tx.record(&[event(principal, client, "review.remove", id, serde_json::json!({ "reason": reason }))])
        .await?;
    tx.commit().await?;
    let msg = format!("Your review was removed by Souk's trust & safety team. Reason: {reason}");
    notify(souk, review.buyer, "Your review was removed", &msg).await;
    Ok(())
}

/// A shop's reviews that stand, newest first, and its reputation. Public for shops on the
/// storefront.
pub async fn of_shop(
    souk: &Souk,
    slug: &str,
    after: Option<(Timestamp, String)>,
    limit: u16,
) -> Result<(ShopId, Reputation, Vec<ReviewRow>), CoreError> {
    let mut conn = souk.store.conn().await?;
    let shop = souk_store::shops::by_slug(&mut conn, slug)
        .await?
        .filter(|s| s.status != "suspended")
        .ok_or(CoreError::NotFound("shop"))?;
    let rep = store::reputation(&mut conn, shop.id).await?;
    let reviews = store::of_shop(&mut conn, shop.id, after, limit.clamp(1, 100)).await?;
    Ok((shop.id, rep, reviews))
}

/// The buyer's review of one of their orders, if they wrote one (anyone else: `NotFound`).
pub async fn of_order(
    souk: &Souk,
    principal: &Principal,
    order_id: &str,
) -> Result<Option<ReviewRow>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let order = souk_store::orders::order(&mut conn, order_id).await?.ok_or(CoreError::NotFound("order"))?;
    if order.buyer != principal.account {
        return Err(CoreError::NotFound("order"));
    }
    Ok(store::by_order(&mut conn, order_id).await?)
}
