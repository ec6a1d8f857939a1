//! Liveness and readiness, including the database going away and the drain on shutdown.

use std::time::Duration;

use souk_testkit::{Db, TestApp, backend_tests};
use sqlx::{Connection as _, Executor as _};

use crate::assert_problem;

backend_tests! {
    async fn healthz_and_readyz_answer_over_tls(app) {
        let res = app.get("/healthz").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "ok");
        let res = app.get("/readyz").await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "ready");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_turns_503_while_draining() {
    let mut app = TestApp::spawn(Db::Sqlite).await;
    app.state().start_draining();
    let body = assert_problem(app.get("/readyz").await, 503, "unavailable").await;
    assert_eq!(body["detail"], "Shutting down.");
    assert_eq!(app.get("/healthz").await.status(), 200, "liveness is unaffected");
    app.begin_stop().await.unwrap();
}

/// PostgreSQL is taken away (connections refused, existing ones killed): readiness says
/// 503; when it comes back, readiness recovers without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_going_down_and_up() {
    let Some(app) =
        TestApp::builder(Db::Postgres).set("database.acquire_timeout_secs", "1").try_spawn().await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: skipped");
        return;
    };
    let name = app.postgres_database().unwrap().to_owned();
    let mut admin = sqlx::PgConnection::connect(&souk_testkit::postgres_admin_url().unwrap()).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false")))
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&mut admin)
        .await
        .unwrap();
    let body = assert_problem(app.get("/readyz").await, 503, "unavailable").await;
    assert_eq!(body["detail"], "The database is unreachable.");
    assert_eq!(app.get("/healthz").await.status(), 200);
    // The catalog answers 503 too, not 500: a dependency is down, not a bug.
    assert_problem(app.get("/api/v1/listings").await, 503, "unavailable").await;

    admin
        .execute(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")))
        .await
        .unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = app.get("/readyz").await.status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "readiness recovers once the database is back");
    app.stop().await;
}
