//! Orders after checkout: buyers see theirs, shops see and fulfil theirs, and each change of
//! status is a use case: who is acting (the buyer, or the shop's people per Cedar) is
//! decided first, then the domain's state machine says whether the change is allowed from
//! the order's status, then the change and its event are written only if the status is
//! still the one read (no lost updates), recorded in the audit log, and mailed.

use souk_access::{Action, Resource};
use souk_domain::checkout::ShippingAddress;
use souk_domain::ids::ShopId;
use souk_domain::order::{Actor as OrderActor, InvalidTransition, OrderStatus, Tracking, Transition};
use souk_domain::{Currency, Money, Timestamp};
use souk_identity::api_key::Scope;
use souk_store::orders::{self as store, OrderEvent, OrderLine, OrderOwner, OrderRow};

use super::{LoadedShop, load_shop, notify};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// An order with what its viewer may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderDetail {
    pub order: OrderRow,
    pub lines: Vec<OrderLine>,
    pub events: Vec<OrderEvent>,
    /// For the buyer and the shop's people; not for support.
    pub shipping_address: Option<ShippingAddress>,
    /// The viewer's part in the order.
    pub viewer: OrderActor,
    /// What the viewer may do next.
    pub actions: Vec<Transition>,
}

fn status_of(order: &OrderRow) -> Result<OrderStatus, CoreError> {
    OrderStatus::parse(&order.status)
        .ok_or_else(|| CoreError::Internal(format!("order status {:?}", order.status).into()))
}

/// Who the principal is to this order: the buyer, the shop (Cedar's `order.fulfil`), or a
/// staff viewer (`order.view`); anyone else gets `NotFound` (and the refusal is recorded).
async fn part_in(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    order: &OrderRow,
    shop: &LoadedShop,
) -> Result<OrderActor, CoreError> {
    let resource = Resource::Order { id: &order.id, buyer: order.buyer, shop: &shop.facts };
    if order.buyer == principal.account {
        return Ok(OrderActor::Buyer);
    }
    let actor = principal.access_actor();
    if souk.access.decide(&actor, Action::OrderFulfil, &resource).allowed {
        return Ok(OrderActor::Seller);
    }
    match crate::authz::check(souk, principal, Action::OrderView, &resource, client).await {
        Ok(()) => Ok(OrderActor::Staff),
        Err(CoreError::Forbidden) => Err(CoreError::NotFound("order")),
        Err(e) => Err(e),
    }
}

/// One order, for its buyer, its shop and support.
pub async fn view(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<OrderDetail, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersRead)?;
    let mut conn = souk.store.conn().await?;
    let order = store::order(&mut conn, id).await?.ok_or(CoreError::NotFound("order"))?;
    let shop = load_shop(&mut conn, order.shop).await?;
    drop(conn);
    let viewer = part_in(souk, principal, client, &order, &shop).await?;
    let mut conn = souk.store.conn().await?;
    let lines = store::lines(&mut conn, &order.id).await?;
    let events = store::events(&mut conn, &order.id).await?;
    let shipping_address = if viewer == OrderActor::Staff {
        None
    } else {
        let checkout =
            store::checkout(&mut conn, &order.checkout).await?.ok_or(CoreError::NotFound("order"))?;
        super::checkout::shipping_address(souk, &mut conn, &checkout).await?
    };
    let status = status_of(&order)?;
    let actions = status.available_to(viewer).filter(|t| EXPOSED.contains(t)).collect();
    Ok(OrderDetail { order, lines, events, shipping_address, viewer, actions })
}

/// The transitions people can ask for today. Paying comes from the payment step; disputes,
/// completion and refunds arrive with the payments work.
const EXPOSED: &[Transition] = &[Transition::Cancel, Transition::Ship, Transition::ConfirmDelivery];

/// The buyer's orders, newest first.
pub async fn mine(
    souk: &Souk,
    principal: &Principal,
    status: Option<&str>,
    after: Option<(Timestamp, String)>,
    limit: u16,
) -> Result<Vec<OrderRow>, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersRead)?;
    check_status_filter(status)?;
    let mut conn = souk.store.conn().await?;
    Ok(store::list(&mut conn, OrderOwner::Buyer(principal.account), status, after, limit.clamp(1, 200))
        .await?)
}

fn check_status_filter(status: Option<&str>) -> Result<(), CoreError> {
    match status {
        Some(s) if OrderStatus::parse(s).is_none() => {
            Err(CoreError::invalid("status", "not an order status"))
        }
        _ => Ok(()),
    }
}

