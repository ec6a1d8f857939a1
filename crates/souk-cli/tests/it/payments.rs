//! Paying: Souk opens its card vault at start (its own database and keys beside, never
//! inside, the marketplace's), and the vault's events land in Souk's audit log without a
//! card number. A buyer pays a checkout over HTTPS with a card token: the success card pays
//! the orders (escrow posted, ledger check clean), decline cards fail the checkout with a
//! neutral message and no charge, a repeated Idempotency-Key charges once, the amount in
//! the request is ignored, another buyer gets 404, 3-D Secure asks for the code; after
//! paying, the card number is in no marketplace database file, response or mail.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use souk_payments::connector::simulator::{CHALLENGE_CODE, TEST_CARDS};
use souk_testkit::{Db, TestApp, backend_tests};
use souk_vault::{CallContext, NewCard};

use crate::actors::{open_shop, seller};
use crate::assert_problem;
use crate::buyer_pages::{field, page, post_form};
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};

const DECLINE_CARDS: [&str; 4] =
    ["4000000000009995", "4000000000009979", "4000000000000069", "4000000000000127"];
const CHALLENGE_CARD: &str = "4000000000003220";

/// A shop selling a vase at 2000 (stock 10); a signed-in buyer with one in the cart, checked
/// out; returns the buyer, its CSRF token and the checkout's id and total.
async fn checked_out(app: &TestApp, tag: &str) -> (reqwest::Client, String, String, i64) {
    let (c, csrf) = seller(app, &format!("potter-{tag}@example.com")).await;
    let shop = open_shop(app, &c, &csrf, &format!("pots-{tag}")).await;
    let res = create(
        app,
        &c,
        &csrf,
        &shop,
        &listing(&format!("{tag} vase"), "active", json!([variant(&format!("{tag}-1"), 2000, 10)])),
    )
    .await;
    assert_eq!(res.status(), 201);
    let var = res.json::<Value>().await.unwrap()["variants"][0]["id"].as_str().unwrap().to_owned();
    let (buyer, bcsrf) = signed_in(app, &format!("buyer-{tag}@example.com")).await;
    let res = buyer
        .put(app.url(&format!("/api/v1/cart/lines/{var}")))
        .header("x-csrf-token", &bcsrf)
        .json(&json!({ "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = json!({ "shipping_address": { "name": "Amina Kaddour", "line1": "3 rue des Fleurs", "postal_code": "69001", "city": "Lyon", "country": "FR" }, "shipping": {} });
    body["shipping"][&shop] = json!("standard");
    let res = buyer
        .post(app.url("/api/v1/checkout"))
        .header("x-csrf-token", &bcsrf)
        .header("idempotency-key", format!("co-{tag}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    (buyer, bcsrf, v["id"].as_str().unwrap().to_owned(), v["total"]["amount_minor"].as_i64().unwrap())
}

/// Tokenizes `number` in the vault (as the card form does); returns the token.
async fn token(app: &TestApp, number: &str) -> String {
    let card = app
        .state()
        .souk()
        .vault
        .tokenize(
            &CallContext::new("test"),
            NewCard {
                number: SecretString::from(number.to_owned()),
                exp_month: 12,
                exp_year: 2099,
                cvc: Some(SecretString::from("123".to_owned())),
            },
        )
        .await
        .unwrap();
    card.token.as_str().to_owned()
}

async fn pay(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    checkout: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/checkouts/{checkout}/payment")))
        .header("x-csrf-token", csrf)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn payment_state(app: &TestApp, checkout: &str) -> String {
    let mut conn = app.state().souk().store.conn().await.unwrap();
    souk_store::orders::checkout(&mut conn, checkout).await.unwrap().unwrap().payment_state
}

/// How many ledger charges were posted for the orders of `checkout`.
async fn charges(app: &TestApp, checkout: &str) -> i64 {
    let mut tx = app.state().souk().store.begin().await.unwrap();
    let sql = format!(
        "SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'charge' AND reference IN (SELECT id FROM orders WHERE checkout_id = '{checkout}')"
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// The simulator's card that always succeeds.
fn success_card() -> &'static str {
    TEST_CARDS[0].number
}

/// How many audit entries have `action`.
async fn audit_count(app: &TestApp, action: &str) -> i64 {
    let mut tx = app.state().souk().store.begin().await.unwrap();
    let sql = format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    n
}

backend_tests! {
    async fn the_vault_opens_at_start_and_audits_into_the_log(app) {
        let souk = app.state().souk();
        let card = souk
            .vault
            .tokenize(
                &CallContext::new("test"),
                NewCard { number: SecretString::from(success_card().to_owned()), exp_month: 12, exp_year: 2099, cvc: None },
            )
            .await
            .unwrap();
        assert_eq!(card.last4, success_card()[success_card().len() - 4..]);
        // The event reaches the log through the writer task.
        let mut n = 0;
        for _ in 0..100 {
            n = audit_count(app, "vault.tokenize").await;
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(n, 1);
        // Its own keys, apart from the marketplace's.
        assert!(app.config.payments.vault_keys_dir.exists());
        assert_ne!(app.config.payments.vault_keys_dir, app.config.data_dir.join("keys"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_the_vault_has_a_database_file_of_its_own() {
    let app = TestApp::spawn(Db::Sqlite).await;
    assert!(app.config.data_dir.join("vault.db").exists());
    assert!(app.config.data_dir.join("souk.db").exists());
    app.stop().await;
}

backend_tests! {
    async fn a_buyer_pays_with_the_success_card_once(app) {
        let (buyer, csrf, checkout, total) = checked_out(app, "ok").await;
        let tok = token(app, success_card()).await;
        let mut seen = String::new();

        // Another buyer sees no such checkout, and cannot pay it.
        let (other, ocsrf) = signed_in(app, "other@example.com").await;
        assert_problem(pay(app, &other, &ocsrf, &checkout, "k-other", &json!({ "card_token": tok })).await, 404, "not_found").await;
        // The key is required.
        let res = buyer.post(app.url(&format!("/api/v1/checkouts/{checkout}/payment"))).header("x-csrf-token", &csrf).json(&json!({ "card_token": tok })).send().await.unwrap();
        assert_problem(res, 400, "invalid_parameter").await;

        // An amount in the request is refused or ignored: the stored total is charged.
        let body = json!({ "card_token": tok, "amount_minor": 1, "amount": { "amount_minor": 1 } });
        let res = pay(app, &buyer, &csrf, &checkout, "k-1", &body).await;
        assert_eq!(res.status(), 200);
        let first = res.text().await.unwrap();
        seen.push_str(&first);
        let v: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(v["status"], "paid", "{v}");
        assert_eq!(payment_state(app, &checkout).await, "paid");
        // The same key replays; another key finds it paid: one charge either way.
        let res = pay(app, &buyer, &csrf, &checkout, "k-1", &body).await;
        assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
        assert_eq!(res.text().await.unwrap(), first);
        let res = pay(app, &buyer, &csrf, &checkout, "k-2", &body).await;
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "paid");
        assert_eq!(charges(app, &checkout).await, 1);

        // The orders are paid and the money is in escrow, for the stored total.
        let res = buyer.get(app.url("/api/v1/orders")).send().await.unwrap();
        let text = res.text().await.unwrap();
        seen.push_str(&text);
        let orders: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(orders["items"][0]["status"], "paid", "{orders}");
        let report = souk_core::payments::check(app.state().souk(), |_, _| {}).await.unwrap();
        assert!(report.violations.is_empty(), "{:?}", report.violations);
        let mut tx = app.state().souk().store.begin().await.unwrap();
        let sql = format!("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM ledger_postings WHERE account_kind = 'escrow' AND account_owner IN (SELECT id FROM orders WHERE checkout_id = '{checkout}')");
        let escrow: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(escrow, total);

        // The audit log names the payment, never the card number.
        assert!(audit_count(app, "checkout.payment").await >= 1);

        // Canary: the card number is in no response and no mail, and (on SQLite) in no byte
        // of the marketplace's database files.
        for m in app.outbox() {
            seen.push_str(&m.body);
        }
        assert!(souk_payments::connector::card::find_card_numbers(seen.as_bytes()).is_empty());
        assert!(!seen.contains(success_card()));
        no_card_numbers_in_marketplace_files(app).await;
    }

    async fn decline_cards_fail_the_checkout_without_a_charge(app) {
        for (i, card) in DECLINE_CARDS.iter().enumerate() {
            let (buyer, csrf, checkout, _) = checked_out(app, &format!("no{i}")).await;
            let tok = token(app, card).await;
            let res = pay(app, &buyer, &csrf, &checkout, "k", &json!({ "card_token": tok })).await;
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["status"], "declined", "{card}: {v}");
            assert_eq!(v["message"], souk_core::payments::pay::DECLINED);
            assert_eq!(payment_state(app, &checkout).await, "failed");
            assert_eq!(charges(app, &checkout).await, 0);
        }
    }

    async fn a_timed_out_payment_is_reconciled_with_the_vault(app) {
        let (buyer, csrf, checkout, _) = checked_out(app, "slow").await;
        let tok = token(app, "4000000000007718").await;
        let res = pay(app, &buyer, &csrf, &checkout, "k", &json!({ "card_token": tok })).await;
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["status"], "pending", "{v}");
        assert_eq!(payment_state(app, &checkout).await, "awaiting_payment");
        assert_eq!(charges(app, &checkout).await, 0);
        // The charge did happen: reconciliation finds it, captures and records it once.
        let r = souk_core::payments::pay::reconcile(app.state().souk(), &checkout).await.unwrap();
        assert_eq!(r, Some(souk_core::payments::PaymentResult::Paid));
        assert_eq!(payment_state(app, &checkout).await, "paid");
        assert_eq!(charges(app, &checkout).await, 1);
        let r = souk_core::payments::pay::reconcile(app.state().souk(), &checkout).await.unwrap();
        assert_eq!(r, Some(souk_core::payments::PaymentResult::Paid));
        assert_eq!(charges(app, &checkout).await, 1);
    }

    async fn after_a_processing_error_the_buyer_pays_again_once(app) {
        let (buyer, csrf, checkout, _) = checked_out(app, "proc").await;
        let tok = token(app, "4000000000000119").await;
        let res = pay(app, &buyer, &csrf, &checkout, "k1", &json!({ "card_token": tok })).await;
        assert_problem(res, 409, "conflict").await;
        assert_eq!(payment_state(app, &checkout).await, "awaiting_payment");
        assert_eq!(charges(app, &checkout).await, 0);
        // A new attempt, with a good card, gets a key of its own and is paid.
        let good = token(app, success_card()).await;
        let res = pay(app, &buyer, &csrf, &checkout, "k2", &json!({ "card_token": good })).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["status"], "paid", "{v}");
        // Paying again changes nothing: paid once.
        let res = pay(app, &buyer, &csrf, &checkout, "k3", &json!({ "card_token": good })).await;
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "paid");
        assert_eq!(charges(app, &checkout).await, 1);
        // Reconciliation looks at every attempt's key and finds the one payment.
        let r = souk_core::payments::pay::reconcile(app.state().souk(), &checkout).await.unwrap();
        assert_eq!(r, Some(souk_core::payments::PaymentResult::Paid));
        assert_eq!(charges(app, &checkout).await, 1);
    }

    async fn three_d_secure_asks_for_the_code(app) {
        let (buyer, csrf, checkout, _) = checked_out(app, "tds").await;
        let tok = token(app, CHALLENGE_CARD).await;
        let res = pay(app, &buyer, &csrf, &checkout, "k", &json!({ "card_token": tok })).await;
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["status"], "challenge_required", "{v}");
        assert_eq!(payment_state(app, &checkout).await, "awaiting_payment");
        let res = buyer
            .post(app.url(&format!("/api/v1/checkouts/{checkout}/payment/challenge")))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "payment_id": v["payment_id"], "challenge_id": v["challenge_id"], "response": CHALLENGE_CODE }))
            .send()
            .await
            .unwrap();
        let done: Value = res.json().await.unwrap();
        assert_eq!(done["status"], "paid", "{done}");
        assert_eq!(charges(app, &checkout).await, 1);
    }
}

/// On SQLite: no byte of the marketplace's database files looks like a card number (the
/// vault's own `vault.db` holds them, sealed).
async fn no_card_numbers_in_marketplace_files(app: &TestApp) {
    if app.db != Db::Sqlite {
        return;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for entry in std::fs::read_dir(&app.config.data_dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("souk.db") {
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let found = souk_payments::connector::card::find_card_numbers(&bytes);
            assert!(found.is_empty(), "{name} holds card-number-like digits at {found:?}");
        }
    }
}

/// Posts a card to the vault's endpoint as the card form's script does.
async fn vault_post(app: &TestApp, c: &reqwest::Client, csrf: &str, card: &Value) -> reqwest::Response {
    c.post(app.url("/vault/v1/cards"))
        .header("origin", &app.base)
        .header("x-csrf-token", csrf)
        .json(card)
        .send()
        .await
        .unwrap()
}

backend_tests! {
    async fn the_card_form_pays_through_the_vault_endpoint(app) {
        let (buyer, csrf, checkout, _) = checked_out(app, "form").await;
        let mut seen = String::new();
        // The checkout page shows the card form posting to the vault, and its script.
        let (status, html) = page(app, &buyer, &format!("/checkout/{checkout}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(r#"action="/vault/v1/cards""#) && html.contains("/static/card.js"), "{html}");
        assert!(!html.contains("<script>"), "no inline script");
        seen.push_str(&html);

        let card = json!({ "number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123" });
        // Not signed in, no CSRF token, another site: refused.
        let res = app.client.post(app.url("/vault/v1/cards")).header("origin", &app.base).json(&card).send().await.unwrap();
        assert_eq!(res.status(), 401);
        let res = buyer.post(app.url("/vault/v1/cards")).header("origin", &app.base).json(&card).send().await.unwrap();
        assert_eq!(res.status(), 403);
        let res = buyer.post(app.url("/vault/v1/cards")).header("origin", "https://evil.example").header("x-csrf-token", &csrf).json(&card).send().await.unwrap();
        assert_eq!(res.status(), 403);
        // A bad card is refused without echoing it.
        let res = vault_post(app, &buyer, &csrf, &json!({ "number": "4242424242424241", "exp_month": 12, "exp_year": 2099, "cvc": "123" })).await;
        assert_eq!(res.status(), 400);
        let text = res.text().await.unwrap();
        assert!(!text.contains("424242"), "{text}");
        let res = vault_post(app, &buyer, &csrf, &json!({ "number": "4242424242424242", "exp_month": "x" })).await;
        assert_eq!(res.status(), 400);
        assert!(!res.text().await.unwrap().contains("424242"));
        // A plain form post works too.
        let res = post_form(app, &buyer, "/vault/v1/cards", &[("csrf", &csrf), ("number", "5555555555554444"), ("exp_month", "12"), ("exp_year", "2099"), ("cvc", "123")]).await;
        assert_eq!(res.status(), 200);
        seen.push_str(&res.text().await.unwrap());

        let res = vault_post(app, &buyer, &csrf, &card).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        seen.push_str(&text);
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["brand"], "visa");
        assert_eq!(answer["last4"], "4242");
        let tok = answer["token"].as_str().unwrap().to_owned();

        // Another buyer cannot pay or see the checkout.
        let (other, ocsrf) = signed_in(app, "nosy@example.com").await;
        let res = post_form(app, &other, &format!("/checkout/{checkout}/pay"), &[("csrf", &ocsrf), ("card_token", &tok)]).await;
        assert_eq!(res.status(), 404);
        assert_eq!(page(app, &other, &format!("/checkout/{checkout}")).await.0, 404);

        // The marketplace's form sends the token only.
        let res = post_form(app, &buyer, &format!("/checkout/{checkout}/pay"), &[("csrf", &csrf), ("card_token", &tok)]).await;
        assert!(res.status().is_redirection() || res.status() == 200, "{}", res.status());
        assert_eq!(payment_state(app, &checkout).await, "paid");
        let (_, html) = page(app, &buyer, &format!("/checkout/{checkout}")).await;
        assert!(html.contains("payment-paid"), "{html}");
        seen.push_str(&html);
        for m in app.outbox() {
            seen.push_str(&m.body);
        }
        assert!(!seen.contains("4242424242424242") && !seen.contains("4242 4242 4242 4242"));
        assert!(!seen.contains("5555555555554444"));
        no_card_numbers_in_marketplace_files(app).await;
    }

    async fn the_checkout_page_asks_for_the_3ds_code(app) {
        let (buyer, csrf, checkout, _) = checked_out(app, "tdsp").await;
        let res = vault_post(app, &buyer, &csrf, &json!({ "number": CHALLENGE_CARD, "exp_month": 12, "exp_year": 2099, "cvc": "123" })).await;
        let tok = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let res = post_form(app, &buyer, &format!("/checkout/{checkout}/pay"), &[("csrf", &csrf), ("card_token", &tok)]).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("challenge-code"), "{html}");
        let payment = field(&html, "payment_id");
        let challenge = field(&html, "challenge_id");
        let res = post_form(app, &buyer, &format!("/checkout/{checkout}/challenge"), &[("csrf", &csrf), ("payment_id", &payment), ("challenge_id", &challenge), ("response", CHALLENGE_CODE)]).await;
        assert!(res.status().is_redirection() || res.status() == 200, "{}", res.status());
        assert_eq!(payment_state(app, &checkout).await, "paid");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_payments_are_reconciled_on_a_schedule_sqlite() {
    timed_out_payments_are_reconciled_on_a_schedule(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_payments_are_reconciled_on_a_schedule_postgres() {
    timed_out_payments_are_reconciled_on_a_schedule(Db::Postgres).await;
}

/// The server's reconciliation task settles a payment whose answer timed out, long before
/// the checkout expires (the fake clock never moves, so expiry never runs it).
async fn timed_out_payments_are_reconciled_on_a_schedule(db: Db) {
    use souk_domain::{Clock as _, FakeClock, SystemClock};
    let clock = std::sync::Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) =
        TestApp::builder(db).clock(clock).set("payments.reconcile_interval_secs", "1").try_spawn().await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let (buyer, csrf, checkout, _) = checked_out(&app, "sched").await;
    let tok = token(&app, "4000000000007718").await;
    let res = pay(&app, &buyer, &csrf, &checkout, "k", &json!({ "card_token": tok })).await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
    let mut waited = 0;
    while payment_state(&app, &checkout).await != "paid" {
        assert!(waited < 300, "the reconciliation task never settled the payment");
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(charges(&app, &checkout).await, 1);
    app.stop().await;
}
