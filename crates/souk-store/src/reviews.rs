//! Reviews of completed orders, the shop's one reply, staff removals, and the reputation
//! figures computed from the reviews that stand.

use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, ShopId};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

/// A review as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: String,
    pub order: String,
    pub shop: ShopId,
    pub buyer: AccountId,
    /// The buyer's handle (joined).
    pub buyer_handle: String,
    pub rating: i64,
    pub body: String,
    pub created_at: Timestamp,
    pub reply: Option<String>,
    pub replied_at: Option<Timestamp>,
    pub removed: bool,
    pub removal_reason: Option<String>,
}

const COLUMNS: &str = "r.id, r.order_id, r.shop_id, r.buyer_id, a.handle AS buyer_handle, r.rating, r.body, \
     r.created_at, r.reply, r.replied_at, r.removed_at, r.removal_reason";

fn review_of(r: &AnyRow) -> Result<ReviewRow, StoreError> {
    let parse = |c: &str| -> Result<String, StoreError> { Ok(r.try_get::<String, _>(c)?) };
    Ok(ReviewRow {
        id: r.try_get("id")?,
        order: r.try_get("order_id")?,
        shop: parse("shop_id")?.parse().map_err(StoreError::corrupt)?,
        buyer: parse("buyer_id")?.parse().map_err(StoreError::corrupt)?,
        buyer_handle: r.try_get("buyer_handle")?,
        rating: r.try_get("rating")?,
        body: r.try_get("body")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        reply: r.try_get("reply")?,
        replied_at: r.try_get::<Option<i64>, _>("replied_at")?.map(Timestamp::from_micros),
        removed: r.try_get::<Option<i64>, _>("removed_at")?.is_some(),
        removal_reason: r.try_get("removal_reason")?,
    })
}

/// Writes a review; `Conflict` if the order already has one.
pub async fn insert(conn: &mut AnyConnection, r: &ReviewRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reviews (id, order_id, shop_id, buyer_id, rating, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(r.id.as_str())
    .bind(r.order.as_str())
    .bind(r.shop.to_string())
    .bind(r.buyer.to_string())
    .bind(r.rating)
    .bind(r.body.as_str())
    .bind(r.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<ReviewRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM reviews r JOIN accounts a ON a.id = r.buyer_id WHERE r.id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(review_of).transpose()
}

/// The review of an order, if it has one (removed or not).
pub async fn by_order(conn: &mut AnyConnection, order: &str) -> Result<Option<ReviewRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM reviews r JOIN accounts a ON a.id = r.buyer_id WHERE r.order_id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(order).fetch_optional(conn).await?;
    row.as_ref().map(review_of).transpose()
}

/// The shop's reviews that stand, newest first, after `(created_at, id)`.
pub async fn of_shop(
    conn: &mut AnyConnection,
    shop: ShopId,
    after: Option<(Timestamp, String)>,
    limit: u16,
) -> Result<Vec<ReviewRow>, StoreError> {
    let (at, id) = after.unwrap_or((Timestamp::from_micros(i64::MAX), "~".to_owned()));
    let sql = format!(
        "SELECT {COLUMNS} FROM reviews r JOIN accounts a ON a.id = r.buyer_id WHERE r.shop_id = $1 \
         AND r.removed_at IS NULL AND (r.created_at < $2 OR (r.created_at = $2 AND r.id < $3)) \
         ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.to_string())
        .bind(at.as_micros())
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(review_of).collect()
}

/// Sets the shop's reply; false if it already replied (one reply, never rewritten).
pub async fn reply(
    conn: &mut AnyConnection,
    id: &str,
    text: &str,
    by: AccountId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE reviews SET reply = $1, replied_by = $2, replied_at = $3 WHERE id = $4 AND reply IS NULL AND removed_at IS NULL",
    )
    .bind(text)
    .bind(by.to_string())
    .bind(now.as_micros())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a review (staff); false if it was already removed.
pub async fn remove(
    conn: &mut AnyConnection,
    id: &str,
    reason: &str,
    by: AccountId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE reviews SET removed_at = $1, removed_by = $2, removal_reason = $3 WHERE id = $4 AND removed_at IS NULL",
    )
    .bind(now.as_micros())
    .bind(by.to_string())
    .bind(reason)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A shop's reputation: how many reviews stand, their average in hundredths of a star
/// (integer arithmetic, e.g. 467 = 4.67), and how many of each rating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reputation {
    pub count: i64,
    pub average_centi: i64,
    pub by_rating: [i64; 5],
    pub completed_orders: i64,
}

pub async fn reputation(conn: &mut AnyConnection, shop: ShopId) -> Result<Reputation, StoreError> {
    let rows = sqlx::query(
        "SELECT rating, COUNT(*) AS n FROM reviews WHERE shop_id = $1 AND removed_at IS NULL GROUP BY rating",
    )
    .bind(shop.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let mut rep = Reputation::default();
    let mut sum = 0i64;
    for r in &rows {
        let rating: i64 = r.try_get("rating")?;
        let n: i64 = r.try_get("n")?;
        if let Some(slot) = usize::try_from(rating - 1).ok().and_then(|i| rep.by_rating.get_mut(i)) {
            *slot = n;
        }
        rep.count += n;
        sum += rating * n;
    }
    if rep.count > 0 {
        rep.average_centi = (sum * 100 + rep.count / 2) / rep.count;
    }
    rep.completed_orders =
        sqlx::query("SELECT COUNT(*) AS n FROM orders WHERE shop_id = $1 AND status = 'completed'")
            .bind(shop.to_string())
            .fetch_one(conn)
            .await?
            .try_get("n")?;
    Ok(rep)
}
