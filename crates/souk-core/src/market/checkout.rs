//! Checkout: one cart becomes one checkout with one order per shop. Prices and stock are
//! read again; the risk step decides; then, in one write transaction, every line's stock
//! is reserved by a conditional decrement (so concurrent checkouts for the last unit make
//! exactly one order, on SQLite and PostgreSQL), the checkout, orders, lines and events are
//! written, the payment step starts, the cart empties, and the idempotent answer is stored
//! with them. Unpaid checkouts expire: their orders are cancelled and the stock returns.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use souk_crypto::FieldContext;
use souk_domain::checkout::{self as rules, ShippingAddress};
use souk_domain::ids::{AccountId, ShopId};
use souk_domain::order::{Actor as OrderActor, OrderStatus, Transition};
use souk_domain::shop::ShopStatus;
use souk_domain::{Money, Timestamp};
use souk_store::orders::{self as store, CheckoutRow, OrderEvent, OrderLine, OrderRow};

use super::cart::{line_problem, require_shopper};
use super::steps::{PaymentState, RiskDecision, RiskInput};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// How long an unpaid checkout holds its stock.
pub const PAYMENT_WINDOW_MICROS: i64 = 30 * 60 * 1_000_000;

/// What the buyer sends to check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutInput {
    pub address: ShippingAddress,
    /// The shipping option chosen for each shop of the cart.
    pub shipping: BTreeMap<ShopId, String>,
    /// The total the buyer saw; if prices moved since, the checkout stops so they can look again.
    pub expected_total_minor: Option<i64>,
}

/// A placed checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub checkout: CheckoutRow,
    pub orders: Vec<(OrderRow, Vec<OrderLine>)>,
    pub payment: PaymentState,
}

/// Idempotency of the call: where the answer is stored, in the checkout's transaction.
pub struct Idempotency<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    /// Renders the answer to store (status and body) from the placed checkout.
    pub respond: &'a (dyn Fn(&Placed) -> (u16, Vec<u8>) + Send + Sync),
}

fn address_ctx(checkout: &str) -> FieldContext<'_> {
    FieldContext { table: "checkouts", column: "shipping_address", row_id: checkout }
}

struct ShopPart {
    shop: ShopId,
    shop_name: String,
    owner: AccountId,
    verified: bool,
    option: &'static rules::ShippingOption,
    lines: Vec<souk_store::cart::CartLine>,
    totals: rules::OrderTotals,
}

