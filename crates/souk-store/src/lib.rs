//! Souk's persistence: a [`Store`] over SQLite (the embedded default) or PostgreSQL,
//! chosen by the database URL, with one copy of every query.
//!
//! Queries are written once in the SQL both engines accept, with `$1`-style placeholders,
//! and run through sqlx's runtime-generic `Any` driver. Whatever differs between the two
//! engines (connection set-up, migrations, error codes) lives in [`dialect`] and nowhere
//! else. See `docs/adr/0002-one-query-layer-two-backends.md`.

pub mod accounts;
pub mod audit;
pub mod cart;
pub mod catalog;
pub mod dialect;
mod error;
pub mod finance;
pub mod idempotency;
pub mod identity;
pub mod keys;
pub mod ledger;
pub mod listings;
pub mod messages;
pub mod orders;
pub mod reviews;
pub mod risk;
pub mod shops;
mod sql;
pub mod webhooks;

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, AssertSqlSafe, Transaction};

pub use dialect::Backend;
pub use error::StoreError;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://…` or `postgres://…`; may hold a password, hence secret.
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before giving up.
    pub acquire_timeout: Duration,
}

/// A pooled connection to Souk's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, for bulk scans that bypass the pool (see `audit::scan`).
    sqlite_path: Option<std::path::PathBuf>,
}

/// A snapshot of the connection pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied_before: usize,
    pub applied_now: usize,
    pub latest: Option<i64>,
}

impl Store {
    /// Opens a pool. Nothing is created or migrated here except, for SQLite, the file.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = config.url.expose_secret();
        let backend = Backend::from_url(url)?;
        let setup = backend.connection_setup();
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(true)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    for statement in setup {
                        // SAFETY of the SQL: `setup` is a static table in `dialect`, never input.
                        sqlx::query(AssertSqlSafe(*statement)).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&backend.normalize_url(url))
            .await
            .map_err(StoreError::from_connect)?;
        Ok(Self { pool, backend, sqlite_path: backend.sqlite_file(url) })
    }

    #[must_use]
    pub const fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn sqlite_path(&self) -> Option<&std::path::Path> {
        self.sqlite_path.as_deref()
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let migrator = self.backend.migrator();
        let mut conn = self.pool.acquire().await.map_err(StoreError::from_connect)?;
        let before = applied_versions(&mut conn).await?;
        migrator.run(&mut *conn).await?;
        let after = applied_versions(&mut conn).await?;
        Ok(MigrationReport {
            applied_before: before.len(),
            applied_now: after.len().saturating_sub(before.len()),
            latest: after.last().copied(),
        })
    }

    /// A connection for reads (and single-statement writes).
    pub async fn conn(&self) -> Result<PoolConnection<Any>, StoreError> {
        self.pool.acquire().await.map_err(StoreError::from_connect)
    }

    /// A transaction; a use case that changes several rows does so inside one.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, StoreError> {
        self.pool.begin().await.map_err(StoreError::from_connect)
    }

    /// A transaction that will write, taking the write lock at its start on SQLite
    /// (`BEGIN IMMEDIATE`): a deferred transaction that read before another writer committed
    /// would fail at its first write instead of waiting, which concurrent checkouts hit.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(StoreError::from_connect)
            }
            Backend::Postgres => self.begin().await,
        }
    }

    /// Checks that the database answers within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), StoreError> {
        let check = async {
            let mut conn = self.pool.acquire().await.map_err(StoreError::from_connect)?;
            sqlx::query("SELECT 1").execute(&mut *conn).await?;
            Ok::<_, StoreError>(())
        };
        tokio::time::timeout(timeout, check)
            .await
            .map_err(|_| StoreError::unavailable("no answer in time"))?
    }

    #[must_use]
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Closes the pool: waits for checked-out connections to come back, then refuses more.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }
}

async fn applied_versions(conn: &mut AnyConnection) -> Result<Vec<i64>, StoreError> {
    use sqlx::Row as _;
    // The table does not exist before the first migration; that is "none applied".
    let rows = match sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = $1 ORDER BY version")
        .bind(true)
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    rows.iter().map(|r| r.try_get::<i64, _>("version").map_err(StoreError::from)).collect()
}

/// Redacts the password of a database URL (in the user-info part or in the query string)
/// for logs and messages.
#[must_use]
pub fn redacted_url(url: &SecretString) -> String {
    let Ok(mut parsed) = url::Url::parse(url.expose_secret()) else {
        return "<unparseable database URL>".to_owned();
    };
    if parsed.password().is_some() {
        // Setting a password only fails for URLs that cannot carry one.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some_and(|q| q.to_ascii_lowercase().contains("pass")) {
        parsed.set_query(Some("***"));
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        let url = SecretString::from("postgres://souk:hunter2@db.internal:5432/souk");
        let shown = redacted_url(&url);
        assert!(!shown.contains("hunter2"));
        assert_eq!(shown, "postgres://souk:***@db.internal:5432/souk");
        let url = SecretString::from("postgres://db/souk?user=a&password=hunter2");
        assert!(!redacted_url(&url).contains("hunter2"));
    }
}
