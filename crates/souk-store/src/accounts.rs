//! Accounts' personal data. The columns hold sealed bytes only: these functions take
//! `&Sealed`, which only a data key can produce, so a plain value cannot be written here.

use souk_domain::ids::AccountId;
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// Sealed personal data of an account, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedProfile {
    pub email: Vec<u8>,
    pub email_index: Vec<u8>,
    pub name: Vec<u8>,
    pub address: Option<Vec<u8>>,
}

/// Sets an account's sealed personal data if it has none yet. Returns whether it did.
pub async fn set_profile_if_absent(
    conn: &mut AnyConnection,
    id: AccountId,
    email: &souk_crypto::Sealed,
    email_index: &[u8],
    name: &souk_crypto::Sealed,
    address: Option<&souk_crypto::Sealed>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE accounts SET email_sealed = $2, email_index = $3, name_sealed = $4, address_sealed = $5 \
         WHERE id = $1 AND email_sealed IS NULL",
    )
    .bind(id.to_string())
    .bind(email.as_bytes())
    .bind(email_index)
    .bind(name.as_bytes())
    .bind(address.map(souk_crypto::Sealed::as_bytes))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The sealed profile of an account.
pub async fn profile(conn: &mut AnyConnection, id: AccountId) -> Result<Option<SealedProfile>, StoreError> {
    let row = sqlx::query(
        "SELECT email_sealed, email_index, name_sealed, address_sealed FROM accounts WHERE id = $1 AND email_sealed IS NOT NULL",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(SealedProfile {
            email: r.try_get("email_sealed")?,
            email_index: r.try_get("email_index")?,
            name: r.try_get("name_sealed")?,
            address: r.try_get("address_sealed")?,
        })
    })
    .transpose()
}

/// Accounts whose email blind index equals `index` (candidates: open each to confirm).
pub async fn by_email_index(
    conn: &mut AnyConnection,
    index: &[u8],
) -> Result<Vec<(AccountId, Vec<u8>)>, StoreError> {
    let rows = sqlx::query("SELECT id, email_sealed FROM accounts WHERE email_index = $1")
        .bind(index)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let id = id.parse::<AccountId>().map_err(StoreError::corrupt)?;
            Ok((id, r.try_get("email_sealed")?))
        })
        .collect()
}

/// Ids of every account with personal data (for tests and maintenance).
pub async fn with_profiles(conn: &mut AnyConnection) -> Result<Vec<AccountId>, StoreError> {
    let rows = sqlx::query("SELECT id FROM accounts WHERE email_sealed IS NOT NULL ORDER BY id")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>("id").map_err(StoreError::from)?.parse().map_err(StoreError::corrupt))
        .collect()
}
