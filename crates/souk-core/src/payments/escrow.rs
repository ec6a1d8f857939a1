//! Escrow: a paid order's money is held per order, released to the shop (less the
//! platform's fee) when the order completes, and given back by refunds (from escrow before
//! release, clawed back from the shop's balance after) and chargebacks; never more than
//! the buyer paid. Two concurrent movements of one order cannot both post: each takes the
//! order's next ledger sequence number and the database lets only one have it. Each refund
//! is recorded with who made it and why, beside its postings.

use souk_access::{Action, Resource};
use souk_domain::order::{Actor as OrderActor, OrderStatus, Transition};
use souk_domain::{Money, Timestamp};
use souk_identity::api_key::Scope;
use souk_payments::ledger::rules::{self, OrderFunds};
use souk_payments::ledger::{Transaction, TxKind};
use souk_store::ledger as store;
use souk_store::orders::{self as orders, OrderEvent, OrderRow};
use sqlx::AnyConnection;

use super::{currency_of, raced, refused};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// The order's funds as the ledger shows them now.
pub(crate) async fn funds_of(conn: &mut AnyConnection, order: &OrderRow) -> Result<OrderFunds, CoreError> {
    let c = currency_of(&order.currency)?;
    Ok(store::order_funds(
        conn,
        &order.id,
        order.shop,
        Money::new(order.total_minor, c),
        Money::new(order.platform_fee_minor, c),
    )
    .await?)
}

async fn post(conn: &mut AnyConnection, tx: &Transaction, now: Timestamp) -> Result<i64, CoreError> {
    store::post(conn, tx, now).await.map_err(raced)
}

/// Posts a paid order's total to its escrow, in the caller's transaction (the payment's).
/// An order charged already is left as it is.
pub(crate) async fn charge_in(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: Timestamp,
) -> Result<(), CoreError> {
    let funds = funds_of(conn, order).await?;
    if funds.charged {
        return Ok(());
    }
    let tx = rules::charge(&funds).map_err(refused)?;
    post(conn, &tx, now).await?;
    Ok(())
}

/// Gives back everything still in an order's escrow, in the caller's transaction (an
/// order cancelled before its payment arrived). Returns the amount.
pub(crate) async fn refund_all_in(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: Timestamp,
) -> Result<Money, CoreError> {
    let funds = funds_of(conn, order).await?;
    if funds.escrow.minor <= 0 || funds.released {
        return Ok(Money::new(0, funds.total.currency));
    }
    let tx = rules::refund(&funds, funds.escrow).map_err(refused)?;
    post(conn, &tx, now).await?;
    Ok(funds.escrow)
}

/// Releases a completed order's escrow to its shop (less the platform's fee), in the
/// caller's transaction (the completion's). Returns (to the seller, fee), or `None` when
/// nothing is left in escrow or it was released already.
pub(crate) async fn release_in(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: Timestamp,
) -> Result<Option<(i64, i64)>, CoreError> {
    let funds = funds_of(conn, order).await?;
    if !funds.charged || funds.released {
        return Ok(None);
    }
    let Some(tx) = rules::release(&funds).map_err(refused)? else { return Ok(None) };
    post(conn, &tx, now).await?;
    let part =
        |kind| tx.postings().iter().filter(|p| p.account.kind() == kind).map(|p| p.amount.minor).sum::<i64>();
    Ok(Some((
        part(souk_payments::ledger::AccountKind::SellerPayable),
        part(souk_payments::ledger::AccountKind::PlatformFees),
    )))
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    pub amount: Money,
    /// Taken from the shop's balance after release (a clawback) rather than from escrow.
    pub clawback: bool,
    /// What may still be refunded.
    pub refundable: Money,
    /// The order's status after (refunded when all of it went back before completion).
    pub status: OrderStatus,
}

/// Where a refund's idempotent answer is stored: in the refund's own transaction, so a
/// crash can never leave a refund posted without the answer a retry would replay.
pub struct RefundKey<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    /// Renders the answer to store (status and body) from the refund.
    pub respond: &'a (dyn Fn(&Refunded) -> (u16, Vec<u8>) + Send + Sync),
}

