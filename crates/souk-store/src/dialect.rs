//! Everything that differs between SQLite and PostgreSQL, in one place.
//!
//! The rest of the crate writes one SQL text per query. When the engines disagree (how a
//! connection is set up, how schema is created), the difference is a method here.

use sqlx::migrate::Migrator;

use crate::StoreError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database engine behind a [`crate::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the engine from the URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl(format!(
                "scheme {scheme:?}; expected sqlite://PATH or postgres://USER@HOST/DB"
            ))),
        }
    }

    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// Makes sure a SQLite file is created when missing; PostgreSQL URLs pass unchanged.
    #[must_use]
    pub fn normalize_url(self, url: &str) -> String {
        match self {
            Self::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        }
    }

    /// The database file of a SQLite URL (`None` for in-memory databases and PostgreSQL).
    #[must_use]
    pub fn sqlite_file(self, url: &str) -> Option<std::path::PathBuf> {
        if self != Self::Sqlite || url.contains(":memory:") {
            return None;
        }
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty()).then(|| std::path::PathBuf::from(path))
    }

    /// Statements run on every new connection.
    #[must_use]
    pub const fn connection_setup(self) -> &'static [&'static str] {
        match self {
            // WAL lets readers proceed while one writer commits; foreign keys are off by
            // default in SQLite and must be enabled per connection; the busy timeout makes a
            // writer wait for the lock instead of failing at once; NORMAL sync is durable
            // in WAL mode except for the last transactions before a power loss.
            Self::Sqlite => &[
                "PRAGMA journal_mode = WAL",
                "PRAGMA foreign_keys = ON",
                "PRAGMA busy_timeout = 5000",
                "PRAGMA synchronous = NORMAL",
            ],
            // Bound every statement so a runaway query cannot hold a connection forever.
            Self::Postgres => &["SET statement_timeout = '30s'", "SET lock_timeout = '10s'"],
        }
    }

    /// The embedded migrations for this engine. Both trees hold the same versions.
    #[must_use]
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Whether a database error code means "try again later" rather than "this statement is
/// wrong".
///
/// PostgreSQL reports a 5-character SQLSTATE: classes 08 (connection exception), 53
/// (insufficient resources) and 57 (operator intervention, e.g. shutdown), and 40001/40P01
/// (serialization failure, deadlock) are transient. SQLite reports its result code in
/// decimal (at most 4 digits, extended codes included): BUSY (5) and LOCKED (6), whose
/// extended codes keep the primary code in the low byte.
#[must_use]
pub fn is_transient(code: Option<&str>) -> bool {
    match code {
        Some(sqlstate) if sqlstate.len() == 5 => {
            ["08", "53", "57"].iter().any(|class| sqlstate.starts_with(class))
                || matches!(sqlstate, "40001" | "40P01")
        }
        Some(sqlite) => sqlite.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_migration_trees_hold_the_same_versions_and_names() {
        let names =
            |m: &Migrator| m.iter().map(|m| (m.version, m.description.to_string())).collect::<Vec<_>>();
        assert_eq!(names(&SQLITE_MIGRATIONS), names(&POSTGRES_MIGRATIONS));
        assert!(SQLITE_MIGRATIONS.iter().count() > 0);
    }

    #[test]
    fn transient_codes() {
        for code in ["57P01", "08006", "53300", "40001", "40P01", "5", "517", "6", "262"] {
            assert!(is_transient(Some(code)), "{code}");
        }
        for code in ["23505", "42P01", "19", "2067", "1"] {
            assert!(!is_transient(Some(code)), "{code}");
        }
        assert!(!is_transient(None));
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite://data/souk.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(Backend::from_url("mysql://h/db").is_err());
        assert_eq!(Backend::Sqlite.normalize_url("sqlite://x.db"), "sqlite://x.db?mode=rwc");
        assert_eq!(
            Backend::Sqlite.sqlite_file("sqlite:///tmp/a b/x.db?mode=rwc"),
            Some("/tmp/a b/x.db".into())
        );
        assert_eq!(Backend::Sqlite.sqlite_file("sqlite://data/souk.db"), Some("data/souk.db".into()));
        assert_eq!(Backend::Sqlite.sqlite_file("sqlite::memory:"), None);
        assert_eq!(Backend::Postgres.sqlite_file("postgres://h/db"), None);
    }
}
