//! The buyer's pages over real HTTPS: search, a listing with its variants, the cart (two
//! shops), checkout with an idempotency key minted by the page, the orders it made, an
//! order's page with its actions, a review and the shop's reputation, and messages with
//! their safety warnings and the report button. With the attacks: forms without a CSRF
//! token or a session, another buyer's order and conversation (BOLA), bad quantities, a
//! replayed checkout form, and fields smuggled into the forms (mass assignment).

use serde_json::{Value, json};
use souk_core::market::steps::PaymentState;
use souk_testkit::{Db, TestApp, backend_tests};

use crate::actors::{open_shop, seller};
use crate::identity::signed_in;
use crate::listings::{create, listing, variant};

/// A seller's shop with one active listing; returns (client, csrf, shop id, listing id,
/// variant id).
async fn shop_with(
    app: &TestApp,
    email: &str,
    slug: &str,
    title: &str,
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
        &listing(title, "active", json!([variant(&format!("{slug}-1"), price, stock)])),
    )
    .await;
    assert_eq!(res.status(), 201);
    let l: Value = res.json().await.unwrap();
    (c, csrf, shop, l["id"].as_str().unwrap().to_owned(), l["variants"][0]["id"].as_str().unwrap().to_owned())
}

/// Posts a form as a browser would (same-origin).
pub async fn post_form(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    c.post(app.url(path)).header("origin", &app.base).form(form).send().await.unwrap()
}

