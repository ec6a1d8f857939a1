//! The ledger on SQLite and PostgreSQL: the database itself refuses an unbalanced
//! transaction written with raw SQL, and any change to what was posted; money moves from a
//! paid checkout into escrow, back by refunds (of which, when several race, only one
//! wins), to the seller on completion less the fee, out through a payout batch (held while
//! the shop is unverified) and back by a clawback; `souk ledger check` finds every
//! invariant intact, and names the violation once postings are tampered with.

use std::sync::Arc;

use serde_json::{Value, json};
use souk_access::StaffRole;
use souk_core::CoreError;
use souk_core::identity::{Client, Credential, Principal};
use souk_core::market::orders::{self, Request};
use souk_core::market::steps::PaymentState;
use souk_core::payments::{self, escrow, payouts};
use souk_domain::ids::{AccountId, ShopId};
use souk_domain::{Clock as _, FakeClock, SystemClock, Timestamp};
use souk_payments::bank::Iban;
use souk_testkit::{Db, TestApp, backend_tests};
use sqlx::AnyConnection;

use crate::actors::{open_shop, seller};
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};

/// Runs `statements` in one transaction; true if all of them and the commit succeeded.
async fn try_sql(app: &TestApp, statements: &[&str]) -> bool {
    let mut tx = app.state().souk().store.begin().await.unwrap();
    for s in statements {
        if sqlx::query(sqlx::AssertSqlSafe(*s)).execute(&mut *tx).await.is_err() {
            return false;
        }
    }
    tx.commit().await.is_ok()
}

backend_tests! {
    async fn the_database_refuses_unbalanced_or_changed_postings(app) {
        let p = |tx: i64, line: i64, kind: &str, owner: &str, amount: i64| {
            format!("INSERT INTO ledger_postings (transaction_id, line_no, account_kind, account_owner, currency, amount) VALUES ({tx}, {line}, '{kind}', '{owner}', 'EUR', {amount})")
        };
        let h = |tx: i64, key: &str| {
            format!("INSERT INTO ledger_transactions (id, kind, reference, seq, idem_key, created_at) VALUES ({tx}, 'charge', 'o-{tx}', 1, '{key}', 0)")
        };
        // Unbalanced: 1000 out of clearing, 999 into escrow.
        assert!(!try_sql(app, &[&p(1, 1, "clearing", "", -1000), &p(1, 2, "escrow", "o-1", 999), &h(1, "charge:o-1")]).await);
        // A single posting, and a header without postings.
        assert!(!try_sql(app, &[&p(1, 1, "clearing", "", -1000), &h(1, "charge:o-1")]).await);
        assert!(!try_sql(app, &[&h(1, "charge:o-1")]).await);
        // Balanced in total but not per currency.
        assert!(!try_sql(app, &[&p(1, 1, "clearing", "", -1000), &p(1, 2, "escrow", "o-1", 1000).replace("'EUR'", "'USD'"), &h(1, "charge:o-1")]).await);
        // Postings without a header fail the deferred reference at commit.
        assert!(!try_sql(app, &[&p(1, 1, "clearing", "", -1000), &p(1, 2, "escrow", "o-1", 1000)]).await);
        // A balanced one is accepted.
        assert!(try_sql(app, &[&p(1, 1, "clearing", "", -1000), &p(1, 2, "escrow", "o-1", 1000), &h(1, "charge:o-1")]).await);
        // What was posted stays as it was: no later posting, no edit, no deletion.
        assert!(!try_sql(app, &[&p(1, 3, "escrow", "o-1", 5)]).await);
        assert!(!try_sql(app, &[&p(1, 3, "escrow", "o-1", 5), &p(1, 4, "clearing", "", -5)]).await);
        assert!(!try_sql(app, &["UPDATE ledger_postings SET amount = 2000 WHERE transaction_id = 1 AND line_no = 2"]).await);
        assert!(!try_sql(app, &["DELETE FROM ledger_postings WHERE transaction_id = 1"]).await);
        assert!(!try_sql(app, &["UPDATE ledger_transactions SET kind = 'refund' WHERE id = 1"]).await);
        assert!(!try_sql(app, &["DELETE FROM ledger_transactions WHERE id = 1"]).await);
        // The same charge cannot post twice.
        assert!(!try_sql(app, &[&p(2, 1, "clearing", "", -1000), &p(2, 2, "escrow", "o-1", 1000), &h(2, "charge:o-1")]).await);
        let report = payments::check(app.state().souk(), |_, _| {}).await.unwrap();
        assert_eq!((report.transactions, report.postings), (1, 2));
        assert!(report.violations.is_empty(), "{:?}", report.violations);
    }
}

