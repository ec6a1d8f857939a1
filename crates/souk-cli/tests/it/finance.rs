//! Money over HTTPS, on SQLite and PostgreSQL: refunds through the API (idempotent, never
//! more than was paid, one winner when two race, only for the order's shop: 404 for other
//! shops, 403 for the buyer, CSRF checked), a shop's balances, payouts and masked bank
//! account (404 for anyone but its owner and finance staff; a bank account change needs a
//! step-up; a first account while money is owed holds payouts), the staff's finance view and
//! payout runs (finance only), and payouts a crash left in transit reconciled from the bank
//! by their keys, never paid twice.

use std::sync::Arc;

use futures_util::FutureExt as _;
use serde_json::{Value, json};
use souk_core::payments::{self, payouts};
use souk_domain::ids::ShopId;
use souk_domain::{Clock as _, FakeClock, Money, SystemClock};
use souk_payments::bank::Iban;
use souk_testkit::{Db, TestApp};
use sqlx::AnyConnection;

use crate::actors::{open_shop, seller, staff};
use crate::assert_problem;
use crate::identity::{PASSWORD, signed_in};
use crate::ledger::{buy, order_row, pay};
use crate::listings::{create, listing, variant};

const IBAN: &str = "FR76 3000 6000 0112 3456 7890 189";

async fn sql(app: &TestApp, statement: &'static str, bind: &str) {
    let mut conn = app.state().souk().store.conn().await.unwrap();
    let c: &mut AnyConnection = &mut conn;
    sqlx::query(statement).bind(bind).execute(c).await.unwrap();
}

/// A verified shop, older than the new-shop hold: only its bank account decides its payouts.
async fn established(app: &TestApp, shop: &str) {
    sql(app, "UPDATE shops SET status = 'verified', created_at = 0 WHERE id = $1", shop).await;
}

/// A seller's shop with one listing, and a buyer; returns (seller, csrf, shop, variant,
/// buyer, buyer csrf).
async fn market(
    app: &TestApp,
    tag: &str,
) -> (reqwest::Client, String, String, String, reqwest::Client, String) {
    let (c, csrf) = seller(app, &format!("{tag}-seller@example.com")).await;
    let shop = open_shop(app, &c, &csrf, &format!("{tag}-shop")).await;
    let res = create(
        app,
        &c,
        &csrf,
        &shop,
        &listing(&format!("{tag} bowl"), "active", json!([variant(&format!("{tag}-1"), 2000, 50)])),
    )
    .await;
    assert_eq!(res.status(), 201);
    let var = res.json::<Value>().await.unwrap()["variants"][0]["id"].as_str().unwrap().to_owned();
    let (buyer, bcsrf) = signed_in(app, &format!("{tag}-buyer@example.com")).await;
    (c, csrf, shop, var, buyer, bcsrf)
}

