//! Listings over real HTTPS: a seller lists items with variants, edits them, finds them by
//! full-text search; an unverified shop meets its cap; trust & safety takes one down.
//! With the attacks: another shop's listing (BOLA), a shop id or a status smuggled in the
//! body (mass assignment), negative and huge numbers, the wrong currency, prohibited
//! items, search text that tries to be query syntax, API keys without the scope.

use serde_json::{Value, json};
use souk_testkit::{TestApp, backend_tests};

use crate::actors::{open_shop, seller, staff};
use crate::assert_problem;

#[allow(clippy::needless_pass_by_value, reason = "callers build the variants inline")]
pub fn listing(title: &str, status: &str, variants: Value) -> Value {
    json!({ "title": title, "description": "Wheel-thrown in Lyon, glazed by hand.", "category": "home", "status": status, "variants": variants })
}

pub fn variant(sku: &str, price: i64, stock: i64) -> Value {
    json!({ "sku": sku, "name": format!("Colour {sku}"), "price_minor": price, "currency": "EUR", "stock": stock })
}

pub async fn create(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    shop: &str,
    body: &Value,
) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/seller/shops/{shop}/listings")))
        .header("x-csrf-token", csrf)
        .json(body)
        .send()
        .await
        .unwrap()
}

backend_tests! {
    async fn sellers_list_edit_and_find_their_items(app) {
        let (owner, csrf) = seller(app, "owner@example.com").await;
        let shop = open_shop(app, &owner, &csrf, "atlas").await;
        let res = create(app, &owner, &csrf, &shop, &listing("Stoneware mug", "active", json!([variant("MUG-BLUE", 2400, 3), variant("MUG-SAND", 2200, 2)]))).await;
        assert_eq!(res.status(), 201);
        let created: Value = res.json().await.unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(created["from_price_minor"], 2200);
        assert_eq!(created["stock"], 5);
        assert_eq!(created["variants"].as_array().unwrap().len(), 2);
        let public: Value = app.get(&format!("/api/v1/listings/{id}")).await.json().await.unwrap();
        assert_eq!(public["variants"][0]["sku"], "MUG-BLUE");
        assert_eq!(public["price"]["amount_minor"], 2200);

        // Full-text search: prefixes match, anything that looks like query syntax is only text.
        let found: Value = app.get("/api/v1/listings?q=stonew").await.json().await.unwrap();
        assert!(found["data"].as_array().unwrap().iter().any(|l| l["id"] == id.as_str()), "{found}");
        for hostile in ["%22%20OR%20", "NEAR(a%20b)", "mug%22*%20AND%20-", "title%3Amug", "%27%3B%20DROP%20TABLE%20listings%3B--"] {
            let res = app.get(&format!("/api/v1/listings?q={hostile}")).await;
            assert_eq!(res.status(), 200, "{hostile}");
        }
        let none: Value = app.get("/api/v1/listings?q=stonew&category=books").await.json().await.unwrap();
        assert!(none["data"].as_array().unwrap().is_empty());

        // Bad numbers, the wrong currency, a duplicate SKU, a status only staff may set.
        for (body, why) in [
            (listing("Mug", "active", json!([variant("A", -100, 1)])), "negative price"),
            (listing("Mug", "active", json!([variant("A", 0, 1)])), "zero price"),
            (listing("Mug", "active", json!([variant("A", 100, -1)])), "negative stock"),
            (listing("Mug", "active", json!([variant("A", 100, 10_000_000_000i64)])), "huge stock"),
            (listing("Mug", "active", json!([variant("A", i64::MAX, 1)])), "huge price"),
            (listing("Mug", "active", json!([{ "sku": "A", "price_minor": 100, "currency": "USD", "stock": 1 }])), "currency"),
            (listing("Mug", "active", json!([variant("A", 100, 1), variant("a", 100, 1)])), "duplicate SKU"),
            (listing("Mug", "removed", json!([variant("A", 100, 1)])), "staff status"),
            (listing("Mug", "active", json!([])), "no variants"),
        ] {
            let res = create(app, &owner, &csrf, &shop, &body).await;
            assert_problem(res, 400, "invalid_parameter").await;
            let _ = why;
        }
        // Mass assignment: the shop comes from the path, never the body.
        let mut smuggled = listing("Mug", "active", json!([variant("B", 100, 1)]));
        smuggled["shop_id"] = json!("00000000-0000-7000-8000-000000000000");
        assert_problem(create(app, &owner, &csrf, &shop, &smuggled).await, 422, "unprocessable").await;
        // Prohibited items are refused and the attempt is kept.
        let res = create(app, &owner, &csrf, &shop, &listing("Replica designer watch", "active", json!([variant("W", 5000, 1)]))).await;
        let body = assert_problem(res, 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().contains("prohibited"), "{body}");

        // BOLA: another seller can neither list in this shop nor touch its listings.
        let (rival, rival_csrf) = seller(app, "rival@example.com").await;
        let rival_shop = open_shop(app, &rival, &rival_csrf, "rival").await;
        let res = create(app, &rival, &rival_csrf, &shop, &listing("Mine", "active", json!([variant("R", 100, 1)]))).await;
        assert_problem(res, 403, "forbidden").await;
        let res = rival.put(app.url(&format!("/api/v1/seller/listings/{id}"))).header("x-csrf-token", &rival_csrf).json(&listing("Pwned", "paused", json!([variant("MUG-BLUE", 1, 1)]))).send().await.unwrap();
        assert_problem(res, 403, "forbidden").await;
        assert_problem(rival.get(app.url(&format!("/api/v1/seller/listings/{id}"))).send().await.unwrap(), 404, "not_found").await;
        assert_problem(rival.get(app.url(&format!("/api/v1/seller/shops/{shop}/listings"))).send().await.unwrap(), 404, "not_found").await;
        // SKUs are unique within a shop, not across shops.
        assert_eq!(create(app, &rival, &rival_csrf, &rival_shop, &listing("Rival mug", "draft", json!([variant("MUG-BLUE", 900, 1)]))).await.status(), 201);
        assert_problem(create(app, &owner, &csrf, &shop, &listing("Another mug", "draft", json!([variant("MUG-BLUE", 900, 1)]))).await, 409, "conflict").await;

        // Editing: a variant dropped is archived (kept for orders), prices and stock move.
        let res = owner.put(app.url(&format!("/api/v1/seller/listings/{id}"))).header("x-csrf-token", &csrf).json(&listing("Stoneware mug, large", "active", json!([variant("MUG-BLUE", 2600, 4)]))).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let edited: Value = res.json().await.unwrap();
        assert_eq!(edited["from_price_minor"], 2600);
        assert_eq!(edited["stock"], 4);
        assert_eq!(edited["variants"].as_array().unwrap().len(), 1);
        assert_eq!(edited["variants"][0]["id"], created["variants"][0]["id"], "a kept SKU keeps its variant id");

        // The unverified cap: five active listings, then only drafts.
        for n in 2..=5 {
            let res = create(app, &owner, &csrf, &shop, &listing(&format!("Bowl {n}"), "active", json!([variant(&format!("BOWL-{n}"), 1500, 1)]))).await;
            assert_eq!(res.status(), 201);
        }
        let res = create(app, &owner, &csrf, &shop, &listing("Bowl 6", "active", json!([variant("BOWL-6", 1500, 1)]))).await;
        let body = assert_problem(res, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().contains("5 active listings"), "{body}");
        let res = create(app, &owner, &csrf, &shop, &listing("Bowl 6", "draft", json!([variant("BOWL-6", 1500, 1)]))).await;
        assert_eq!(res.status(), 201);
        let page: Value = owner.get(app.url(&format!("/api/v1/seller/shops/{shop}/listings?status=draft"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        let draft_id = page["items"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/api/v1/listings/{draft_id}")).await.status(), 404, "drafts are not on the storefront");

        // API keys: listings:write may list; a key without it may not.
        let key = |scopes: &str| {
            owner.post(app.url("/api/v1/me/api-keys")).header("x-csrf-token", &csrf).json(&json!({ "name": format!("key {scopes}"), "scopes": scopes, "expires_in_days": 30 })).send()
        };
        let write: Value = key("listings:read listings:write").await.unwrap().json().await.unwrap();
        let read_only: Value = key("orders:read").await.unwrap().json().await.unwrap();
        let bot = &app.client;
        let body = listing("Bot bowl", "draft", json!([variant("BOT-1", 1500, 1)]));
        let res = bot.post(app.url(&format!("/api/v1/seller/shops/{shop}/listings"))).bearer_auth(write["token"].as_str().unwrap()).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let res = bot.post(app.url(&format!("/api/v1/seller/shops/{shop}/listings"))).bearer_auth(read_only["token"].as_str().unwrap()).json(&body).send().await.unwrap();
        assert_problem(res, 403, "forbidden").await;

        // Photos: judged by content, re-encoded (nothing appended survives), served with a
        // thumbnail; another shop cannot add any.
        let mut png = Vec::new();
        image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([u8::try_from(x * 3).unwrap(), u8::try_from(y * 5).unwrap(), 90]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png.extend_from_slice(b"<script>alert('polyglot')</script>");
        let upload = |c: &reqwest::Client, csrf: &str, bytes: Vec<u8>| {
            c.post(app.url(&format!("/api/v1/seller/listings/{id}/images?alt=Blue%20mug"))).header("x-csrf-token", csrf).header("content-type", "image/gif").body(bytes).send()
        };
        assert_problem(upload(&rival, &rival_csrf, png.clone()).await.unwrap(), 403, "forbidden").await;
        assert_problem(upload(&owner, &csrf, b"GIF89a not really".to_vec()).await.unwrap(), 400, "invalid_parameter").await;
        let res = upload(&owner, &csrf, png).await.unwrap();
        assert_eq!(res.status(), 201);
        let img: Value = res.json().await.unwrap();
        assert_eq!((img["width"].as_i64(), img["height"].as_i64(), img["alt_text"].as_str()), (Some(64), Some(48), Some("Blue mug")));
        let full = app.get(img["url"].as_str().unwrap()).await;
        assert_eq!(full.headers()["content-type"], "image/png");
        let bytes = full.bytes().await.unwrap();
        assert!(!bytes.windows(8).any(|w| w == b"<script>"), "appended bytes are gone");
        assert_eq!(app.get(img["thumbnail_url"].as_str().unwrap()).await.status(), 200);
        let card: Value = app.get("/api/v1/listings?q=stoneware").await.json().await.unwrap();
        assert_eq!(card["data"][0]["image_url"], img["thumbnail_url"]);

        // Trust & safety takes a listing down: gone from the storefront, frozen for the shop.
        let people = staff(app, &[("tess@example.com", &["trust_safety"])]).await;
        let (tess, tess_csrf) = &people[1];
        let takedown = |who: &reqwest::Client, csrf: &str| {
            who.post(app.url(&format!("/api/v1/staff/listings/{id}/takedown"))).header("x-csrf-token", csrf).json(&json!({ "reason": "Listed in the wrong category repeatedly." })).send()
        };
        assert_problem(takedown(&owner, &csrf).await.unwrap(), 403, "forbidden").await;
        assert_eq!(takedown(tess, tess_csrf).await.unwrap().status(), 204);
        assert_problem(takedown(tess, tess_csrf).await.unwrap(), 409, "conflict").await;
        assert_eq!(app.get(&format!("/api/v1/listings/{id}")).await.status(), 404);
        assert_eq!(app.get(img["url"].as_str().unwrap()).await.status(), 404, "its photos go with it");
        let own = format!("/api/v1/seller/listings/{id}/images/{}/thumb", img["id"].as_str().unwrap());
        assert_eq!(owner.get(app.url(&own)).send().await.unwrap().status(), 200, "the shop still sees them");
        assert_problem(rival.get(app.url(&own)).send().await.unwrap(), 404, "not_found").await;
        let res = owner.put(app.url(&format!("/api/v1/seller/listings/{id}"))).header("x-csrf-token", &csrf).json(&listing("Back again", "active", json!([variant("MUG-BLUE", 2600, 4)]))).send().await.unwrap();
        assert_problem(res, 409, "conflict").await;
        let mail = app.mail_to("owner@example.com", "taken down").await;
        assert!(mail.body.contains("wrong category"), "{}", mail.body);
    }
}
