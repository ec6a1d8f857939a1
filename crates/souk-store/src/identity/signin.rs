//! What sign-in reads and writes besides sessions: accounts' sign-in state, passwords,
//! one-time tokens sent by mail, the graduated-delay throttle, known devices and sign-ins
//! waiting for their second factor.

use souk_domain::Timestamp;
use souk_domain::ids::AccountId;
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use super::account_id;
use crate::StoreError;

/// An account as sign-in and authorization see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAuth {
    pub id: AccountId,
    pub handle: String,
    /// `buyer`, `seller` or `staff`.
    pub role: String,
    /// Comma-separated staff roles; empty for buyers and sellers.
    pub staff_roles: String,
    pub email_verified_at: Option<i64>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
}

pub(crate) const ACCOUNT_AUTH_COLUMNS: &str =
    "a.id AS account_id, a.handle, a.role, a.staff_roles, a.email_verified_at, a.disabled_at, a.created_at";

pub(crate) fn account_auth_of(r: &AnyRow) -> Result<AccountAuth, StoreError> {
    Ok(AccountAuth {
        id: account_id(r, "account_id")?,
        handle: r.try_get("handle")?,
        role: r.try_get("role")?,
        staff_roles: r.try_get("staff_roles")?,
        email_verified_at: r.try_get("email_verified_at")?,
        disabled_at: r.try_get("disabled_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// An account's sign-in state.
pub async fn account_auth(
    conn: &mut AnyConnection,
    id: AccountId,
) -> Result<Option<AccountAuth>, StoreError> {
    let row = sqlx::query(
        "SELECT a.id AS account_id, a.handle, a.role, a.staff_roles, a.email_verified_at, a.disabled_at, \
         a.created_at FROM accounts a WHERE a.id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(account_auth_of).transpose()
}

/// Creates an account with its role and staff roles.
pub async fn insert_account(
    conn: &mut AnyConnection,
    id: AccountId,
    handle: &str,
    role: &str,
    staff_roles: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO accounts (id, handle, role, staff_roles, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id.to_string())
    .bind(handle)
    .bind(role)
    .bind(staff_roles)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the account's email as verified (first time only). Returns whether it changed.
pub async fn mark_email_verified(
    conn: &mut AnyConnection,
    id: AccountId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE accounts SET email_verified_at = $2 WHERE id = $1 AND email_verified_at IS NULL")
            .bind(id.to_string())
            .bind(now.as_micros())
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the sealed email and its blind index (an email change); clears verification.
pub async fn replace_email(
    conn: &mut AnyConnection,
    id: AccountId,
    sealed: &souk_crypto::Sealed,
    index: &[u8],
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE accounts SET email_sealed = $2, email_index = $3, email_verified_at = NULL WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(sealed.as_bytes())
    .bind(index)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the sealed anti-phishing phrase.
pub async fn set_phrase(
    conn: &mut AnyConnection,
    id: AccountId,
    sealed: &souk_crypto::Sealed,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET phrase_sealed = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(sealed.as_bytes())
        .execute(conn)
        .await?;
    Ok(())
}

/// The sealed anti-phishing phrase, if one was chosen.
pub async fn phrase(conn: &mut AnyConnection, id: AccountId) -> Result<Option<Vec<u8>>, StoreError> {
    let row = sqlx::query("SELECT phrase_sealed FROM accounts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("phrase_sealed")?,
        None => None,
    })
}

/// Changes an account's role (a buyer opening a shop becomes a seller).
pub async fn set_role(conn: &mut AnyConnection, id: AccountId, role: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET role = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets a staff account's roles.
pub async fn set_staff_roles(conn: &mut AnyConnection, id: AccountId, roles: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE accounts SET staff_roles = $2 WHERE id = $1 AND role = 'staff'")
        .bind(id.to_string())
        .bind(roles)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many staff accounts hold the admin role.
pub async fn admin_count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM accounts WHERE role = 'staff' AND ',' || staff_roles || ',' LIKE '%,admin,%' \
         AND disabled_at IS NULL",
    )
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// A stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    pub phc: String,
    pub set_at: i64,
    pub must_change: bool,
}

/// Sets (or replaces) an account's password hash.
pub async fn set_password(
    conn: &mut AnyConnection,
    id: AccountId,
    phc: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO passwords (account_id, phc, set_at, must_change) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (account_id) DO UPDATE SET phc = excluded.phc, set_at = excluded.set_at, must_change = 0",
    )
    .bind(id.to_string())
    .bind(phc)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces the hash only (rehash on sign-in when parameters rose); keeps `set_at`.
pub async fn rehash_password(conn: &mut AnyConnection, id: AccountId, phc: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE passwords SET phc = $2 WHERE account_id = $1")
        .bind(id.to_string())
        .bind(phc)
        .execute(conn)
        .await?;
    Ok(())
}

/// Requires a password change at next sign-in (on evidence: breach-list hit, incident).
pub async fn require_password_change(conn: &mut AnyConnection, id: AccountId) -> Result<(), StoreError> {
    sqlx::query("UPDATE passwords SET must_change = 1 WHERE account_id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn password(conn: &mut AnyConnection, id: AccountId) -> Result<Option<StoredPassword>, StoreError> {
    let row = sqlx::query("SELECT phc, set_at, must_change FROM passwords WHERE account_id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(StoredPassword {
            phc: r.try_get("phc")?,
            set_at: r.try_get("set_at")?,
            must_change: r.try_get::<i64, _>("must_change")? != 0,
        })
    })
    .transpose()
}

/// Removes the password (a passkey-only account).
pub async fn delete_password(conn: &mut AnyConnection, id: AccountId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM passwords WHERE account_id = $1").bind(id.to_string()).execute(conn).await?;
    Ok(())
}

/// Stores a one-time token's hash.
pub async fn insert_token(
    conn: &mut AnyConnection,
    hash: &[u8],
    purpose: &str,
    account: Option<AccountId>,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, purpose, account_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(purpose)
    .bind(account.map(|a| a.to_string()))
    .bind(now.as_micros())
    .bind(expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// What a consumed token was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// Used now: here is its account (if it names one).
    Used(Option<AccountId>),
    /// No such token, already used, or expired.
    Refused,
}

/// Uses a one-time token: succeeds once, before it expires, and only for its purpose. The
/// single UPDATE makes two concurrent uses impossible.
pub async fn consume_token(
    conn: &mut AnyConnection,
    hash: &[u8],
    purpose: &str,
    now: Timestamp,
) -> Result<Consumed, StoreError> {
    let row = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 \
         AND used_at IS NULL AND expires_at > $3 RETURNING account_id",
    )
    .bind(hash)
    .bind(purpose)
    .bind(now.as_micros())
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => Consumed::Refused,
        Some(r) => {
            let id: Option<String> = r.try_get("account_id")?;
            Consumed::Used(id.map(|s| s.parse::<AccountId>().map_err(StoreError::corrupt)).transpose()?)
        }
    })
}

/// The account a live (unused, unexpired is checked at consumption) token of this purpose
/// belongs to.
pub async fn token_owner(
    conn: &mut AnyConnection,
    hash: &[u8],
    purpose: &str,
) -> Result<Option<AccountId>, StoreError> {
    let row = sqlx::query(
        "SELECT account_id FROM one_time_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(hash)
    .bind(purpose)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(r) => {
            let id: Option<String> = r.try_get("account_id")?;
            id.map(|s| s.parse::<AccountId>().map_err(StoreError::corrupt)).transpose()
        }
        None => Ok(None),
    }
}

/// Invalidates every unused token of this purpose for the account (a newer link, or the
/// password changed).
pub async fn retire_tokens(
    conn: &mut AnyConnection,
    account: AccountId,
    purpose: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $3 WHERE account_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(account.to_string())
    .bind(purpose)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Invalidates every unused token of this purpose that names no account (setup links).
pub async fn retire_unowned_tokens(
    conn: &mut AnyConnection,
    purpose: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE one_time_tokens SET used_at = $2 WHERE account_id IS NULL AND purpose = $1 AND used_at IS NULL",
    )
    .bind(purpose)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Whether an unused, unexpired token of this purpose exists (the first-admin link).
pub async fn live_token_exists(
    conn: &mut AnyConnection,
    purpose: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM one_time_tokens WHERE purpose = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(purpose)
    .bind(now.as_micros())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// A throttle's stored state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleRow {
    pub failures: i64,
    pub last_failure_at: Option<i64>,
    pub locked_until: Option<i64>,
}

pub async fn throttle(conn: &mut AnyConnection, key: &[u8]) -> Result<ThrottleRow, StoreError> {
    let row = sqlx::query(
        "SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE throttle_key = $1",
    )
    .bind(key)
    .fetch_optional(conn)
    .await?;
    row.map_or(Ok(ThrottleRow::default()), |r| {
        Ok(ThrottleRow {
            failures: r.try_get("failures")?,
            last_failure_at: r.try_get("last_failure_at")?,
            locked_until: r.try_get("locked_until")?,
        })
    })
}

pub async fn put_throttle(conn: &mut AnyConnection, key: &[u8], t: &ThrottleRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO login_throttle (throttle_key, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (throttle_key) DO UPDATE SET failures = excluded.failures, \
         last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
    )
    .bind(key)
    .bind(t.failures)
    .bind(t.last_failure_at)
    .bind(t.locked_until)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn clear_throttle(conn: &mut AnyConnection, key: &[u8]) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1").bind(key).execute(conn).await?;
    Ok(())
}

/// Remembers a device for an account. Returns whether it was new.
pub async fn remember_device(
    conn: &mut AnyConnection,
    account: AccountId,
    device_hash: &[u8],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO known_devices (account_id, device_hash, first_seen_at) VALUES ($1, $2, $3) \
         ON CONFLICT (account_id, device_hash) DO NOTHING",
    )
    .bind(account.to_string())
    .bind(device_hash)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many devices the account has signed in from.
pub async fn device_count(conn: &mut AnyConnection, account: AccountId) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE account_id = $1")
        .bind(account.to_string())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// A sign-in whose password was right, waiting for the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub account: AccountId,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    pub failures: i64,
}

pub async fn insert_pending_login(
    conn: &mut AnyConnection,
    hash: &[u8],
    account: AccountId,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO pending_logins (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash)
    .bind(account.to_string())
    .bind(now.as_micros())
    .bind(expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn pending_login(
    conn: &mut AnyConnection,
    hash: &[u8],
) -> Result<Option<PendingLogin>, StoreError> {
    let row = sqlx::query(
        "SELECT account_id, created_at, expires_at, completed_at, failures FROM pending_logins WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(PendingLogin {
            account: account_id(&r, "account_id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            completed_at: r.try_get("completed_at")?,
            failures: r.try_get("failures")?,
        })
    })
    .transpose()
}

/// Completes a pending sign-in once. Returns whether this call completed it.
pub async fn complete_pending_login(
    conn: &mut AnyConnection,
    hash: &[u8],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE pending_logins SET completed_at = $2 WHERE token_hash = $1 AND completed_at IS NULL AND expires_at > $2",
    )
    .bind(hash)
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a failed second factor on a pending sign-in; returns the new count.
pub async fn fail_pending_login(conn: &mut AnyConnection, hash: &[u8]) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "UPDATE pending_logins SET failures = failures + 1 WHERE token_hash = $1 RETURNING failures",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?;
    row.map_or(Ok(0), |r| Ok(r.try_get("failures")?))
}

/// Pending sign-ins started before `before`, never completed and not yet alerted on.
/// Marks them alerted in the same statement so two processes never both send the mail.
pub async fn take_stale_pending_logins(
    conn: &mut AnyConnection,
    before: Timestamp,
    now: Timestamp,
) -> Result<Vec<(AccountId, i64)>, StoreError> {
    let rows = sqlx::query(
        "UPDATE pending_logins SET alerted_at = $2 WHERE completed_at IS NULL AND alerted_at IS NULL \
         AND created_at < $1 RETURNING account_id, created_at",
    )
    .bind(before.as_micros())
    .bind(now.as_micros())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((account_id(r, "account_id")?, r.try_get("created_at")?))).collect()
}

/// Forgets expired one-time state (tokens, pending sign-ins, ceremonies) older than `before`.
pub async fn purge_expired(conn: &mut AnyConnection, before: Timestamp) -> Result<u64, StoreError> {
    let mut n = 0;
    for statement in [
        "DELETE FROM one_time_tokens WHERE expires_at < $1",
        "DELETE FROM pending_logins WHERE expires_at < $1 AND (completed_at IS NOT NULL OR alerted_at IS NOT NULL)",
        "DELETE FROM webauthn_ceremonies WHERE expires_at < $1",
    ] {
        n += sqlx::query(statement).bind(before.as_micros()).execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

/// Records a pending change of address (the new one sealed), replacing older ones.
pub async fn insert_email_change(
    conn: &mut AnyConnection,
    hash: &[u8],
    account: AccountId,
    new_email: &souk_crypto::Sealed,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE email_changes SET used_at = $2 WHERE account_id = $1 AND used_at IS NULL")
        .bind(account.to_string())
        .bind(now.as_micros())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO email_changes (token_hash, account_id, new_email_sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash)
    .bind(account.to_string())
    .bind(new_email.as_bytes())
    .bind(now.as_micros())
    .bind(expires_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Uses a pending change once, before it expires: its account and sealed new address.
pub async fn consume_email_change(
    conn: &mut AnyConnection,
    hash: &[u8],
    now: Timestamp,
) -> Result<Option<(AccountId, Vec<u8>)>, StoreError> {
    let row = sqlx::query(
        "UPDATE email_changes SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
         RETURNING account_id, new_email_sealed",
    )
    .bind(hash)
    .bind(now.as_micros())
    .fetch_optional(conn)
    .await?;
    row.map(|r| Ok((account_id(&r, "account_id")?, r.try_get("new_email_sealed")?))).transpose()
}
