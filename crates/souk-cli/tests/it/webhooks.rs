//! Outbound webhooks end to end, on SQLite and PostgreSQL: a receiver written here (HTTPS on
//! loopback, under a CA the server is told to trust) gets order.paid, order.shipped,
//! payout.sent and order.refunded, each verified with the documented algorithm (a tampered
//! body and an old timestamp are refused); a 500 is retried after the backoff (time driven
//! by the fake clock), a 302 is not followed, a delivery is redelivered by hand, a rotated
//! secret signs beside the old one; the secret never shows in reads nor in the database
//! file. Registration refuses SSRF destinations with 422, and another shop's endpoints
//! answer 404 whatever the operation.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use souk_core::identity::{Client, Credential, Principal};
use souk_core::market::orders::{self, Request};
use souk_core::market::steps::PaymentState;
use souk_core::payments::{escrow, payouts};
use souk_core::webhooks::signature::{self, SignatureError};
use souk_domain::ids::AccountId;
use souk_domain::{Clock as _, FakeClock, SystemClock, Timestamp};
use souk_testkit::{Db, TestApp, backend_tests};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::actors::{open_shop, seller};
use crate::assert_problem;
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};
use crate::seller_pages::{csrf_in, page, post_form};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    event_id: String,
    signature: String,
    body: Vec<u8>,
}

/// A webhook receiver: HTTPS on 127.0.0.1, answering each request with the next status of
/// its script (200 once the script is empty); a 302 points elsewhere on itself.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 15 s) until `n` requests arrived.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..300 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.got());
    }
}

