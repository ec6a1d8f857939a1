//! The vault's own database: a SQLite file of its own, or a schema of its own on PostgreSQL
//! (`souk_vault` by default), with its own migrations. The marketplace's store never opens
//! it, and this module is the only SQL in the vault.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe, Connection as _, Row as _};

use crate::VaultError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Where the vault keeps its rows.
#[derive(Debug, Clone)]
pub struct VaultDatabase {
    /// `sqlite://PATH` (a file of its own, never the marketplace's) or `postgres://…`.
    pub url: SecretString,
    /// The PostgreSQL schema the vault's tables live in; ignored for SQLite.
    pub schema: String,
    pub max_connections: u32,
}

impl VaultDatabase {
    /// The default schema name on PostgreSQL.
    pub const DEFAULT_SCHEMA: &'static str = "souk_vault";

    /// The directory name, inside the data directory, of the vault's own master keys (for
    /// a `FileKeyProvider`); never the marketplace's `keys/`.
    pub const DEFAULT_KEYS_DIR: &'static str = "vault-keys";

    #[must_use]
    pub fn new(url: SecretString) -> Self {
        Self { url, schema: Self::DEFAULT_SCHEMA.to_owned(), max_connections: 4 }
    }

    /// The default embedded database: `vault.db` in the data directory, beside (never
    /// inside) the marketplace's database.
    #[must_use]
    pub fn sqlite_in(data_dir: &std::path::Path) -> Self {
        Self::new(SecretString::from(format!("sqlite://{}", data_dir.join("vault.db").display())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A stored card row (no card number in clear, no security code: there is no column for one).
#[derive(Debug, Clone)]
pub(crate) struct CardRow {
    pub token: String,
    pub pan_sealed: Vec<u8>,
    pub fingerprint: Vec<u8>,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub bin_country: Option<String>,
    pub created_at: i64,
}

/// A wrapped key row.
#[derive(Debug, Clone)]
pub(crate) struct KeyRow {
    pub version: i64,
    pub kek_version: i64,
    pub wrapped: Vec<u8>,
}

/// The pool over the vault's database.
#[derive(Debug, Clone)]
pub(crate) struct VaultStore {
    pool: AnyPool,
}

fn db(e: &sqlx::Error) -> VaultError {
    // Driver messages name tables and constraints, never bound values.
    VaultError::Database(e.to_string())
}

fn valid_schema(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.len() <= 63
}

/// Makes the vault's SQLite files (database, WAL, shared memory) readable by their owner
/// only: they hold envelopes, not card numbers, but nobody else has any business with them.
fn restrict_sqlite_files(url: &str) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt as _;
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or_default();
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return Ok(());
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VaultError::Config(format!("cannot restrict {file}: {e}"))),
        }
    }
    Ok(())
}