/// Places the buyer's cart.
#[expect(clippy::too_many_lines, reason = "one transaction, read top to bottom")]
pub async fn place(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    input: &CheckoutInput,
    idem: Option<&Idempotency<'_>>,
) -> Result<Placed, CoreError> {
    require_shopper(principal)?;
    crate::identity::require_confirmed_owner(principal)?;
    let address = input.address.validate().map_err(|e| CoreError::invalid("shipping_address", e))?;
    let currency = souk.market.currency;
    let mut conn = souk.store.conn().await?;
    let lines = souk_store::cart::lines(&mut conn, principal.account).await?;
    if lines.is_empty() {
        return Err(CoreError::invalid("cart", "the cart is empty"));
    }
    // Re-check every line against the storefront as it is now.
    if let Some((line, problem)) =
        lines.iter().find_map(|l| line_problem(l, principal.account, currency).map(|p| (l, p)))
    {
        return Err(CoreError::Conflict(format!(
            "\"{}\" ({}): {problem}; update your cart",
            line.title, line.variant_name
        )));
    }
    let mut parts: Vec<ShopPart> = Vec::new();
    for line in lines {
        match parts.iter_mut().find(|p| p.shop == line.shop) {
            Some(p) => p.lines.push(line),
            None => {
                let code = input.shipping.get(&line.shop).ok_or_else(|| {
                    CoreError::invalid("shipping", format!("choose a shipping option for {}", line.shop_name))
                })?;
                let option = rules::shipping_option(code).map_err(|e| CoreError::invalid("shipping", e))?;
                parts.push(ShopPart {
                    shop: line.shop,
                    shop_name: line.shop_name.clone(),
                    owner: line.shop_owner,
                    verified: line.shop_status == ShopStatus::Verified.as_str(),
                    option,
                    totals: rules::order_totals(&[], Money::new(0, currency), 0, currency)
                        .map_err(|e| CoreError::invalid("cart", e))?,
                    lines: vec![line],
                });
            }
        }
    }
    if let Some(extra) = input.shipping.keys().find(|s| !parts.iter().any(|p| p.shop == **s)) {
        return Err(CoreError::invalid("shipping", format!("shop {extra} is not in the cart")));
    }
    let mut items = Money::new(0, currency);
    let mut shipping = Money::new(0, currency);
    for part in &mut parts {
        let priced: Vec<(Money, u32)> = part
            .lines
            .iter()
            .map(|l| (Money::new(l.price_minor, currency), u32::try_from(l.quantity).unwrap_or(0)))
            .collect();
        part.totals = rules::order_totals(
            &priced,
            Money::new(part.option.price_minor, currency),
            souk.market.platform_fee_bps,
            currency,
        )
        .map_err(|e| CoreError::invalid("cart", e))?;
        if !part.verified && part.totals.total.minor > souk.market.unverified_max_order_minor {
            return Err(CoreError::Conflict(format!(
                "{} is a new shop and can take orders of up to {} until it is verified; split your order",
                part.shop_name,
                Money::new(souk.market.unverified_max_order_minor, currency)
            )));
        }
        items = items.checked_add(part.totals.items).map_err(|e| CoreError::invalid("cart", e))?;
        shipping = shipping.checked_add(part.totals.shipping).map_err(|e| CoreError::invalid("cart", e))?;
    }
    let total = items.checked_add(shipping).map_err(|e| CoreError::invalid("cart", e))?;
    if input.expected_total_minor.is_some_and(|t| t != total.minor) {
        return Err(CoreError::Conflict(format!("the total is now {total}; review your cart and try again")));
    }

    // The risk step sees the checkout before anything is reserved.
    let risk = RiskInput {
        buyer: principal.account,
        total,
        lines: parts.iter().map(|p| p.lines.len()).sum(),
        shops: parts.len(),
    };
    let decision = souk.risk.assess(souk, &mut conn, &risk).await?;
    drop(conn);
    if let RiskDecision::Block(reason) = &decision {
        let mut tx = AuditedTx::begin(souk).await?;
        tx.record(&[Event {
            actor: principal.actor(client.ip),
            action: "checkout.blocked",
            target_kind: "account",
            target_id: principal.account.to_string(),
            outcome: Outcome::Denied,
            request_id: client.request_id.clone(),
            detail: serde_json::json!({ "reason": reason, "total_minor": total.minor }),
        }])
        .await?;
        tx.commit().await?;
        return Err(CoreError::Declined);
    }

    let now = souk.clock.now();
    let checkout_id = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let mut tx = AuditedTx::begin_write(souk).await?;
    for part in &parts {
        for line in &part.lines {
            let qty = u32::try_from(line.quantity).unwrap_or(0);
            if !store::reserve(tx.conn(), line.variant, qty).await? {
                return Err(CoreError::Conflict(format!(
                    "\"{}\" ({}) sold out meanwhile; update your cart",
                    line.title, line.variant_name
                )));
            }
        }
    }
    let buyer = principal.account.to_string();
    let address_json = serde_json::to_vec(&address).map_err(|e| CoreError::Internal(Box::new(e)))?;
    let sealed = souk
        .keys
        .seal(tx.conn(), super::owner_subject(&buyer), &address_ctx(&checkout_id), &address_json, now)
        .await?;
    let mut checkout = CheckoutRow {
        id: checkout_id.clone(),
        buyer: principal.account,
        currency: currency.code().to_owned(),
        items_minor: items.minor,
        shipping_minor: shipping.minor,
        total_minor: total.minor,
        shipping_address_sealed: sealed.as_bytes().to_vec(),
        payment_state: PaymentState::AwaitingPayment.as_str().to_owned(),
        risk_decision: decision.as_str().to_owned(),
        created_at: now,
        expires_at: now.plus_micros(PAYMENT_WINDOW_MICROS),
    };
    store::insert_checkout(tx.conn(), &checkout).await?;
    let mut orders = Vec::with_capacity(parts.len());
    for part in &parts {
        let order = OrderRow {
            id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
            number: rules::order_number(now, souk.entropy.as_ref()),
            checkout: checkout_id.clone(),
            shop: part.shop,
            buyer: principal.account,
            status: OrderStatus::Placed.as_str().to_owned(),
            currency: currency.code().to_owned(),
            items_minor: part.totals.items.minor,
            shipping_minor: part.totals.shipping.minor,
            total_minor: part.totals.total.minor,
            platform_fee_minor: part.totals.platform_fee.minor,
            shipping_option: part.option.code.to_owned(),
            carrier: None,
            tracking_number: None,
            created_at: now,
            updated_at: now,
            shop_name: part.shop_name.clone(),
        };
        store::insert_order(tx.conn(), &order).await?;
        let mut written = Vec::with_capacity(part.lines.len());
        for (line, line_no) in part.lines.iter().zip(1i64..) {
            let l = OrderLine {
                line_no,
                listing: line.listing,
                variant: line.variant,
                title: line.title.clone(),
                variant_name: line.variant_name.clone(),
                sku: line.sku.clone(),
                unit_price_minor: line.price_minor,
                quantity: line.quantity,
                total_minor: line
                    .price_minor
                    .checked_mul(line.quantity)
                    .ok_or(CoreError::invalid("cart", "amount out of range"))?,
            };
            store::insert_line(tx.conn(), &order.id, &l).await?;
            written.push(l);
        }
        store::insert_event(
            tx.conn(),
            &order.id,
            &OrderEvent {
                from: String::new(),
                to: OrderStatus::Placed.as_str().to_owned(),
                transition: "place".into(),
                actor_kind: "buyer".into(),
                actor_id: buyer.clone(),
                note: String::new(),
                at: now,
            },
        )
        .await?;
        orders.push((order, written));
    }
    let payment = souk.payment.start(souk, tx.conn(), &checkout).await?;
    payment.as_str().clone_into(&mut checkout.payment_state);
    if payment != PaymentState::AwaitingPayment {
        store::set_payment_state(
            tx.conn(),
            &checkout_id,
            PaymentState::AwaitingPayment.as_str(),
            payment.as_str(),
        )
        .await?;
    }
    souk_store::cart::clear(tx.conn(), principal.account).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "checkout.place",
        target_kind: "checkout",
        target_id: checkout_id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({
            "orders": orders.iter().map(|(o, _)| o.number.clone()).collect::<Vec<_>>(),
            "total_minor": total.minor, "currency": currency.code(), "payment": payment.as_str(),
        }),
    }])
    .await?;
    let placed = Placed { checkout, orders, payment };
    if let Some(idem) = idem {
        let (status, body) = (idem.respond)(&placed);
        souk_store::idempotency::complete(tx.conn(), idem.scope, idem.key, status, &body).await?;
    }
    tx.commit().await?;
    notify_placed(souk, principal.account, &placed, &parts).await;
    Ok(placed)
}