/// Refunds `amount_minor` of an order to its buyer: by the order's shop (Cedar's
/// `order.fulfil`: its owner, managers and fulfilment staff) or by finance staff (Cedar's
/// `order.refund`, which no one may use on their own shop or purchase). Partial refunds
/// add up; never more than was paid.
pub async fn refund(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    order_id: &str,
    amount_minor: i64,
    reason: &str,
) -> Result<Refunded, CoreError> {
    refund_keyed(souk, principal, client, order_id, amount_minor, reason, None).await
}

/// [`refund`], storing the idempotent answer under `key` in the refund's transaction.
pub async fn refund_keyed(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    order_id: &str,
    amount_minor: i64,
    reason: &str,
    key: Option<&RefundKey<'_>>,
) -> Result<Refunded, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersWrite)?;
    let reason = souk_domain::catalog::display_text("reason", reason, 0, 500)
        .map_err(|e| CoreError::invalid("reason", e))?;
    let mut conn = souk.store.conn().await?;
    let order = orders::order(&mut conn, order_id).await?.ok_or(CoreError::NotFound("order"))?;
    let shop = load_shop(&mut conn, order.shop).await?;
    drop(conn);
    // Who is refunding is decided before the write transaction (a refusal is recorded in
    // a transaction of its own, which must not wait behind ours).
    let resource = Resource::Order { id: &order.id, buyer: order.buyer, shop: &shop.facts };
    let actor = if order.buyer == principal.account {
        return Err(CoreError::Forbidden);
    } else if souk.access.decide(&principal.access_actor(), Action::OrderFulfil, &resource).allowed {
        OrderActor::Seller
    } else {
        match crate::authz::check(souk, principal, Action::OrderRefund, &resource, client).await {
            Ok(()) => OrderActor::Staff,
            Err(CoreError::Forbidden)
                if souk.access.decide(&principal.access_actor(), Action::OrderView, &resource).allowed =>
            {
                return Err(CoreError::Forbidden);
            }
            Err(CoreError::Forbidden) => return Err(CoreError::NotFound("order")),
            Err(e) => return Err(e),
        }
    };
    if actor == OrderActor::Staff {
        crate::authz::require_staff_session(souk, principal)?;
    }
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin_write(souk).await?;
    // A clawback reads the shop's balance: payouts of the shop wait for it (and it for them).
    store::lock_shop(tx.conn(), order.shop).await?;
    // Read again under the write lock: the status and funds are the ones the refund acts on.
    let order = orders::order(tx.conn(), order_id).await?.ok_or(CoreError::NotFound("order"))?;
    let funds = funds_of(tx.conn(), &order).await?;
    let amount = Money::new(amount_minor, funds.total.currency);
    let posting = rules::refund(&funds, amount).map_err(refused)?;
    post(tx.conn(), &posting, now).await?;
    let refundable =
        Money::new(funds.refundable().map_err(refused)?.minor.saturating_sub(amount.minor), amount.currency);
    let from = OrderStatus::parse(&order.status).ok_or_else(|| CoreError::Internal("order status".into()))?;
    let mut status = from;
    if refundable.minor == 0
        && let Ok(to) = from.apply(Transition::Refund, actor)
    {
        let event = OrderEvent {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            transition: Transition::Refund.as_str().to_owned(),
            actor_kind: actor.as_str().to_owned(),
            actor_id: principal.account.to_string(),
            note: reason.clone(),
            at: now,
        };
        if !orders::transition(tx.conn(), &order.id, &event).await? {
            return Err(CoreError::Conflict("the order changed meanwhile; reload it".into()));
        }
        status = to;
    }
    let clawback = posting.kind() == TxKind::Clawback;
    let record = souk_store::finance::RefundRow {
        id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
        order: order.id.clone(),
        amount_minor: amount.minor,
        currency: amount.currency.code().to_owned(),
        clawback,
        actor_kind: actor.as_str().to_owned(),
        actor_id: principal.account.to_string(),
        reason: reason.clone(),
        created_at: now,
    };
    souk_store::finance::insert_refund(tx.conn(), &record).await?;
    let done = Refunded { amount, clawback, refundable, status };
    if let Some(key) = key {
        let (code, body) = (key.respond)(&done);
        souk_store::idempotency::complete(tx.conn(), key.scope, key.key, code, &body).await?;
    }
    emit_refunded(&mut tx, souk, &order, status.as_str(), &record, refundable).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "order.refund",
        target_kind: "order",
        target_id: order.id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({
            "amount_minor": amount.minor, "currency": amount.currency.code(), "clawback": clawback,
            "as": actor.as_str(), "reason": reason, "status": status.as_str(),
        }),
    }])
    .await?;
    tx.commit().await?;
    crate::market::notify(
        souk,
        order.buyer,
        &format!("A refund for order {}", order.number),
        &format!("{} refunded {amount} of order {} to you.", order.shop_name, order.number),
    )
    .await;
    Ok(done)
}