impl VaultStore {
    /// Opens the pool and applies the vault's migrations.
    pub(crate) async fn open(config: &VaultDatabase) -> Result<Self, VaultError> {
        sqlx::any::install_default_drivers();
        let url = config.url.expose_secret();
        let backend = match url.split(':').next().unwrap_or_default() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            _ => {
                return Err(VaultError::Config(
                    "the vault database URL is sqlite://PATH or postgres://…".into(),
                ));
            }
        };
        let setup: Vec<String> = match backend {
            // secure_delete overwrites deleted rows' content, so a forgotten card's envelope
            // does not linger in free pages.
            Backend::Sqlite => [
                "PRAGMA journal_mode = WAL",
                "PRAGMA busy_timeout = 5000",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA secure_delete = ON",
            ]
            .map(str::to_owned)
            .to_vec(),
            Backend::Postgres => {
                if !valid_schema(&config.schema) {
                    return Err(VaultError::Config("the vault schema name is [a-z_][a-z0-9_]*".into()));
                }
                // The schema name was checked above: it is a plain identifier, not input text.
                let mut conn = sqlx::AnyConnection::connect(url).await.map_err(|e| db(&e))?;
                let create = format!("CREATE SCHEMA IF NOT EXISTS {}", config.schema);
                if let Err(e) = sqlx::query(AssertSqlSafe(create)).execute(&mut conn).await {
                    // Two vaults starting at once may race on the schema; the loser sees it exists.
                    if !matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505")) {
                        return Err(db(&e));
                    }
                }
                let _ = conn.close().await;
                vec![
                    format!("SET search_path TO {}", config.schema),
                    "SET statement_timeout = '30s'".to_owned(),
                    "SET lock_timeout = '10s'".to_owned(),
                ]
            }
        };
        let connect_url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let setup = std::sync::Arc::new(setup);
        let pool = AnyPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                let setup = std::sync::Arc::clone(&setup);
                Box::pin(async move {
                    for statement in setup.iter() {
                        // A static table above, plus a checked schema identifier.
                        sqlx::query(AssertSqlSafe(statement.clone())).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(|e| db(&e))?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let mut conn = pool.acquire().await.map_err(|e| db(&e))?;
        if backend == Backend::Sqlite {
            restrict_sqlite_files(url)?;
        }
        migrator.run(&mut *conn).await.map_err(|e| VaultError::Database(e.to_string()))?;
        drop(conn);
        Ok(Self { pool })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// The newest wrapped key of a purpose.
    pub(crate) async fn latest_key(&self, purpose: &str) -> Result<Option<KeyRow>, VaultError> {
        let row = sqlx::query(
            "SELECT version, kek_version, wrapped FROM vault_keys WHERE purpose = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(purpose)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        row.map(|r| {
            Ok(KeyRow {
                version: r.try_get("version").map_err(|e| db(&e))?,
                kek_version: r.try_get("kek_version").map_err(|e| db(&e))?,
                wrapped: r.try_get("wrapped").map_err(|e| db(&e))?,
            })
        })
        .transpose()
    }

    /// Stores a wrapped key; `false` if that purpose and version exist already (another
    /// process created it first).
    pub(crate) async fn insert_key(&self, purpose: &str, key: &KeyRow, now: i64) -> Result<bool, VaultError> {
        let done = sqlx::query(
            "INSERT INTO vault_keys (purpose, version, kek_version, wrapped, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purpose, version) DO NOTHING",
        )
        .bind(purpose)
        .bind(key.version)
        .bind(key.kek_version)
        .bind(key.wrapped.as_slice())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Every wrapped key of a purpose, oldest first.
    pub(crate) async fn keys(&self, purpose: &str) -> Result<Vec<KeyRow>, VaultError> {
        let rows = sqlx::query(
            "SELECT version, kek_version, wrapped FROM vault_keys WHERE purpose = $1 ORDER BY version",
        )
        .bind(purpose)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        rows.iter()
            .map(|r| {
                Ok(KeyRow {
                    version: r.try_get("version").map_err(|e| db(&e))?,
                    kek_version: r.try_get("kek_version").map_err(|e| db(&e))?,
                    wrapped: r.try_get("wrapped").map_err(|e| db(&e))?,
                })
            })
            .collect()
    }

    /// Replaces a key's wrapping (master key rotation), if it is still wrapped as read.
    pub(crate) async fn rewrap_key(
        &self,
        purpose: &str,
        read: &KeyRow,
        kek_version: i64,
        wrapped: &[u8],
    ) -> Result<bool, VaultError> {
        let done = sqlx::query(
            "UPDATE vault_keys SET kek_version = $1, wrapped = $2 \
             WHERE purpose = $3 AND version = $4 AND kek_version = $5",
        )
        .bind(kek_version)
        .bind(wrapped)
        .bind(purpose)
        .bind(read.version)
        .bind(read.kek_version)
        .execute(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn insert_card(&self, card: &CardRow) -> Result<(), VaultError> {
        sqlx::query(
            "INSERT INTO vault_cards (token, pan_sealed, fingerprint, brand, last4, exp_month, \
             exp_year, bin_country, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(card.token.as_str())
        .bind(card.pan_sealed.as_slice())
        .bind(card.fingerprint.as_slice())
        .bind(card.brand.as_str())
        .bind(card.last4.as_str())
        .bind(card.exp_month)
        .bind(card.exp_year)
        .bind(card.bin_country.as_deref())
        .bind(card.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        Ok(())
    }

    pub(crate) async fn card(&self, token: &str) -> Result<Option<CardRow>, VaultError> {
        let row = sqlx::query(
            "SELECT token, pan_sealed, fingerprint, brand, last4, exp_month, exp_year, bin_country, \
             created_at FROM vault_cards WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db(&e))?;
        let Some(r) = row else { return Ok(None) };
        let get = |e: sqlx::Error| db(&e);
        Ok(Some(CardRow {
            token: r.try_get("token").map_err(get)?,
            pan_sealed: r.try_get("pan_sealed").map_err(get)?,
            fingerprint: r.try_get("fingerprint").map_err(get)?,
            brand: r.try_get("brand").map_err(get)?,
            last4: r.try_get("last4").map_err(get)?,
            exp_month: r.try_get("exp_month").map_err(get)?,
            exp_year: r.try_get("exp_year").map_err(get)?,
            bin_country: r.try_get("bin_country").map_err(get)?,
            created_at: r.try_get("created_at").map_err(get)?,
        }))
    }

    /// Deletes a card; `false` if there was none.
    pub(crate) async fn delete_card(&self, token: &str) -> Result<bool, VaultError> {
        let done = sqlx::query("DELETE FROM vault_cards WHERE token = $1")
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(|e| db(&e))?;
        Ok(done.rows_affected() == 1)
    }

    /// Every value of every vault table as text (blobs as lossy UTF-8), for tests that
    /// prove what is and is not stored.
    #[cfg(test)]
    pub(crate) async fn dump(&self) -> Vec<String> {
        let mut out = Vec::new();
        for table in ["vault_keys", "vault_cards"] {
            let rows = sqlx::query(AssertSqlSafe(format!("SELECT * FROM {table}")))
                .fetch_all(&self.pool)
                .await
                .unwrap();
            for r in rows {
                for i in 0..r.len() {
                    let text = r
                        .try_get::<String, _>(i)
                        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                        .or_else(|_| {
                            r.try_get::<Vec<u8>, _>(i).map(|b| String::from_utf8_lossy(&b).into_owned())
                        })
                        .unwrap_or_default();
                    out.push(text);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_the_same_migrations() {
        let list = |m: &sqlx::migrate::Migrator| {
            m.iter().map(|m| (m.version, m.description.to_string())).collect::<Vec<_>>()
        };
        assert_eq!(list(&SQLITE_MIGRATIONS), list(&POSTGRES_MIGRATIONS));
        assert!(!list(&SQLITE_MIGRATIONS).is_empty());
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("souk_vault"));
        assert!(valid_schema("_v2"));
        assert!(!valid_schema(""));
        assert!(!valid_schema("Vault"));
        assert!(!valid_schema("v; DROP TABLE x"));
        assert!(!valid_schema("1vault"));
    }
}
