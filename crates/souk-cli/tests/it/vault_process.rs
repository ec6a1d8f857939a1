//! The card vault as a separate process: `souk vault certs` then `souk vault serve` as a
//! real child process, reached through `RemoteVault` over mutual TLS. A client without a
//! certificate, or with one from another CA, cannot connect; a wrong or insufficient
//! credential gets 401/403 and is audited; no answer, log or audit line holds the card number.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::SecretString;
use souk_domain::{Currency, Money};
use souk_payments::connector::{IdempotencyKey, Outcome};
use souk_vault::pki::VaultCa;
use souk_vault::{
    AuthorizeCard, CallContext, NewCard, RemoteVault, RemoteVaultConfig, VaultClient, VaultError,
};

const PAN: &str = "4242424242424242";

/// The child, stopped with SIGTERM (then killed) when dropped.
pub(crate) struct Vault {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Drop for Vault {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn souk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    cmd.env_remove("SOUK_TEST_DATABASE_URL");
    cmd
}

/// Issues the certificates into `dir`, points the vault at `database` (URL and schema;
/// default: SQLite in `dir`) and starts `souk vault serve`.
pub(crate) fn start(dir: &Path, database: Option<(&str, &str)>) -> Vault {
    let out = souk().args(["vault", "certs", "--listen", "127.0.0.1:0", "--dir"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for key in ["vault-ca-key.pem", "vault-server-key.pem", "marketplace-key.pem", "marketplace.credential"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let again = souk().args(["vault", "certs", "--dir"]).arg(dir).output().unwrap();
    assert!(!again.status.success(), "certs never overwrite");
    // A second client that may only forget cards (erasure), added as the command says.
    let out = souk()
        .args(["vault", "client", "--name", "eraser", "--operation", "forget", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut toml = read(dir, "vault.toml");
    toml.push_str(&String::from_utf8(out.stdout).unwrap());
    std::fs::write(dir.join("vault.toml"), toml).unwrap();
    if let Some((url, schema)) = database {
        let toml = read(dir, "vault.toml").replacen(
            "connector = \"simulator\"\n",
            &format!("connector = \"simulator\"\ndatabase_url = {url:?}\ndatabase_schema = {schema:?}\n"),
            1,
        );
        std::fs::write(dir.join("vault.toml"), toml).unwrap();
    }
    let mut child = souk()
        .args(["vault", "serve", "--vault-config"])
        .arg(dir.join("vault.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("souk vault listening on ").unwrap_or_else(|| {
        let mut err = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut err);
        panic!("unexpected start: {line:?} {err}")
    });
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    Vault { child, port }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn remote(port: u16, dir: &Path, cert: &str, key: &str, credential: &str) -> RemoteVault {
    RemoteVault::new(&RemoteVaultConfig {
        url: format!("https://127.0.0.1:{port}"),
        ca_pem: read(dir, "vault-ca.pem").into_bytes(),
        client_cert_pem: cert.as_bytes().to_vec(),
        client_key_pem: SecretString::from(key.to_owned()),
        credential: SecretString::from(credential.trim().to_owned()),
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// A plain HTTPS client that trusts the vault CA, with or without a client certificate.
fn raw(dir: &Path, identity: Option<(&str, &str)>) -> reqwest::Client {
    raw_with(dir, identity, rustls::DEFAULT_VERSIONS)
}

/// [`raw`], offering only `versions` of TLS.
fn raw_with(
    dir: &Path,
    identity: Option<(&str, &str)>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(read(dir, "vault-ca.pem").as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
    let mut tls = match identity {
        Some((cert, key)) => {
            let chain =
                CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap())
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder().tls_backend_preconfigured(tls).no_proxy().build().unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

#[tokio::test]
async fn the_vault_runs_as_its_own_process_behind_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    exercise(&tmp.path().join("vault"), None).await;
    assert!(tmp.path().join("vault/vault.db").exists(), "SQLite by default, in the vault's directory");
}

#[expect(clippy::disallowed_methods, reason = "the test harness's own switch, not a server setting")]
fn postgres_url() -> Option<String> {
    std::env::var("SOUK_TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres"))
}

#[tokio::test]
async fn the_vault_process_on_postgresql() {
    use sqlx::Connection as _;
    let Some(url) = postgres_url() else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let schema = format!("souk_vault_it_{}", uuid::Uuid::new_v4().simple());
    let tmp = tempfile::tempdir().unwrap();
    exercise(&tmp.path().join("vault"), Some((&url, &schema))).await;
    assert!(!tmp.path().join("vault/vault.db").exists());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let cards: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {schema}.vault_cards")))
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(cards, 1, "one card left after the eraser forgot the first");
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn exercise(dir: &Path, database: Option<(&str, &str)>) {
    let dir = dir.to_owned();
    let mut vault = start(&dir, database);
    let (cert, key, credential) = (
        read(&dir, "marketplace.pem"),
        read(&dir, "marketplace-key.pem"),
        read(&dir, "marketplace.credential"),
    );
    let client = remote(vault.port, &dir, &cert, &key, &credential);
    let ctx = CallContext::new("account:7");

    // Tokenize a test card and authorize it through the simulator, in the vault process.
    let card = client
        .tokenize(&ctx, NewCard { number: SecretString::from(PAN), exp_month: 12, exp_year: 2030, cvc: None })
        .await
        .unwrap();
    assert_eq!(card.last4, "4242");
    let outcome = client
        .authorize(
            &ctx,
            AuthorizeCard {
                token: card.token.clone(),
                cvc: Some(SecretString::from("123")),
                amount: eur(4200),
                idempotency_key: IdempotencyKey::new("order-1").unwrap(),
                reference: "order-1".into(),
                require_challenge: false,
            },
        )
        .await
        .unwrap();
    let Outcome::Authorized { payment, amount } = outcome else { panic!("{outcome:?}") };
    assert_eq!(amount, eur(4200));
    let captured = client.capture(&ctx, &payment, eur(4200), &IdempotencyKey::new("cap-1").unwrap()).await;
    assert!(matches!(captured, Ok(Outcome::Captured { .. })), "{captured:?}");

    // No answer body holds the card number (raw requests, to read the bytes).
    let url = |op: &str| format!("https://127.0.0.1:{}/v1/{op}", vault.port);
    let good = raw(&dir, Some((&cert, &key)));
    let bearer = format!("Bearer {}", credential.trim());
    let mut bodies = Vec::new();
    for (op, body) in [
        (
            "tokenize",
            serde_json::json!({"ctx": {"actor": "t"}, "number": PAN, "exp_month": 1, "exp_year": 2031}),
        ),
        (
            "tokenize",
            serde_json::json!({"ctx": {"actor": "t"}, "number": "4242424242424241", "exp_month": 1, "exp_year": 2031}),
        ),
        ("tokenize", serde_json::json!({"ctx": {"actor": "t"}, "number": PAN, "exp_month": "x"})),
        ("read_card", serde_json::json!({"ctx": {"actor": "t"}, "token": card.token.as_str()})),
    ] {
        let res = good.post(url(op)).header("authorization", &bearer).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert!(!text.contains(PAN) && !text.contains("4242424242424241"), "{op}: {text}");
        bodies.push((status, text));
    }
    assert_eq!(bodies.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [200, 422, 400, 200], "{bodies:?}");

    // A wrong credential: 401, audited. An operation not granted (forget): 403, audited.
    let res = good
        .post(url("read_card"))
        .header("authorization", "Bearer svt_nope")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let wrong = remote(vault.port, &dir, &cert, &key, "svt_wrong");
    assert!(matches!(wrong.card(&ctx, &card.token).await, Err(VaultError::Refused(_))));
    assert!(matches!(client.forget(&ctx, &card.token).await, Err(VaultError::Refused(_))));
    let res = good
        .post(url("forget"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"ctx": {"actor": "t"}, "token": card.token.as_str()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let audit = read(&dir, "vault-audit.jsonl");
    assert!(audit.contains(r#""result":"unauthenticated""#), "{audit}");
    assert!(audit.contains(r#""operation":"vault.forget""#) && audit.contains(r#""result":"forbidden""#));
    assert!(audit.contains(r#""actor":"marketplace/account:7""#));
    assert!(!audit.contains(PAN), "the audit log holds no card number");

    // The marketplace's token over another client's certificate from the same CA: 401, audited.
    let ca =
        VaultCa::from_pem(&read(&dir, "vault-ca.pem"), SecretString::from(read(&dir, "vault-ca-key.pem")))
            .unwrap();
    let now = souk_domain::Clock::now(&souk_domain::SystemClock).to_datetime().unwrap();
    let other = ca.issue_client("reports", now).unwrap();
    let other_key = secrecy::ExposeSecret::expose_secret(&other.key_pem).to_owned();
    let res = raw(&dir, Some((&other.cert_pem, &other_key)))
        .post(url("read_card"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({"ctx": {"actor": "t"}, "token": card.token.as_str()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(read(&dir, "vault-audit.jsonl").contains(r#""result":"wrong_client_certificate""#));

    // TLS 1.2, even with the right certificate: the handshake fails.
    let old = raw_with(&dir, Some((&cert, &key)), &[&rustls::version::TLS12]);
    let r =
        old.post(url("read_card")).header("authorization", &bearer).json(&serde_json::json!({})).send().await;
    assert!(r.is_err(), "{r:?}");

    // No client certificate: the handshake fails. One from another CA: likewise.
    let anonymous = raw(&dir, None);
    let r = anonymous
        .post(url("read_card"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({}))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    let stranger = VaultCa::generate("another CA", now).unwrap().issue_client("marketplace", now).unwrap();
    let foreign =
        raw(&dir, Some((&stranger.cert_pem, secrecy::ExposeSecret::expose_secret(&stranger.key_pem))));
    let r = foreign
        .post(url("read_card"))
        .header("authorization", &bearer)
        .json(&serde_json::json!({}))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    let via_client = remote(
        vault.port,
        &dir,
        &stranger.cert_pem,
        secrecy::ExposeSecret::expose_secret(&stranger.key_pem),
        &credential,
    );
    assert!(matches!(via_client.card(&ctx, &card.token).await, Err(VaultError::Transport(_))));

    // The eraser may forget the card (and nothing else); it is gone afterwards.
    let eraser = remote(
        vault.port,
        &dir,
        &read(&dir, "eraser.pem"),
        &read(&dir, "eraser-key.pem"),
        &read(&dir, "eraser.credential"),
    );
    assert!(matches!(eraser.card(&ctx, &card.token).await, Err(VaultError::Refused(_))));
    eraser.forget(&ctx, &card.token).await.unwrap();
    assert!(matches!(client.card(&ctx, &card.token).await, Err(VaultError::UnknownToken)));

    // The vault's logs hold no card number either; it stops on SIGTERM.
    let _ = Command::new("kill").arg("-TERM").arg(vault.child.id().to_string()).status();
    let mut stderr = String::new();
    vault.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!stderr.contains(PAN), "{stderr}");
    assert!(stderr.contains("TLS handshake refused"), "{stderr}");
}
