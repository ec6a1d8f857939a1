//! Webhook endpoints, the event outbox, deliveries and their attempt log. Due deliveries
//! are claimed by one worker at a time: `FOR UPDATE SKIP LOCKED` on PostgreSQL, and on
//! SQLite a single claiming `UPDATE` (SQLite runs one writer at a time); each claim carries
//! a token and a lease, and a worker writes its outcome only while its token still holds.

use souk_domain::Timestamp;
use souk_domain::ids::ShopId;
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub shop: ShopId,
    pub url: String,
    pub description: String,
    /// Space-separated event types.
    pub event_types: String,
    pub secret_sealed: Vec<u8>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_until: Option<Timestamp>,
    pub status: String,
    pub disabled_reason: String,
    pub failing_since: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const ENDPOINT_COLUMNS: &str = "id, shop_id, url, description, event_types, secret_sealed, previous_secret_sealed, \
     previous_secret_until, status, disabled_reason, failing_since, created_at, updated_at";

fn shop_of(r: &AnyRow) -> Result<ShopId, StoreError> {
    let raw: String = r.try_get("shop_id")?;
    raw.parse().map_err(|_| StoreError::corrupt(format!("shop_id: {raw:?}")))
}

fn endpoint_of(r: &AnyRow) -> Result<EndpointRow, StoreError> {
    Ok(EndpointRow {
        id: r.try_get("id")?,
        shop: shop_of(r)?,
        url: r.try_get("url")?,
        description: r.try_get("description")?,
        event_types: r.try_get("event_types")?,
        secret_sealed: r.try_get("secret_sealed")?,
        previous_secret_sealed: r.try_get("previous_secret_sealed")?,
        previous_secret_until: r
            .try_get::<Option<i64>, _>("previous_secret_until")?
            .map(Timestamp::from_micros),
        status: r.try_get("status")?,
        disabled_reason: r.try_get("disabled_reason")?,
        failing_since: r.try_get::<Option<i64>, _>("failing_since")?.map(Timestamp::from_micros),
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    })
}

/// Stores a new endpoint.
pub async fn insert_endpoint(conn: &mut AnyConnection, e: &EndpointRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, shop_id, url, description, event_types, secret_sealed, \
         previous_secret_sealed, previous_secret_until, status, disabled_reason, failing_since, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, NULL, $9, $9)",
    )
    .bind(e.id.as_str())
    .bind(e.shop.to_string())
    .bind(e.url.as_str())
    .bind(e.description.as_str())
    .bind(e.event_types.as_str())
    .bind(e.secret_sealed.as_slice())
    .bind(e.status.as_str())
    .bind(e.disabled_reason.as_str())
    .bind(e.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// One endpoint.
pub async fn endpoint(conn: &mut AnyConnection, id: &str) -> Result<Option<EndpointRow>, StoreError> {
    let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(endpoint_of).transpose()
}

/// A shop's endpoints, oldest first.
pub async fn endpoints_of_shop(
    conn: &mut AnyConnection,
    shop: ShopId,
) -> Result<Vec<EndpointRow>, StoreError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE shop_id = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop.to_string()).fetch_all(conn).await?;
    rows.iter().map(endpoint_of).collect()
}

/// Changes an endpoint's URL, description, event types and status (re-enabling clears the
/// reason it was disabled and its failure streak).
pub async fn update_endpoint(
    conn: &mut AnyConnection,
    e: &EndpointRow,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET url = $1, description = $2, event_types = $3, status = $4, \
         disabled_reason = $5, failing_since = CASE WHEN $4 = 'enabled' THEN NULL ELSE failing_since END, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(e.url.as_str())
    .bind(e.description.as_str())
    .bind(e.event_types.as_str())
    .bind(e.status.as_str())
    .bind(e.disabled_reason.as_str())
    .bind(now.as_micros())
    .bind(e.id.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the signing secret, keeping the old one (sealed) until `previous_until`.
pub async fn rotate_secret(
    conn: &mut AnyConnection,
    id: &str,
    secret_sealed: &[u8],
    previous_sealed: &[u8],
    previous_until: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET secret_sealed = $1, previous_secret_sealed = $2, previous_secret_until = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(secret_sealed)
    .bind(previous_sealed)
    .bind(previous_until.as_micros())
    .bind(now.as_micros())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes an endpoint with its deliveries and their log.
pub async fn delete_endpoint(conn: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// The enabled endpoints of a shop (the outbox picks the subscribed ones).
pub async fn enabled_endpoints(
    conn: &mut AnyConnection,
    shop: ShopId,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, event_types FROM webhook_endpoints WHERE shop_id = $1 AND status = 'enabled' ORDER BY id",
    )
    .bind(shop.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("event_types")?))).collect()
}

/// An event in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub shop: ShopId,
    pub event_type: String,
    pub payload: String,
    pub created_at: Timestamp,
}

