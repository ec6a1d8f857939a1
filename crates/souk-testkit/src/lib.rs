//! Souk's test harness. [`TestApp`] starts the real server (the same `start` that
//! `souk serve` runs) on port 0 with its real TLS, against a fresh SQLite directory or a
//! fresh PostgreSQL database, and hands back an HTTPS client that trusts only that
//! server's own local CA. [`browser::Browser`] drives a real headless Chromium.
//!
//! PostgreSQL runs whenever `SOUK_TEST_DATABASE_URL` names a server the tests may create
//! databases on; [`backend_tests!`] runs each test on both backends.
#![allow(clippy::missing_panics_doc, reason = "a test harness fails its test by panicking")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test harness fails its test by panicking; JSON from DevTools is indexed freely"
)]

pub mod browser;
mod postgres;
pub mod smtp;

use std::net::SocketAddr;
use std::sync::Arc;

use souk_cli::config::{Config, Sources};
use souk_cli::server::{self, Started};
use souk_domain::{OsEntropy, SystemClock};

pub use postgres::postgres_admin_url;

/// The `token` query parameter of the first link in `body` that starts with `prefix`.
#[must_use]
pub fn link_token(body: &str, prefix: &str) -> String {
    let start = body.find(prefix).unwrap_or_else(|| panic!("no link {prefix} in {body}"));
    let link: String = body[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    link.split_once("token=").map_or_else(|| panic!("no token in {link}"), |(_, t)| t.to_owned())
}

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Builds a test app with setting overrides.
#[derive(Debug)]
pub struct Builder {
    db: Db,
    settings: Vec<(&'static str, String)>,
    clock: Option<Arc<souk_domain::FakeClock>>,
}

impl Builder {
    /// Overrides a setting (a key of `souk config example`).
    #[must_use]
    pub fn set(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.settings.push((key, value.into()));
        self
    }

    /// Runs the server on a clock the test controls (sessions, links, step-up windows).
    #[must_use]
    pub fn clock(mut self, clock: Arc<souk_domain::FakeClock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Starts the server. Returns `None` for PostgreSQL when no test server is configured.
    pub async fn try_spawn(self) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_db) = match self.db {
            Db::Sqlite => (format!("sqlite://{}/souk.db", dir.path().display()), None),
            Db::Postgres => {
                let db = postgres::TestDatabase::create().await?;
                (db.url.clone(), Some(db))
            }
        };
        // The public origin must name the real port (links in mail, the Origin check), so a
        // free port is found first.
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let mut flags: Vec<(&'static str, String)> = vec![
            ("server.https_addr", format!("127.0.0.1:{port}")),
            ("server.public_url", format!("https://localhost:{port}")),
            ("server.http_addr", "127.0.0.1:0".into()),
            ("server.data_dir", dir.path().display().to_string()),
            ("database.url", url),
            ("server.shutdown_grace_secs", "5".into()),
        ];
        flags.extend(self.settings);
        let config = Config::load(&Sources { flags, ..Sources::default() }).expect("test configuration");
        let clock: Arc<dyn souk_domain::Clock> = match self.clock {
            Some(c) => c,
            None => Arc::new(SystemClock),
        };
        let started = server::start(&config, clock, Arc::new(OsEntropy::new())).await.expect("server starts");
        let ca_pem = std::fs::read(started.ca_cert.as_ref().expect("local CA")).expect("CA file");
        let setup_link = started.setup_link.clone();
        let client = client_trusting(&ca_pem, started.https_addr);
        Some(TestApp {
            https: started.https_addr,
            http: started.http_addr,
            base: format!("https://localhost:{}", started.https_addr.port()),
            client,
            ca_pem,
            config,
            db: self.db,
            pg_db,
            started: Some(started),
            dir,
            setup_link,
        })
    }

    /// Starts the server; panics if the database is not available.
    pub async fn spawn(self) -> TestApp {
        let db = self.db;
        self.try_spawn()
            .await
            .unwrap_or_else(|| panic!("{db:?} is not available; set SOUK_TEST_DATABASE_URL"))
    }
}

/// A running Souk server for one test.
#[derive(Debug)]
pub struct TestApp {
    pub https: SocketAddr,
    pub http: Option<SocketAddr>,
    /// `https://localhost:PORT`
    pub base: String,
    /// An HTTPS client that trusts only this server's CA and resolves `localhost` to it.
    pub client: reqwest::Client,
    pub ca_pem: Vec<u8>,
    pub config: Config,
    pub db: Db,
    pg_db: Option<postgres::TestDatabase>,
    started: Option<Started>,
    pub dir: tempfile::TempDir,
    /// The first-admin setup link printed at start.
    pub setup_link: Option<String>,
}

impl TestApp {
    #[must_use]
    pub fn builder(db: Db) -> Builder {
        Builder { db, settings: Vec::new(), clock: None }
    }

    pub async fn spawn(db: Db) -> Self {
        Self::builder(db).spawn().await
    }

    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    /// A new HTTPS client with its own cookie jar: one browser, one person.
    #[must_use]
    pub fn browser_client(&self) -> reqwest::Client {
        let tls = tls_client_config(&self.ca_pem, &[b"h2", b"http/1.1"]);
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .resolve("localhost", self.https)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// base64(SHA-256(SubjectPublicKeyInfo)) of the certificate the server presents, for
    /// Chromium's `--ignore-certificate-errors-spki-list`: the browser then treats this
    /// server's certificate as valid (a secure context, as WebAuthn requires).
    pub async fn server_spki_sha256(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let config = Arc::new(tls_client_config(&self.ca_pem, &[b"http/1.1"]));
        let tcp = tokio::net::TcpStream::connect(self.https).await.expect("connect");
        let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.expect("handshake");
        let leaf = tls.get_ref().1.peer_certificates().expect("certificates")[0].clone();
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).expect("certificate parses");
        base64::engine::general_purpose::STANDARD
            .encode(sha2::Sha256::digest(cert.tbs_certificate.subject_pki.raw))
    }

    /// The mail in the development outbox, newest first.
    #[must_use]
    pub fn outbox(&self) -> Vec<souk_core::mail::OutboxMessage> {
        souk_core::mail::read_outbox(&self.dir.path().join("mail-outbox"), 1000).expect("outbox")
    }

    /// Waits (up to 10 s) for a mail to `to` whose subject contains `subject`, and returns
    /// the newest such.
    pub async fn mail_to(&self, to: &str, subject: &str) -> souk_core::mail::OutboxMessage {
        for _ in 0..200 {
            if let Some(m) =
                self.outbox().into_iter().find(|m| m.to.contains(to) && m.subject.contains(subject))
            {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} about {subject:?}; outbox: {:?}", self.outbox());
    }

    /// The name of this test's PostgreSQL database, if it runs on PostgreSQL.
    #[must_use]
    pub fn postgres_database(&self) -> Option<&str> {
        self.pg_db.as_ref().map(|d| d.name.as_str())
    }

    #[must_use]
    pub fn state(&self) -> &souk_http::AppState {
        &self.started.as_ref().expect("running").state
    }

    /// Begins a graceful shutdown; the returned handle completes when the server is down.
    pub fn begin_stop(&mut self) -> tokio::task::JoinHandle<()> {
        self.started.take().expect("running").begin_stop()
    }

    /// Stops the server and hands back its data directory, to inspect the files it left.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(s) = self.started.take() {
            s.stop().await;
        }
        if let Some(db) = self.pg_db.take() {
            db.drop_database().await;
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"))
    }

    /// Stops the server and drops the test's PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(s) = self.started.take() {
            s.stop().await;
        }
        if let Some(db) = self.pg_db.take() {
            db.drop_database().await;
        }
    }
}

