//! TLS: the certificate chains to the local CA for both localhost and 127.0.0.1; the
//! intermediate profile speaks TLS 1.2 and 1.3, the modern profile only 1.3.

use souk_testkit::{Db, TestApp, client_trusting, client_with_versions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_verifies_for_localhost_and_loopback_ip() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let client = client_trusting(&app.ca_pem, app.https);
    let by_ip = client.get(format!("https://127.0.0.1:{}/healthz", app.https.port())).send().await.unwrap();
    assert_eq!(by_ip.status(), 200);
    assert_eq!(by_ip.version(), reqwest::Version::HTTP_2, "ALPN negotiates HTTP/2");
    // A client that does not trust Souk's CA refuses the connection.
    let other_ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let stranger = client_trusting(other_ca.cert.pem().as_bytes(), app.https);
    assert!(stranger.get(app.url("/healthz")).send().await.is_err());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intermediate_accepts_tls12_and_modern_refuses_it() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let tls12 = client_with_versions(&app.ca_pem, app.https, &[&rustls::version::TLS12]);
    assert_eq!(tls12.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await;

    let app = TestApp::builder(Db::Sqlite).set("tls.profile", "modern").spawn().await;
    let tls12 = client_with_versions(&app.ca_pem, app.https, &[&rustls::version::TLS12]);
    assert!(tls12.get(app.url("/healthz")).send().await.is_err(), "TLS 1.2 is refused by the modern profile");
    let tls13 = client_with_versions(&app.ca_pem, app.https, &[&rustls::version::TLS13]);
    assert_eq!(tls13.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_ca_is_reused_across_restarts() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let dir = app.dir.path().to_owned();
    let first = app.ca_pem.clone();
    // Stop the server but keep its data directory, then start again on it.
    let keep = tempfile::tempdir().unwrap();
    let copy = keep.path().join("data");
    std::fs::create_dir_all(copy.join("tls")).unwrap();
    for f in ["souk-local-ca.pem", "souk-local-ca-key.pem", "souk-local-ca.hosts"] {
        std::fs::copy(dir.join("tls").join(f), copy.join("tls").join(f)).unwrap();
    }
    app.stop().await;
    let again = TestApp::builder(Db::Sqlite).set("server.data_dir", copy.display().to_string()).spawn().await;
    assert_eq!(again.ca_pem, first, "users trust the CA once");
    assert_eq!(again.get("/healthz").await.status(), 200);
    again.stop().await;
}