/// Writes an event to the outbox.
pub async fn insert_event(conn: &mut AnyConnection, e: &EventRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_events (id, shop_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(e.id.as_str())
    .bind(e.shop.to_string())
    .bind(e.event_type.as_str())
    .bind(e.payload.as_str())
    .bind(e.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues the delivery of an event to an endpoint, due at once.
pub async fn insert_delivery(
    conn: &mut AnyConnection,
    id: &str,
    endpoint: &str,
    event: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts, next_attempt_at, claim_token, \
         lease_until, manual, last_http_status, last_error, last_duration_ms, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, NULL, NULL, 0, NULL, '', NULL, $4, $4)",
    )
    .bind(id)
    .bind(endpoint)
    .bind(event)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery with its event, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint: String,
    pub event: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_http_status: Option<i64>,
    pub last_error: String,
    pub last_duration_ms: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, e.event_type, d.status, d.attempts, \
     d.next_attempt_at, d.last_http_status, d.last_error, d.last_duration_ms, d.created_at, d.updated_at";

fn delivery_of(r: &AnyRow) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        endpoint: r.try_get("endpoint_id")?,
        event: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: Timestamp::from_micros(r.try_get("next_attempt_at")?),
        last_http_status: r.try_get("last_http_status")?,
        last_error: r.try_get("last_error")?,
        last_duration_ms: r.try_get("last_duration_ms")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    })
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries_of(
    conn: &mut AnyConnection,
    endpoint: &str,
    limit: u32,
) -> Result<Vec<DeliveryRow>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
    );
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(endpoint).bind(i64::from(limit)).fetch_all(conn).await?;
    rows.iter().map(delivery_of).collect()
}

/// One delivery of an endpoint.
pub async fn delivery(
    conn: &mut AnyConnection,
    endpoint: &str,
    id: &str,
) -> Result<Option<DeliveryRow>, StoreError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id \
         WHERE d.endpoint_id = $1 AND d.id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(endpoint).bind(id).fetch_optional(conn).await?;
    row.as_ref().map(delivery_of).transpose()
}

/// One attempt in a delivery's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub delivery: String,
    pub attempt: i64,
    pub at: Timestamp,
    pub http_status: Option<i64>,
    pub error: String,
    pub duration_ms: i64,
    pub triggered_by: String,
}

/// The attempts of an endpoint's deliveries (the newest `limit` deliveries' attempts).
pub async fn attempts_of(conn: &mut AnyConnection, delivery: &str) -> Result<Vec<AttemptRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT delivery_id, attempt, at, http_status, error, duration_ms, triggered_by FROM webhook_attempts \
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(delivery)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRow {
                delivery: r.try_get("delivery_id")?,
                attempt: r.try_get("attempt")?,
                at: Timestamp::from_micros(r.try_get("at")?),
                http_status: r.try_get("http_status")?,
                error: r.try_get("error")?,
                duration_ms: r.try_get("duration_ms")?,
                triggered_by: r.try_get("triggered_by")?,
            })
        })
        .collect()
}

/// Makes a delivery due now again (a manual redelivery), unless a worker holds it.
pub async fn make_due(conn: &mut AnyConnection, id: &str, now: Timestamp) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, manual = 1, updated_at = $1 \
         WHERE id = $2 AND status <> 'delivering'",
    )
    .bind(now.as_micros())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: String,
    pub claim_token: String,
    pub attempts: i64,
    /// The attempt was asked for by someone (a redelivery), not scheduled.
    pub manual: bool,
    pub endpoint: EndpointRow,
    pub event: EventRow,
}