async fn notify_placed(souk: &Souk, buyer: AccountId, placed: &Placed, parts: &[ShopPart]) {
    let currency = souk.market.currency;
    let mut body = String::from("Thank you for your order on Souk.\n\n");
    for (order, lines) in &placed.orders {
        let _ = writeln!(body, "Order {} from {}", order.number, order.shop_name);
        for l in lines {
            let _ = writeln!(
                body,
                "  {} × {} ({}) — {}",
                l.quantity,
                l.title,
                l.variant_name,
                Money::new(l.total_minor, currency)
            );
        }
        let _ = write!(
            body,
            "  Shipping: {}\n  Total: {}\n\n",
            Money::new(order.shipping_minor, currency),
            Money::new(order.total_minor, currency)
        );
    }
    let _ = write!(
        body,
        "Total to pay: {}\n\nPay only on Souk: your order is protected only when you pay here. \
         Sellers never need your card details or a payment outside Souk.\n",
        Money::new(placed.checkout.total_minor, currency)
    );
    super::notify(souk, buyer, "Your Souk order", &body).await;
    for part in parts {
        if let Some((order, lines)) = placed.orders.iter().find(|(o, _)| o.shop == part.shop) {
            let mut text = format!("You have a new order, {}.\n\n", order.number);
            for l in lines {
                let _ = writeln!(text, "  {} × {} ({}, SKU {})", l.quantity, l.title, l.variant_name, l.sku);
            }
            let _ = write!(
                text,
                "\nItems: {}; your platform fee: {}. Ship it once it is paid; the shipping address is in your seller hub.\n",
                Money::new(order.items_minor, currency),
                Money::new(order.platform_fee_minor, currency)
            );
            super::notify(souk, part.owner, &format!("New order {}", order.number), &text).await;
        }
    }
}

