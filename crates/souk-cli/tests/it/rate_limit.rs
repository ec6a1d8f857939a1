//! Per-client rate limiting: 429 with Retry-After once the burst is spent; probes exempt.

use souk_testkit::{Db, TestApp};

use crate::assert_problem;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_budget_gets_429_with_retry_after() {
    let app = TestApp::builder(Db::Sqlite)
        .set("rate_limit.per_second", "1")
        .set("rate_limit.burst", "5")
        .spawn()
        .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.get("/api/v1/categories").await.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[200; 5], "the burst is served: {statuses:?}");
    assert!(statuses[5..].contains(&429), "then refused: {statuses:?}");
    let res = app.get("/api/v1/categories").await;
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    assert_problem(res, 429, "rate_limited").await;
    // Web pages are limited too, answered with a page.
    let res = app.get("/").await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    // Probes are never limited: orchestrators must always see the truth.
    for _ in 0..20 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.get("/readyz").await.status(), 200);
    // The budget refills.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(app.get("/api/v1/categories").await.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_cannot_dodge_the_limit_unless_sent_by_a_trusted_proxy() {
    let burst = |app: &TestApp, forwarded: &'static str| {
        let req = app.client.get(app.url("/api/v1/categories")).header("x-forwarded-for", forwarded);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // No trusted proxy: a client rotating X-Forwarded-For values is still one client.
    let app = TestApp::builder(Db::Sqlite)
        .set("rate_limit.per_second", "1")
        .set("rate_limit.burst", "3")
        .spawn()
        .await;
    let mut statuses = Vec::new();
    for fake in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"] {
        statuses.push(burst(&app, fake).await);
    }
    assert!(statuses.contains(&429), "spoofed headers are ignored: {statuses:?}");
    app.stop().await;

    // Behind a trusted proxy (the test client connects from 127.0.0.1): each forwarded
    // client has its own budget, and the proxy's own address is not the key.
    let app = TestApp::builder(Db::Sqlite)
        .set("rate_limit.per_second", "1")
        .set("rate_limit.burst", "3")
        .set("http.trusted_proxies", "127.0.0.0/8, ::1/128")
        .spawn()
        .await;
    for _ in 0..3 {
        assert_eq!(burst(&app, "203.0.113.1").await, 200);
    }
    assert_eq!(burst(&app, "203.0.113.1").await, 429, "that client spent its burst");
    assert_eq!(burst(&app, "203.0.113.2").await, 200, "another client behind the same proxy is not affected");
    // A client forging an address to the left is still counted as itself.
    assert_eq!(burst(&app, "198.51.100.77, 203.0.113.1").await, 429);
    app.stop().await;
}
