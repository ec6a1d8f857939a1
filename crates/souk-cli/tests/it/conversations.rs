//! Messages and reviews over real HTTPS. A buyer writes to a shop about a listing: a card
//! number is masked before storage, requests to pay off the platform and look-alike links
//! carry warnings for the recipient; the shop answers; the buyer reports a message and
//! trust & safety resolve it. Then an order goes all the way (paid by the payment step,
//! shipped, delivered, completed after the dispute window) and only its buyer reviews it,
//! once; the shop replies once; trust & safety remove an abusive review; reputation counts
//! what stands.

use serde_json::{Value, json};
use souk_core::market::steps::PaymentState;
use souk_testkit::{Db, TestApp, backend_tests};

use crate::actors::{open_shop, seller, staff};
use crate::assert_problem;
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};

backend_tests! {
    async fn messages_are_scanned_masked_warned_and_reportable(app) {
        let (shop_c, shop_csrf) = seller(app, "atlas@example.com").await;
        let shop = open_shop(app, &shop_c, &shop_csrf, "atlas").await;
        let l: Value = create(app, &shop_c, &shop_csrf, &shop, &listing("Stoneware mug", "active", json!([variant("M1", 2400, 3)]))).await.json().await.unwrap();
        let listing_id = l["id"].as_str().unwrap();
        let (buyer, csrf) = signed_in(app, "buyer@example.com").await;

        let res = buyer
            .post(app.url("/api/v1/conversations"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "listing_id": listing_id, "body": "Hi! Is the blue one still available? My card is 4242 4242 4242 4242 if that helps." }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let conv: Value = res.json().await.unwrap();
        let conv_id = conv["id"].as_str().unwrap().to_owned();
        let first = &conv["messages"][0];
        assert!(!first["body"].as_str().unwrap().contains("4242 4242 4242 4242"), "{first}");
        assert!(first["body"].as_str().unwrap().contains("4242"), "the last four stay");
        assert!(first["warnings"].as_array().unwrap().iter().any(|w| w["code"] == "card_number"));

        // The shop answers with an off-platform payment request and a look-alike link: the
        // buyer sees both warnings.
        let res = shop_c
            .post(app.url(&format!("/api/v1/conversations/{conv_id}/messages")))
            .header("x-csrf-token", &shop_csrf)
            .json(&json!({ "body": "Yes! Pay me directly by bank transfer to save fees, or checkout at https://l0calhost-payments.com/pay" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let seen: Value = buyer.get(app.url(&format!("/api/v1/conversations/{conv_id}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["you_are"], "buyer");
        let reply = &seen["messages"][1];
        assert_eq!(reply["from"], "shop");
        let codes: Vec<&str> = reply["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
        assert!(codes.contains(&"off_platform_payment"), "{codes:?}");
        assert!(reply["warnings"][0]["message"].as_str().unwrap().len() > 20);
        let ordinary = &seen["messages"][0];
        assert_eq!(ordinary["mine"], true);

        // Outsiders see nothing and cannot post; mail never carries the text.
        let (eve, eve_csrf) = signed_in(app, "eve@example.com").await;
        assert_problem(eve.get(app.url(&format!("/api/v1/conversations/{conv_id}"))).send().await.unwrap(), 404, "not_found").await;
        let res = eve.post(app.url(&format!("/api/v1/conversations/{conv_id}/messages"))).header("x-csrf-token", &eve_csrf).json(&json!({ "body": "hello" })).send().await.unwrap();
        assert_problem(res, 404, "not_found").await;
        let mail = app.mail_to("atlas@example.com", "new message").await;
        assert!(!mail.body.contains("blue one"), "{}", mail.body);
        // A shop cannot start a conversation with itself.
        let res = shop_c.post(app.url("/api/v1/conversations")).header("x-csrf-token", &shop_csrf).json(&json!({ "listing_id": listing_id, "body": "me" })).send().await.unwrap();
        assert_problem(res, 409, "conflict").await;

        // The buyer reports the shop's message; not their own, and only once.
        let reply_id = reply["id"].as_str().unwrap();
        let own_id = ordinary["id"].as_str().unwrap();
        let report = |id: &str| buyer.post(app.url(&format!("/api/v1/messages/{id}/report"))).header("x-csrf-token", &csrf).json(&json!({ "text": "Asked me to pay outside Souk" })).send();
        assert_problem(report(own_id).await.unwrap(), 409, "conflict").await;
        assert_eq!(report(reply_id).await.unwrap().status(), 201);
        assert_problem(report(reply_id).await.unwrap(), 409, "conflict").await;
        let res = eve.post(app.url(&format!("/api/v1/messages/{reply_id}/report"))).header("x-csrf-token", &eve_csrf).json(&json!({ "text": "I was not there" })).send().await.unwrap();
        assert_problem(res, 404, "not_found").await;

        let people = staff(app, &[("tess@example.com", &["trust_safety"]), ("sam@example.com", &["support"])]).await;
        let (tess, tess_csrf) = &people[1];
        let (sam, _) = &people[2];
        assert_problem(sam.get(app.url("/api/v1/staff/message-reports")).send().await.unwrap(), 403, "forbidden").await;
        let queue: Value = tess.get(app.url("/api/v1/staff/message-reports")).send().await.unwrap().json().await.unwrap();
        assert_eq!(queue.as_array().unwrap().len(), 1);
        assert!(queue[0]["message"]["body"].as_str().unwrap().contains("bank transfer"));
        let report_id = queue[0]["id"].as_str().unwrap();
        let resolve = |text: &str| tess.post(app.url(&format!("/api/v1/staff/message-reports/{report_id}/resolution"))).header("x-csrf-token", tess_csrf).json(&json!({ "text": text })).send();
        assert_eq!(resolve("Warned the shop; second warning suspends.").await.unwrap().status(), 204);
        assert_problem(resolve("again").await.unwrap(), 409, "conflict").await;
        let queue: Value = tess.get(app.url("/api/v1/staff/message-reports")).send().await.unwrap().json().await.unwrap();
        assert!(queue.as_array().unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_order_is_reviewed_once_by_its_buyer_sqlite() {
    reviewed_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_order_is_reviewed_once_by_its_buyer_postgres() {
    reviewed_once(Db::Postgres).await;
}

async fn reviewed_once(db: Db) {
    // A dispute window of zero days: delivered orders complete at the next housekeeping run.
    let Some(app) = TestApp::builder(db).set("market.dispute_window_days", "0").try_spawn().await else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let (shop_c, shop_csrf) = seller(&app, "atlas@example.com").await;
    let shop = open_shop(&app, &shop_c, &shop_csrf, "atlas").await;
    let l: Value = create(
        &app,
        &shop_c,
        &shop_csrf,
        &shop,
        &listing("Stoneware mug", "active", json!([variant("M1", 2400, 3)])),
    )
    .await
    .json()
    .await
    .unwrap();
    let variant_id = l["variants"][0]["id"].as_str().unwrap();
    let (buyer, csrf) = signed_in(&app, "buyer@example.com").await;
    buyer
        .put(app.url(&format!("/api/v1/cart/lines/{variant_id}")))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "quantity": 1 }))
        .send()
        .await
        .unwrap();
    let body = json!({ "shipping_address": { "name": "Amina K", "line1": "3 rue X", "postal_code": "69001", "city": "Lyon", "country": "FR" }, "shipping": { shop.clone(): "standard" } });
    let placed: Value = buyer
        .post(app.url("/api/v1/checkout"))
        .header("x-csrf-token", &csrf)
        .header("idempotency-key", "k1")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = placed["orders"][0]["id"].as_str().unwrap().to_owned();
    let review = |c: &reqwest::Client, csrf: &str, rating: i64| {
        c.post(app.url(&format!("/api/v1/orders/{order}/review")))
            .header("x-csrf-token", csrf)
            .json(&json!({ "rating": rating, "body": "Lovely mug, well packed." }))
            .send()
    };
    assert_problem(review(&buyer, &csrf, 5).await.unwrap(), 409, "conflict").await;

    // The payment step reports success (as a connector will); the shop ships.
    souk_core::market::checkout::record_payment(
        app.state().souk(),
        placed["id"].as_str().unwrap(),
        PaymentState::Paid,
    )
    .await
    .unwrap();
    let act = |c: &reqwest::Client, csrf: &str, body: Value| {
        c.post(app.url(&format!("/api/v1/orders/{order}/actions")))
            .header("x-csrf-token", csrf)
            .json(&body)
            .send()
    };
    assert_problem(
        act(&buyer, &csrf, json!({ "action": "ship", "carrier": "dhl", "tracking_number": "JD014600003" }))
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    let res = act(
        &shop_c,
        &shop_csrf,
        json!({ "action": "ship", "carrier": "dhl", "tracking_number": "jd014600003" }),
    )
    .await
    .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "shipped");
    app.mail_to("buyer@example.com", "on its way").await;
    let res = act(&buyer, &csrf, json!({ "action": "confirm_delivery" })).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "delivered");
    assert_problem(review(&buyer, &csrf, 5).await.unwrap(), 409, "conflict").await;
    // The dispute window passes; the order completes.
    assert_eq!(souk_core::market::orders::advance_due(app.state().souk()).await.unwrap(), (0, 1));

    let (eve, eve_csrf) = signed_in(&app, "eve@example.com").await;
    assert_problem(review(&eve, &eve_csrf, 1).await.unwrap(), 404, "not_found").await;
    for bad in [0, 6, -1] {
        assert_problem(review(&buyer, &csrf, bad).await.unwrap(), 400, "invalid_parameter").await;
    }
    let res = review(&buyer, &csrf, 5).await.unwrap();
    assert_eq!(res.status(), 201);
    let review_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    assert_problem(review(&buyer, &csrf, 4).await.unwrap(), 409, "conflict").await;
    let page: Value = app.get("/api/v1/shops/atlas/reviews").await.json().await.unwrap();
    assert_eq!(
        (page["count"].as_i64(), page["average"].as_str(), page["completed_orders"].as_i64()),
        (Some(1), Some("5.00"), Some(1))
    );
    assert_eq!(page["items"][0]["body"], "Lovely mug, well packed.");

    // Trust & safety remove it (with a reason); reputation counts what stands.
    let people = staff(&app, &[("tess@example.com", &["trust_safety"])]).await;
    let (tess, tess_csrf) = &people[1];
    let remove = |c: &reqwest::Client, csrf: &str| {
        c.post(app.url(&format!("/api/v1/staff/reviews/{review_id}/removal")))
            .header("x-csrf-token", csrf)
            .json(&json!({ "text": "Contains a phone number and a personal attack." }))
            .send()
    };
    assert_problem(remove(&buyer, &csrf).await.unwrap(), 403, "forbidden").await;
    assert_eq!(remove(tess, tess_csrf).await.unwrap().status(), 204);
    let page: Value = app.get("/api/v1/shops/atlas/reviews").await.json().await.unwrap();
    assert_eq!(page["count"], 0);
    assert!(page["average"].is_null());
    let _ = (eve, shop_c);
    app.stop().await;
}