async fn act(app: &TestApp, c: &reqwest::Client, csrf: &str, order: &str, body: Value) {
    let res = c
        .post(app.url(&format!("/api/v1/orders/{order}/actions")))
        .header("x-csrf-token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

/// A paid order shipped, confirmed and completed (the dispute window is zero in these
/// tests), so its money is payable to the shop. Returns the order.
async fn completed(
    app: &TestApp,
    (c, csrf): (&reqwest::Client, &str),
    (buyer, bcsrf): (&reqwest::Client, &str),
    shop: &str,
    var: &str,
    key: &str,
) -> String {
    let order = buy(app, buyer, bcsrf, shop, var, key).await;
    pay(app, &order).await;
    act(
        app,
        c,
        csrf,
        &order,
        json!({ "action": "ship", "carrier": "dhl", "tracking_number": "JD0146000033" }),
    )
    .await;
    act(app, buyer, bcsrf, &order, json!({ "action": "confirm_delivery" })).await;
    souk_core::market::orders::advance_due(app.state().souk()).await.unwrap();
    assert_eq!(order_row(app, &order).await.status, "completed");
    order
}

fn refund(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    order: &str,
    key: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    c.post(app.url(&format!("/api/v1/orders/{order}/refunds")))
        .header("x-csrf-token", csrf)
        .header("idempotency-key", key)
        .json(body)
}

async fn balance(app: &TestApp, c: &reqwest::Client, shop: &str) -> Value {
    let res = c.get(app.url(&format!("/api/v1/seller/shops/{shop}/balance"))).send().await.unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    res.json::<Value>().await.unwrap()["balances"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_refunds_over_the_api_sqlite() {
    refunds_over_the_api(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_refunds_over_the_api_postgres() {
    refunds_over_the_api(Db::Postgres).await;
}

async fn refunds_over_the_api(db: Db) {
    let Some(app) = TestApp::builder(db).try_spawn().await else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let (c, csrf, shop, var, buyer, bcsrf) = market(&app, "rf").await;
    let (other, ocsrf) = seller(&app, "rf-other@example.com").await;
    open_shop(&app, &other, &ocsrf, "rf-other-shop").await;
    let order = buy(&app, &buyer, &bcsrf, &shop, &var, "rf-1").await;
    let total = order_row(&app, &order).await.total_minor;
    // Nothing was paid yet: nothing can be refunded.
    let res = refund(&app, &c, &csrf, &order, "k0", &json!({ "amount_minor": 100, "reason": "early" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "amount_refused").await;
    pay(&app, &order).await;

    // Without a key, without the CSRF token, from the buyer, from another shop.
    let res = c
        .post(app.url(&format!("/api/v1/orders/{order}/refunds")))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "amount_minor": 100 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "invalid_parameter").await;
    let res = c
        .post(app.url(&format!("/api/v1/orders/{order}/refunds")))
        .header("idempotency-key", "k-nocsrf")
        .json(&json!({ "amount_minor": 100 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "csrf_failed").await;
    let res = refund(&app, &buyer, &bcsrf, &order, "k-buyer", &json!({ "amount_minor": 100 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "forbidden").await;
    let res = refund(&app, &other, &ocsrf, &order, "k-other", &json!({ "amount_minor": 100 }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    let res = other.get(app.url(&format!("/api/v1/orders/{order}/refunds"))).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;
    // More than was paid: refused, and nothing moved.
    let res =
        refund(&app, &c, &csrf, &order, "k-big", &json!({ "amount_minor": total + 1 })).send().await.unwrap();
    assert_problem(res, 422, "amount_refused").await;
    let res = refund(&app, &c, &csrf, &order, "k-neg", &json!({ "amount_minor": -5 })).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(balance(&app, &c, &shop).await["escrow_minor"], total);

    // A partial refund, retried with its key: refunded once, the answer replayed.
    let body = json!({ "amount_minor": 500, "reason": "chipped rim" });
    let res = refund(&app, &c, &csrf, &order, "k-1", &body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["refundable"]["amount_minor"], total - 500);
    let res = refund(&app, &c, &csrf, &order, "k-1", &body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(res.json::<Value>().await.unwrap(), first);
    let res = refund(&app, &c, &csrf, &order, "k-1", &json!({ "amount_minor": 600 })).send().await.unwrap();
    assert_problem(res, 422, "idempotency_key_reused").await;
    assert_eq!(balance(&app, &c, &shop).await["escrow_minor"], total - 500);

    // Two refunds of the rest at once, under different keys: exactly one wins.
    let rest = json!({ "amount_minor": total - 500, "reason": "lost" });
    let (a, b) = futures_util::future::join(
        refund(&app, &c, &csrf, &order, "k-race-a", &rest).send(),
        refund(&app, &c, &csrf, &order, "k-race-b", &rest).send(),
    )
    .await;
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert!(statuses == [201, 409] || statuses == [201, 422], "{statuses:?}");
    assert_eq!(balance(&app, &c, &shop).await["escrow_minor"], 0);
    assert_eq!(order_row(&app, &order).await.status, "refunded");

    // The refunds, for the shop and the buyer alike.
    for who in [&c, &buyer] {
        let list: Value = who
            .get(app.url(&format!("/api/v1/orders/{order}/refunds")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
        assert_eq!(list["items"][0]["reason"], "chipped rim");
        assert_eq!(list["items"][0]["by"], "seller");
        assert_eq!(list["refundable"]["amount_minor"], 0);
    }
    let report = payments::check(app.state().souk(), |_, _| {}).await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_balances_bank_account_and_payout_runs_sqlite() {
    balances_bank_account_and_payout_runs(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_balances_bank_account_and_payout_runs_postgres() {
    balances_bank_account_and_payout_runs(Db::Postgres).await;
}

async fn balances_bank_account_and_payout_runs(db: Db) {
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) =
        TestApp::builder(db).clock(clock.clone()).set("market.dispute_window_days", "0").try_spawn().await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let people = staff(&app, &[("fin@example.com", &["finance"]), ("help@example.com", &["support"])]).await;
    let [(admin, _), (fin, fcsrf), (support, scsrf)] = &people[..] else { unreachable!() };
    let (c, csrf, shop, var, buyer, bcsrf) = market(&app, "po").await;
    let (other, ocsrf) = seller(&app, "po-other@example.com").await;
    open_shop(&app, &other, &ocsrf, "po-other-shop").await;
    let order = completed(&app, (&c, &csrf), (&buyer, &bcsrf), &shop, &var, "po-1").await;
    let row = order_row(&app, &order).await;
    let payable = row.total_minor - row.platform_fee_minor;
    established(&app, &shop).await;

    // The owner and finance staff see the shop's money; other shops, buyers and support do not.
    let b = balance(&app, &c, &shop).await;
    assert_eq!(
        (b["currency"].as_str(), b["payable_minor"].as_i64(), b["escrow_minor"].as_i64()),
        (Some("EUR"), Some(payable), Some(0))
    );
    assert_eq!(balance(&app, fin, &shop).await["payable_minor"], payable);
    for who in [&other, &buyer, support] {
        for path in ["balance", "payouts", "bank-account"] {
            let res = who.get(app.url(&format!("/api/v1/seller/shops/{shop}/{path}"))).send().await.unwrap();
            assert_problem(res, 404, "not_found").await;
        }
    }
    let res = c.get(app.url(&format!("/api/v1/seller/shops/{shop}/bank-account"))).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;

    // The bank account: a key, a valid IBAN, the owner only, and a fresh sign-in.
    let put = |who: &reqwest::Client, token: &str, key: &str, body: Value| {
        who.put(app.url(&format!("/api/v1/seller/shops/{shop}/bank-account")))
            .header("x-csrf-token", token)
            .header("idempotency-key", key)
            .json(&body)
    };
    let good = json!({ "holder": "Potter SARL", "iban": IBAN });
    let res =
        put(&c, &csrf, "b-bad", json!({ "holder": "Potter SARL", "iban": "FR7630006000011234567890188" }))
            .send()
            .await
            .unwrap();
    assert_problem(res, 400, "invalid_parameter").await;
    let res = put(&other, &ocsrf, "b-other", good.clone()).send().await.unwrap();
    assert_problem(res, 404, "not_found").await;
    let res = c
        .put(app.url(&format!("/api/v1/seller/shops/{shop}/bank-account")))
        .header("idempotency-key", "b-nocsrf")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "csrf_failed").await;
    clock.advance_secs(6 * 60);
    let res = put(&c, &csrf, "b-1", good.clone()).send().await.unwrap();
    assert_problem(res, 403, "step_up_required").await;
    let res = c
        .post(app.url("/api/v1/me/reauthenticate"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = put(&c, &csrf, "b-1", good.clone()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("30006000011234567890189") && !text.contains("FR76"),
        "the IBAN is masked: {text}"
    );
    let set: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(set["iban_masked"], "•••• 0189");
    // The shop is owed money: the first account holds payouts for a week.
    assert_eq!(set["hold_until"], clock.now().plus_micros(7 * 24 * 3_600 * 1_000_000).to_rfc3339());
    let res = put(&c, &csrf, "b-1", good.clone()).send().await.unwrap();
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    let mail = app.mail_to("po-seller@example.com", "A payout bank account was added").await;
    assert!(mail.body.contains("0189") && !mail.body.contains("30006000011234567890189"), "{}", mail.body);
    let got: Value = c
        .get(app.url(&format!("/api/v1/seller/shops/{shop}/bank-account")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["iban_masked"], "•••• 0189");

    // Payout runs: finance staff only, with a key; the new account's hold is recorded.
    let run = |who: &reqwest::Client, token: &str, key: &str| {
        who.post(app.url("/api/v1/staff/payouts/runs"))
            .header("x-csrf-token", token)
            .header("idempotency-key", key)
    };
    assert_problem(run(support, scsrf, "r-s").send().await.unwrap(), 403, "forbidden").await;
    assert_problem(run(&c, &csrf, "r-c").send().await.unwrap(), 403, "forbidden").await;
    let res =
        fin.post(app.url("/api/v1/staff/payouts/runs")).header("x-csrf-token", fcsrf).send().await.unwrap();
    assert_problem(res, 400, "invalid_parameter").await;
    let res = run(fin, fcsrf, "r-1").send().await.unwrap();
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(
        first["held"],
        json!([{ "shop_id": shop, "amount": null, "reason": "bank account changed recently" }])
    );
    assert_eq!(first["paid"], json!([]));
    let history: Value = c
        .get(app.url(&format!("/api/v1/seller/shops/{shop}/payouts")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["holds"][0]["reason"], "bank account changed recently");
    assert_eq!(history["payouts"], json!([]));

    // A week later (the sessions would have timed out: the hold is ended in place), the
    // next run pays the shop once; its key replays the answer without paying again.
    sql(&app, "UPDATE payout_accounts SET hold_until = 0 WHERE shop_id = $1", &shop).await;
    let res = run(fin, fcsrf, "r-2").send().await.unwrap();
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["paid"][0]["amount"]["amount_minor"], payable, "{second}");
    let res = run(fin, fcsrf, "r-2").send().await.unwrap();
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(res.json::<Value>().await.unwrap(), second);
    let b = balance(&app, &c, &shop).await;
    assert_eq!(
        (b["payable_minor"].as_i64(), b["in_transit_minor"].as_i64(), b["paid_out_minor"].as_i64()),
        (Some(0), Some(0), Some(payable))
    );
    let history: Value = c
        .get(app.url(&format!("/api/v1/seller/shops/{shop}/payouts")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["payouts"].as_array().unwrap().len(), 1);
    assert_eq!(history["payouts"][0]["status"], "sent");

    // The staff's view of the platform's money: finance and admins; not support or sellers.
    payments::check(app.state().souk(), |_, _| {}).await.unwrap();
    for who in [support, &c] {
        assert_problem(who.get(app.url("/api/v1/staff/finance")).send().await.unwrap(), 403, "forbidden")
            .await;
    }
    assert_eq!(admin.get(app.url("/api/v1/staff/finance")).send().await.unwrap().status(), 200);
    let view: Value = fin.get(app.url("/api/v1/staff/finance")).send().await.unwrap().json().await.unwrap();
    let total = |kind: &str| {
        view["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == kind)
            .map(|t| t["amount"]["amount_minor"].clone())
    };
    assert_eq!(total("paid_out"), Some(json!(payable)), "{view}");
    assert_eq!(total("platform_fees"), Some(json!(row.platform_fee_minor)));
    assert_eq!(total("clearing"), Some(json!(-row.total_minor)));
    assert_eq!(view["batches"].as_array().unwrap().len(), 2);
    assert_eq!(view["last_check"]["violations"], 0);
    assert_eq!(view["in_transit"], json!([]));
    app.stop().await;
}

/// A bank that crashes the batch right after the simulator accepted the payout (the
/// process dies before the outcome is posted), or before the payout reached it.
#[derive(Debug)]
struct Crashing {
    bank: Arc<payouts::SimulatedBank>,
    after_sending: bool,
}

impl payouts::Bank for Crashing {
    fn send(&self, key: &str, shop: ShopId, holder: &str, iban: &Iban, amount: Money) -> bool {
        if self.after_sending {
            self.bank.send(key, shop, holder, iban, amount);
        }
        panic!("the process died while the bank was paying");
    }

    fn status(&self, key: &str) -> Option<bool> {
        self.bank.status(key)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_payouts_left_in_transit_are_reconciled_sqlite() {
    payouts_left_in_transit_are_reconciled(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_payouts_left_in_transit_are_reconciled_postgres() {
    payouts_left_in_transit_are_reconciled(Db::Postgres).await;
}

async fn payouts_left_in_transit_are_reconciled(db: Db) {
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) = TestApp::builder(db)
        .clock(clock.clone())
        .set("market.dispute_window_days", "0")
        .set("payments.first_account_hold_days", "0")
        .try_spawn()
        .await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let souk = app.state().souk();
    let (c, csrf, shop, var, buyer, bcsrf) = market(&app, "rc").await;
    let order = completed(&app, (&c, &csrf), (&buyer, &bcsrf), &shop, &var, "rc-1").await;
    let row = order_row(&app, &order).await;
    let payable = row.total_minor - row.platform_fee_minor;
    established(&app, &shop).await;
    let res = c
        .put(app.url(&format!("/api/v1/seller/shops/{shop}/bank-account")))
        .header("x-csrf-token", &csrf)
        .header("idempotency-key", "rc-bank")
        .json(&json!({ "holder": "Bowls Ltd", "iban": "GB82 WEST 1234 5698 7654 32" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let shop_id: ShopId = shop.parse().unwrap();
    let bank = Arc::new(payouts::SimulatedBank::default());

    // The bank sends the payout, and the process dies before the outcome is posted.
    let crashing = Crashing { bank: bank.clone(), after_sending: true };
    let crashed = std::panic::AssertUnwindSafe(payouts::run_batch(souk, &crashing, payouts::RunBy::System))
        .catch_unwind()
        .await;
    assert!(crashed.is_err());
    assert_eq!(bank.transfers(), 1);
    let b = balance(&app, &c, &shop).await;
    assert_eq!((b["payable_minor"].as_i64(), b["in_transit_minor"].as_i64()), (Some(0), Some(payable)));
    // `souk ledger payouts --reconcile` asks the bank by the payout's key: it was sent.
    let done = payouts::reconcile(souk, bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(done.sent, vec![(shop_id, Money::new(payable, souk.market.currency))]);
    let b = balance(&app, &c, &shop).await;
    assert_eq!((b["in_transit_minor"].as_i64(), b["paid_out_minor"].as_i64()), (Some(0), Some(payable)));
    // The next batch finds nothing to pay: never paid twice.
    let run = payouts::run_batch(souk, bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert!(run.paid.is_empty() && run.reconciled == payouts::Reconciled::default(), "{run:?}");
    assert_eq!(bank.transfers(), 1);

    // A second sale; this time the process dies before the payout reaches the bank.
    let order = completed(&app, (&c, &csrf), (&buyer, &bcsrf), &shop, &var, "rc-2").await;
    let row = order_row(&app, &order).await;
    let second = row.total_minor - row.platform_fee_minor;
    let crashing = Crashing { bank: bank.clone(), after_sending: false };
    let crashed = std::panic::AssertUnwindSafe(payouts::run_batch(souk, &crashing, payouts::RunBy::System))
        .catch_unwind()
        .await;
    assert!(crashed.is_err());
    // Unknown to the bank, but recent: a batch may still be sending it; it waits.
    let run = payouts::run_batch(souk, bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!((run.reconciled.pending, run.paid.len()), (1, 0), "{run:?}");
    assert_eq!(bank.transfers(), 1);
    // After the grace period it is payable again, and the batch pays it once.
    clock.advance_secs(16 * 60);
    let run = payouts::run_batch(souk, bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(run.reconciled.returned, vec![(shop_id, Money::new(second, souk.market.currency))]);
    assert_eq!(run.paid, vec![(shop_id, Money::new(second, souk.market.currency))]);
    assert_eq!(bank.transfers(), 2);
    let mut conn = souk.store.conn().await.unwrap();
    let open = souk_store::finance::payouts_in_transit(&mut conn, 10).await.unwrap();
    assert!(open.is_empty(), "{open:?}");
    let paid_out = souk_store::ledger::balance(
        &mut conn,
        &souk_payments::ledger::Account::paid_out(shop_id),
        souk.market.currency,
    )
    .await
    .unwrap();
    assert_eq!(paid_out.minor, payable + second);
    drop(conn);
    let report = payments::check(souk, |_, _| {}).await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_pages_need_their_token_and_act_once_sqlite() {
    finance_pages_need_their_token_and_act_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_pages_need_their_token_and_act_once_postgres() {
    finance_pages_need_their_token_and_act_once(Db::Postgres).await;
}

async fn finance_pages_need_their_token_and_act_once(db: Db) {
    use crate::buyer_pages::{field, page, post_form};
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) =
        TestApp::builder(db).clock(clock.clone()).set("market.dispute_window_days", "0").try_spawn().await
    else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let people =
        staff(&app, &[("fin-pages@example.com", &["finance"]), ("help-pages@example.com", &["support"])])
            .await;
    let [_, (fin, _), (support, _)] = &people[..] else { unreachable!() };
    let (c, csrf, shop, var, buyer, bcsrf) = market(&app, "pg").await;
    // One completed order makes the shop owed money (its first bank account is held).
    completed(&app, (&c, &csrf), (&buyer, &bcsrf), &shop, &var, "pg-1").await;
    let paid = buy(&app, &buyer, &bcsrf, &shop, &var, "pg-2").await;
    pay(&app, &paid).await;
    let total = order_row(&app, &paid).await.total_minor;
    established(&app, &shop).await;
    let (other, ocsrf) = seller(&app, "pg-other@example.com").await;
    open_shop(&app, &other, &ocsrf, "pg-other-shop").await;

    // The refund form: its token, then once per page key, never more than was paid.
    let (status, html) = page(&app, &c, &format!("/seller/orders/{paid}")).await;
    assert_eq!(status, 200);
    let (token, key) = (field(&html, "csrf"), field(&html, "key"));
    let path = format!("/seller/orders/{paid}/refund");
    let res =
        post_form(&app, &c, &path, &[("csrf", "forged"), ("key", &key), ("amount", "5"), ("reason", "x")])
            .await;
    assert_eq!(res.status(), 403);
    let too_much = format!("{}.{:02}", (total + 1) / 100, (total + 1) % 100);
    let res = post_form(
        &app,
        &c,
        &path,
        &[("csrf", &token), ("key", &key), ("amount", &too_much), ("reason", "x")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let form = [("csrf", token.as_str()), ("key", key.as_str()), ("amount", "5.00"), ("reason", "scratched")];
    for _ in 0..2 {
        let res = post_form(&app, &c, &path, &form).await;
        assert_eq!(res.status(), 303);
    }
    let list: Value =
        c.get(app.url(&format!("/api/v1/orders/{paid}/refunds"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "a double submit refunds once: {list}");
    assert_eq!(list["refundable"]["amount_minor"], total - 500);
    // The buyer has no refund form of the shop's (the page is the shop's: 404).
    let res = post_form(&app, &buyer, &path, &[("csrf", &bcsrf), ("key", "k"), ("amount", "1")]).await;
    assert_eq!(res.status(), 404);

    // The money page and its bank account form: the token, then a fresh sign-in.
    let (status, html) = page(&app, &c, "/seller/money").await;
    assert_eq!(status, 200);
    assert!(html.contains("No bank account yet"), "{html}");
    let (token, key) = (field(&html, "csrf"), field(&html, "key"));
    let bank = |t: &str| {
        vec![
            ("csrf", t.to_owned()),
            ("key", key.clone()),
            ("holder", "Plates Ltd".to_owned()),
            ("iban", IBAN.to_owned()),
        ]
    };
    let form = bank("forged");
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post_form(&app, &c, "/seller/money/bank-account", &refs).await.status(), 403);
    clock.advance_secs(6 * 60);
    let form = bank(&token);
    let refs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = post_form(&app, &c, "/seller/money/bank-account", &refs).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers().get("location").unwrap(), "/account/reauth?next=/seller/money");
    let res = post_form(
        &app,
        &c,
        "/account/reauth",
        &[("csrf", &token), ("password", PASSWORD), ("next", "/seller/money")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post_form(&app, &c, "/seller/money/bank-account", &refs).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers().get("location").unwrap(), "/seller/money?done=bank-account");
    let (_, html) = page(&app, &c, "/seller/money").await;
    assert!(html.contains("•••• 0189") && !html.contains("30006000011234567890189"), "{html}");
    // Another seller's hub shows their own shop, never this one.
    let (_, html) = page(&app, &other, "/seller/money").await;
    assert!(!html.contains("0189"), "{html}");

    // The staff's finance page: finance staff run payouts with the token, once per key;
    // support staff get no page.
    assert_eq!(page(&app, support, "/staff/finance").await.0, 403);
    let (status, html) = page(&app, fin, "/staff/finance").await;
    assert_eq!(status, 200);
    assert!(html.contains("Run payouts") && html.contains("No ledger check has run yet"), "{html}");
    let (token, key) = (field(&html, "csrf"), field(&html, "key"));
    let res = post_form(&app, fin, "/staff/finance/payouts", &[("csrf", "forged"), ("key", &key)]).await;
    assert_eq!(res.status(), 403);
    for _ in 0..2 {
        let res = post_form(&app, fin, "/staff/finance/payouts", &[("csrf", &token), ("key", &key)]).await;
        assert_eq!(res.status(), 303);
    }
    let view: Value = fin.get(app.url("/api/v1/staff/finance")).send().await.unwrap().json().await.unwrap();
    assert_eq!(view["batches"].as_array().unwrap().len(), 1, "one run per page key: {view}");
    app.stop().await;
}
