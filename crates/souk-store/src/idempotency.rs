//! Idempotency keys: the first request with a key claims it (with a hash of its body) and
//! stores its answer; a retry with the same key and body gets that answer again, one with
//! another body is refused, and one that arrives while the first is still running waits
//! for nothing: it is told to retry.

use souk_domain::Timestamp;
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// What a key already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    /// `None` while the first request is in flight.
    pub answer: Option<(u16, Vec<u8>)>,
}

/// Claims `key` in `scope` for a request; false if it was claimed before (unexpired).
pub async fn claim(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    request_hash: &[u8],
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<bool, StoreError> {
    // An expired claim is forgotten first, so the key can be used again.
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND expires_at <= $3")
        .bind(scope)
        .bind(key)
        .bind(now.as_micros())
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now.as_micros())
    .bind(expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn stored(conn: &mut AnyConnection, scope: &str, key: &str) -> Result<Option<Stored>, StoreError> {
    let row = sqlx::query(
        "SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let status: Option<i64> = r.try_get("status")?;
        let response: Option<Vec<u8>> = r.try_get("response")?;
        Ok(Stored {
            request_hash: r.try_get("request_hash")?,
            answer: status.zip(response).map(|(s, b)| (u16::try_from(s).unwrap_or(500), b)),
        })
    })
    .transpose()
}

/// Stores the answer to the claimed key.
pub async fn complete(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
    status: u16,
    response: &[u8],
) -> Result<(), StoreError> {
    sqlx::query("UPDATE idempotency_keys SET status = $1, response = $2 WHERE scope = $3 AND idem_key = $4")
        .bind(i64::from(status))
        .bind(response)
        .bind(scope)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Releases a claim whose request failed before it changed anything, so a retry can run.
pub async fn release(conn: &mut AnyConnection, scope: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND status IS NULL")
        .bind(scope)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets expired keys; returns how many.
pub async fn purge(conn: &mut AnyConnection, now: Timestamp) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
        .bind(now.as_micros())
        .execute(conn)
        .await?
        .rows_affected())
}