/// The shipping address of a checkout, for its buyer and the shops it ships from.
pub(crate) async fn shipping_address(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    checkout: &CheckoutRow,
) -> Result<Option<ShippingAddress>, CoreError> {
    let buyer = checkout.buyer.to_string();
    let revealed = souk
        .keys
        .reveal(
            conn,
            super::owner_subject(&buyer),
            &address_ctx(&checkout.id),
            &souk_crypto::Sealed::from_stored(checkout.shipping_address_sealed.clone()),
        )
        .await?;
    match revealed {
        crate::keys::Revealed::Text(t) => Ok(serde_json::from_str(&t).ok()),
        crate::keys::Revealed::Erased => Ok(None),
    }
}

/// Cancels the orders of checkouts whose payment window closed, returning their stock.
/// Returns how many checkouts expired.
pub async fn expire_unpaid(souk: &Souk) -> Result<usize, CoreError> {
    let now = souk.clock.now();
    let mut conn = souk.store.conn().await?;
    let due = store::expired_unpaid(&mut conn, now, 100).await?;
    drop(conn);
    let mut expired = 0;
    for id in due {
        // A payment whose outcome was unknown (the processor timed out) may have gone
        // through: ask the vault before cancelling. If it cannot answer, try next round.
        match crate::payments::pay::reconcile(souk, &id).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(checkout = %id, error = %e, "cannot reconcile a checkout's payment; not expiring it yet");
                continue;
            }
        }
        let mut tx = AuditedTx::begin_write(souk).await?;
        if !store::set_payment_state(tx.conn(), &id, PaymentState::AwaitingPayment.as_str(), "expired")
            .await?
        {
            continue;
        }
        for order in store::of_checkout(tx.conn(), &id).await? {
            cancel_in(tx.conn(), &order, OrderActor::System, "system", "payment not received in time", now)
                .await?;
        }
        tx.record(&[Event {
            actor: Actor::system(),
            action: "checkout.expire",
            target_kind: "checkout",
            target_id: id.clone(),
            outcome: Outcome::Success,
            request_id: String::new(),
            detail: serde_json::json!({}),
        }])
        .await?;
        tx.commit().await?;
        expired += 1;
    }
    Ok(expired)
}

/// Cancels an order inside the caller's transaction: the state machine decides, the stock
/// of its lines returns, and whatever its escrow holds is refunded. False if the order was not in a state it could leave.
pub(crate) async fn cancel_in(
    conn: &mut sqlx::AnyConnection,
    order: &OrderRow,
    actor: OrderActor,
    actor_id: &str,
    note: &str,
    now: Timestamp,
) -> Result<bool, CoreError> {
    let from = OrderStatus::parse(&order.status)
        .ok_or_else(|| CoreError::Internal(format!("order status {:?}", order.status).into()))?;
    let Ok(to) = from.apply(Transition::Cancel, actor) else { return Ok(false) };
    let event = OrderEvent {
        from: from.as_str().to_owned(),
        to: to.as_str().to_owned(),
        transition: Transition::Cancel.as_str().to_owned(),
        actor_kind: actor.as_str().to_owned(),
        actor_id: actor_id.to_owned(),
        note: note.to_owned(),
        at: now,
    };
    if !store::transition(conn, &order.id, &event).await? {
        return Ok(false);
    }
    for line in store::lines(conn, &order.id).await? {
        store::release(conn, line.variant, line.quantity).await?;
    }
    // A paid order cancelled before shipping gives its escrow back to the buyer.
    crate::payments::escrow::refund_all_in(conn, order, now).await?;
    Ok(true)
}

