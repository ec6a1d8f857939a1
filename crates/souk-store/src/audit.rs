//! Persistence of the audit log: reserving positions, appending rows in the caller's
//! transaction, streaming them back in order, and the signed checkpoints.

use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;
use crate::sql::{Param, Sql};

/// An audit row as stored; mirrors `souk_audit::Entry` plus the stored leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub actor_role: String,
    pub credential_id: String,
    pub ip_sealed: Option<Vec<u8>>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub outcome: String,
    pub request_id: String,
    pub detail: String,
    pub leaf_hash: Vec<u8>,
}

/// Reserves `n` positions at the end of the log and returns the first. The head row stays
/// locked until the caller's transaction ends, so appends are numbered without gaps and in
/// commit order; a rolled-back transaction gives its positions back.
pub async fn reserve(conn: &mut AnyConnection, n: u32) -> Result<i64, StoreError> {
    let size: i64 = sqlx::query("UPDATE audit_head SET size = size + $1 WHERE id = 1 RETURNING size")
        .bind(i64::from(n))
        .fetch_one(conn)
        .await?
        .try_get("size")?;
    Ok(size - i64::from(n))
}

/// Inserts rows (at most a few hundred at a time) in one statement.
pub async fn insert(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), StoreError> {
    const COLUMNS: usize = 14;
    for chunk in rows.chunks(64) {
        let mut sql = Sql::new(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_role, credential_id, ip_sealed, action, \
             target_kind, target_id, outcome, request_id, detail, leaf_hash) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            let params = [
                Param::Int(r.seq),
                Param::Int(r.at),
                Param::Text(r.actor_kind.clone()),
                Param::Text(r.actor_id.clone()),
                Param::Text(r.actor_role.clone()),
                Param::Text(r.credential_id.clone()),
                r.ip_sealed.clone().map_or(Param::NullBytes, Param::Bytes),
                Param::Text(r.action.clone()),
                Param::Text(r.target_kind.clone()),
                Param::Text(r.target_id.clone()),
                Param::Text(r.outcome.clone()),
                Param::Text(r.request_id.clone()),
                Param::Text(r.detail.clone()),
                Param::Bytes(r.leaf_hash.clone()),
            ];
            debug_assert_eq!(params.len(), COLUMNS);
            for (j, p) in params.into_iter().enumerate() {
                if j > 0 {
                    sql.push(", ");
                }
                sql.bind(p);
            }
            sql.push(")");
        }
        sql.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The size the log records for itself.
pub async fn head_size(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT size FROM audit_head WHERE id = 1").fetch_one(conn).await?.try_get("size")?)
}

fn audit_row(r: &sqlx::any::AnyRow) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        actor_role: r.try_get("actor_role")?,
        credential_id: r.try_get("credential_id")?,
        ip_sealed: r.try_get("ip_sealed")?,
        action: r.try_get("action")?,
        target_kind: r.try_get("target_kind")?,
        target_id: r.try_get("target_id")?,
        outcome: r.try_get("outcome")?,
        request_id: r.try_get("request_id")?,
        detail: r.try_get("detail")?,
        leaf_hash: r.try_get("leaf_hash")?,
    })
}

const SELECT: &str = "SELECT seq, at, actor_kind, actor_id, actor_role, credential_id, ip_sealed, action, \
     target_kind, target_id, outcome, request_id, detail, leaf_hash FROM audit_log";

/// Rows with `seq >= from`, in order, at most `limit` (keyset pagination).
pub async fn rows_from(conn: &mut AnyConnection, from: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
    let mut sql = Sql::new(SELECT);
    sql.push(" WHERE seq >= ").bind(Param::Int(from));
    sql.push(" ORDER BY seq LIMIT ").bind(Param::Int(i64::from(limit)));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(audit_row).collect()
}

/// Which entries a reader wants. Every field narrows; `None` does not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<String>,
    /// Times in microseconds, `from` inclusive and `to` exclusive.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Entries matching `filter` with `seq > after`, oldest first, at most `limit`.
pub async fn query(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRow>, StoreError> {
    let mut sql = Sql::new(SELECT);
    sql.push(" WHERE seq > ").bind(Param::Int(after.unwrap_or(-1)));
    let text = [
        (" AND actor_id = ", &filter.actor_id),
        (" AND action = ", &filter.action),
        (" AND target_kind = ", &filter.target_kind),
        (" AND target_id = ", &filter.target_id),
        (" AND outcome = ", &filter.outcome),
    ];
    for (clause, value) in text {
        if let Some(v) = value {
            sql.push(clause).bind(Param::Text(v.clone()));
        }
    }
    if let Some(from) = filter.from {
        sql.push(" AND at >= ").bind(Param::Int(from));
    }
    if let Some(to) = filter.to {
        sql.push(" AND at < ").bind(Param::Int(to));
    }
    sql.push(" ORDER BY seq LIMIT ").bind(Param::Int(i64::from(limit)));
    let rows = sql.query().fetch_all(conn).await?;
    rows.iter().map(audit_row).collect()
}

/// The stored leaf hashes of positions `0..size`, in order (for proofs).
pub async fn leaf_hashes(
    conn: &mut AnyConnection,
    from: i64,
    limit: u32,
) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    let rows = sqlx::query("SELECT seq, leaf_hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2")
        .bind(from)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("seq")?, r.try_get("leaf_hash")?))).collect()
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub tree_size: i64,
    pub root_hash: Vec<u8>,
    pub signed_at: i64,
    pub key_version: i64,
    pub signature: Vec<u8>,
}

