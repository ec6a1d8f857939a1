//! Cart, checkout and orders over real HTTPS: a buyer buys from two shops in one checkout
//! (one order per shop), retries it with the same Idempotency-Key, cancels one order; the
//! shops see only their own. With the attacks: negative and huge quantities, buying from
//! one's own shop, another shop's order (BOLA), a replayed key with another body, a price
//! changed under the buyer's feet, and N concurrent checkouts for the last unit.

use std::sync::Arc;

use serde_json::{Value, json};
use souk_domain::{Clock as _, FakeClock, SystemClock};
use souk_testkit::{Db, TestApp, backend_tests};

use crate::actors::{open_shop, seller};
use crate::assert_problem;
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};

const ADDRESS: &str = r#"{ "name": "Amina Kaddour", "line1": "3 rue des Fleurs", "postal_code": "69001", "city": "Lyon", "country": "FR" }"#;

/// A shop with one active listing; returns (shop id, listing id, variant id).
async fn shop_with(
    app: &TestApp,
    email: &str,
    slug: &str,
    price: i64,
    stock: i64,
) -> (reqwest::Client, String, String, String, String) {
    let (c, csrf) = seller(app, email).await;
    let shop = open_shop(app, &c, &csrf, slug).await;
    let res = create(
        app,
        &c,
        &csrf,
        &shop,
        &listing(&format!("{slug} vase"), "active", json!([variant(&format!("{slug}-1"), price, stock)])),
    )
    .await;
    assert_eq!(res.status(), 201);
    let l: Value = res.json().await.unwrap();
    (c, csrf, shop, l["id"].as_str().unwrap().to_owned(), l["variants"][0]["id"].as_str().unwrap().to_owned())
}

async fn put_line(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    variant: &str,
    quantity: i64,
) -> reqwest::Response {
    c.put(app.url(&format!("/api/v1/cart/lines/{variant}")))
        .header("x-csrf-token", csrf)
        .json(&json!({ "quantity": quantity }))
        .send()
        .await
        .unwrap()
}