/// An order's refunds and what may still be refunded, for whoever may see the order
/// (Cedar's `order.view`) or refund it (`order.refund`); a 404 for anyone else.
pub async fn refunds_of(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    order_id: &str,
) -> Result<(Vec<souk_store::finance::RefundRow>, Money), CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersRead)?;
    let mut conn = souk.store.conn().await?;
    let order = orders::order(&mut conn, order_id).await?.ok_or(CoreError::NotFound("order"))?;
    let shop = load_shop(&mut conn, order.shop).await?;
    drop(conn);
    let resource = Resource::Order { id: &order.id, buyer: order.buyer, shop: &shop.facts };
    if !souk.access.decide(&principal.access_actor(), Action::OrderView, &resource).allowed {
        match crate::authz::check(souk, principal, Action::OrderRefund, &resource, client).await {
            Ok(()) => crate::authz::require_staff_session(souk, principal)?,
            Err(CoreError::Forbidden) => return Err(CoreError::NotFound("order")),
            Err(e) => return Err(e),
        }
    }
    let mut conn = souk.store.conn().await?;
    let funds = funds_of(&mut conn, &order).await?;
    let refunds = souk_store::finance::order_refunds(&mut conn, &order.id).await?;
    let refundable = if funds.charged {
        funds.refundable().map_err(refused)?
    } else {
        Money::new(0, funds.total.currency)
    };
    Ok((refunds, refundable))
}

/// Records a chargeback the payment processor reported: `amount_minor` of the order's
/// payment is pulled back, from escrow before release and from the shop's balance after.
pub async fn chargeback(souk: &Souk, order_id: &str, amount_minor: i64) -> Result<(), CoreError> {
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin_write(souk).await?;
    let order = orders::order(tx.conn(), order_id).await?.ok_or(CoreError::NotFound("order"))?;
    store::lock_shop(tx.conn(), order.shop).await?;
    let funds = funds_of(tx.conn(), &order).await?;
    let amount = Money::new(amount_minor, funds.total.currency);
    let posting = rules::chargeback(&funds, amount).map_err(refused)?;
    post(tx.conn(), &posting, now).await?;
    tx.record(&[Event {
        actor: Actor::system(),
        action: "order.chargeback",
        target_kind: "order",
        target_id: order.id.clone(),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({ "amount_minor": amount.minor, "currency": amount.currency.code(), "released": funds.released }),
    }])
    .await?;
    tx.commit().await
}

/// The `order.refunded` webhook event, in the refund's own transaction.
async fn emit_refunded(
    tx: &mut AuditedTx<'_>,
    souk: &Souk,
    order: &OrderRow,
    status: &str,
    refund: &souk_store::finance::RefundRow,
    refundable: Money,
) -> Result<(), CoreError> {
    let data = serde_json::json!({
        "order": crate::webhooks::outbox::order_data(order, status),
        "refund": {
            "id": refund.id, "amount_minor": refund.amount_minor, "currency": refund.currency,
            "clawback": refund.clawback, "refundable_minor": refundable.minor,
        },
    });
    crate::webhooks::outbox::emit_in(
        tx.conn(),
        souk.entropy.as_ref(),
        refund.created_at,
        order.shop,
        crate::webhooks::EventType::OrderRefunded,
        data,
    )
    .await?;
    Ok(())
}