/// Every checkpoint, smallest first.
pub async fn checkpoints(conn: &mut AnyConnection) -> Result<Vec<CheckpointRow>, StoreError> {
    let rows =
        sqlx::query("SELECT tree_size, root_hash, signed_at, key_version, signature FROM audit_checkpoints ORDER BY tree_size")
            .fetch_all(conn)
            .await?;
    rows.iter()
        .map(|r| {
            Ok(CheckpointRow {
                tree_size: r.try_get("tree_size")?,
                root_hash: r.try_get("root_hash")?,
                signed_at: r.try_get("signed_at")?,
                key_version: r.try_get("key_version")?,
                signature: r.try_get("signature")?,
            })
        })
        .collect()
}

/// Stores a checkpoint; `false` if one of that size exists.
pub async fn insert_checkpoint(conn: &mut AnyConnection, cp: &CheckpointRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, signed_at, key_version, signature) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING",
    )
    .bind(cp.tree_size)
    .bind(cp.root_hash.as_slice())
    .bind(cp.signed_at)
    .bind(cp.key_version)
    .bind(cp.signature.as_slice())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Streams every audit row in order, a page at a time, into `pages`, for verification.
///
/// SQLite is read through rusqlite on a blocking thread: sqlx's SQLite driver hands each
/// row across threads (~10 µs per row of this shape, see BENCHMARKS.md), which made
/// verifying a million entries take over ten seconds. rusqlite links the same
/// libsqlite3 (see ADR 0009). PostgreSQL is read through the pool in keyset pages.
pub async fn scan(
    store: &crate::Store,
    page: u32,
    pages: tokio::sync::mpsc::Sender<Result<Vec<AuditRow>, StoreError>>,
) {
    if let Some(path) = store.sqlite_path().map(std::path::Path::to_owned) {
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = scan_sqlite_file(&path, page, &pages) {
                let _ = pages.blocking_send(Err(e));
            }
        })
        .await;
        return;
    }
    let mut conn = match store.conn().await {
        Ok(c) => c,
        Err(e) => {
            let _ = pages.send(Err(e)).await;
            return;
        }
    };
    let mut from = 0i64;
    loop {
        let rows = rows_from(&mut conn, from, page).await;
        let next = rows.as_ref().ok().and_then(|r| r.last()).map(|last| last.seq + 1);
        if pages.send(rows).await.is_err() {
            return;
        }
        match next {
            Some(n) => from = n,
            None => return,
        }
    }
}

fn scan_sqlite_file(
    path: &std::path::Path,
    page: u32,
    pages: &tokio::sync::mpsc::Sender<Result<Vec<AuditRow>, StoreError>>,
) -> Result<(), StoreError> {
    use rusqlite::{Connection, OpenFlags};
    let sqlite =
        |e: rusqlite::Error| StoreError::Unavailable { cause: format!("reading {}: {e}", path.display()) };
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(sqlite)?;
    // One statement, one snapshot: the scan sees the log as of its start.
    let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY seq")).map_err(sqlite)?;
    let mut rows = stmt.query([]).map_err(sqlite)?;
    let size = usize::try_from(page).unwrap_or(10_000);
    let mut batch = Vec::with_capacity(size);
    while let Some(r) = rows.next().map_err(sqlite)? {
        let text = |i: usize| r.get::<_, String>(i).map_err(sqlite);
        batch.push(AuditRow {
            seq: r.get(0).map_err(sqlite)?,
            at: r.get(1).map_err(sqlite)?,
            actor_kind: text(2)?,
            actor_id: text(3)?,
            actor_role: text(4)?,
            credential_id: text(5)?,
            ip_sealed: r.get(6).map_err(sqlite)?,
            action: text(7)?,
            target_kind: text(8)?,
            target_id: text(9)?,
            outcome: text(10)?,
            request_id: text(11)?,
            detail: text(12)?,
            leaf_hash: r.get(13).map_err(sqlite)?,
        });
        if batch.len() == size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(size));
            if pages.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = pages.blocking_send(Ok(batch));
    }
    Ok(())
}