async fn checkout(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(app.url("/api/v1/checkout"))
        .header("x-csrf-token", csrf)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn order_body(shipping: &[(&str, &str)], expected: Option<i64>) -> Value {
    let mut b =
        json!({ "shipping_address": serde_json::from_str::<Value>(ADDRESS).unwrap(), "shipping": {} });
    for (shop, option) in shipping {
        b["shipping"][*shop] = json!(option);
    }
    if let Some(t) = expected {
        b["expected_total_minor"] = json!(t);
    }
    b
}

backend_tests! {
    async fn a_buyer_checks_out_two_shops_in_one_checkout(app) {
        let (a, a_csrf, shop_a, listing_a, var_a) = shop_with(app, "atlas@example.com", "atlas", 2400, 5).await;
        let (b, _b_csrf, shop_b, _listing_b, var_b) = shop_with(app, "nordlys@example.com", "nordlys", 3900, 2).await;
        let (buyer, csrf) = signed_in(app, "buyer@example.com").await;

        // Quantities are bounded; stock and ownership are checked when adding.
        for q in [-1, 101, 1_000_000, i64::MAX] {
            assert_problem(put_line(app, &buyer, &csrf, &var_a, q).await, 400, "invalid_parameter").await;
        }
        assert_problem(put_line(app, &buyer, &csrf, &var_b, 3).await, 409, "conflict").await;
        assert_problem(put_line(app, &a, &a_csrf, &var_a, 1).await, 409, "conflict").await;
        assert_problem(put_line(app, &buyer, &csrf, "00000000-0000-7000-8000-000000000000", 1).await, 404, "not_found").await;
        assert_eq!(put_line(app, &buyer, &csrf, &var_a, 2).await.status(), 200);
        let res = put_line(app, &buyer, &csrf, &var_b, 1).await;
        let cart: Value = res.json().await.unwrap();
        assert_eq!(cart["shops"].as_array().unwrap().len(), 2);
        assert_eq!(cart["items_total"]["amount_minor"], 2 * 2400 + 3900);
        assert_eq!(cart["ready"], true);

        // The key is required; a bad request gives the key back; the total is checked.
        let res = buyer.post(app.url("/api/v1/checkout")).header("x-csrf-token", &csrf).json(&order_body(&[], None)).send().await.unwrap();
        assert_problem(res, 400, "invalid_parameter").await;
        let key = "0f5f6a2e-6d8b-4a57-9c6f-6a3d1f2b7c11";
        assert_problem(checkout(app, &buyer, &csrf, key, &order_body(&[(&shop_a, "standard")], None)).await, 400, "invalid_parameter").await;
        let mut smuggled = order_body(&[(&shop_a, "standard"), (&shop_b, "express")], None);
        smuggled["total_minor"] = json!(1);
        assert_problem(checkout(app, &buyer, &csrf, key, &smuggled).await, 400, "malformed_json").await;
        let expected = 2 * 2400 + 3900 + 490 + 1290;
        assert_problem(checkout(app, &buyer, &csrf, key, &order_body(&[(&shop_a, "standard"), (&shop_b, "express")], Some(expected - 1))).await, 409, "conflict").await;

        let good = order_body(&[(&shop_a, "standard"), (&shop_b, "express")], Some(expected));
        let res = checkout(app, &buyer, &csrf, key, &good).await;
        assert_eq!(res.status(), 201);
        let first = res.text().await.unwrap();
        let placed: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(placed["total"]["amount_minor"], expected);
        assert_eq!(placed["payment_state"], "awaiting_payment");
        let orders = placed["orders"].as_array().unwrap();
        assert_eq!(orders.len(), 2);
        assert!(orders.iter().all(|o| o["platform_fee"].is_null()), "buyers never see the platform fee");
        let order_a = orders.iter().find(|o| o["shop_id"] == shop_a.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        let order_b = orders.iter().find(|o| o["shop_id"] == shop_b.as_str()).unwrap()["id"].as_str().unwrap().to_owned();

        // A retry with the same key and body replays the answer; another body is refused.
        let res = checkout(app, &buyer, &csrf, key, &good).await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["idempotent-replayed"], "true");
        assert_eq!(res.text().await.unwrap(), first);
        assert_problem(checkout(app, &buyer, &csrf, key, &order_body(&[(&shop_a, "express"), (&shop_b, "express")], None)).await, 422, "idempotency_key_reused").await;
        let mine: Value = buyer.get(app.url("/api/v1/orders")).send().await.unwrap().json().await.unwrap();
        assert_eq!(mine["items"].as_array().unwrap().len(), 2, "the replay made no new orders");
        let cart: Value = buyer.get(app.url("/api/v1/cart")).send().await.unwrap().json().await.unwrap();
        assert!(cart["shops"].as_array().unwrap().is_empty(), "the cart empties");
        let public: Value = app.get(&format!("/api/v1/listings/{listing_a}")).await.json().await.unwrap();
        assert_eq!(public["variants"][0]["stock"], 3, "stock is reserved");

        // Each shop sees its own order, with the address and its fee; never the other's.
        let seen: Value = a.get(app.url(&format!("/api/v1/orders/{order_a}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["viewer"], "seller");
        assert_eq!(seen["shipping_address"]["city"], "Lyon");
        assert_eq!(seen["order"]["platform_fee"]["amount_minor"], 480);
        assert_eq!(seen["actions"], json!(["cancel"]), "an unpaid order cannot be shipped");
        assert_problem(a.get(app.url(&format!("/api/v1/orders/{order_b}"))).send().await.unwrap(), 404, "not_found").await;
        let shop_orders: Value = b.get(app.url(&format!("/api/v1/seller/shops/{shop_b}/orders"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(shop_orders["items"].as_array().unwrap().len(), 1);
        assert_problem(b.get(app.url(&format!("/api/v1/seller/shops/{shop_a}/orders"))).send().await.unwrap(), 404, "not_found").await;
        let (stranger, stranger_csrf) = signed_in(app, "stranger@example.com").await;
        assert_problem(stranger.get(app.url(&format!("/api/v1/orders/{order_a}"))).send().await.unwrap(), 404, "not_found").await;
        let act = |c: &reqwest::Client, csrf: &str, order: &str, body: Value| {
            c.post(app.url(&format!("/api/v1/orders/{order}/actions"))).header("x-csrf-token", csrf).json(&body).send()
        };
        assert_problem(act(&stranger, &stranger_csrf, &order_a, json!({ "action": "cancel" })).await.unwrap(), 404, "not_found").await;
        assert_problem(act(&a, &a_csrf, &order_a, json!({ "action": "ship", "carrier": "dhl", "tracking_number": "JD0146000033" })).await.unwrap(), 409, "conflict").await;
        assert_problem(act(&a, &a_csrf, &order_a, json!({ "action": "ship", "carrier": "dhl", "tracking_number": "<script>" })).await.unwrap(), 400, "invalid_parameter").await;
        assert_problem(act(&buyer, &csrf, &order_a, json!({ "action": "confirm_delivery" })).await.unwrap(), 409, "conflict").await;
        app.mail_to("buyer@example.com", "Your Souk order").await;
        app.mail_to("atlas@example.com", "New order").await;
        app.mail_to("nordlys@example.com", "New order").await;

        // The buyer cancels one order: its stock returns, the shop is told, once only.
        let res = act(&buyer, &csrf, &order_a, json!({ "action": "cancel", "reason": "Ordered twice by mistake" })).await.unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "cancelled");
        assert_problem(act(&buyer, &csrf, &order_a, json!({ "action": "cancel" })).await.unwrap(), 409, "conflict").await;
        let public: Value = app.get(&format!("/api/v1/listings/{listing_a}")).await.json().await.unwrap();
        assert_eq!(public["variants"][0]["stock"], 5);
        let mail = app.mail_to("atlas@example.com", "cancelled by the buyer").await;
        assert!(mail.body.contains("Ordered twice by mistake"));
        let detail: Value = buyer.get(app.url(&format!("/api/v1/orders/{order_a}"))).send().await.unwrap().json().await.unwrap();
        let history: Vec<&str> = detail["history"].as_array().unwrap().iter().map(|e| e["to"].as_str().unwrap()).collect();
        assert_eq!(history, ["placed", "cancelled"]);

        // A price changed after the buyer looked: the expected total no longer matches.
        assert_eq!(put_line(app, &buyer, &csrf, &var_a, 1).await.status(), 200);
        let edit = listing("atlas vase", "active", json!([variant("atlas-1", 2600, 5)]));
        assert_eq!(a.put(app.url(&format!("/api/v1/seller/listings/{listing_a}"))).header("x-csrf-token", &a_csrf).json(&edit).send().await.unwrap().status(), 200);
        let stale = order_body(&[(&shop_a, "standard")], Some(2400 + 490));
        assert_problem(checkout(app, &buyer, &csrf, "second-attempt-1", &stale).await, 409, "conflict").await;
        let _ = (b, stranger);
    }

    async fn concurrent_checkouts_for_the_last_unit_make_exactly_one_order(app) {
        let (_c, _csrf, shop, listing_id, var) = shop_with(app, "last@example.com", "last-unit", 5000, 1).await;
        let mut buyers = Vec::new();
        for n in 0..8 {
            let (c, csrf) = signed_in(app, &format!("buyer{n}@example.com")).await;
            assert_eq!(put_line(app, &c, &csrf, &var, 1).await.status(), 200);
            buyers.push((c, csrf));
        }
        let attempts = buyers.iter().enumerate().map(|(n, (c, csrf))| {
            let b = order_body(&[(&shop, "standard")], None);
            async move { checkout(app, c, csrf, &format!("race-{n}"), &b).await.status().as_u16() }
        });
        let statuses = futures_util::future::join_all(attempts).await;
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "the others are told it sold out: {statuses:?}");
        let public = app.get(&format!("/api/v1/listings/{listing_id}")).await;
        let public: Value = public.json().await.unwrap();
        assert_eq!(public["variants"][0]["stock"], 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_checkouts_expire_and_give_their_stock_back_sqlite() {
    unpaid_checkouts_expire(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_checkouts_expire_and_give_their_stock_back_postgres() {
    unpaid_checkouts_expire(Db::Postgres).await;
}

async fn unpaid_checkouts_expire(db: Db) {
    let clock = Arc::new(FakeClock::at(SystemClock.now()));
    let Some(app) = TestApp::builder(db).clock(clock.clone()).try_spawn().await else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let (_c, _csrf, shop, listing_id, var) = shop_with(&app, "seller@example.com", "expiring", 1500, 2).await;
    let (buyer, csrf) = signed_in(&app, "buyer@example.com").await;
    assert_eq!(put_line(&app, &buyer, &csrf, &var, 2).await.status(), 200);
    let res = checkout(&app, &buyer, &csrf, "expiry-1", &order_body(&[(&shop, "standard")], None)).await;
    assert_eq!(res.status(), 201);
    let order = res.json::<Value>().await.unwrap()["orders"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(souk_core::market::checkout::expire_unpaid(app.state().souk()).await.unwrap(), 0, "not yet");
    clock.advance_secs(31 * 60);
    assert_eq!(souk_core::market::checkout::expire_unpaid(app.state().souk()).await.unwrap(), 1);
    // The session idled out meanwhile; sign in again to look.
    assert_eq!(
        crate::identity::login(&app, &buyer, "buyer@example.com", crate::identity::PASSWORD).await.status(),
        200
    );
    let detail: Value =
        buyer.get(app.url(&format!("/api/v1/orders/{order}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(detail["order"]["status"], "cancelled");
    assert_eq!(detail["history"][1]["by"], "system");
    let public: Value = app.get(&format!("/api/v1/listings/{listing_id}")).await.json().await.unwrap();
    assert_eq!(public["variants"][0]["stock"], 2);
    app.stop().await;
}