/// A shop's orders, newest first (its people and support).
pub async fn of_shop(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    status: Option<&str>,
    after: Option<(Timestamp, String)>,
    limit: u16,
) -> Result<Vec<OrderRow>, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersRead)?;
    check_status_filter(status)?;
    let mut conn = souk.store.conn().await?;
    let loaded = load_shop(&mut conn, shop).await?;
    drop(conn);
    if crate::authz::check(souk, principal, Action::ShopView, &Resource::Shop(&loaded.facts), client)
        .await
        .is_err()
    {
        return Err(CoreError::NotFound("shop"));
    }
    let mut conn = souk.store.conn().await?;
    Ok(store::list(&mut conn, OrderOwner::Shop(shop), status, after, limit.clamp(1, 200)).await?)
}

/// What the actor asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Cancel { reason: String },
    Ship { carrier: String, tracking_number: String },
    ConfirmDelivery,
}

impl Request {
    const fn transition(&self) -> Transition {
        match self {
            Self::Cancel { .. } => Transition::Cancel,
            Self::Ship { .. } => Transition::Ship,
            Self::ConfirmDelivery => Transition::ConfirmDelivery,
        }
    }
}

fn refusal(e: InvalidTransition) -> CoreError {
    match e {
        InvalidTransition::NotAllowed { from, transition, .. } => CoreError::Conflict(format!(
            "an order that is {} cannot be {}",
            from.as_str(),
            past_tense(transition)
        )),
        InvalidTransition::Forbidden { .. } => CoreError::Forbidden,
    }
}

const fn past_tense(t: Transition) -> &'static str {
    match t {
        Transition::Cancel => "cancelled",
        Transition::Ship => "shipped",
        Transition::ConfirmDelivery | Transition::AutoConfirmDelivery => "marked delivered",
        Transition::Pay => "paid",
        Transition::Complete => "completed",
        Transition::OpenDispute => "disputed",
        Transition::ResolveForSeller | Transition::ResolveForBuyer => "resolved",
        Transition::Refund => "refunded",
    }
}

/// Stores the tracking of a shipped order and writes `order.shipped` for the shop's
/// webhooks, in the shipping's transaction.
async fn record_shipping(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    order: &OrderRow,
    tracking: &Tracking,
    now: Timestamp,
) -> Result<(), CoreError> {
    store::set_tracking(conn, &order.id, tracking.carrier().as_str(), tracking.number()).await?;
    let mut shipped = order.clone();
    shipped.carrier = Some(tracking.carrier().as_str().to_owned());
    shipped.tracking_number = Some(tracking.number().to_owned());
    let data = crate::webhooks::outbox::order_data(&shipped, OrderStatus::Shipped.as_str());
    crate::webhooks::outbox::emit_in(
        conn,
        souk.entropy.as_ref(),
        now,
        order.shop,
        crate::webhooks::EventType::OrderShipped,
        serde_json::json!({ "order": data }),
    )
    .await?;
    Ok(())
}

/// The transition asked for, unless it ships an order the risk step held for review (it is
/// not shipped until an analyst approved it).
async fn unless_held_for_review(
    conn: &mut sqlx::AnyConnection,
    checkout: &str,
    t: Transition,
) -> Result<Transition, CoreError> {
    crate::risk::reviews::refuse_shipping_if_held(conn, checkout, t == Transition::Ship).await?;
    Ok(t)
}