/// A page's status and HTML.
pub async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The value of the form field `name` in `html`.
pub fn field(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The quantities in the buyer's cart, by variant id (through the API).
async fn cart_quantities(app: &TestApp, c: &reqwest::Client) -> Vec<(String, i64)> {
    let cart: Value = c.get(app.url("/api/v1/cart")).send().await.unwrap().json().await.unwrap();
    cart["shops"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["lines"].as_array().unwrap().clone())
        .map(|l| (l["variant_id"].as_str().unwrap().to_owned(), l["quantity"].as_i64().unwrap()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

const ADDRESS: [(&str, &str); 5] = [
    ("name", "Amina Kaddour"),
    ("line1", "3 rue des Fleurs"),
    ("postal_code", "69001"),
    ("city", "Lyon"),
    ("country", "FR"),
];

backend_tests! {
    async fn a_buyer_searches_fills_a_cart_from_two_shops_and_checks_out_once(app) {
        let (_a, _, shop_a, listing_a, var_a) = shop_with(app, "atlas@example.com", "atlas", "Speckled vase", 2400, 5).await;
        let (_b, _, shop_b, _listing_b, var_b) = shop_with(app, "nordlys@example.com", "nordlys", "Linen apron", 3900, 2).await;
        let (buyer, csrf) = signed_in(app, "buyer@example.com").await;

        // Search from the header's box; the layout shows the buyer's links when signed in.
        let (status, html) = page(app, &buyer, "/search?q=speckled").await;
        assert_eq!(status, 200);
        assert!(html.contains("Speckled vase") && !html.contains("Linen apron"), "{html}");
        assert!(html.contains("action=\"/search\"") && html.contains("href=\"/cart\"") && html.contains("href=\"/messages\""));
        let (_, anonymous_home) = page(app, &app.browser_client(), "/").await;
        assert!(!anonymous_home.contains("href=\"/cart\""), "no cart link when signed out");
        let (status, html) = page(app, &buyer, "/search?q=zzzznothing").await;
        assert_eq!(status, 200);
        assert!(html.contains("Nothing matches"));

        // The listing shows its variant with price and stock, and the cart form.
        let (status, html) = page(app, &buyer, &format!("/listings/{listing_a}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Colour atlas-1") && html.contains("€24.00") && html.contains("5 left"), "{html}");
        assert!(html.contains(&format!("value=\"{var_a}\"")) && html.contains("action=\"/cart/lines\""));
        assert!(html.contains("Message the seller"));

        // Add from two shops. Smuggled price and shop fields change nothing.
        let res = post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var_a), ("quantity", "2"), ("price_minor", "1"), ("shop_id", &shop_b)]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/cart?done=added");
        let res = post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var_b), ("quantity", "1")]).await;
        assert_eq!(res.status(), 303);
        let (status, html) = page(app, &buyer, "/cart").await;
        assert_eq!(status, 200);
        assert!(html.contains("Shop atlas") && html.contains("Shop nordlys"), "grouped by shop");
        assert!(html.contains("€48.00") && html.contains("€39.00") && html.contains("€87.00"), "subtotals and total: {html}");

        // Bad quantities: a readable 422 page, and the cart does not change.
        let before = cart_quantities(app, &buyer).await;
        for q in ["-1", "0", "101", "1000000", "99999999999999999999999", "abc", "", "1.5"] {
            let res = post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var_a), ("quantity", q)]).await;
            assert_eq!(res.status(), 422, "quantity {q:?}");
            let html = res.text().await.unwrap();
            assert!(html.contains("Quantity:") && html.contains("Your cart"), "{q:?}: {html}");
            let res = post_form(app, &buyer, &format!("/cart/lines/{var_a}"), &[("csrf", &csrf), ("quantity", q)]).await;
            assert_eq!(res.status(), if q == "0" { 303 } else { 422 }, "set {q:?}");
            if q == "0" {
                // 0 on the cart's own form removes the line: put it back.
                post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var_a), ("quantity", "2")]).await;
            }
        }
        // More than the stock: the reason is shown.
        let res = post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var_b), ("quantity", "2")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("Only 2 left"));
        assert_eq!(cart_quantities(app, &buyer).await, before);

        // Checkout: the page mints the key; shipping per shop; no platform fee shown.
        let (status, html) = page(app, &buyer, "/checkout").await;
        assert_eq!(status, 200);
        let key = field(&html, "idempotency_key");
        assert_eq!(key.len(), 36, "a UUID: {key}");
        assert!(html.contains(&format!("name=\"ship_{shop_a}\"")) && html.contains(&format!("name=\"ship_{shop_b}\"")));
        assert!(!html.to_lowercase().contains("platform fee") && !html.to_lowercase().contains("commission"));
        assert!(html.contains("€96.80"), "items and standard shipping for both shops: {html}");
        assert_eq!(field(&html, "items_minor"), "8700");
        let ship_a = format!("ship_{shop_a}");
        let ship_b = format!("ship_{shop_b}");
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf), ("idempotency_key", &key), ("items_minor", "8700"), (&ship_a, "standard"), (&ship_b, "express")];
        form.extend(ADDRESS);
        // Mass assignment: a total, a price, a fee and a buyer are ignored.
        form.extend([("total_minor", "1"), ("price_minor", "1"), ("platform_fee_minor", "0"), ("buyer_id", "x")]);
        let res = post_form(app, &buyer, "/checkout", &form).await;
        assert_eq!(res.status(), 303);
        let done = location(&res);
        assert!(done.starts_with("/checkout/"), "{done}");
        // The same form again (a double submit, or a replay) lands on the same checkout.
        let res = post_form(app, &buyer, "/checkout", &form).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), done);
        // The key with other details is refused, and nothing more is placed.
        let mut other = form.clone();
        other.retain(|(k, _)| *k != "city");
        other.push(("city", "Paris"));
        let res = post_form(app, &buyer, "/checkout", &other).await;
        assert_eq!(res.status(), 422);

        let orders: Value = buyer.get(app.url("/api/v1/orders")).send().await.unwrap().json().await.unwrap();
        let orders = orders["items"].as_array().unwrap().clone();
        assert_eq!(orders.len(), 2, "one checkout, one order per shop");
        let totals: Vec<i64> = orders.iter().map(|o| o["total"]["amount_minor"].as_i64().unwrap()).collect();
        assert!(totals.contains(&(2 * 2400 + 490)) && totals.contains(&(3900 + 1290)), "{totals:?}");
        assert_eq!(cart_quantities(app, &buyer).await, vec![], "the cart is empty");

        // The checkout page says plainly that nothing is paid yet.
        let (status, html) = page(app, &buyer, &done).await;
        assert_eq!(status, 200);
        assert!(html.contains("awaiting payment") && html.contains("Nothing has been charged"), "{html}");
        for o in &orders {
            assert!(html.contains(o["number"].as_str().unwrap()));
        }
        let (_, html) = page(app, &buyer, "/orders").await;
        assert_eq!(html.matches("class=\"order-row\"").count(), 2, "{html}");

        // One order: lines, history, cancel; then cancelled.
        let order_a = orders.iter().find(|o| o["shop_id"] == shop_a.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
        let (status, html) = page(app, &buyer, &format!("/orders/{order_a}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("Speckled vase") && html.contains("€52.90") && html.contains("Cancel order"), "{html}");
        assert!(html.contains("3 rue des Fleurs") && !html.to_lowercase().contains("platform fee"));
        let res = post_form(app, &buyer, &format!("/orders/{order_a}/cancel"), &[("csrf", &csrf), ("reason", "Ordered twice")]).await;
        assert_eq!(res.status(), 303);
        let (_, html) = page(app, &buyer, &format!("/orders/{order_a}")).await;
        assert!(html.contains("data-status=\"cancelled\"") && html.contains("Ordered twice") && !html.contains("Cancel order"), "{html}");
        // Twice is refused with the reason on the page.
        let res = post_form(app, &buyer, &format!("/orders/{order_a}/cancel"), &[("csrf", &csrf)]).await;
        assert_eq!(res.status(), 409);

        // Message the seller about the order; another buyer sees neither order nor conversation.
        let res = post_form(app, &buyer, "/messages/new", &[("csrf", &csrf), ("order", &order_a), ("body", "Sorry, I ordered twice!")]).await;
        assert_eq!(res.status(), 303);
        let conversation = location(&res);
        assert!(conversation.starts_with("/messages/"), "{conversation}");
        let (_, html) = page(app, &buyer, &conversation).await;
        assert!(html.contains("Sorry, I ordered twice!") && html.contains("Shop atlas"));
        let (eve, eve_csrf) = signed_in(app, "eve@example.com").await;
        assert_eq!(page(app, &eve, &format!("/orders/{order_a}")).await.0, 404);
        assert_eq!(page(app, &eve, &conversation).await.0, 404);
        assert_eq!(page(app, &eve, &done).await.0, 404);
        let res = post_form(app, &eve, &format!("/orders/{order_a}/cancel"), &[("csrf", &eve_csrf)]).await;
        assert_eq!(res.status(), 404);
        let res = post_form(app, &eve, &conversation, &[("csrf", &eve_csrf), ("body", "hello")]).await;
        assert_eq!(res.status(), 404);
        let (_, html) = page(app, &eve, "/orders").await;
        assert!(html.contains("No orders yet"));
    }

    async fn page_forms_need_a_session_and_their_csrf_token(app) {
        let (buyer, _csrf) = signed_in(app, "buyer@example.com").await;
        let anonymous = app.browser_client();
        let id = "00000000-0000-7000-8000-000000000000";
        let posts: Vec<(String, &str)> = vec![
            ("/cart/lines".into(), "/cart"),
            (format!("/cart/lines/{id}"), "/cart"),
            (format!("/cart/lines/{id}/remove"), "/cart"),
            ("/checkout".into(), "/checkout"),
            (format!("/orders/{id}/cancel"), "/orders"),
            (format!("/orders/{id}/confirm-delivery"), "/orders"),
            (format!("/orders/{id}/review"), "/orders"),
            ("/messages/new".into(), "/messages"),
            (format!("/messages/{id}"), "/messages"),
            (format!("/messages/{id}/report/{id}"), "/messages"),
        ];
        for (path, section) in &posts {
            let path = path.as_str();
            let res = post_form(app, &buyer, path, &[("csrf", "forged"), ("quantity", "1"), ("variant", id)]).await;
            assert_eq!(res.status(), 403, "{path} with a forged token");
            let res = post_form(app, &buyer, path, &[("quantity", "1"), ("variant", id)]).await;
            assert_eq!(res.status(), 403, "{path} without a token");
            let res = post_form(app, &anonymous, path, &[("csrf", "x")]).await;
            assert_eq!(res.status(), 303, "{path} signed out");
            assert_eq!(location(&res), format!("/login?next={section}"), "{path}");
        }
        let order_path = format!("/orders/{id}");
        for (path, section) in [("/cart", "/cart"), ("/checkout", "/checkout"), ("/orders", "/orders"), ("/messages", "/messages"), (order_path.as_str(), "/orders")] {
            let res = anonymous.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 303, "{path}");
            assert_eq!(location(&res), format!("/login?next={section}"));
        }
        // Nothing to see for ids that are not ids.
        assert_eq!(page(app, &buyer, "/orders/not-an-id").await.0, 404);
        assert_eq!(page(app, &buyer, "/messages/not-an-id").await.0, 404);
    }

    async fn messages_show_their_warnings_to_the_recipient_who_can_report_them(app) {
        let (shop_c, shop_csrf, _shop, listing_id, _) = shop_with(app, "atlas@example.com", "atlas", "Stoneware mug", 2400, 3).await;
        let (buyer, csrf) = signed_in(app, "buyer@example.com").await;
        let res = post_form(app, &buyer, "/messages/new", &[("csrf", &csrf), ("listing", &listing_id), ("body", "Is the blue one available?")]).await;
        assert_eq!(res.status(), 303);
        let conversation = location(&res);
        let conv_id = conversation.trim_start_matches("/messages/");
        let res = shop_c
            .post(app.url(&format!("/api/v1/conversations/{conv_id}/messages")))
            .header("x-csrf-token", &shop_csrf)
            .json(&json!({ "body": "Yes! Pay me directly by bank transfer to save fees, or write to me at deals@atlas-mail.example" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);

        let (_, inbox) = page(app, &buyer, "/messages").await;
        assert!(inbox.contains(&conversation) && inbox.contains("Shop atlas") && inbox.contains("About a listing"), "{inbox}");
        let (status, html) = page(app, &buyer, &conversation).await;
        assert_eq!(status, 200);
        assert!(html.contains("Pay me directly by bank transfer"));
        assert!(html.contains("class=\"scan-warning\"") && html.contains("no buyer protection"), "{html}");
        assert!(html.contains("shares contact details"), "{html}");
        // One report button: for the message received, not the buyer's own.
        assert_eq!(html.matches("/report/").count(), 1, "{html}");
        let start = html.find("/report/").unwrap() + 8;
        let message_id = html[start..start + 36].to_owned();

        let report = format!("{conversation}/report/{message_id}");
        let res = post_form(app, &buyer, &report, &[("csrf", &csrf), ("reason", "Asks to pay outside Souk")]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), format!("{conversation}?done=reported"));
        let res = post_form(app, &buyer, &report, &[("csrf", &csrf), ("reason", "Asks to pay outside Souk")]).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains("You already reported this message"));

        // A reply from the page reaches the shop.
        let res = post_form(app, &buyer, &conversation, &[("csrf", &csrf), ("body", "I will pay at checkout, thanks.")]).await;
        assert_eq!(res.status(), 303);
        let seen: Value = shop_c.get(app.url(&format!("/api/v1/conversations/{conv_id}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(seen["messages"][2]["body"], "I will pay at checkout, thanks.");
        let res = post_form(app, &buyer, &conversation, &[("csrf", &csrf), ("body", "")]).await;
        assert_eq!(res.status(), 422);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_tracked_confirmed_reviewed_once_and_the_shop_shows_its_reputation() {
    reviewed(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_tracked_confirmed_reviewed_once_and_the_shop_shows_its_reputation_postgres() {
    reviewed(Db::Postgres).await;
}

async fn reviewed(db: Db) {
    let Some(app) = TestApp::builder(db).set("market.dispute_window_days", "0").try_spawn().await else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let app = &app;
    let (shop_c, shop_csrf, shop, listing_id, var) =
        shop_with(app, "atlas@example.com", "atlas", "Stoneware mug", 2400, 3).await;
    let (buyer, csrf) = signed_in(app, "buyer@example.com").await;
    post_form(app, &buyer, "/cart/lines", &[("csrf", &csrf), ("variant", &var), ("quantity", "1")]).await;
    let (_, html) = page(app, &buyer, "/checkout").await;
    let key = field(&html, "idempotency_key");
    assert_eq!(field(&html, "items_minor"), "2400");
    assert!(html.contains("€28.90"), "items and standard shipping: {html}");
    let ship = format!("ship_{shop}");
    let mut form: Vec<(&str, &str)> =
        vec![("csrf", &csrf), ("idempotency_key", &key), ("items_minor", "2400"), (&ship, "standard")];
    form.extend(ADDRESS);
    // The price moves while the buyer reads the page: the checkout stops and shows why.
    let edit = |price: i64| {
        shop_c
            .put(app.url(&format!("/api/v1/seller/listings/{listing_id}")))
            .header("x-csrf-token", &shop_csrf)
            .json(&listing("Stoneware mug", "active", json!([variant("atlas-1", price, 3)])))
            .send()
    };
    assert_eq!(edit(2600).await.unwrap().status(), 200);
    let res = post_form(app, &buyer, "/checkout", &form).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("The total is now €30.90"), "{html}");
    assert_eq!(field(&html, "items_minor"), "2600");
    assert_eq!(
        buyer.get(app.url("/api/v1/orders")).send().await.unwrap().json::<Value>().await.unwrap()["items"],
        json!([])
    );
    assert_eq!(edit(2400).await.unwrap().status(), 200);
    // The key was given back: the same form goes through now, and a double click (two
    // submits at once) places one checkout: both land on it.
    let (first, second) =
        tokio::join!(post_form(app, &buyer, "/checkout", &form), post_form(app, &buyer, "/checkout", &form));
    assert_eq!((first.status().as_u16(), second.status().as_u16()), (303, 303));
    assert_eq!(location(&first), location(&second));
    let res = first;
    let checkout_id = location(&res).trim_start_matches("/checkout/").to_owned();
    let orders: Value = buyer.get(app.url("/api/v1/orders")).send().await.unwrap().json().await.unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "one order: {orders}");
    let order = orders["items"][0]["id"].as_str().unwrap().to_owned();
    let order_page = format!("/orders/{order}");
    let (_, html) = page(app, &buyer, &order_page).await;
    assert!(!html.contains("Review this order") && !html.contains("Confirm delivery"));

    // Paid by the payment step (as a connector will), shipped by the shop.
    souk_core::market::checkout::record_payment(app.state().souk(), &checkout_id, PaymentState::Paid)
        .await
        .unwrap();
    let res = shop_c
        .post(app.url(&format!("/api/v1/orders/{order}/actions")))
        .header("x-csrf-token", &shop_csrf)
        .json(&json!({ "action": "ship", "carrier": "dhl", "tracking_number": "jd014600003" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, html) = page(app, &buyer, &order_page).await;
    assert!(
        html.contains("class=\"panel tracking\"") && html.to_lowercase().contains("jd014600003"),
        "{html}"
    );
    assert!(
        html.contains("Confirm delivery") && !html.contains("Cancel order"),
        "no cancelling once shipped"
    );
    let res = post_form(app, &buyer, &format!("{order_page}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 409);
    let res = post_form(app, &buyer, &format!("{order_page}/confirm-delivery"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    let (_, html) = page(app, &buyer, &order_page).await;
    assert!(html.contains("data-status=\"delivered\""));
    let history = &html[html.find("class=\"history\"").unwrap()..];
    for step in ["awaiting payment", "Paid", "Shipped", "Delivered"] {
        assert!(history.contains(step), "{step}: {history}");
    }
    assert_eq!(souk_core::market::orders::advance_due(app.state().souk()).await.unwrap(), (0, 1));

    // Review once; a rating out of range or a second review shows the reason.
    let (_, html) = page(app, &buyer, &order_page).await;
    assert!(html.contains("Review this order"), "{html}");
    let review = format!("{order_page}/review");
    for bad in ["0", "6", "x"] {
        let res = post_form(app, &buyer, &review, &[("csrf", &csrf), ("rating", bad), ("body", "ok")]).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = post_form(
        app,
        &buyer,
        &review,
        &[("csrf", &csrf), ("rating", "4"), ("body", "Lovely mug, well packed."), ("shop_id", "x")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post_form(app, &buyer, &review, &[("csrf", &csrf), ("rating", "5"), ("body", "Again")]).await;
    assert_eq!(res.status(), 409);
    let reviews: Value = app.get("/api/v1/shops/atlas/reviews").await.json().await.unwrap();
    let review_id = reviews["items"][0]["id"].as_str().unwrap().to_owned();
    let res = shop_c
        .post(app.url(&format!("/api/v1/reviews/{review_id}/reply")))
        .header("x-csrf-token", &shop_csrf)
        .json(&json!({ "text": "Thank you, come again!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // The order shows the review and the reply instead of the form.
    let (_, html) = page(app, &buyer, &order_page).await;
    assert!(!html.contains("Review this order") && html.contains("Your review"), "{html}");
    assert!(html.contains("★★★★<") || html.contains("★★★★</span>"), "four stars: {html}");
    assert!(html.contains("Lovely mug, well packed.") && html.contains("Thank you, come again!"));
    // The shop's page: return policy, reputation, the review and the reply.
    let (status, html) = page(app, &app.browser_client(), "/shops/atlas").await;
    assert_eq!(status, 200);
    assert!(html.contains("30 days"), "return policy: {html}");
    assert!(
        html.contains("4.0 / 5") && html.contains("from 1 review ") && html.contains("1 completed order"),
        "{html}"
    );
    assert!(html.contains("Lovely mug, well packed.") && html.contains("Thank you, come again!"));
}
