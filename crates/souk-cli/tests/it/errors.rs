//! Bad requests of every kind get a 4xx problem (or an HTML page on the web), never a 500,
//! a panic or a dropped connection, and the server keeps serving.

use std::time::Duration;

use futures_util::StreamExt as _;
use souk_testkit::{Db, TestApp};

use crate::assert_problem;

async fn csp_post(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/csp-reports"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_and_wrong_types_are_4xx_problems() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let ok = r#"{"csp-report":{"document-uri":"https://localhost/","violated-directive":"script-src","blocked-uri":"inline"}}"#;
    assert_eq!(csp_post(&app, "application/csp-report", ok).await.status(), 204);

    let body =
        assert_problem(csp_post(&app, "application/csp-report", "{not json").await, 400, "malformed_json")
            .await;
    assert!(body["detail"].as_str().unwrap().contains("Line 1"), "{body}");
    assert_problem(csp_post(&app, "application/json", vec![0xff, 0xfe, 0x00]).await, 400, "malformed_json")
        .await;
    assert_problem(csp_post(&app, "text/plain", ok).await, 415, "unsupported_media_type").await;
    assert_problem(csp_post(&app, "application/json", "42").await, 422, "unprocessable").await;
    let res = app.client.post(app.url("/api/v1/csp-reports")).body(ok).send().await.unwrap();
    assert_problem(res, 415, "unsupported_media_type").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_declared_or_streamed() {
    let app = TestApp::builder(Db::Sqlite).set("http.body_limit_bytes", "4096").spawn().await;
    let big = vec![b' '; 10_000];
    let body =
        assert_problem(csp_post(&app, "application/json", big.clone()).await, 413, "payload_too_large").await;
    assert!(body["detail"].as_str().unwrap().contains("4096"));
    // No Content-Length: the limit applies while reading the stream.
    let chunks = futures_util::stream::iter(
        big.chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let res = csp_post(&app, "application/json", reqwest::Body::wrap_stream(chunks)).await;
    assert_problem(res, 413, "payload_too_large").await;
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_queries_and_methods_are_4xx_problems() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let body = assert_problem(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    assert_eq!(body["instance"], "/api/v1/nothing-here");
    // Invalid UTF-8 once percent-decoded.
    let res = app.get("/api/v1/listings/%FF%FE").await;
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_problem(app.get("/api/v1/listings/not-a-uuid").await, 404, "not_found").await;
    assert_problem(app.get("/api/v1/listings/0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f").await, 404, "not_found")
        .await;
    let body = assert_problem(app.get("/api/v1/listings?limit=abc").await, 400, "bad_request").await;
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    let body = assert_problem(app.get("/api/v1/listings?limit=1000").await, 400, "invalid_parameter").await;
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    assert_problem(app.get("/api/v1/listings?cursor=%21%21").await, 400, "invalid_parameter").await;
    assert_problem(app.get("/api/v1/listings?category=weapons").await, 400, "invalid_parameter").await;
    let res = app.client.delete(app.url("/api/v1/listings")).send().await.unwrap();
    assert!(res.headers().get("allow").is_some(), "405 names the allowed methods");
    assert_problem(res, 405, "method_not_allowed").await;
    let long = format!("/api/v1/listings?q={}", "a".repeat(9000));
    assert_problem(app.get(&long).await, 414, "uri_too_long").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_errors_are_readable_pages_with_a_reference() {
    let app = TestApp::spawn(Db::Sqlite).await;
    for path in ["/no-such-page", "/listings/%FF", "/shops/no-such-shop", "/c/weapons", "/?cursor=zz"] {
        let res = app.get(path).await;
        assert!(res.status().is_client_error(), "{path}: {}", res.status());
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8", "{path}");
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let html = res.text().await.unwrap();
        assert!(html.contains("<title>") && html.contains("Back to the storefront"), "{path}");
        assert!(html.contains(&id), "{path}: the page shows the request id for support");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absurd_headers_are_refused_with_431() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/v1/categories"))
        .header("x-junk", "a".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_problem(res, 431, "headers_too_large").await;
    let mut req = app.client.get(app.url("/api/v1/categories"));
    for i in 0..70 {
        req = req.header(format!("x-h{i}"), "1");
    }
    assert_problem(req.send().await.unwrap(), 431, "headers_too_large").await;
    // Far beyond what any client sends: refused at the protocol layer, never a 500.
    let res =
        app.client.get(app.url("/api/v1/categories")).header("x-junk", "a".repeat(300_000)).send().await;
    if let Ok(res) = res {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_takes_too_long_gets_503_timeout() {
    let app = TestApp::builder(Db::Sqlite).set("http.request_timeout_secs", "1").spawn().await;
    // A body that never finishes: the handler waits on it until the timeout answers.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(b"{".to_vec())).await.unwrap();
    let stream = tokio_stream_from(rx);
    let started = std::time::Instant::now();
    let res = csp_post(&app, "application/json", reqwest::Body::wrap_stream(stream)).await;
    let body = assert_problem(res, 503, "timeout").await;
    assert_eq!(body["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(tx);
    app.stop().await;
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// Sends raw bytes over TLS (HTTP/1.1) and returns the response head.
async fn raw_request(app: &TestApp, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let config = souk_testkit::tls_client_config(&app.ca_pem, &[b"http/1.1"]);
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(app.https).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_invalid_bytes_in_the_request_line_get_400_not_a_crash() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let head =
        raw_request(&app, b"GET /\xff\xfe/listings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let head = raw_request(
        &app,
        b"GET /api/v1/listings/%C3%28 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    let head = raw_request(&app, b"GARBAGE\r\n\r\n").await;
    assert!(head.is_empty() || head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(app.get("/healthz").await.status(), 200, "still serving");
    app.stop().await;
}
