//! A fresh PostgreSQL database per test, on the server named by `SOUK_TEST_DATABASE_URL`.
//! Names carry their creation time so databases left by crashed runs are swept later.

use sqlx::{Connection as _, Executor as _, PgConnection};

/// The admin URL of the test PostgreSQL server, if configured.
#[must_use]
pub fn postgres_admin_url() -> Option<String> {
    #[expect(clippy::disallowed_methods, reason = "the harness's own switch, not a server setting")]
    std::env::var("SOUK_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// Stale test databases older than this are dropped when a new one is made.
const STALE_SECS: u64 = 3 * 3600;

#[derive(Debug)]
pub(crate) struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

fn unix_now() -> u64 {
    #[expect(clippy::disallowed_methods, reason = "naming test databases, not product logic")]
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url_parse(admin_url);
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn url_parse(s: &str) -> reqwest::Url {
    reqwest::Url::parse(s).expect("SOUK_TEST_DATABASE_URL is a URL")
}

impl TestDatabase {
    pub(crate) async fn create() -> Option<Self> {
        let admin_url = postgres_admin_url()?;
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect to SOUK_TEST_DATABASE_URL");
        let now = unix_now();
        sweep(&mut admin, now).await;
        let name = format!("souk_t_{now}_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("create test database");
        admin.close().await.ok();
        Some(Self { url: with_database(&admin_url, &name), name, admin_url })
    }

    pub(crate) async fn drop_database(self) {
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                )))
                .await;
            admin.close().await.ok();
        }
    }
}

async fn sweep(admin: &mut PgConnection, now: u64) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'souk_t_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created = name.split('_').nth(2).and_then(|t| t.parse::<u64>().ok()).unwrap_or(now);
        if now.saturating_sub(created) > STALE_SECS {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                .await;
        }
    }
}
