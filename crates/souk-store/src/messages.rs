//! Conversations between a buyer and a shop, their messages (bodies sealed, scan flags as
//! JSON) and the reports people file about messages.

use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, ShopId};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

fn typed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse::<T>().map_err(|_| StoreError::corrupt(format!("{column}: {raw:?}")))
}

/// A conversation as stored, with the shop's name (joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: String,
    pub buyer: AccountId,
    pub buyer_handle: String,
    pub shop: ShopId,
    pub shop_name: String,
    pub listing: Option<String>,
    pub order: Option<String>,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
}

const CONVERSATION_COLUMNS: &str = "c.id, c.buyer_id, a.handle AS buyer_handle, c.shop_id, s.name AS shop_name, \
     c.listing_id, c.order_id, c.created_at, c.last_message_at";
const CONVERSATION_FROM: &str =
    "FROM conversations c JOIN shops s ON s.id = c.shop_id JOIN accounts a ON a.id = c.buyer_id";

fn conversation_of(r: &AnyRow) -> Result<ConversationRow, StoreError> {
    Ok(ConversationRow {
        id: r.try_get("id")?,
        buyer: typed(r, "buyer_id")?,
        buyer_handle: r.try_get("buyer_handle")?,
        shop: typed(r, "shop_id")?,
        shop_name: r.try_get("shop_name")?,
        listing: r.try_get("listing_id")?,
        order: r.try_get("order_id")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        last_message_at: Timestamp::from_micros(r.try_get("last_message_at")?),
    })
}

/// The conversation about this topic, if one exists.
pub async fn find(
    conn: &mut AnyConnection,
    buyer: AccountId,
    shop: ShopId,
    listing: Option<&str>,
    order: Option<&str>,
) -> Result<Option<ConversationRow>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} WHERE c.buyer_id = $1 AND c.shop_id = $2 \
         AND COALESCE(c.listing_id, '') = $3 AND COALESCE(c.order_id, '') = $4"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(buyer.to_string())
        .bind(shop.to_string())
        .bind(listing.unwrap_or(""))
        .bind(order.unwrap_or(""))
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(conversation_of).transpose()
}

pub async fn insert(conn: &mut AnyConnection, c: &ConversationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO conversations (id, buyer_id, shop_id, listing_id, order_id, created_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(c.id.as_str())
    .bind(c.buyer.to_string())
    .bind(c.shop.to_string())
    .bind(c.listing.as_deref())
    .bind(c.order.as_deref())
    .bind(c.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<ConversationRow>, StoreError> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} WHERE c.id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(conversation_of).transpose()
}

/// The account's conversations: as the buyer, and those of the shops it owns or works for.
pub async fn of_account(
    conn: &mut AnyConnection,
    account: AccountId,
    limit: u16,
) -> Result<Vec<ConversationRow>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} {CONVERSATION_FROM} WHERE c.buyer_id = $1 OR s.owner_id = $1 \
         OR c.shop_id IN (SELECT m.shop_id FROM shop_members m WHERE m.account_id = $1) \
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account.to_string())
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(conversation_of).collect()
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: String,
    pub conversation: String,
    pub sender: AccountId,
    pub sender_side: String,
    pub body_sealed: Vec<u8>,
    pub flags: String,
    pub created_at: Timestamp,
}

fn message_of(r: &AnyRow) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        id: r.try_get("id")?,
        conversation: r.try_get("conversation_id")?,
        sender: typed(r, "sender_id")?,
        sender_side: r.try_get("sender_side")?,
        body_sealed: r.try_get("body_sealed")?,
        flags: r.try_get("flags")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

const MESSAGE_COLUMNS: &str =
    "m.id, m.conversation_id, m.sender_id, m.sender_side, m.body_sealed, m.flags, m.created_at";

pub async fn insert_message(conn: &mut AnyConnection, m: &MessageRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (id, conversation_id, sender_id, sender_side, body_sealed, flags, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.id.as_str())
    .bind(m.conversation.as_str())
    .bind(m.sender.to_string())
    .bind(m.sender_side.as_str())
    .bind(m.body_sealed.as_slice())
    .bind(m.flags.as_str())
    .bind(m.created_at.as_micros())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
        .bind(m.created_at.as_micros())
        .bind(m.conversation.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// A conversation's messages, oldest first (the last `limit`).
pub async fn messages(
    conn: &mut AnyConnection,
    conversation: &str,
    limit: u16,
) -> Result<Vec<MessageRow>, StoreError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 ORDER BY m.created_at DESC, m.id DESC LIMIT $2"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(conversation)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    let mut out = rows.iter().map(message_of).collect::<Result<Vec<_>, _>>()?;
    out.reverse();
    Ok(out)
}

pub async fn message(conn: &mut AnyConnection, id: &str) -> Result<Option<MessageRow>, StoreError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(message_of).transpose()
}

/// How many messages the account sent since `since` (a flood guard).
pub async fn sent_since(
    conn: &mut AnyConnection,
    sender: AccountId,
    since: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE sender_id = $1 AND created_at >= $2")
        .bind(sender.to_string())
        .bind(since.as_micros())
        .fetch_one(conn)
        .await?
        .try_get("n")?)
}

/// A report about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub id: String,
    pub message: String,
    pub reporter: AccountId,
    pub reason: String,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolution: Option<String>,
}

fn report_of(r: &AnyRow) -> Result<ReportRow, StoreError> {
    Ok(ReportRow {
        id: r.try_get("id")?,
        message: r.try_get("message_id")?,
        reporter: typed(r, "reporter_id")?,
        reason: r.try_get("reason")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(Timestamp::from_micros),
        resolution: r.try_get("resolution")?,
    })
}

/// Files a report; `Conflict` if this person already reported this message.
pub async fn insert_report(conn: &mut AnyConnection, r: &ReportRow) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO message_reports (id, message_id, reporter_id, reason, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(r.id.as_str())
        .bind(r.message.as_str())
        .bind(r.reporter.to_string())
        .bind(r.reason.as_str())
        .bind(r.created_at.as_micros())
        .execute(conn)
        .await?;
    Ok(())
}

/// Open reports, oldest first.
pub async fn open_reports(conn: &mut AnyConnection, limit: u16) -> Result<Vec<ReportRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, message_id, reporter_id, reason, created_at, resolved_at, resolution FROM message_reports \
         WHERE resolved_at IS NULL ORDER BY created_at, id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(report_of).collect()
}

pub async fn report(conn: &mut AnyConnection, id: &str) -> Result<Option<ReportRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, message_id, reporter_id, reason, created_at, resolved_at, resolution FROM message_reports WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(report_of).transpose()
}

/// Closes a report; false if it was already resolved.
pub async fn resolve(
    conn: &mut AnyConnection,
    id: &str,
    by: AccountId,
    resolution: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE message_reports SET resolved_at = $1, resolved_by = $2, resolution = $3 WHERE id = $4 AND resolved_at IS NULL",
    )
    .bind(now.as_micros())
    .bind(by.to_string())
    .bind(resolution)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
