//! Checkouts and orders: stock reservation (a conditional decrement that fails rather than
//! go below zero), the records a checkout writes, order reads for buyers and shops, and
//! status changes that only apply from the expected status, each with its event.

use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, ListingId, ShopId, VariantId};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

fn typed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse::<T>().map_err(|_| StoreError::corrupt(format!("{column}: {raw:?}")))
}

/// Takes `quantity` units of a variant that is on sale; false if there are not enough (or
/// it can no longer be sold). The listing's stock summary moves with it.
pub async fn reserve(
    conn: &mut AnyConnection,
    variant: VariantId,
    quantity: u32,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE listing_variants SET stock = stock - $1 WHERE id = $2 AND stock >= $1 AND archived_at IS NULL",
    )
    .bind(i64::from(quantity))
    .bind(variant.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE listings SET stock = stock - $1 WHERE id = (SELECT listing_id FROM listing_variants WHERE id = $2)",
    )
    .bind(i64::from(quantity))
    .bind(variant.to_string())
    .execute(conn)
    .await?;
    Ok(true)
}

/// Puts reserved units back (a cancelled or expired order).
pub async fn release(conn: &mut AnyConnection, variant: VariantId, quantity: i64) -> Result<(), StoreError> {
    sqlx::query("UPDATE listing_variants SET stock = stock + $1 WHERE id = $2")
        .bind(quantity)
        .bind(variant.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE listings SET stock = stock + $1 WHERE id = (SELECT listing_id FROM listing_variants WHERE id = $2)",
    )
    .bind(quantity)
    .bind(variant.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// A checkout as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRow {
    pub id: String,
    pub buyer: AccountId,
    pub currency: String,
    pub items_minor: i64,
    pub shipping_minor: i64,
    pub total_minor: i64,
    pub shipping_address_sealed: Vec<u8>,
    pub payment_state: String,
    pub risk_decision: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

pub async fn insert_checkout(conn: &mut AnyConnection, c: &CheckoutRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO checkouts (id, buyer_id, currency, items_minor, shipping_minor, total_minor, \
         shipping_address_sealed, payment_state, risk_decision, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(c.id.as_str())
    .bind(c.buyer.to_string())
    .bind(c.currency.as_str())
    .bind(c.items_minor)
    .bind(c.shipping_minor)
    .bind(c.total_minor)
    .bind(c.shipping_address_sealed.as_slice())
    .bind(c.payment_state.as_str())
    .bind(c.risk_decision.as_str())
    .bind(c.created_at.as_micros())
    .bind(c.expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn checkout(conn: &mut AnyConnection, id: &str) -> Result<Option<CheckoutRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, buyer_id, currency, items_minor, shipping_minor, total_minor, shipping_address_sealed, \
         payment_state, risk_decision, created_at, expires_at FROM checkouts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(CheckoutRow {
            id: r.try_get("id")?,
            buyer: typed(&r, "buyer_id")?,
            currency: r.try_get("currency")?,
            items_minor: r.try_get("items_minor")?,
            shipping_minor: r.try_get("shipping_minor")?,
            total_minor: r.try_get("total_minor")?,
            shipping_address_sealed: r.try_get("shipping_address_sealed")?,
            payment_state: r.try_get("payment_state")?,
            risk_decision: r.try_get("risk_decision")?,
            created_at: Timestamp::from_micros(r.try_get("created_at")?),
            expires_at: Timestamp::from_micros(r.try_get("expires_at")?),
        })
    })
    .transpose()
}

/// How many checkouts the buyer made since `since` (a velocity signal for the risk step).
pub async fn checkouts_since(
    conn: &mut AnyConnection,
    buyer: AccountId,
    since: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM checkouts WHERE buyer_id = $1 AND created_at >= $2")
        .bind(buyer.to_string())
        .bind(since.as_micros())
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub id: String,
    pub number: String,
    pub checkout: String,
    pub shop: ShopId,
    pub buyer: AccountId,
    pub status: String,
    pub currency: String,
    pub items_minor: i64,
    pub shipping_minor: i64,
    pub total_minor: i64,
    pub platform_fee_minor: i64,
    pub shipping_option: String,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The shop's name (joined, for lists).
    pub shop_name: String,
}

const ORDER_COLUMNS: &str = "o.id, o.number, o.checkout_id, o.shop_id, o.buyer_id, o.status, o.currency, \
     o.items_minor, o.shipping_minor, o.total_minor, o.platform_fee_minor, o.shipping_option, o.carrier, \
     o.tracking_number, o.created_at, o.updated_at, s.name AS shop_name";

fn order_of(r: &AnyRow) -> Result<OrderRow, StoreError> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        checkout: r.try_get("checkout_id")?,
        shop: typed(r, "shop_id")?,
        buyer: typed(r, "buyer_id")?,
        status: r.try_get("status")?,
        currency: r.try_get("currency")?,
        items_minor: r.try_get("items_minor")?,
        shipping_minor: r.try_get("shipping_minor")?,
        total_minor: r.try_get("total_minor")?,
        platform_fee_minor: r.try_get("platform_fee_minor")?,
        shipping_option: r.try_get("shipping_option")?,
        carrier: r.try_get("carrier")?,
        tracking_number: r.try_get("tracking_number")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
        shop_name: r.try_get("shop_name")?,
    })
}

