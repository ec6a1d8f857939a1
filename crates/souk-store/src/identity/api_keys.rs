//! API keys: stored as the SHA-256 of the token, with their scopes and expiry.

use souk_domain::Timestamp;
use souk_domain::ids::AccountId;
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::account_id;
use super::signin::{AccountAuth, account_auth_of};
use crate::StoreError;

/// An API key as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub account: AccountId,
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "k.id, k.account_id, k.name, k.scopes, k.created_at AS k_created_at, k.expires_at, k.last_used_at, k.revoked_at";

fn key_of(r: &AnyRow) -> Result<ApiKeyRow, StoreError> {
    Ok(ApiKeyRow {
        id: r.try_get("id")?,
        account: account_id(r, "account_id")?,
        name: r.try_get("name")?,
        scopes: r.try_get("scopes")?,
        created_at: r.try_get("k_created_at")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

pub async fn insert_api_key(
    conn: &mut AnyConnection,
    key_hash: &[u8],
    k: &ApiKeyRow,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, name, key_hash, scopes, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(k.id.as_str())
    .bind(k.account.to_string())
    .bind(k.name.as_str())
    .bind(key_hash)
    .bind(k.scopes.as_str())
    .bind(k.created_at)
    .bind(k.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The unrevoked key with this hash and its account (the caller checks expiry).
pub async fn api_key_by_hash(
    conn: &mut AnyConnection,
    key_hash: &[u8],
) -> Result<Option<(ApiKeyRow, AccountAuth)>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, {} FROM api_keys k JOIN accounts a ON a.id = k.account_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        super::signin::ACCOUNT_AUTH_COLUMNS
    );
    // SAFETY of the SQL: built only from constants of this crate.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(key_hash).fetch_optional(conn).await?;
    row.map(|r| Ok((key_of(&r)?, account_auth_of(&r)?))).transpose()
}

pub async fn api_keys_of(conn: &mut AnyConnection, account: AccountId) -> Result<Vec<ApiKeyRow>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM api_keys k WHERE k.account_id = $1 ORDER BY k.created_at DESC, k.id");
    // SAFETY of the SQL: built only from constants of this crate.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(conn).await?;
    rows.iter().map(key_of).collect()
}

/// Records a use, at most once a minute per key.
pub async fn api_key_used(conn: &mut AnyConnection, id: &str, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(id)
    .bind(now.as_micros())
    .bind(now.as_micros() - 60_000_000)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes one of the account's keys. Returns whether it did.
pub async fn revoke_api_key(
    conn: &mut AnyConnection,
    account: AccountId,
    id: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $3 WHERE account_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(account.to_string())
    .bind(id)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
