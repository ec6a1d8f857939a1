//! Persistence of wrapped keys: one data key per subject (and version), and the system's
//! own keys. Only wrapped bytes ever reach the database.

use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// A data key row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRow {
    pub subject_kind: String,
    pub subject_id: String,
    pub version: u32,
    pub kek_version: u32,
    /// `None` once destroyed (crypto-shredded).
    pub wrapped: Option<Vec<u8>>,
}

fn u32_col(row: &sqlx::any::AnyRow, col: &str) -> Result<u32, StoreError> {
    let v: i64 = row.try_get(col)?;
    u32::try_from(v).map_err(|_| StoreError::corrupt(format!("{col} out of range")))
}

fn data_key_row(row: &sqlx::any::AnyRow) -> Result<DataKeyRow, StoreError> {
    Ok(DataKeyRow {
        subject_kind: row.try_get("subject_kind")?,
        subject_id: row.try_get("subject_id")?,
        version: u32_col(row, "version")?,
        kek_version: u32_col(row, "kek_version")?,
        wrapped: row.try_get("wrapped")?,
    })
}

/// The newest data key of a subject.
pub async fn latest_data_key(
    conn: &mut AnyConnection,
    kind: &str,
    id: &str,
) -> Result<Option<DataKeyRow>, StoreError> {
    let row = sqlx::query(
        "SELECT subject_kind, subject_id, version, kek_version, wrapped FROM data_keys \
         WHERE subject_kind = $1 AND subject_id = $2 ORDER BY version DESC LIMIT 1",
    )
    .bind(kind)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(data_key_row).transpose()
}

/// Stores a new wrapped data key. `false` if another writer created that version first.
pub async fn insert_data_key(
    conn: &mut AnyConnection,
    row: &DataKeyRow,
    at: i64,
) -> Result<bool, StoreError> {
    let wrapped =
        row.wrapped.as_deref().ok_or_else(|| StoreError::corrupt("a new data key must be wrapped"))?;
    let done = sqlx::query(
        "INSERT INTO data_keys (subject_kind, subject_id, version, kek_version, wrapped, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (subject_kind, subject_id, version) DO NOTHING",
    )
    .bind(&row.subject_kind)
    .bind(&row.subject_id)
    .bind(i64::from(row.version))
    .bind(i64::from(row.kek_version))
    .bind(wrapped)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Destroys every data key of a subject (crypto-shredding). Returns how many were live.
pub async fn destroy_data_keys(
    conn: &mut AnyConnection,
    kind: &str,
    id: &str,
    at: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE data_keys SET wrapped = NULL, destroyed_at = $3 \
         WHERE subject_kind = $1 AND subject_id = $2 AND wrapped IS NOT NULL",
    )
    .bind(kind)
    .bind(id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Up to `limit` live data keys wrapped by a master key older than `current`.
pub async fn data_keys_to_rewrap(
    conn: &mut AnyConnection,
    current: u32,
    limit: u32,
) -> Result<Vec<DataKeyRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT subject_kind, subject_id, version, kek_version, wrapped FROM data_keys \
         WHERE kek_version < $1 AND wrapped IS NOT NULL ORDER BY subject_kind, subject_id, version LIMIT $2",
    )
    .bind(i64::from(current))
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(data_key_row).collect()
}

/// Replaces a data key's wrapping, only if it is still wrapped by `old_kek` (so a
/// concurrent destroy or rewrap is never overwritten). Returns whether it did.
pub async fn rewrap_data_key(
    conn: &mut AnyConnection,
    row: &DataKeyRow,
    old_kek: u32,
    new_kek: u32,
    wrapped: &[u8],
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE data_keys SET kek_version = $1, wrapped = $2 \
         WHERE subject_kind = $3 AND subject_id = $4 AND version = $5 AND kek_version = $6 AND wrapped IS NOT NULL",
    )
    .bind(i64::from(new_kek))
    .bind(wrapped)
    .bind(&row.subject_kind)
    .bind(&row.subject_id)
    .bind(i64::from(row.version))
    .bind(i64::from(old_kek))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Live data keys per master key version, and the number destroyed.
pub async fn data_key_census(conn: &mut AnyConnection) -> Result<(Vec<(u32, u64)>, u64), StoreError> {
    let rows = sqlx::query(
        "SELECT kek_version, COUNT(*) AS n FROM data_keys WHERE wrapped IS NOT NULL GROUP BY kek_version ORDER BY kek_version",
    )
    .fetch_all(&mut *conn)
    .await?;
    let live = rows
        .iter()
        .map(|r| Ok((u32_col(r, "kek_version")?, u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0))))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let destroyed: i64 = sqlx::query("SELECT COUNT(*) AS n FROM data_keys WHERE wrapped IS NULL")
        .fetch_one(conn)
        .await?
        .try_get("n")?;
    Ok((live, u64::try_from(destroyed).unwrap_or(0)))
}

/// A system key row (wrapped like data keys, subject `("system", purpose)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemKeyRow {
    pub purpose: String,
    pub version: u32,
    pub kek_version: u32,
    pub wrapped: Vec<u8>,
}

fn system_key_row(row: &sqlx::any::AnyRow) -> Result<SystemKeyRow, StoreError> {
    Ok(SystemKeyRow {
        purpose: row.try_get("purpose")?,
        version: u32_col(row, "version")?,
        kek_version: u32_col(row, "kek_version")?,
        wrapped: row.try_get("wrapped")?,
    })
}

/// Every system key, oldest first.
pub async fn system_keys(conn: &mut AnyConnection) -> Result<Vec<SystemKeyRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT purpose, version, kek_version, wrapped FROM system_keys ORDER BY purpose, version",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(system_key_row).collect()
}

/// Stores a system key. `false` if that purpose and version exist already.
pub async fn insert_system_key(
    conn: &mut AnyConnection,
    row: &SystemKeyRow,
    at: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO system_keys (purpose, version, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (purpose, version) DO NOTHING",
    )
    .bind(&row.purpose)
    .bind(i64::from(row.version))
    .bind(i64::from(row.kek_version))
    .bind(row.wrapped.as_slice())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a system key's wrapping if still wrapped by `old_kek`.
pub async fn rewrap_system_key(
    conn: &mut AnyConnection,
    row: &SystemKeyRow,
    old_kek: u32,
    new_kek: u32,
    wrapped: &[u8],
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE system_keys SET kek_version = $1, wrapped = $2 WHERE purpose = $3 AND version = $4 AND kek_version = $5",
    )
    .bind(i64::from(new_kek))
    .bind(wrapped)
    .bind(&row.purpose)
    .bind(i64::from(row.version))
    .bind(i64::from(old_kek))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