/// Claims up to `limit` due deliveries (pending and due, or held by a worker whose lease
/// ran out) for `lease_until`; returns them with their endpoint and event.
pub async fn claim_due(
    conn: &mut AnyConnection,
    token: &str,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u32,
) -> Result<Vec<Claimed>, StoreError> {
    // SECURITY/INVARIANT: several workers (processes) may claim at once. On PostgreSQL the
    // rows chosen are locked and skipped by the others; on SQLite the statement runs under
    // the database's single write lock. Either way a delivery has one claimant at a time.
    let sql = if conn.backend_name() == "PostgreSQL" {
        "UPDATE webhook_deliveries SET status = 'delivering', lease_until = $1, \
         claim_token = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE ((status = 'pending' AND next_attempt_at <= $3) \
         OR (status = 'delivering' AND lease_until <= $3)) AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled') ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING id, manual"
    } else {
        "UPDATE webhook_deliveries SET status = 'delivering', lease_until = $1, \
         claim_token = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM webhook_deliveries WHERE ((status = 'pending' AND next_attempt_at <= $3) \
         OR (status = 'delivering' AND lease_until <= $3)) AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'enabled') ORDER BY next_attempt_at LIMIT $4) \
         RETURNING id, manual"
    };
    let rows = sqlx::query(sql)
        .bind(lease_until.as_micros())
        .bind(token)
        .bind(now.as_micros())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT d.attempts, {ENDPOINT_COLUMNS_W}, ev.id AS ev_id, ev.shop_id AS ev_shop, ev.event_type, ev.payload, \
         ev.created_at AS ev_created FROM webhook_deliveries d \
         JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN webhook_events ev ON ev.id = d.event_id \
         WHERE d.id = $1"
    );
    let mut claimed = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        let manual: i64 = r.try_get("manual")?;
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?
        else {
            continue;
        };
        let ev_shop: String = row.try_get("ev_shop")?;
        claimed.push(Claimed {
            manual: manual != 0,
            id,
            claim_token: token.to_owned(),
            attempts: row.try_get("attempts")?,
            endpoint: endpoint_of(&row)?,
            event: EventRow {
                id: row.try_get("ev_id")?,
                shop: ev_shop.parse().map_err(|_| StoreError::corrupt(format!("shop_id: {ev_shop:?}")))?,
                event_type: row.try_get("event_type")?,
                payload: row.try_get("payload")?,
                created_at: Timestamp::from_micros(row.try_get("ev_created")?),
            },
        });
    }
    Ok(claimed)
}

const ENDPOINT_COLUMNS_W: &str = "w.id, w.shop_id, w.url, w.description, w.event_types, w.secret_sealed, \
     w.previous_secret_sealed, w.previous_secret_until, w.status, w.disabled_reason, w.failing_since, \
     w.created_at, w.updated_at";

/// What one attempt came to, and what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub http_status: Option<i64>,
    pub error: String,
    pub duration_ms: i64,
    /// `succeeded`, `failed` (given up) or `pending` (retried at `next_attempt_at`).
    pub status: &'static str,
    pub next_attempt_at: Timestamp,
    pub manual: bool,
}

/// Writes an attempt's outcome, if the worker's claim still holds (false otherwise: the
/// lease ran out and another worker took the delivery over).
pub async fn finish_attempt(
    conn: &mut AnyConnection,
    id: &str,
    token: &str,
    attempt: i64,
    o: &Outcome,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, claim_token = NULL, \
         lease_until = NULL, manual = 0, last_http_status = $4, last_error = $5, last_duration_ms = $6, updated_at = $7 \
         WHERE id = $8 AND claim_token = $9 AND status = 'delivering'",
    )
    .bind(o.status)
    .bind(attempt)
    .bind(o.next_attempt_at.as_micros())
    .bind(o.http_status)
    .bind(o.error.as_str())
    .bind(o.duration_ms)
    .bind(now.as_micros())
    .bind(id)
    .bind(token)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, at, http_status, error, duration_ms, triggered_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(attempt)
    .bind(now.as_micros())
    .bind(o.http_status)
    .bind(o.error.as_str())
    .bind(o.duration_ms)
    .bind(if o.manual { "manual" } else { "automatic" })
    .execute(conn)
    .await?;
    Ok(true)
}

/// Records an endpoint's health: a success clears its failure streak; a failure starts one.
pub async fn mark_health(
    conn: &mut AnyConnection,
    endpoint: &str,
    succeeded: bool,
    now: Timestamp,
) -> Result<(), StoreError> {
    if succeeded {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
            .bind(endpoint)
            .execute(conn)
            .await?;
    } else {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2")
            .bind(now.as_micros())
            .bind(endpoint)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Disables an endpoint that kept failing; true if it was enabled.
pub async fn disable_failing(
    conn: &mut AnyConnection,
    endpoint: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'enabled'",
    )
    .bind(reason)
    .bind(now.as_micros())
    .bind(endpoint)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
