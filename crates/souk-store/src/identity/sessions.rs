//! Server-side sessions, found by the SHA-256 of the browser's token. Revocation sets
//! `revoked_at`, which every lookup checks, so it takes effect on the next request.

use souk_domain::Timestamp;
use souk_domain::ids::AccountId;
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::account_id;
use super::signin::{AccountAuth, account_auth_of};
use crate::StoreError;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub account: AccountId,
    /// `member` or `staff`: which timeouts apply.
    pub kind: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub authenticated_at: i64,
    /// How the user signed in (`password`, `password+totp`, `passkey`, …).
    pub method: String,
    pub device_sealed: Option<Vec<u8>>,
    pub network_sealed: Option<Vec<u8>>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "s.id, s.account_id, s.kind, s.created_at AS s_created_at, s.last_seen_at, \
     s.authenticated_at, s.method, s.device_sealed, s.network_sealed, s.revoked_at";

fn session_of(r: &AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        account: account_id(r, "account_id")?,
        kind: r.try_get("kind")?,
        created_at: r.try_get("s_created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        authenticated_at: r.try_get("authenticated_at")?,
        method: r.try_get("method")?,
        device_sealed: r.try_get("device_sealed")?,
        network_sealed: r.try_get("network_sealed")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn insert_session(
    conn: &mut AnyConnection,
    key_hash: &[u8],
    s: &SessionRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, key_hash, account_id, kind, created_at, last_seen_at, authenticated_at, method, \
         device_sealed, network_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(s.id.as_str())
    .bind(key_hash)
    .bind(s.account.to_string())
    .bind(s.kind.as_str())
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.authenticated_at)
    .bind(s.method.as_str())
    .bind(s.device_sealed.as_deref())
    .bind(s.network_sealed.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// The unrevoked session with this key, and its account.
pub async fn session_by_key(
    conn: &mut AnyConnection,
    key_hash: &[u8],
) -> Result<Option<(SessionRow, AccountAuth)>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {} FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.key_hash = $1 AND s.revoked_at IS NULL",
        super::signin::ACCOUNT_AUTH_COLUMNS
    );
    // SAFETY of the SQL: built only from constants of this crate.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key_hash).fetch_optional(conn).await?;
    row.map(|r| Ok((session_of(&r)?, account_auth_of(&r)?))).transpose()
}

/// Records activity, at most once a minute per session (to spare the database).
pub async fn touch_session(conn: &mut AnyConnection, id: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3")
        .bind(id)
        .bind(now.as_micros())
        .bind(now.as_micros() - 60_000_000)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a fresh authentication on the session (step-up).
pub async fn reauthenticated(conn: &mut AnyConnection, id: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sessions SET authenticated_at = $2, last_seen_at = $2 WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// An account's live sessions, newest first.
pub async fn sessions_of(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<Vec<SessionRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions s WHERE s.account_id = $1 AND s.revoked_at IS NULL \
         ORDER BY s.last_seen_at DESC, s.id DESC"
    );
    // SAFETY of the SQL: built only from constants of this crate.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(conn).await?;
    rows.iter().map(session_of).collect()
}

/// Revokes one of the account's sessions. Returns whether it did (another account's
/// session id is simply not found).
pub async fn revoke_session(
    conn: &mut AnyConnection,
    account: AccountId,
    id: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(account.to_string())
    .bind(id)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every session of the account except `keep`. Returns how many.
pub async fn revoke_all_sessions(
    conn: &mut AnyConnection,
    account: AccountId,
    keep: Option<&str>,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE account_id = $1 AND revoked_at IS NULL AND id <> $2",
    )
    .bind(account.to_string())
    .bind(keep.unwrap_or(""))
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