/// A client for plain HTTP (the redirector), following no redirects.
#[must_use]
pub fn plain_http_client() -> reqwest::Client {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// An HTTPS client trusting only `ca_pem`, with `localhost` resolved to `addr`.
#[must_use]
pub fn client_trusting(ca_pem: &[u8], addr: SocketAddr) -> reqwest::Client {
    client_with_versions(ca_pem, addr, rustls::DEFAULT_VERSIONS)
}

/// A rustls client configuration trusting only `ca_pem`, for raw-socket tests.
#[must_use]
pub fn tls_client_config(ca_pem: &[u8], alpn: &[&[u8]]) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let mut tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tls
}

/// Like [`client_trusting`], offering only the given TLS versions.
#[must_use]
pub fn client_with_versions(
    ca_pem: &[u8],
    addr: SocketAddr,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let mut tls =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .resolve("localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Runs each test body on SQLite, and on PostgreSQL when `SOUK_TEST_DATABASE_URL` is set.
/// The body receives `app: &TestApp`; the app is stopped (and its database dropped) after.
#[macro_export]
macro_rules! backend_tests {
    ($( $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn body($app: &$crate::TestApp) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::TestApp::spawn($crate::Db::Sqlite).await;
                    body(&app).await;
                    app.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(app) = $crate::TestApp::builder($crate::Db::Postgres).try_spawn().await else {
                        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
                        return;
                    };
                    body(&app).await;
                    app.stop().await;
                }
            }
        )*
    };
}
