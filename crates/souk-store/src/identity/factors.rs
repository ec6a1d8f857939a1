//! Second factors and passkeys: the TOTP seed (sealed) with its replay and lock state,
//! recovery codes (keyed hashes), passkeys (webauthn-rs's credential as JSON) and the
//! state kept between a WebAuthn ceremony's two requests.

use souk_domain::Timestamp;
use souk_domain::ids::AccountId;
use sqlx::AnyConnection;
use sqlx::Row as _;

use super::account_id;
use crate::StoreError;

/// An account's TOTP factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRow {
    pub secret_sealed: Vec<u8>,
    pub confirmed_at: Option<i64>,
    pub last_step: Option<i64>,
    pub fail_step: Option<i64>,
    pub fail_count: i64,
}

/// Starts (or restarts) TOTP enrolment with a new sealed seed, unconfirmed.
pub async fn put_unconfirmed_totp(
    conn: &mut AnyConnection,
    account: AccountId,
    sealed: &souk_crypto::Sealed,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO totp_factors (account_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, \
         created_at = excluded.created_at, confirmed_at = NULL, last_step = NULL, fail_step = NULL, fail_count = 0",
    )
    .bind(account.to_string())
    .bind(sealed.as_bytes())
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn totp(conn: &mut AnyConnection, account: AccountId) -> Result<Option<TotpRow>, StoreError> {
    let row = sqlx::query(
        "SELECT secret_sealed, confirmed_at, last_step, fail_step, fail_count FROM totp_factors WHERE account_id = $1",
    )
    .bind(account.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(TotpRow {
            secret_sealed: r.try_get("secret_sealed")?,
            confirmed_at: r.try_get("confirmed_at")?,
            last_step: r.try_get("last_step")?,
            fail_step: r.try_get("fail_step")?,
            fail_count: r.try_get("fail_count")?,
        })
    })
    .transpose()
}

/// Accepts a code's time step, once: the conditional UPDATE refuses a step at or before
/// the last accepted one, so two concurrent uses of one code cannot both pass.
pub async fn accept_totp_step(
    conn: &mut AnyConnection,
    account: AccountId,
    step: i64,
    confirm_at: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE totp_factors SET last_step = $2, fail_count = 0, fail_step = NULL, \
         confirmed_at = COALESCE(confirmed_at, $3) WHERE account_id = $1 AND (last_step IS NULL OR last_step < $2)",
    )
    .bind(account.to_string())
    .bind(step)
    .bind(confirm_at.map(Timestamp::as_micros))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a wrong code in time step `step` (the count restarts in a new step).
pub async fn fail_totp(conn: &mut AnyConnection, account: AccountId, step: i64) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE totp_factors SET fail_count = CASE WHEN fail_step = $2 THEN fail_count + 1 ELSE 1 END, \
         fail_step = $2 WHERE account_id = $1",
    )
    .bind(account.to_string())
    .bind(step)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_totp(conn: &mut AnyConnection, account: AccountId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM totp_factors WHERE account_id = $1")
        .bind(account.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces all recovery codes of an account with new ones (hashes).
pub async fn replace_recovery_codes(
    conn: &mut AnyConnection,
    account: AccountId,
    hashes: &[[u8; 32]],
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account.to_string())
        .execute(&mut *conn)
        .await?;
    for h in hashes {
        sqlx::query("INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)")
            .bind(account.to_string())
            .bind(&h[..])
            .bind(now.as_micros())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Hashes of the account's unused recovery codes.
pub async fn unused_recovery_codes(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let rows = sqlx::query("SELECT code_hash FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL")
        .bind(account.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("code_hash")?)).collect()
}

/// Uses a recovery code once. Returns whether this call used it.
pub async fn use_recovery_code(
    conn: &mut AnyConnection,
    account: AccountId,
    hash: &[u8],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(account.to_string())
    .bind(hash)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_recovery_codes(conn: &mut AnyConnection, account: AccountId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
        .bind(account.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRow {
    pub id: String,
    pub account: AccountId,
    pub credential_id: Vec<u8>,
    pub name: String,
    /// webauthn-rs's `Passkey`, serialized (public key material only: no secret).
    pub passkey: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

fn passkey_of(r: &sqlx::any::AnyRow) -> Result<PasskeyRow, StoreError> {
    Ok(PasskeyRow {
        id: r.try_get("id")?,
        account: account_id(r, "account_id")?,
        credential_id: r.try_get("credential_id")?,
        name: r.try_get("name")?,
        passkey: r.try_get("passkey")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

pub async fn insert_passkey(conn: &mut AnyConnection, p: &PasskeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO passkeys (id, account_id, credential_id, name, passkey, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id.as_str())
    .bind(p.account.to_string())
    .bind(p.credential_id.as_slice())
    .bind(p.name.as_str())
    .bind(p.passkey.as_str())
    .bind(p.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn passkeys_of(
    conn: &mut AnyConnection,
    account: AccountId,
) -> Result<Vec<PasskeyRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, account_id, credential_id, name, passkey, created_at, last_used_at FROM passkeys \
         WHERE account_id = $1 ORDER BY created_at, id",
    )
    .bind(account.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter().map(passkey_of).collect()
}

/// Stores the credential's updated state (signature counter, backup flags) after a use.
pub async fn passkey_used(
    conn: &mut AnyConnection,
    id: &str,
    passkey: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE passkeys SET last_used_at = $2, passkey = COALESCE($3, passkey) WHERE id = $1")
        .bind(id)
        .bind(now.as_micros())
        .bind(passkey)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes one of the account's passkeys. Returns whether it did.
pub async fn delete_passkey(
    conn: &mut AnyConnection,
    account: AccountId,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM passkeys WHERE account_id = $1 AND id = $2")
        .bind(account.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps a WebAuthn ceremony's state until its second request.
pub async fn insert_ceremony(
    conn: &mut AnyConnection,
    hash: &[u8],
    purpose: &str,
    account: Option<AccountId>,
    state: &str,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (token_hash, purpose, account_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(purpose)
    .bind(account.map(|a| a.to_string()))
    .bind(state)
    .bind(expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes (deletes and returns) a ceremony's state: single use, and only before it expires.
pub async fn take_ceremony(
    conn: &mut AnyConnection,
    hash: &[u8],
    purpose: &str,
    now: Timestamp,
) -> Result<Option<(Option<AccountId>, String)>, StoreError> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 \
         RETURNING account_id, state",
    )
    .bind(hash)
    .bind(purpose)
    .bind(now.as_micros())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        let id: Option<String> = r.try_get("account_id")?;
        let id = id.map(|s| s.parse::<AccountId>().map_err(StoreError::corrupt)).transpose()?;
        Ok((id, r.try_get("state")?))
    })
    .transpose()
}