/// Changes an order's status on behalf of its buyer or its shop.
pub async fn act(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
    request: &Request,
) -> Result<OrderStatus, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::OrdersWrite)?;
    let tracking = match request {
        Request::Ship { carrier, tracking_number } => {
            Some(Tracking::parse(carrier, tracking_number).map_err(|e| CoreError::invalid("tracking", e))?)
        }
        _ => None,
    };
    let note = match request {
        Request::Cancel { reason } => souk_domain::catalog::display_text("reason", reason, 0, 500)
            .map_err(|e| CoreError::invalid("reason", e))?,
        _ => String::new(),
    };
    // Who is acting is decided before the write transaction: a refusal is recorded in a
    // transaction of its own, which must not wait behind ours. The change below applies
    // only if the order is still in the status read here.
    let mut conn = souk.store.conn().await?;
    let order = store::order(&mut conn, id).await?.ok_or(CoreError::NotFound("order"))?;
    let shop = load_shop(&mut conn, order.shop).await?;
    drop(conn);
    let actor = part_in(souk, principal, client, &order, &shop).await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin_write(souk).await?;
    let transition = unless_held_for_review(tx.conn(), &order.checkout, request.transition()).await?;
    let from = status_of(&order)?;
    let to = from.apply(transition, actor).map_err(refusal)?;
    let changed = if transition == Transition::Cancel {
        super::checkout::cancel_in(tx.conn(), &order, actor, &principal.account.to_string(), &note, now)
            .await?
    } else {
        let event = OrderEvent {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            transition: transition.as_str().to_owned(),
            actor_kind: actor.as_str().to_owned(),
            actor_id: principal.account.to_string(),
            note: tracking
                .as_ref()
                .map(|t| format!("{} {}", t.carrier().as_str(), t.number()))
                .unwrap_or_default(),
            at: now,
        };
        store::transition(tx.conn(), &order.id, &event).await?
    };
    if !changed {
        return Err(CoreError::Conflict("the order changed meanwhile; reload it".into()));
    }
    if let Some(t) = &tracking {
        record_shipping(souk, tx.conn(), &order, t, now).await?;
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "order.transition",
        target_kind: "order",
        target_id: order.id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "transition": transition.as_str(), "from": from.as_str(), "to": to.as_str(), "as": actor.as_str() }),
    }])
    .await?;
    tx.commit().await?;
    let currency = Currency::from_code(&order.currency).unwrap_or(souk.market.currency);
    let (who, subject, body) = match (transition, actor) {
        (Transition::Cancel, OrderActor::Buyer) => (
            shop.record.owner,
            format!("Order {} was cancelled by the buyer", order.number),
            format!(
                "The buyer cancelled order {} ({}). Its stock is back on sale. Reason given: {}",
                order.number,
                Money::new(order.total_minor, currency),
                if note.is_empty() { "none" } else { &note }
            ),
        ),
        (Transition::Cancel, _) => (
            order.buyer,
            format!("Your order {} was cancelled", order.number),
            format!(
                "{} cancelled your order {}. You will not be charged for it. Reason given: {}",
                order.shop_name,
                order.number,
                if note.is_empty() { "none" } else { &note }
            ),
        ),
        (Transition::Ship, _) => (
            order.buyer,
            format!("Your order {} is on its way", order.number),
            format!(
                "{} shipped your order {} with {}; tracking number {}. Confirm delivery on Souk once it arrives.",
                order.shop_name,
                order.number,
                tracking.as_ref().map_or("", |t| t.carrier().label()),
                tracking.as_ref().map_or("", Tracking::number)
            ),
        ),
        _ => (
            shop.record.owner,
            format!("Order {} was delivered", order.number),
            format!("The buyer confirmed that order {} arrived.", order.number),
        ),
    };
    notify(souk, who, &subject, &body).await;
    Ok(to)
}

/// Moves orders on by time (housekeeping): a shipped order the buyer never confirmed counts
/// as delivered after `auto_confirm_after`; a delivered order completes once the dispute
/// window has passed, and its escrow is released to the shop (less the platform's fee) in
/// the same transaction. Returns (auto-confirmed, completed).
pub async fn advance_due(souk: &Souk) -> Result<(usize, usize), CoreError> {
    let now = souk.clock.now();
    let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let steps = [
        (OrderStatus::Shipped, Transition::AutoConfirmDelivery, micros(souk.market.auto_confirm_after)),
        (OrderStatus::Delivered, Transition::Complete, micros(souk.market.dispute_window)),
    ];
    let mut moved = [0usize; 2];
    for ((status, transition, after), count) in steps.into_iter().zip(moved.iter_mut()) {
        let mut conn = souk.store.conn().await?;
        let due = store::due(&mut conn, status.as_str(), now.plus_micros(-after), 100).await?;
        drop(conn);
        for order in due {
            let Ok(to) = status.apply(transition, OrderActor::System) else { continue };
            let mut tx = AuditedTx::begin_write(souk).await?;
            // Escrow held by a risk review is not released until an analyst decides.
            if transition == Transition::Complete
                && crate::risk::reviews::held(tx.conn(), &order.checkout).await?
            {
                continue;
            }
            let event = OrderEvent {
                from: status.as_str().to_owned(),
                to: to.as_str().to_owned(),
                transition: transition.as_str().to_owned(),
                actor_kind: OrderActor::System.as_str().to_owned(),
                actor_id: "system".into(),
                note: String::new(),
                at: now,
            };
            if !store::transition(tx.conn(), &order.id, &event).await? {
                continue;
            }
            // Completion releases the escrow to the shop, less the platform's fee.
            let released = if transition == Transition::Complete {
                crate::payments::escrow::release_in(tx.conn(), &order, now).await?
            } else {
                None
            };
            let (released_minor, fee_minor) = released.unzip();
            let detail = serde_json::json!({
                "transition": transition.as_str(), "from": status.as_str(), "to": to.as_str(), "as": "system",
                "released_minor": released_minor, "fee_minor": fee_minor,
            });
            tx.record(&[Event {
                actor: crate::audit::Actor::system(),
                action: "order.transition",
                target_kind: "order",
                target_id: order.id.clone(),
                outcome: Outcome::Success,
                request_id: String::new(),
                detail,
            }])
            .await?;
            tx.commit().await?;
            *count += 1;
        }
    }
    Ok((moved[0], moved[1]))
}