/// Records the outcome of a checkout's payment, as the payment connector reports it: paid
/// moves every order to `paid` (the shops may ship) and posts each order's total to its
/// escrow in the ledger, in the same transaction; failed cancels them and releases the
/// stock. Reporting the same outcome again changes nothing.
pub async fn record_payment(souk: &Souk, checkout_id: &str, outcome: PaymentState) -> Result<(), CoreError> {
    record_payment_as(souk, checkout_id, outcome, Actor::system(), serde_json::json!({})).await
}

/// [`record_payment`], audited as `actor` with `detail` (the payment's reference, the card's
/// brand and last four) added to the entry, in the same transaction as the change.
pub(crate) async fn record_payment_as(
    souk: &Souk,
    checkout_id: &str,
    outcome: PaymentState,
    actor: Actor,
    mut detail: serde_json::Value,
) -> Result<(), CoreError> {
    if outcome == PaymentState::AwaitingPayment {
        return Err(CoreError::invalid("outcome", "a payment outcome is paid or failed"));
    }
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin_write(souk).await?;
    let checkout = store::checkout(tx.conn(), checkout_id).await?.ok_or(CoreError::NotFound("checkout"))?;
    if checkout.payment_state == outcome.as_str() {
        return Ok(());
    }
    if !store::set_payment_state(
        tx.conn(),
        checkout_id,
        PaymentState::AwaitingPayment.as_str(),
        outcome.as_str(),
    )
    .await?
    {
        return Err(CoreError::Conflict(format!("the checkout is {} already", checkout.payment_state)));
    }
    let orders = store::of_checkout(tx.conn(), checkout_id).await?;
    for order in &orders {
        match outcome {
            PaymentState::Paid => {
                let from = OrderStatus::parse(&order.status)
                    .ok_or_else(|| CoreError::Internal("order status".into()))?;
                // The money came in: it goes to the order's escrow in this transaction. An
                // order the buyer cancelled meanwhile stays cancelled and is refunded in full.
                crate::payments::escrow::charge_in(tx.conn(), order, now).await?;
                let Ok(to) = from.apply(Transition::Pay, OrderActor::System) else {
                    crate::payments::escrow::refund_all_in(tx.conn(), order, now).await?;
                    continue;
                };
                let event = OrderEvent {
                    from: from.as_str().to_owned(),
                    to: to.as_str().to_owned(),
                    transition: Transition::Pay.as_str().to_owned(),
                    actor_kind: OrderActor::System.as_str().to_owned(),
                    actor_id: "payment".into(),
                    note: String::new(),
                    at: now,
                };
                // The transition is a compare-and-set on the status read above: if the buyer's
                // cancellation committed in between, it fails, and the money just put in escrow
                // goes straight back (the cancellation saw an empty escrow and refunded nothing).
                if !store::transition(tx.conn(), &order.id, &event).await? {
                    crate::payments::escrow::refund_all_in(tx.conn(), order, now).await?;
                    continue;
                }
                // The shop's webhooks hear of it in this transaction: no payment without
                // its event, and no event for a payment that rolled back.
                crate::webhooks::outbox::emit_in(
                    tx.conn(),
                    souk.entropy.as_ref(),
                    now,
                    order.shop,
                    crate::webhooks::EventType::OrderPaid,
                    serde_json::json!({ "order": crate::webhooks::outbox::order_data(order, to.as_str()) }),
                )
                .await?;
            }
            _ => {
                cancel_in(tx.conn(), order, OrderActor::System, "payment", "the payment failed", now).await?;
            }
        }
    }
    if let Some(map) = detail.as_object_mut() {
        map.insert("outcome".into(), outcome.as_str().into());
    }
    tx.record(&[Event {
        actor,
        action: "checkout.payment",
        target_kind: "checkout",
        target_id: checkout_id.to_owned(),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail,
    }])
    .await?;
    tx.commit().await?;
    if outcome == PaymentState::Paid {
        for order in &orders {
            let mut conn = souk.store.conn().await?;
            let shop = souk_store::shops::by_id(&mut conn, order.shop).await;
            drop(conn);
            if let Ok(Some(shop)) = shop {
                let text = format!(
                    "Order {} is paid: you can ship it now. Add the carrier and tracking number when you do.",
                    order.number
                );
                super::notify(souk, shop.owner, &format!("Order {} is paid", order.number), &text).await;
            }
        }
    }
    Ok(())
}