pub(crate) fn principal(account: AccountId, role: &str, staff_roles: Vec<StaffRole>) -> Principal {
    Principal {
        account,
        handle: "tester".into(),
        role: role.into(),
        staff_roles,
        credential: Credential::Session {
            id: "test-session".into(),
            authenticated_at: Timestamp::from_micros(0),
            staff: role == "staff",
            method: "passkey".into(),
        },
        email_verified: true,
    }
}

/// A bank that returns every payout.
#[derive(Debug)]
struct Refusing;

impl payouts::Bank for Refusing {
    fn send(&self, _: &str, _: ShopId, _: &str, _: &Iban, _: souk_domain::Money) -> bool {
        false
    }

    fn status(&self, _: &str) -> Option<bool> {
        Some(false)
    }
}

pub(crate) fn client() -> Client {
    Client { ip: None, user_agent: String::new(), device: None, request_id: "ledger-test".into() }
}

pub(crate) async fn account(app: &TestApp, email: &str) -> AccountId {
    souk_core::accounts::find_by_email(app.state().souk(), email).await.unwrap().unwrap()
}

/// Buys one unit of `var` from `shop`; returns the order's id.
pub(crate) async fn buy(
    app: &TestApp,
    buyer: &reqwest::Client,
    csrf: &str,
    shop: &str,
    var: &str,
    key: &str,
) -> String {
    let res = buyer
        .put(app.url(&format!("/api/v1/cart/lines/{var}")))
        .header("x-csrf-token", csrf)
        .json(&json!({ "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = json!({ "shipping_address": { "name": "Amina Kaddour", "line1": "3 rue des Fleurs", "postal_code": "69001", "city": "Lyon", "country": "FR" }, "shipping": {} });
    body["shipping"][shop] = json!("standard");
    let res = buyer
        .post(app.url("/api/v1/checkout"))
        .header("x-csrf-token", csrf)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["orders"][0]["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn order_row(app: &TestApp, id: &str) -> souk_store::orders::OrderRow {
    let mut conn = app.state().souk().store.conn().await.unwrap();
    souk_store::orders::order(&mut conn, id).await.unwrap().unwrap()
}

pub(crate) async fn pay(app: &TestApp, order: &str) {
    let checkout = order_row(app, order).await.checkout;
    souk_core::market::checkout::record_payment(app.state().souk(), &checkout, PaymentState::Paid)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_moves_through_escrow_sqlite() {
    money_moves_through_escrow(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_moves_through_escrow_postgres() {
    money_moves_through_escrow(Db::Postgres).await;
}

async fn money_moves_through_escrow(db: Db) {
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) = TestApp::builder(db).clock(clock.clone()).try_spawn().await else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let souk = app.state().souk();
    let (c, csrf) = seller(&app, "potter@example.com").await;
    let shop = open_shop(&app, &c, &csrf, "ledger-pots").await;
    let res =
        create(&app, &c, &csrf, &shop, &listing("ledger vase", "active", json!([variant("lv-1", 2000, 10)])))
            .await;
    assert_eq!(res.status(), 201);
    let var = res.json::<Value>().await.unwrap()["variants"][0]["id"].as_str().unwrap().to_owned();
    let (buyer, bcsrf) = signed_in(&app, "payer@example.com").await;
    let order_a = buy(&app, &buyer, &bcsrf, &shop, &var, "ledger-a").await;
    let order_b = buy(&app, &buyer, &bcsrf, &shop, &var, "ledger-b").await;
    let order_c = buy(&app, &buyer, &bcsrf, &shop, &var, "ledger-c").await;
    let total = order_row(&app, &order_a).await.total_minor;
    let fee = order_row(&app, &order_a).await.platform_fee_minor;
    assert!(fee > 0);
    let seller_p = principal(account(&app, "potter@example.com").await, "seller", vec![]);
    let buyer_p = principal(account(&app, "payer@example.com").await, "buyer", vec![]);
    let shop_id = shop.parse().unwrap();

    // Nothing is refundable before the payment.
    let r = escrow::refund(souk, &seller_p, &client(), &order_a, 100, "").await;
    assert!(matches!(r, Err(CoreError::Refused(_))), "{r:?}");
    pay(&app, &order_a).await;
    pay(&app, &order_b).await;
    // Reporting the payment again posts nothing twice.
    pay(&app, &order_b).await;
    pay(&app, &order_c).await;
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert_eq!(b.in_escrow.minor, 3 * total);
    // A paid order the buyer cancels before shipping gives its escrow back.
    orders::act(souk, &buyer_p, &client(), &order_c, &Request::Cancel { reason: "changed my mind".into() })
        .await
        .unwrap();
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert_eq!(b.in_escrow.minor, 2 * total);

    // Buyers do not refund themselves; strangers do not see the order; support staff may
    // see it but not refund it; finance staff may.
    let r = escrow::refund(souk, &buyer_p, &client(), &order_a, 100, "").await;
    assert!(matches!(r, Err(CoreError::Forbidden)), "{r:?}");
    let stranger = principal(AccountId::new(clock.now(), souk.entropy.as_ref()), "buyer", vec![]);
    let r = escrow::refund(souk, &stranger, &client(), &order_a, 100, "").await;
    assert!(matches!(r, Err(CoreError::NotFound(_))), "{r:?}");
    let support =
        principal(AccountId::new(clock.now(), souk.entropy.as_ref()), "staff", vec![StaffRole::Support]);
    let r = escrow::refund(souk, &support, &client(), &order_a, 100, "").await;
    assert!(matches!(r, Err(CoreError::Forbidden)), "{r:?}");
    let finance =
        principal(AccountId::new(clock.now(), souk.entropy.as_ref()), "staff", vec![StaffRole::Finance]);
    let r = escrow::refund(souk, &finance, &client(), &order_a, 100, "goodwill").await.unwrap();
    assert!(!r.clawback);
    // A partial refund by the seller, then never more than is left.
    let r = escrow::refund(souk, &seller_p, &client(), &order_a, 400, "chipped").await.unwrap();
    assert_eq!(r.refundable.minor, total - 500);
    let r = escrow::refund(souk, &seller_p, &client(), &order_a, total - 499, "").await;
    assert!(matches!(r, Err(CoreError::Refused(_))), "{r:?}");
    let r = escrow::refund(souk, &seller_p, &client(), &order_a, -5, "").await;
    assert!(r.is_err());

    // Several refunds of the rest at once: exactly one wins.
    let cl = client();
    let attempts = (0..4).map(|_| escrow::refund(souk, &seller_p, &cl, &order_a, total - 500, "race"));
    let outcomes = futures_util::future::join_all(attempts).await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(o, Ok(_) | Err(CoreError::Conflict(_) | CoreError::Refused(_)))),
        "{outcomes:?}"
    );
    assert_eq!(order_row(&app, &order_a).await.status, "refunded");

    // Order B ships, is delivered automatically, completes after the dispute window and is
    // released to the shop less the platform's fee.
    orders::act(
        souk,
        &seller_p,
        &client(),
        &order_b,
        &Request::Ship { carrier: "dhl".into(), tracking_number: "JD0146000033".into() },
    )
    .await
    .unwrap();
    clock.advance_secs(22 * 24 * 3600);
    assert_eq!(orders::advance_due(souk).await.unwrap(), (1, 0));
    clock.advance_secs(15 * 24 * 3600);
    assert_eq!(orders::advance_due(souk).await.unwrap(), (0, 1));
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert_eq!((b.in_escrow.minor, b.payable.minor), (0, total - fee));

    // The shop is not verified: its payout waits.
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(run.held, vec![(shop_id, "not verified")]);
    assert!(run.paid.is_empty());
    {
        let mut conn = souk.store.conn().await.unwrap();
        let c: &mut AnyConnection = &mut conn;
        sqlx::query("UPDATE shops SET status = 'verified' WHERE id = $1")
            .bind(&shop)
            .execute(c)
            .await
            .unwrap();
    }
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(run.held, vec![(shop_id, "no bank account")]);
    // Setting the bank account needs a fresh sign-in, and a valid IBAN.
    let iban = "FR76 3000 6000 0112 3456 7890 189";
    let r = payouts::set_bank_account(souk, &seller_p, &client(), shop_id, "Potter SARL", iban).await;
    assert!(matches!(r, Err(CoreError::StepUpRequired)), "{r:?}");
    let mut fresh = seller_p.clone();
    if let Credential::Session { authenticated_at, .. } = &mut fresh.credential {
        *authenticated_at = clock.now();
    }
    let r = payouts::set_bank_account(
        souk,
        &fresh,
        &client(),
        shop_id,
        "Potter SARL",
        "FR7630006000011234567890188",
    )
    .await;
    assert!(matches!(r, Err(CoreError::Invalid { field: "iban", .. })), "{r:?}");
    let view =
        payouts::set_bank_account(souk, &fresh, &client(), shop_id, "Potter SARL", iban).await.unwrap();
    assert_eq!(view.iban_last4, "0189");
    // The shop is owed money: even its first account holds payouts for a week.
    assert_eq!(view.hold_until, clock.now().plus_micros(7 * 24 * 3_600 * 1_000_000));
    app.mail_to("potter@example.com", "A payout bank account was added").await;
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert_eq!(run.held, vec![(shop_id, "bank account changed recently")]);
    clock.advance_secs(7 * 24 * 3600 + 1);
    if let Credential::Session { authenticated_at, .. } = &mut fresh.credential {
        *authenticated_at = clock.now();
    }
    // A bank that returns the payout: the money is payable again.
    let run = payouts::run_batch(souk, &Refusing, payouts::RunBy::System).await.unwrap();
    assert_eq!(run.returned.len(), 1, "{run:?}");
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert_eq!((b.payable.minor, b.in_transit.minor, b.paid_out.minor), (total - fee, 0, 0));
    // Finance staff run the next batch (support staff may not run payouts).
    let support =
        principal(AccountId::new(clock.now(), souk.entropy.as_ref()), "staff", vec![StaffRole::Support]);
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::Staff(&support, &client())).await;
    assert!(matches!(run, Err(CoreError::Forbidden)), "{run:?}");
    let finance =
        principal(AccountId::new(clock.now(), souk.entropy.as_ref()), "staff", vec![StaffRole::Finance]);
    // Two batches at once (finance staff and housekeeping) pay the shop once.
    let cl = client();
    let (one, two) = futures_util::future::join(
        payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::Staff(&finance, &cl)),
        payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System),
    )
    .await;
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.paid.len() + two.paid.len(), 1, "{one:?} {two:?}");
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert_eq!((b.payable.minor, b.in_transit.minor, b.paid_out.minor), (0, 0, total - fee));
    // Nothing left to pay: the next batch pays nobody.
    let run = payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::System).await.unwrap();
    assert!(run.paid.is_empty() && run.held.is_empty(), "{run:?}");
    // Changing the bank account holds the next payouts for a week, and tells the owner.
    let view = payouts::set_bank_account(
        souk,
        &fresh,
        &client(),
        shop_id,
        "Potter SARL",
        "GB82 WEST 1234 5698 7654 32",
    )
    .await
    .unwrap();
    assert!(view.hold_until > clock.now());
    app.mail_to("potter@example.com", "Your payout bank account changed").await;

    // A refund after release is clawed back from the shop's balance (and the fee).
    let r = escrow::refund(souk, &seller_p, &client(), &order_b, 1000, "late return").await.unwrap();
    assert!(r.clawback);
    let b = payments::balances(souk, &seller_p, &client(), shop_id).await.unwrap();
    assert!(b.payable.minor < 0 && b.payable.minor > -1000, "{b:?}");
    // A chargeback of the rest; then nothing more can go back.
    escrow::chargeback(souk, &order_b, total - 1000).await.unwrap();
    assert!(escrow::chargeback(souk, &order_b, 1).await.is_err());

    // A partial refund racing the buyer's cancellation of a paid order: one or both succeed,
    // and together they never give back more than was paid (the check below replays it).
    // (The clock moved weeks ahead, past the first buyer's session: another buyer.)
    let (buyer, bcsrf) = signed_in(&app, "racer@example.com").await;
    let buyer_p = principal(account(&app, "racer@example.com").await, "buyer", vec![]);
    for key in ["ledger-d1", "ledger-d2", "ledger-d3"] {
        let order = buy(&app, &buyer, &bcsrf, &shop, &var, key).await;
        pay(&app, &order).await;
        let cl = client();
        let cancel = Request::Cancel { reason: "race".into() };
        let (refund, cancelled) = futures_util::future::join(
            escrow::refund(souk, &seller_p, &cl, &order, total * 3 / 5, "race"),
            orders::act(souk, &buyer_p, &cl, &order, &cancel),
        )
        .await;
        assert!(refund.is_ok() || cancelled.is_ok(), "{refund:?} {cancelled:?}");
    }

    let report = payments::check(souk, |_, _| {}).await.unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert!(report.transactions >= 9, "{report:?}");
    app.stop().await;
}

