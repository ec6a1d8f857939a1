//! The baseline protections on every kind of response, and the HTTP-to-HTTPS redirect.

use souk_testkit::{Db, TestApp};

const REQUIRED: &[(&str, &str)] = &[
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
    ("x-frame-options", "DENY"),
];

fn check(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    for (name, value) in REQUIRED {
        assert_eq!(h.get(*name).and_then(|v| v.to_str().ok()), Some(*value), "{name} on {what}");
    }
    let csp = h.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "CSP on {what}: {csp}"
    );
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "CSP on {what}: {csp}");
    let pp = h.get("permissions-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(pp.contains("camera=()") && pp.contains("geolocation=()"), "Permissions-Policy on {what}");
    assert!(h.get("x-request-id").is_some(), "request id on {what}");
    assert!(h.get("set-cookie").is_none(), "no cookies on {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_response_carries_the_protective_headers() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let listing = app
        .get("/api/v1/listings?limit=1")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["data"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/",
        "/shops",
        listing.as_str(),
        "/api/v1/listings",
        "/api/openapi.json",
        "/api/docs",
        "/healthz",
        "/readyz",
        "/static/souk.css",
        "/no-such-page",
        "/api/v1/no-such-thing",
        "/.well-known/security.txt",
    ] {
        let res = app.get(path).await;
        check(&res, path);
        if path.starts_with("/static/") || path.starts_with("/.well-known/") {
            assert!(res.headers()["cache-control"].to_str().unwrap().starts_with("public"));
        } else {
            assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_only_redirects_to_https() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let plain = souk_testkit::plain_http_client();
    let http = format!("http://{}", app.http.unwrap());
    let res = plain.get(format!("{http}/shops?page=2")).send().await.unwrap();
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()["location"], app.url("/shops?page=2").as_str());
    assert!(res.text().await.unwrap().is_empty(), "nothing is served in clear");
    // A body sent in clear is refused, not forwarded.
    let res = plain.post(format!("{http}/api/v1/csp-reports")).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_assets_are_versioned_and_cacheable() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let home = app.get("/").await.text().await.unwrap();
    let css = home.split("href=\"").find(|s| s.starts_with("/static/souk.css?v=")).unwrap();
    let css = &css[..css.find('"').unwrap()];
    let res = app.get(css).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    let stale = app.get("/static/souk.css?v=0000").await;
    assert_eq!(
        stale.headers()["cache-control"],
        "public, max-age=300",
        "an unknown version is not cached long"
    );
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_txt_follows_rfc_9116() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let text = app.get("/.well-known/security.txt").await.text().await.unwrap();
    assert!(text.contains("Contact: mailto:security@localhost"), "{text}");
    assert!(text.contains("Expires: "), "{text}");
    assert!(text.contains(&format!("Canonical: {}", app.url("/.well-known/security.txt"))), "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_for_loopback_or_token_holders() {
    let app = TestApp::spawn(Db::Sqlite).await;
    app.get("/healthz").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200, "loopback may scrape without a token");
    let text = res.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("http_request_duration_seconds_bucket"), "latency histogram");
    assert!(text.contains("db_pool_connections"), "pool gauges");
    // Invented methods do not create new label values.
    let odd = reqwest::Method::from_bytes(b"XSCAN1").unwrap();
    app.client.request(odd, app.url("/api/v1/categories")).send().await.unwrap();
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("XSCAN1"), "raw methods never become labels");
    assert!(text.contains("method=\"OTHER\""), "they are counted as OTHER");
    app.stop().await;

    let app = TestApp::builder(Db::Sqlite).set("metrics.token", "scrape-secret").spawn().await;
    crate::assert_problem(app.get("/metrics").await, 403, "forbidden").await;
    let wrong = app.client.get(app.url("/metrics")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    let right = app.client.get(app.url("/metrics")).bearer_auth("scrape-secret").send().await.unwrap();
    assert_eq!(right.status(), 200);
    app.stop().await;
}