/// A CA (its PEM, for the server to trust) and a certificate for 127.0.0.1 it issued.
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(rcgen::DnType::CommonName, "webhook receiver test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

async fn receiver(cert_pem: &str, key_pem: &str, script: &[u16]) -> Receiver {
    use rustls_pki_types::pem::PemObject as _;
    let certs =
        rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes()).map(Result::unwrap).collect();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut tls =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<u16>>()));
    let (g, s) = (got.clone(), script.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let (acceptor, got, script) = (acceptor.clone(), g.clone(), s.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0_u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let length: usize = header("content-length").parse().unwrap_or(0);
                while buf.len() < head_end + length {
                    let Ok(n) = stream.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                got.lock().unwrap().push(Received {
                    path,
                    event_id: header("souk-event-id"),
                    signature: header("souk-signature"),
                    body: buf[head_end..head_end + length].to_vec(),
                });
                let status = script.lock().unwrap().pop_front().unwrap_or(200);
                let location = if status == 302 {
                    format!("Location: https://{addr}/elsewhere\r\n")
                } else {
                    String::new()
                };
                let answer = format!(
                    "HTTP/1.1 {status} X\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Receiver { addr, got, script }
}

fn principal(account: AccountId, authenticated_at: Timestamp) -> Principal {
    Principal {
        account,
        handle: "tester".into(),
        role: "seller".into(),
        staff_roles: vec![],
        credential: Credential::Session {
            id: "test-session".into(),
            authenticated_at,
            staff: false,
            method: "passkey".into(),
        },
        email_verified: true,
    }
}

fn client() -> Client {
    Client { ip: None, user_agent: String::new(), device: None, request_id: "webhook-test".into() }
}

/// Registers an endpoint; returns (id, secret).
async fn register(app: &TestApp, c: &reqwest::Client, csrf: &str, shop: &str, url: &str) -> (String, String) {
    let res = c
        .post(app.url("/api/v1/webhook-endpoints"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "shop_id": shop, "url": url, "events": ["order.paid", "order.shipped", "order.refunded", "payout.sent"], "description": "ERP" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    (body["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(app: &TestApp, c: &reqwest::Client, endpoint: &str) -> Vec<Value> {
    let res =
        c.get(app.url(&format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json::<Vec<Value>>().await.unwrap()
}

/// Verifies a received delivery as a receiver would, at `now` (unix seconds).
fn verify(secret: &str, r: &Received, now: i64) -> Result<Value, SignatureError> {
    signature::verify(secret.as_bytes(), &r.signature, &r.body, now)?;
    let event: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(event["id"], r.event_id.as_str(), "the event id header names the body's event");
    Ok(event)
}

fn unix(clock: &FakeClock) -> i64 {
    clock.now().as_micros() / 1_000_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_reach_a_receiver_signed_retried_and_redelivered_sqlite() {
    webhooks_reach_a_receiver(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_reach_a_receiver_signed_retried_and_redelivered_postgres() {
    webhooks_reach_a_receiver(Db::Postgres).await;
}

async fn webhooks_reach_a_receiver(db: Db) {
    let (ca_pem, cert_pem, key_pem) = test_pki();
    let pki_dir = tempfile::tempdir().unwrap();
    let ca_file = pki_dir.path().join("receiver-ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) = TestApp::builder(db)
        .clock(clock.clone())
        .set("webhooks.allow_private_destinations", "true")
        .set("webhooks.extra_roots_file", ca_file.display().to_string())
        .set("webhooks.poll_interval_ms", "50")
        .set("webhooks.timeout_secs", "3")
        // Two attempts: the 500 then 200 receiver succeeds on the second; the redirecting one
        // is given up, disabled and its owner mailed.
        .set("webhooks.max_attempts", "2")
        .try_spawn()
        .await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let souk = app.state().souk();
    // The first answer is a 500: the delivery must come back after the backoff.
    let hook = receiver(&cert_pem, &key_pem, &[500]).await;
    // This one always redirects, to itself: the redirect must not be followed.
    let redirecting = receiver(&cert_pem, &key_pem, &[302, 302, 302, 302, 302, 302]).await;

    let (c, csrf) = seller(&app, "hooks@example.com").await;
    let shop = open_shop(&app, &c, &csrf, "hook-pots").await;
    let res =
        create(&app, &c, &csrf, &shop, &listing("hook vase", "active", json!([variant("hv-1", 2500, 5)])))
            .await;
    assert_eq!(res.status(), 201);
    let var = res.json::<Value>().await.unwrap()["variants"][0]["id"].as_str().unwrap().to_owned();
    let (endpoint, secret) = register(&app, &c, &csrf, &shop, &hook.url("/hook")).await;
    let (redirect_endpoint, _) = register(&app, &c, &csrf, &shop, &redirecting.url("/moved")).await;

    // Reads never show the secret.
    let one = c.get(app.url(&format!("/api/v1/webhook-endpoints/{endpoint}"))).send().await.unwrap();
    assert_eq!(one.status(), 200);
    let one = one.text().await.unwrap();
    assert!(!one.contains(&secret) && !one.contains("whsec_"), "{one}");
    let list = c.get(app.url(&format!("/api/v1/webhook-endpoints?shop_id={shop}"))).send().await.unwrap();
    let list = list.text().await.unwrap();
    assert!(
        !list.contains(&secret) && list.contains(&endpoint) && list.contains(&redirect_endpoint),
        "{list}"
    );

    // order.paid: written with the payment; the first attempt gets the 500.
    let (buyer, bcsrf) = signed_in(&app, "hookbuyer@example.com").await;
    let order = crate::ledger::buy(&app, &buyer, &bcsrf, &shop, &var, "webhook-order").await;
    let checkout = {
        let mut conn = souk.store.conn().await.unwrap();
        souk_store::orders::order(&mut conn, &order).await.unwrap().unwrap().checkout
    };
    souk_core::market::checkout::record_payment(souk, &checkout, PaymentState::Paid).await.unwrap();
    let got = hook.wait_for(1).await;
    assert_eq!(got[0].path, "/hook");
    let paid = verify(&secret, &got[0], unix(&clock)).unwrap();
    assert_eq!(paid["type"], "order.paid");
    assert_eq!(paid["data"]["order"]["id"], order.as_str());
    assert_eq!(paid["data"]["order"]["status"], "paid");
    // A receiver refuses a tampered body, an old timestamp, and another secret.
    let mut tampered = got[0].clone();
    tampered.body = String::from_utf8(tampered.body).unwrap().replace("paid", "refunded").into_bytes();
    assert_eq!(verify(&secret, &tampered, unix(&clock)), Err(SignatureError::Mismatch));
    assert!(matches!(verify(&secret, &got[0], unix(&clock) + 301), Err(SignatureError::Stale(_))));
    assert_eq!(verify("whsec_other", &got[0], unix(&clock)), Err(SignatureError::Mismatch));

    // The log shows the failure and the retry's time, about a minute away (jitter: 30-60 s).
    let log = loop {
        let log = deliveries(&app, &c, &endpoint).await;
        if log.first().is_some_and(|d| d["attempts"] == 1) {
            break log;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(log[0]["status"], "pending", "{log:?}");
    assert_eq!(log[0]["last_http_status"], 500);
    assert_eq!(log[0]["log"][0]["triggered_by"], "automatic");
    let next = time::OffsetDateTime::parse(
        log[0]["next_attempt_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!((unix(&clock) + 29..=unix(&clock) + 60).contains(&next), "{next} vs {}", unix(&clock));
    // Not before it is due.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(hook.got().len(), 1);
    clock.advance_secs(61);
    let got = hook.wait_for(2).await;
    assert_eq!(got[1].event_id, got[0].event_id, "the same event, for the receiver to de-duplicate");
    assert_eq!(got[1].body, got[0].body);
    verify(&secret, &got[1], unix(&clock)).unwrap();

    // The redirect was never followed; after its last attempt the delivery is given up, the
    // endpoint disabled and the shop's owner mailed.
    let r = redirecting.wait_for(2).await;
    assert!(r.iter().all(|r| r.path == "/moved"), "{r:?}");
    app.mail_to("hooks@example.com", "A webhook endpoint was disabled").await;
    let rlog = deliveries(&app, &c, &redirect_endpoint).await;
    assert_eq!(rlog[0]["status"], "failed", "{rlog:?}");
    assert_eq!(rlog[0]["log"][0]["http_status"], 302, "{rlog:?}");
    assert!(rlog[0]["log"][0]["error"].as_str().unwrap().contains("redirect"), "{rlog:?}");
    let r = c.get(app.url(&format!("/api/v1/webhook-endpoints/{redirect_endpoint}"))).send().await.unwrap();
    let r = r.json::<Value>().await.unwrap();
    assert_eq!(r["enabled"], false, "{r}");
    assert!(r["disabled_reason"].as_str().unwrap().contains("failed"), "{r}");

    // order.shipped.
    let seller_id = souk_core::accounts::find_by_email(souk, "hooks@example.com").await.unwrap().unwrap();
    let seller_p = principal(seller_id, clock.now());
    orders::act(
        souk,
        &seller_p,
        &client(),
        &order,
        &Request::Ship { carrier: "dhl".into(), tracking_number: "JD0146000033".into() },
    )
    .await
    .unwrap();
    // Several workers at once (the server's and these): each delivery is claimed by one.
    let rounds = (0..4).map(|_| souk_core::webhooks::worker::deliver_due(souk));
    futures_util::future::join_all(rounds).await.into_iter().for_each(|r| assert!(r.is_ok(), "{r:?}"));
    let got = hook.wait_for(3).await;
    let shipped = verify(&secret, &got[2], unix(&clock)).unwrap();
    assert_eq!(shipped["type"], "order.shipped");
    assert_eq!(shipped["data"]["order"]["tracking_number"], "JD0146000033");

    // Manual redelivery of the paid event; a rotated secret signs beside the old one.
    let res = c
        .post(app.url(&format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let new_secret = res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let log = deliveries(&app, &c, &endpoint).await;
    let paid_delivery = log.iter().find(|d| d["event_type"] == "order.paid").unwrap();
    assert_eq!(paid_delivery["status"], "succeeded");
    let redeliver = app.url(&format!(
        "/api/v1/webhook-endpoints/{endpoint}/deliveries/{}/redeliver",
        paid_delivery["id"].as_str().unwrap()
    ));
    // Without the CSRF token, nothing is queued.
    assert_problem(c.post(&redeliver).send().await.unwrap(), 403, "csrf_failed").await;
    let res = c.post(&redeliver).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(res.status(), 202);
    let got = hook.wait_for(4).await;
    assert_eq!(got[3].event_id, got[0].event_id);
    assert_eq!(got[3].signature.matches("v1=").count(), 2, "{}", got[3].signature);
    verify(&new_secret, &got[3], unix(&clock)).unwrap();
    verify(&secret, &got[3], unix(&clock)).unwrap();
    let log = loop {
        let log = deliveries(&app, &c, &endpoint).await;
        let d = log.iter().find(|d| d["event_type"] == "order.paid").unwrap().clone();
        if d["attempts"] == 3 {
            break d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let triggers: Vec<&str> =
        log["log"].as_array().unwrap().iter().map(|a| a["triggered_by"].as_str().unwrap()).collect();
    assert_eq!(triggers, ["automatic", "automatic", "manual"]);
    assert_eq!(hook.got().len(), 4, "the redirecting endpoint's deliveries never reached this one");

    // The seller hub's page shows the endpoints and their log, never a secret; its
    // redeliver form needs the CSRF token.
    let (status, html) = page(&app, &c, "/seller/webhooks").await;
    assert_eq!(status, 200);
    assert!(html.contains(&hook.url("/hook")) && html.contains("order.paid") && html.contains("/redeliver"));
    assert!(!html.contains(&secret) && !html.contains(&new_secret) && !html.contains("whsec_"));
    let form =
        format!("/seller/webhooks/{endpoint}/deliveries/{}/redeliver", paid_delivery["id"].as_str().unwrap());
    let (status, _, _) = post_form(&app, &c, &form, &[("csrf", "forged")]).await;
    assert_eq!(status, 403);
    let (status, location, _) = post_form(&app, &c, &form, &[("csrf", &csrf_in(&html))]).await;
    assert_eq!((status, location.as_str()), (303, "/seller/webhooks?done=redelivered"));
    let got = hook.wait_for(5).await;
    assert_eq!(got[4].event_id, got[0].event_id);

    // payout.sent: delivered, completed, released, verified shop with a bank account, paid.
    // More than 24 hours after the rotation, only the new secret signs. The bank account is
    // set before anything is owed (a first account set while owed money holds payouts).
    let fresh = principal(seller_id, clock.now());
    payouts::set_bank_account(
        souk,
        &fresh,
        &client(),
        shop.parse().unwrap(),
        "Hook SARL",
        "FR76 3000 6000 0112 3456 7890 189",
    )
    .await
    .unwrap();
    clock.advance_secs(22 * 24 * 3600);
    orders::advance_due(souk).await.unwrap();
    clock.advance_secs(15 * 24 * 3600);
    orders::advance_due(souk).await.unwrap();
    {
        let mut conn = souk.store.conn().await.unwrap();
        let conn: &mut sqlx::AnyConnection = &mut conn;
        sqlx::query("UPDATE shops SET status = 'verified' WHERE id = $1")
            .bind(&shop)
            .execute(conn)
            .await
            .unwrap();
    }
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(run.paid.len(), 1, "{run:?}");
    let got = hook.wait_for(6).await;
    assert_eq!(got[5].signature.matches("v1=").count(), 1, "{}", got[5].signature);
    let payout = verify(&new_secret, &got[5], unix(&clock)).unwrap();
    assert_eq!(verify(&secret, &got[5], unix(&clock)), Err(SignatureError::Mismatch));
    assert_eq!(payout["type"], "payout.sent");
    assert_eq!(payout["data"]["payout"]["shop"], shop.as_str());
    assert!(payout["data"]["payout"]["amount_minor"].as_i64().unwrap() > 0);
    // order.refunded (clawed back after the payout).
    escrow::refund(souk, &seller_p, &client(), &order, 100, "late return").await.unwrap();
    let got = hook.wait_for(7).await;
    let refund = verify(&new_secret, &got[6], unix(&clock)).unwrap();
    assert_eq!(refund["type"], "order.refunded");
    assert_eq!(refund["data"]["refund"]["amount_minor"], 100);
    assert_eq!(refund["data"]["refund"]["clawback"], true);
    let types: Vec<String> = got
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "order.paid",
            "order.paid",
            "order.shipped",
            "order.paid",
            "order.paid",
            "payout.sent",
            "order.refunded"
        ]
    );
    // No personal data in events.
    for r in &got {
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("Amina") && !text.contains("Fleurs") && !text.contains("@example.com"),
            "{text}"
        );
    }
    assert!(hook.script.lock().unwrap().is_empty());
    // A disabled endpoint got none of the later events.
    assert_eq!(redirecting.got().len(), 2);

    // Neither secret is anywhere in the database file (sealed).
    if db == Db::Sqlite {
        let dir = app.stop_keeping_data().await;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                for s in [&secret, &new_secret] {
                    assert!(
                        !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                        "secret in {}",
                        path.display()
                    );
                }
            }
        }
    } else {
        app.stop().await;
    }
}

backend_tests! {
    /// SSRF: every destination that is not public https is refused at registration with 422
    /// naming the reason, and nothing is stored. BOLA: another shop's owner, a buyer and a
    /// fulfilment-less stranger get 404 for every operation on an endpoint, and CSRF holds.
    async fn webhooks_refuse_ssrf_destinations_and_other_shops(app) {
        let (c, csrf) = seller(app, "owner-hooks@example.com").await;
        let shop = open_shop(app, &c, &csrf, "ssrf-pots").await;
        for (url, why) in [
            ("https://127.0.0.1/hook", "127.0.0.1 is not a public address"),
            ("https://10.1.2.3/hook", "10.1.2.3 is not a public address"),
            ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
            ("https://[::1]:8443/hook", "::1 is not a public address"),
            ("https://[::ffff:127.0.0.1]/hook", "is not a public address"),
            ("https://2130706433/hook", "127.0.0.1 is not a public address"),
            ("https://localhost/hook", "is not a public address"),
            ("http://93.184.216.34/hook", "https only"),
            ("https://user:pw@93.184.216.34/hook", "user name or password"),
            ("not a url", "cannot be parsed"),
        ] {
            let res = c
                .post(app.url("/api/v1/webhook-endpoints"))
                .header("x-csrf-token", &csrf)
                .json(&json!({ "shop_id": shop, "url": url, "events": ["order.paid"] }))
                .send()
                .await
                .unwrap();
            let body = assert_problem(res, 422, "destination_refused").await;
            assert!(body["detail"].as_str().unwrap().contains(why), "{url}: {body}");
        }
        let list = c.get(app.url(&format!("/api/v1/webhook-endpoints?shop_id={shop}"))).send().await.unwrap();
        assert_eq!(list.json::<Value>().await.unwrap(), json!([]));
        // Bad input is a 400 and stores nothing either.
        let res = c
            .post(app.url("/api/v1/webhook-endpoints"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "shop_id": shop, "url": "https://93.184.216.34/hook", "events": ["order.stolen"] }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 400, "invalid_parameter").await;
        // Without the CSRF token a session cannot register one.
        let res = c
            .post(app.url("/api/v1/webhook-endpoints"))
            .json(&json!({ "shop_id": shop, "url": "https://93.184.216.34/hook", "events": ["order.paid"] }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 403, "csrf_failed").await;
        // A public address is accepted (registration makes no call to it).
        let (endpoint, _) = register(app, &c, &csrf, &shop, "https://93.184.216.34/hook").await;

        // Another seller, and a buyer, see nothing of it.
        let (rival, rcsrf) = seller(app, "rival-hooks@example.com").await;
        open_shop(app, &rival, &rcsrf, "rival-pots").await;
        let (buyer, bcsrf) = signed_in(app, "nosy@example.com").await;
        for (who, token) in [(&rival, &rcsrf), (&buyer, &bcsrf)] {
            let base = app.url(&format!("/api/v1/webhook-endpoints/{endpoint}"));
            assert_problem(who.get(&base).send().await.unwrap(), 404, "not_found").await;
            let res = who.patch(&base).header("x-csrf-token", token).json(&json!({ "url": "https://93.184.216.35/x" })).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
            let res = who.delete(&base).header("x-csrf-token", token).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
            let res = who.post(format!("{base}/rotate-secret")).header("x-csrf-token", token).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
            assert_problem(who.get(format!("{base}/deliveries")).send().await.unwrap(), 404, "not_found").await;
            let res = who.post(format!("{base}/deliveries/x/redeliver")).header("x-csrf-token", token).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
            let res = who.get(app.url(&format!("/api/v1/webhook-endpoints?shop_id={shop}"))).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
            let res = who
                .post(app.url("/api/v1/webhook-endpoints"))
                .header("x-csrf-token", token)
                .json(&json!({ "shop_id": shop, "url": "https://93.184.216.34/mine", "events": ["order.paid"] }))
                .send()
                .await
                .unwrap();
            assert_problem(res, 404, "not_found").await;
        }
        // The rival's hub page shows none of it, and its redeliver form answers 404.
        let (status, html) = page(app, &rival, "/seller/webhooks").await;
        assert_eq!(status, 200);
        assert!(!html.contains("93.184.216.34") && html.contains("No webhook endpoints yet"), "{html}");
        let form = format!("/seller/webhooks/{endpoint}/deliveries/x/redeliver");
        let (status, _, _) = post_form(app, &rival, &form, &[("csrf", &rcsrf)]).await;
        assert_eq!(status, 404);
        // Nothing changed: the owner still has exactly the one endpoint, as registered.
        let list = c.get(app.url(&format!("/api/v1/webhook-endpoints?shop_id={shop}"))).send().await.unwrap();
        let list = list.json::<Value>().await.unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["url"], "https://93.184.216.34/hook");
        // The owner changes it (a new URL is checked again) and deletes it.
        let base = app.url(&format!("/api/v1/webhook-endpoints/{endpoint}"));
        let res = c.patch(&base).header("x-csrf-token", &csrf).json(&json!({ "url": "https://192.168.0.10/x" })).send().await.unwrap();
        assert_problem(res, 422, "destination_refused").await;
        let res = c.patch(&base).header("x-csrf-token", &csrf).json(&json!({ "enabled": false })).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["enabled"], false);
        let res = c.delete(&base).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(res.status(), 204);
        assert_problem(c.get(&base).send().await.unwrap(), 404, "not_found").await;
    }
}