#[test]
fn ledger_check_names_tampered_postings() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = rt.block_on(async {
        let app = TestApp::spawn(Db::Sqlite).await;
        assert!(try_sql(&app, &[
            "INSERT INTO ledger_postings (transaction_id, line_no, account_kind, account_owner, currency, amount) VALUES (1, 1, 'clearing', '', 'EUR', -1500)",
            "INSERT INTO ledger_postings (transaction_id, line_no, account_kind, account_owner, currency, amount) VALUES (1, 2, 'escrow', 'order-7', 'EUR', 1500)",
            "INSERT INTO ledger_transactions (id, kind, reference, seq, idem_key, created_at) VALUES (1, 'charge', 'order-7', 1, 'charge:order-7', 0)",
        ]).await);
        app.stop_keeping_data().await
    });
    let souk = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_souk"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env_remove("SOUK_TEST_DATABASE_URL")
            .env("SOUK_LOG_LEVEL", "warn")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = souk(&["ledger", "check"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("ledger balanced: 1 transactions, 2 postings"), "{out}");
    // Nothing was left in transit: reconciling settles nothing and sends nothing.
    let (code, out, err) = souk(&["ledger", "payouts", "--reconcile"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("reconciled: 0 sent, 0 payable again, 0 still in transit"), "{out}");

    // Someone drops the guard and edits a posting behind Souk's back.
    rt.block_on(async {
        use sqlx::Connection as _;
        let db = dir.path().join("souk.db");
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("DROP TRIGGER ledger_postings_no_update").execute(&mut c).await.unwrap();
        sqlx::query("UPDATE ledger_postings SET amount = 1400 WHERE transaction_id = 1 AND line_no = 2")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    });
    let (code, out, err) = souk(&["ledger", "check"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("transaction 1 does not balance: its EUR postings sum to -100"), "{out}");
    assert!(err.contains("ledger check failed: transaction 1 does not balance"), "{err}");
}
