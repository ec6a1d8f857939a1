//! Graceful shutdown: new connections are refused at once, requests in flight finish.

use std::time::Duration;

use futures_util::StreamExt as _;
use souk_testkit::{Db, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let mut app = TestApp::spawn(Db::Sqlite).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let mut rx = rx;
    let body = reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed());
    let request = app
        .client
        .post(app.url("/api/v1/csp-reports"))
        .header("content-type", "application/csp-report")
        .body(body)
        .send();
    let in_flight = tokio::spawn(request);
    tx.send(Ok(br#"{"csp-report":"#.to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stopping = app.begin_stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = tokio::net::TcpStream::connect(app.https).await;
    assert!(refused.is_err(), "the listener is closed once shutdown begins");
    assert!(!stopping.is_finished(), "shutdown waits for the request in flight");

    tx.send(Ok(br#"{"violated-directive":"img-src","blocked-uri":"https://evil.example/x.png"}}"#.to_vec()))
        .await
        .unwrap();
    drop(tx);
    let res = tokio::time::timeout(Duration::from_secs(10), in_flight).await.unwrap().unwrap().unwrap();
    assert_eq!(res.status(), 204, "the in-flight request completed normally");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("shutdown completes").unwrap();
}