pub async fn insert_order(conn: &mut AnyConnection, o: &OrderRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO orders (id, number, checkout_id, shop_id, buyer_id, status, currency, items_minor, \
         shipping_minor, total_minor, platform_fee_minor, shipping_option, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
    )
    .bind(o.id.as_str())
    .bind(o.number.as_str())
    .bind(o.checkout.as_str())
    .bind(o.shop.to_string())
    .bind(o.buyer.to_string())
    .bind(o.status.as_str())
    .bind(o.currency.as_str())
    .bind(o.items_minor)
    .bind(o.shipping_minor)
    .bind(o.total_minor)
    .bind(o.platform_fee_minor)
    .bind(o.shipping_option.as_str())
    .bind(o.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// A line of an order, as sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub line_no: i64,
    pub listing: ListingId,
    pub variant: VariantId,
    pub title: String,
    pub variant_name: String,
    pub sku: String,
    pub unit_price_minor: i64,
    pub quantity: i64,
    pub total_minor: i64,
}

pub async fn insert_line(conn: &mut AnyConnection, order: &str, l: &OrderLine) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_lines (order_id, line_no, listing_id, variant_id, title, variant_name, sku, \
         unit_price_minor, quantity, total_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(order)
    .bind(l.line_no)
    .bind(l.listing.to_string())
    .bind(l.variant.to_string())
    .bind(l.title.as_str())
    .bind(l.variant_name.as_str())
    .bind(l.sku.as_str())
    .bind(l.unit_price_minor)
    .bind(l.quantity)
    .bind(l.total_minor)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn lines(conn: &mut AnyConnection, order: &str) -> Result<Vec<OrderLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT line_no, listing_id, variant_id, title, variant_name, sku, unit_price_minor, quantity, total_minor \
         FROM order_lines WHERE order_id = $1 ORDER BY line_no",
    )
    .bind(order)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderLine {
                line_no: r.try_get("line_no")?,
                listing: typed(r, "listing_id")?,
                variant: typed(r, "variant_id")?,
                title: r.try_get("title")?,
                variant_name: r.try_get("variant_name")?,
                sku: r.try_get("sku")?,
                unit_price_minor: r.try_get("unit_price_minor")?,
                quantity: r.try_get("quantity")?,
                total_minor: r.try_get("total_minor")?,
            })
        })
        .collect()
}

pub async fn order(conn: &mut AnyConnection, id: &str) -> Result<Option<OrderRow>, StoreError> {
    let sql =
        format!("SELECT {ORDER_COLUMNS} FROM orders o JOIN shops s ON s.id = o.shop_id WHERE o.id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(order_of).transpose()
}

/// The orders of a checkout.
pub async fn of_checkout(conn: &mut AnyConnection, checkout: &str) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN shops s ON s.id = o.shop_id WHERE o.checkout_id = $1 ORDER BY s.name, o.id"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(checkout).fetch_all(conn).await?;
    rows.iter().map(order_of).collect()
}

/// Whose orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderOwner {
    Buyer(AccountId),
    Shop(ShopId),
}

/// Orders newest first, after the cursor `(created_at, id)`.
pub async fn list(
    conn: &mut AnyConnection,
    owner: OrderOwner,
    status: Option<&str>,
    after: Option<(Timestamp, String)>,
    limit: u16,
) -> Result<Vec<OrderRow>, StoreError> {
    let (column, value) = match owner {
        OrderOwner::Buyer(a) => ("o.buyer_id", a.to_string()),
        OrderOwner::Shop(s) => ("o.shop_id", s.to_string()),
    };
    let (at, id) = after.unwrap_or((Timestamp::from_micros(i64::MAX), "~".to_owned()));
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN shops s ON s.id = o.shop_id WHERE {column} = $1 \
         AND ($2 = '' OR o.status = $2) AND (o.created_at < $3 OR (o.created_at = $3 AND o.id < $4)) \
         ORDER BY o.created_at DESC, o.id DESC LIMIT $5"
    );
    // SAFETY of the SQL: `column` is one of two constants above; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .bind(status.unwrap_or(""))
        .bind(at.as_micros())
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(order_of).collect()
}

/// An order's status change, recorded as its next event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEvent {
    pub from: String,
    pub to: String,
    pub transition: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub note: String,
    pub at: Timestamp,
}

/// Moves the order from `event.from` to `event.to` and records the event; false if the
/// order was no longer in `event.from` (a concurrent change won).
pub async fn transition(
    conn: &mut AnyConnection,
    order: &str,
    event: &OrderEvent,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
        .bind(event.to.as_str())
        .bind(event.at.as_micros())
        .bind(order)
        .bind(event.from.as_str())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    insert_event(conn, order, event).await?;
    Ok(true)
}

/// Records an event (the first one, `placed`, has no status change to make).
pub async fn insert_event(conn: &mut AnyConnection, order: &str, e: &OrderEvent) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, seq, from_status, to_status, transition, actor_kind, actor_id, note, at) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE order_id = $1), $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(order)
    .bind(e.from.as_str())
    .bind(e.to.as_str())
    .bind(e.transition.as_str())
    .bind(e.actor_kind.as_str())
    .bind(e.actor_id.as_str())
    .bind(e.note.as_str())
    .bind(e.at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn events(conn: &mut AnyConnection, order: &str) -> Result<Vec<OrderEvent>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_status, to_status, transition, actor_kind, actor_id, note, at FROM order_events \
         WHERE order_id = $1 ORDER BY seq",
    )
    .bind(order)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderEvent {
                from: r.try_get("from_status")?,
                to: r.try_get("to_status")?,
                transition: r.try_get("transition")?,
                actor_kind: r.try_get("actor_kind")?,
                actor_id: r.try_get("actor_id")?,
                note: r.try_get("note")?,
                at: Timestamp::from_micros(r.try_get("at")?),
            })
        })
        .collect()
}

/// Records the carrier and tracking number of a shipped order.
pub async fn set_tracking(
    conn: &mut AnyConnection,
    order: &str,
    carrier: &str,
    number: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE orders SET carrier = $1, tracking_number = $2 WHERE id = $3")
        .bind(carrier)
        .bind(number)
        .bind(order)
        .execute(conn)
        .await?;
    Ok(())
}

/// Checkouts still awaiting payment after their expiry, oldest first.
pub async fn expired_unpaid(
    conn: &mut AnyConnection,
    now: Timestamp,
    limit: u16,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM checkouts WHERE payment_state = 'awaiting_payment' AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
    )
    .bind(now.as_micros())
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// Changes a checkout's payment state from `from`; false if it had moved on.
pub async fn set_payment_state(
    conn: &mut AnyConnection,
    checkout: &str,
    from: &str,
    to: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE checkouts SET payment_state = $1 WHERE id = $2 AND payment_state = $3")
        .bind(to)
        .bind(checkout)
        .bind(from)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Orders in `status` whose last change is at or before `before`, oldest first (the
/// housekeeping job moves them on: shipped → delivered, delivered → completed).
pub async fn due(
    conn: &mut AnyConnection,
    status: &str,
    before: Timestamp,
    limit: u16,
) -> Result<Vec<OrderRow>, StoreError> {
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders o JOIN shops s ON s.id = o.shop_id WHERE o.status = $1 \
         AND o.updated_at <= $2 ORDER BY o.updated_at, o.id LIMIT $3"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(before.as_micros())
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(order_of).collect()
}
