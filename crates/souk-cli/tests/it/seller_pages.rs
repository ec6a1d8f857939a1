//! The seller hub and the staff console as pages, over real HTTPS with form posts: a seller
//! opens a shop, lists an item (decimal prices, a photo checked by content), submits the
//! shop for verification, invites a fulfilment member, ships a paid order; trust & safety
//! verify the shop and take a listing down. With the attacks: CSRF on every form, no
//! session, another seller's listing and order (BOLA), a fulfilment member editing or
//! inviting, non-staff on the console, bad prices, a text file named `.png`.

use serde_json::{Value, json};
use souk_core::market::steps::PaymentState;
use souk_domain::{Clock as _, FakeClock, SystemClock};
use souk_testkit::{TestApp, link_token};

use crate::actors::{seller, staff};
use crate::identity::signed_in;
use crate::mfa::enable_totp;

pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// A small PNG photo.
pub fn png() -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([u8::try_from(x * 3).unwrap(), u8::try_from(y * 5).unwrap(), 90])
    })
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    png
}

/// The CSRF token of the first form of a page.
pub fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form with a CSRF token")
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

pub async fn page(app: &TestApp, c: &reqwest::Client, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Posts a form as a browser would (with its `Origin`); returns the status, the `Location`
/// and the body.
pub async fn post_form(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let res = c.post(app.url(path)).header("origin", &app.base).form(fields).send().await.unwrap();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status().as_u16(), location, res.text().await.unwrap())
}

/// Posts a multipart form with text fields and one file.
pub async fn post_multipart(
    app: &TestApp,
    c: &reqwest::Client,
    path: &str,
    fields: &[(&str, &str)],
    file: (&str, &str, &str, &[u8]),
) -> (u16, String, String) {
    let boundary = "----soukTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    let (name, filename, ctype, bytes) = file;
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = c
        .post(app.url(path))
        .header("origin", &app.base)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let location = res.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status().as_u16(), location, res.text().await.unwrap())
}

/// The listing form's fields with one variant.
fn listing_fields<'a>(
    csrf: &'a str,
    title: &'a str,
    price: &'a str,
    status: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("title", title),
        ("description", "Wheel-thrown in Lyon."),
        ("category", "home"),
        ("status", status),
        ("sku", "MUG-1"),
        ("variant_name", "Blue"),
        ("price", price),
        ("stock", "3"),
        ("sku", ""),
        ("variant_name", ""),
        ("price", ""),
        ("stock", ""),
    ]
}

/// Opens a shop through the page and returns the dashboard's HTML.
pub async fn open_shop_page(app: &TestApp, c: &reqwest::Client, slug: &str) -> String {
    let (status, html) = page(app, c, "/seller").await;
    assert_eq!(status, 200);
    assert!(html.contains("Open a shop"), "{html}");
    let csrf = csrf_in(&html);
    let name = format!("Shop {slug}");
    let contact = format!("help@{slug}.example");
    let (status, location, _) = post_form(
        app,
        c,
        "/seller/shops",
        &[
            ("csrf", &csrf),
            ("name", &name),
            ("slug", slug),
            ("description", "Made by hand"),
            ("contact", &contact),
            ("return_policy", "30 days"),
            ("seller_kind", "business"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/seller?done=opened"));
    page(app, c, "/seller").await.1
}

/// Creates a listing through the page; returns its id.
pub async fn list_item(app: &TestApp, c: &reqwest::Client, title: &str, price: &str) -> String {
    let (_, html) = page(app, c, "/seller/listings/new").await;
    let csrf = csrf_in(&html);
    let (status, location, body) =
        post_form(app, c, "/seller/listings/new", &listing_fields(&csrf, title, price, "active")).await;
    assert_eq!(status, 303, "{body}");
    location.strip_prefix("/seller/listings/").unwrap().split('/').next().unwrap().to_owned()
}

async fn api_listing(app: &TestApp, c: &reqwest::Client, id: &str) -> Value {
    c.get(app.url(&format!("/api/v1/seller/listings/{id}"))).send().await.unwrap().json().await.unwrap()
}

/// A buyer's placed checkout of one unit of the listing's first variant; returns (checkout,
/// order) ids.
pub async fn buy(
    app: &TestApp,
    buyer: &reqwest::Client,
    csrf: &str,
    variant: &str,
    shop: &str,
) -> (String, String) {
    let res = buyer
        .put(app.url(&format!("/api/v1/cart/lines/{variant}")))
        .header("x-csrf-token", csrf)
        .json(&json!({ "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{:?}", res.text().await);
    let body = json!({ "shipping_address": { "name": "Amina K", "line1": "3 rue X", "postal_code": "69001", "city": "Lyon", "country": "FR" }, "shipping": { shop: "standard" } });
    let res = buyer
        .post(app.url("/api/v1/checkout"))
        .header("x-csrf-token", csrf)
        .header("idempotency-key", "page-k1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let placed: Value = res.json().await.unwrap();
    (placed["id"].as_str().unwrap().to_owned(), placed["orders"][0]["id"].as_str().unwrap().to_owned())
}

/// A server for a long page test: every client here shares one address, so the rate
/// limiter's burst is raised for it.
async fn spawn(db: souk_testkit::Db) -> Option<TestApp> {
    let app = TestApp::builder(db)
        .set("market.dispute_window_days", "0")
        .set("rate_limit.burst", "2000")
        .try_spawn()
        .await;
    if app.is_none() {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
    }
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seller_hub_pages_sell_ship_and_resist_attacks_sqlite() {
    let Some(app) = spawn(souk_testkit::Db::Sqlite).await else { return };
    seller_hub(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seller_hub_pages_sell_ship_and_resist_attacks_postgres() {
    let Some(app) = spawn(souk_testkit::Db::Postgres).await else { return };
    seller_hub(&app).await;
    app.stop().await;
}

#[allow(clippy::many_single_char_names, reason = "one long scenario, as in the other page tests")]
async fn seller_hub(app: &TestApp) {
    {
        // No session: sent to sign in, and back.
        let anon = app.browser_client();
        for (path, next) in [
            ("/seller", "/seller"),
            ("/seller/listings/new", "/seller/listings/new"),
            ("/staff/verifications", "/staff/verifications"),
        ] {
            let res = anon.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 303, "{path}");
            assert_eq!(res.headers()["location"], format!("/login?next={next}").as_str());
        }
        let (status, location, _) = post_form(
            app,
            &anon,
            "/seller/shops",
            &[("csrf", "x"), ("name", "n"), ("slug", "s"), ("contact", "c"), ("seller_kind", "business")],
        )
        .await;
        assert_eq!((status, location.as_str()), (303, "/login?next=/seller"));

        let (owner, _) = seller(app, "potter@example.com").await;
        // CSRF: a form without this session's token changes nothing.
        let (status, _, _) = post_form(
            app,
            &owner,
            "/seller/shops",
            &[
                ("csrf", "forged"),
                ("name", "Forged"),
                ("slug", "forged"),
                ("contact", "a@b.example"),
                ("seller_kind", "business"),
            ],
        )
        .await;
        assert_eq!(status, 403);
        // A bad address is explained next to the form, with what was typed kept.
        let (_, html) = page(app, &owner, "/seller").await;
        let csrf = csrf_in(&html);
        let (status, _, body) = post_form(
            app,
            &owner,
            "/seller/shops",
            &[
                ("csrf", &csrf),
                ("name", "Atelier Potter"),
                ("slug", "Not A Slug!"),
                ("contact", "a@b.example"),
                ("seller_kind", "business"),
            ],
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("alert-error") && body.contains("Atelier Potter"), "{body}");

        let dashboard = open_shop_page(app, &owner, "potter").await;
        assert!(dashboard.contains("id=\"shop-status\">unverified<"), "{dashboard}");
        assert!(dashboard.contains("Active listings: 0 of at most"), "{dashboard}");
        assert!(dashboard.contains("Payouts are held"), "{dashboard}");
        let csrf = csrf_in(&page(app, &owner, "/seller/listings/new").await.1);

        // Prices: bad decimals are refused with a readable reason, next to the form (422).
        for (price, reason) in [
            ("12.345", "at most 2 decimals"),
            ("-1", "cannot be negative"),
            ("1e9", "digits and one decimal point"),
            ("abc", "digits and one decimal point"),
            ("1000000000", "at most 1000000"),
        ] {
            let (status, _, body) = post_form(
                app,
                &owner,
                "/seller/listings/new",
                &listing_fields(&csrf, "Blue mug", price, "active"),
            )
            .await;
            assert_eq!(status, 422, "{price}");
            assert!(
                body.contains(&format!("Variant 1 price: {reason}")) || body.contains(reason),
                "{price}: {body}"
            );
            assert!(body.contains("value=\"Blue mug\""), "the form keeps what was typed");
        }
        // Prohibited items: the use case's refusal, shown next to the form.
        let (status, _, body) = post_form(
            app,
            &owner,
            "/seller/listings/new",
            &listing_fields(&csrf, "Replica designer watch", "50", "active"),
        )
        .await;
        assert_eq!(status, 422);
        assert!(body.contains("prohibited"), "{body}");
        let (status, _, _) = post_form(
            app,
            &owner,
            "/seller/listings/new",
            &listing_fields("forged", "Blue mug", "12.50", "active"),
        )
        .await;
        assert_eq!(status, 403);

        let listing = list_item(app, &owner, "Blue mug", "12.50").await;
        let l = api_listing(app, &owner, &listing).await;
        assert_eq!(l["variants"][0]["price"]["amount_minor"], 1250);
        assert_eq!(l["status"], "active");
        let (status, edit) = page(app, &owner, &format!("/seller/listings/{listing}/edit")).await;
        assert_eq!(status, 200);
        assert!(edit.contains("value=\"12.50\"") && edit.contains("value=\"MUG-1\""), "{edit}");

        // Photos: by content; a text file named .png is refused; the token is checked.
        let photo_path = format!("/seller/listings/{listing}/images");
        let (status, _, _) = post_multipart(
            app,
            &owner,
            &photo_path,
            &[("csrf", "forged"), ("alt", "x")],
            ("photo", "mug.png", "image/png", &png()),
        )
        .await;
        assert_eq!(status, 403);
        let (status, _, body) = post_multipart(
            app,
            &owner,
            &photo_path,
            &[("csrf", &csrf), ("alt", "x")],
            ("photo", "mug.png", "image/png", b"this is not an image at all"),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("alert-error"), "{body}");
        let (status, location, body) = post_multipart(
            app,
            &owner,
            &photo_path,
            &[("csrf", &csrf), ("alt", "The blue mug")],
            ("photo", "mug.png", "image/png", &png()),
        )
        .await;
        assert_eq!(status, 303, "{body}");
        assert!(location.ends_with("?done=photo"));
        let (_, edit) = page(app, &owner, &format!("/seller/listings/{listing}/edit")).await;
        let thumb = format!(
            "/api/v1/seller/listings/{}",
            edit.split("<img src=\"/api/v1/seller/listings/")
                .nth(1)
                .expect("a thumbnail")
                .split('"')
                .next()
                .unwrap()
        );
        assert!(thumb.starts_with(&format!("/api/v1/seller/listings/{listing}/images/")), "{thumb}");
        let res = owner.get(app.url(&thumb)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("image/"));

        // Edit: a new price and status.
        let (status, location, body) = post_form(
            app,
            &owner,
            &format!("/seller/listings/{listing}/edit"),
            &listing_fields(&csrf, "Blue mug, large", "14", "paused"),
        )
        .await;
        assert_eq!(status, 303, "{body}");
        assert!(location.ends_with("?done=saved"));
        let l = api_listing(app, &owner, &listing).await;
        assert_eq!(
            (l["title"].as_str(), l["status"].as_str(), l["variants"][0]["price"]["amount_minor"].as_i64()),
            (Some("Blue mug, large"), Some("paused"), Some(1400))
        );
        let (status, location, _) = post_form(
            app,
            &owner,
            &format!("/seller/listings/{listing}/edit"),
            &listing_fields(&csrf, "Blue mug", "12.50", "active"),
        )
        .await;
        assert_eq!((status, location.ends_with("?done=saved")), (303, true));

        // BOLA: another seller sees 404 and changes nothing.
        let (rival, _) = seller(app, "rival@example.com").await;
        let rival_home = open_shop_page(app, &rival, "rival").await;
        assert!(rival_home.contains("Shop rival"));
        let rival_csrf = csrf_in(&page(app, &rival, "/seller/listings/new").await.1);
        assert_eq!(page(app, &rival, &format!("/seller/listings/{listing}/edit")).await.0, 404);
        let (status, _, _) = post_form(
            app,
            &rival,
            &format!("/seller/listings/{listing}/edit"),
            &listing_fields(&rival_csrf, "Stolen", "1", "active"),
        )
        .await;
        assert_eq!(status, 404);
        let (status, _, _) = post_multipart(
            app,
            &rival,
            &photo_path,
            &[("csrf", &rival_csrf)],
            ("photo", "x.png", "image/png", &png()),
        )
        .await;
        assert_eq!(status, 404);
        let l = api_listing(app, &owner, &listing).await;
        assert_eq!(l["title"], "Blue mug");
        assert_eq!(l["images"].as_array().unwrap().len(), 1);

        // Verification: details and a document, through the same use cases as the API.
        let (_, v) = page(app, &owner, "/seller/verification").await;
        assert!(v.contains("id=\"verification-form\""), "{v}");
        let fields = [
            ("csrf", csrf.as_str()),
            ("legal_name", "Potter SARL"),
            ("address", "3 rue des Potiers, Lyon"),
            ("registration_number", "FR12345678901"),
        ];
        let (status, _, body) = post_multipart(
            app,
            &owner,
            "/seller/verification/documents",
            &fields,
            ("document", "id.png", "image/png", b"GIF89a not really"),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        let (status, location, body) = post_multipart(
            app,
            &owner,
            "/seller/verification/documents",
            &fields,
            ("document", "id.pdf", "application/pdf", PDF),
        )
        .await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(location, "/seller/verification?done=submitted");
        let (_, v) = page(app, &owner, "/seller/verification").await;
        assert!(
            v.contains("Your shop is <strong>submitted</strong>") && v.contains("waiting for review"),
            "{v}"
        );
        assert!(!v.contains("id=\"verification-form\""), "no second submission while one waits");

        // Staff: invite a fulfilment member, who joins from the link's page.
        let (status, _, _) = post_form(
            app,
            &owner,
            "/seller/staff/invite",
            &[("csrf", "forged"), ("email", "packer@example.com"), ("role", "fulfilment")],
        )
        .await;
        assert_eq!(status, 403);
        let (status, location, _) = post_form(
            app,
            &owner,
            "/seller/staff/invite",
            &[("csrf", &csrf), ("email", "packer@example.com"), ("role", "fulfilment")],
        )
        .await;
        assert_eq!((status, location.as_str()), (303, "/seller/staff?done=invited"));
        let (_, staff_page) = page(app, &owner, "/seller/staff").await;
        assert!(staff_page.contains("<td>fulfilment</td><td>open</td>"), "{staff_page}");
        let mail = app.mail_to("packer@example.com", "invited").await;
        let token = link_token(&mail.body, "https://localhost");
        // The mailed link's page: signed out, it sends the invitee to sign in and back.
        let res =
            anon.get(app.url(&format!("/seller/invitations/accept?token={token}"))).send().await.unwrap();
        assert_eq!(res.status(), 303);
        let to_login = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(to_login.starts_with("/login?next=/seller/invitations/accept%3Ftoken%3D"), "{to_login}");
        let (packer, packer_csrf) = signed_in(app, "packer@example.com").await;
        enable_totp(app, &packer, &packer_csrf, &FakeClock::at(SystemClock.now())).await;
        let (status, accept) = page(app, &packer, &format!("/seller/invitations/accept?token={token}")).await;
        assert_eq!(status, 200);
        let (status, location, body) = post_form(
            app,
            &packer,
            "/seller/invitations/accept",
            &[("csrf", &csrf_in(&accept)), ("token", &token)],
        )
        .await;
        assert_eq!((status, location.as_str()), (303, "/seller?done=joined"), "{body}");
        let (_, packer_home) = page(app, &packer, "/seller").await;
        assert!(packer_home.contains("Your role: <strong>fulfilment</strong>"), "{packer_home}");
        let packer_csrf = csrf_in(&page(app, &packer, "/seller/listings/new").await.1);
        // Fulfilment cannot edit listings or invite; the pages do not offer it.
        let (status, read_only) = page(app, &packer, &format!("/seller/listings/{listing}/edit")).await;
        assert_eq!(status, 200);
        assert!(
            read_only.contains("id=\"read-only\"") && !read_only.contains("id=\"photo-form\""),
            "{read_only}"
        );
        let (_, packer_staff) = page(app, &packer, "/seller/staff").await;
        assert!(!packer_staff.contains("id=\"invite-form\""), "{packer_staff}");
        let (status, _, _) = post_form(
            app,
            &packer,
            &format!("/seller/listings/{listing}/edit"),
            &listing_fields(&packer_csrf, "Packer's mug", "1", "active"),
        )
        .await;
        assert!(status == 403 || status == 404, "{status}");
        let (status, _, _) = post_form(
            app,
            &packer,
            "/seller/staff/invite",
            &[("csrf", &packer_csrf), ("email", "friend@example.com"), ("role", "manager")],
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(api_listing(app, &owner, &listing).await["title"], "Blue mug");

        // An order: not shippable before payment (explained), shipped once paid.
        let variant =
            api_listing(app, &owner, &listing).await["variants"][0]["id"].as_str().unwrap().to_owned();
        let shop_id: Value =
            owner.get(app.url("/api/v1/seller/shops")).send().await.unwrap().json().await.unwrap();
        let shop_id = shop_id[0]["id"].as_str().unwrap().to_owned();
        let (buyer, buyer_csrf) = signed_in(app, "buyer@example.com").await;
        let (checkout, order) = buy(app, &buyer, &buyer_csrf, &variant, &shop_id).await;
        let (_, orders) = page(app, &owner, "/seller/orders").await;
        assert!(orders.contains(&format!("/seller/orders/{order}")), "{orders}");
        let order_path = format!("/seller/orders/{order}");
        let (status, o) = page(app, &owner, &order_path).await;
        assert_eq!(status, 200);
        assert!(o.contains("Awaiting the buyer&#39;s payment") && !o.contains("id=\"ship-form\""), "{o}");
        assert!(o.contains("Amina K"), "the shop sees where to ship");
        let ship_path = format!("/seller/orders/{order}/ship");
        let ship = |c: &reqwest::Client, csrf: &str, tracking: &str| {
            let (c, csrf, tracking, path) =
                (c.clone(), csrf.to_owned(), tracking.to_owned(), ship_path.clone());
            async move {
                post_form(
                    app,
                    &c,
                    &path,
                    &[("csrf", &csrf), ("carrier", "dhl"), ("tracking_number", &tracking)],
                )
                .await
            }
        };
        let (status, _, body) = ship(&owner, &csrf, "JD014600003").await;
        assert_eq!(status, 409, "{body}");
        assert!(body.contains("Awaiting the buyer&#39;s payment"), "{body}");
        souk_core::market::checkout::record_payment(app.state().souk(), &checkout, PaymentState::Paid)
            .await
            .unwrap();
        let (_, o) = page(app, &owner, &order_path).await;
        assert!(o.contains("id=\"ship-form\""), "{o}");
        // BOLA on orders: the rival sees nothing and cannot ship.
        assert_eq!(page(app, &rival, &order_path).await.0, 404);
        assert_eq!(ship(&rival, &rival_csrf, "JD014600003").await.0, 404);
        // The buyer cannot use the seller's page either.
        assert_eq!(page(app, &buyer, &order_path).await.0, 404);
        assert_eq!(ship(&owner, "forged", "JD014600003").await.0, 403);
        let (status, _, body) = ship(&owner, &csrf, "x").await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("alert-error"), "{body}");
        // Fulfilment ships.
        let (status, location, body) = ship(&packer, &packer_csrf, "JD014600003").await;
        assert_eq!(status, 303, "{body}");
        assert!(location.ends_with("?done=shipped"));
        let mine: Value = buyer
            .get(app.url(&format!("/api/v1/orders/{order}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine["order"]["status"], "shipped", "{mine}");
        let (_, o) = page(app, &owner, &order_path).await;
        assert!(o.contains("tracking number JD014600003"), "{o}");

        // The staff console: not for sellers; trust & safety verify; support only look.
        assert_eq!(page(app, &owner, "/staff/verifications").await.0, 404);
        assert_eq!(page(app, &owner, &format!("/staff/listings/{listing}/takedown")).await.0, 404);
        let people =
            staff(app, &[("tess@example.com", &["trust_safety"]), ("sam@example.com", &["support"])]).await;
        let (tess, _) = &people[1];
        let (sam, _) = &people[2];
        let (status, queue) = page(app, tess, "/staff/verifications").await;
        assert_eq!(status, 200);
        assert!(queue.contains("Shop potter"), "{queue}");
        assert!(queue.contains("href=\"/staff\">Console</a>"), "the console link for staff");
        assert!(page(app, tess, "/").await.1.contains("href=\"/staff\">Console</a>"), "on every page");
        let (_, storefront) = page(app, &owner, "/").await;
        assert!(
            storefront.contains("href=\"/seller\">Sell</a>") && !storefront.contains("href=\"/staff\""),
            "not for sellers"
        );
        let review =
            queue.split("href=\"/staff/verifications/").nth(1).unwrap().split('"').next().unwrap().to_owned();
        assert_eq!(page(app, sam, "/staff/verifications").await.0, 403);
        let (status, r) = page(app, tess, &format!("/staff/verifications/{review}")).await;
        assert_eq!(status, 200);
        assert!(
            r.contains("Potter SARL") && r.contains("FR12345678901"),
            "decrypted for trust & safety: {r}"
        );
        let doc = r.split("<a href=\"/api/v1/seller/shops/").nth(1).unwrap().split('"').next().unwrap();
        let res = tess.get(app.url(&format!("/api/v1/seller/shops/{doc}"))).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-security-policy"], "sandbox; default-src 'none'");
        let tess_csrf = csrf_in(&r);
        let decide = format!("/staff/verifications/{review}/decision");
        assert_eq!(post_form(app, tess, &decide, &[("csrf", "forged"), ("decision", "verify")]).await.0, 403);
        assert_eq!(post_form(app, &owner, &decide, &[("csrf", &csrf), ("decision", "verify")]).await.0, 404);
        let (status, _, body) =
            post_form(app, tess, &decide, &[("csrf", &tess_csrf), ("decision", "reject")]).await;
        assert_eq!(status, 422, "a rejection needs a reason: {body}");
        let (status, location, body) =
            post_form(app, tess, &decide, &[("csrf", &tess_csrf), ("decision", "verify")]).await;
        assert_eq!(status, 303, "{body}");
        assert!(location.ends_with("?done=verified"));
        let (_, home) = page(app, &owner, "/seller").await;
        assert!(home.contains("id=\"shop-status\">verified<"), "{home}");

        // Takedown with a reason; the shop sees why.
        let takedown = format!("/staff/listings/{listing}/takedown");
        let (status, t) = page(app, tess, &takedown).await;
        assert_eq!(status, 200);
        assert!(t.contains("id=\"takedown-form\""), "{t}");
        let (status, t_support) = page(app, sam, &takedown).await;
        assert_eq!(status, 200);
        assert!(
            !t_support.contains("id=\"takedown-form\"") && t_support.contains("Only trust &amp; safety"),
            "{t_support}"
        );
        // Whatever a page shows, the use case decides: support cannot take listings down.
        let support_csrf = csrf_in(&page(app, sam, "/account/security").await.1);
        assert_eq!(
            post_form(app, sam, &takedown, &[("csrf", &support_csrf), ("reason", "Counterfeit")]).await.0,
            403
        );
        assert_eq!(
            post_form(app, tess, &takedown, &[("csrf", "forged"), ("reason", "Counterfeit")]).await.0,
            403
        );
        assert_eq!(
            post_form(app, &owner, &takedown, &[("csrf", &csrf), ("reason", "Counterfeit")]).await.0,
            404
        );
        let (status, _, _) = post_form(
            app,
            tess,
            &takedown,
            &[("csrf", &csrf_in(&t)), ("reason", "Counterfeit of a protected design")],
        )
        .await;
        assert_eq!(status, 303);
        assert_eq!(api_listing(app, &owner, &listing).await["status"], "removed");
        let (_, mine) = page(app, &owner, "/seller/listings").await;
        assert!(mine.contains("Taken down: Counterfeit of a protected design"), "{mine}");
        let (status, reports) = page(app, tess, "/staff/reports").await;
        assert_eq!(status, 200);
        assert!(reports.contains("No open reports"), "{reports}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_cancellations_reports_removals_and_suspension_as_pages_sqlite() {
    after_sale(souk_testkit::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_cancellations_reports_removals_and_suspension_as_pages_postgres() {
    after_sale(souk_testkit::Db::Postgres).await;
}

async fn after_sale(db: souk_testkit::Db) {
    // A dispute window of zero days: delivered orders complete at the next housekeeping run.
    let Some(app) = spawn(db).await else { return };
    let app = &app;
    let (owner, owner_api_csrf) = seller(app, "atlas@example.com").await;
    let shop = crate::actors::open_shop(app, &owner, &owner_api_csrf, "atlas").await;
    let l: Value = crate::listings::create(
        app,
        &owner,
        &owner_api_csrf,
        &shop,
        &crate::listings::listing(
            "Stoneware mug",
            "active",
            json!([crate::listings::variant("M1", 2400, 5)]),
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    let variant = l["variants"][0]["id"].as_str().unwrap().to_owned();
    let csrf = csrf_in(&page(app, &owner, "/seller/listings/new").await.1);

    // Order 1 goes all the way and is reviewed; order 2 is cancelled by the shop.
    let (buyer, buyer_csrf) = signed_in(app, "buyer@example.com").await;
    let (checkout, order) = buy(app, &buyer, &buyer_csrf, &variant, &shop).await;
    let (other, other_csrf) = signed_in(app, "other@example.com").await;
    let (_, order2) = buy(app, &other, &other_csrf, &variant, &shop).await;

    let cancel = format!("/seller/orders/{order2}/cancel");
    assert_eq!(
        post_form(app, &owner, &cancel, &[("csrf", "forged"), ("reason", "Out of clay")]).await.0,
        403
    );
    assert_eq!(post_form(app, &buyer, &cancel, &[("csrf", &buyer_csrf), ("reason", "Mine")]).await.0, 404);
    let (status, location, body) =
        post_form(app, &owner, &cancel, &[("csrf", &csrf), ("reason", "Out of clay, sorry")]).await;
    assert_eq!(status, 303, "{body}");
    assert!(location.ends_with("?done=cancelled"));
    let o2: Value =
        other.get(app.url(&format!("/api/v1/orders/{order2}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(o2["order"]["status"], "cancelled", "{o2}");
    let (_, cancelled) = page(app, &owner, &format!("/seller/orders/{order2}")).await;
    assert!(
        cancelled.contains("Out of clay, sorry") && !cancelled.contains("id=\"cancel-form\""),
        "{cancelled}"
    );
    let (_, filtered) = page(app, &owner, "/seller/orders?status=cancelled").await;
    assert!(
        filtered.contains(&order2) && !filtered.contains(&format!("/seller/orders/{order}\"")),
        "{filtered}"
    );

    souk_core::market::checkout::record_payment(app.state().souk(), &checkout, PaymentState::Paid)
        .await
        .unwrap();
    let (status, _, _) = post_form(
        app,
        &owner,
        &format!("/seller/orders/{order}/ship"),
        &[("csrf", &csrf), ("carrier", "dhl"), ("tracking_number", "JD014600003")],
    )
    .await;
    assert_eq!(status, 303);
    let res = buyer
        .post(app.url(&format!("/api/v1/orders/{order}/actions")))
        .header("x-csrf-token", &buyer_csrf)
        .json(&json!({ "action": "confirm_delivery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    souk_core::market::orders::advance_due(app.state().souk()).await.unwrap();
    let res = buyer
        .post(app.url(&format!("/api/v1/orders/{order}/review")))
        .header("x-csrf-token", &buyer_csrf)
        .json(&json!({ "rating": 4, "body": "Lovely mug, slow post." }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let review = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // The shop replies once.
    let (_, reviews) = page(app, &owner, "/seller/reviews").await;
    assert!(
        reviews.contains("Lovely mug, slow post.")
            && reviews.contains(&format!("/seller/reviews/{review}/reply")),
        "{reviews}"
    );
    let reply = format!("/seller/reviews/{review}/reply");
    assert_eq!(post_form(app, &owner, &reply, &[("csrf", "forged"), ("reply", "Thanks!")]).await.0, 403);
    let (status, location, _) =
        post_form(app, &owner, &reply, &[("csrf", &csrf), ("reply", "Thank you, sorry about the post.")])
            .await;
    assert_eq!((status, location.as_str()), (303, "/seller/reviews?done=replied"));
    let (status, _, body) = post_form(app, &owner, &reply, &[("csrf", &csrf), ("reply", "Again")]).await;
    assert_eq!(status, 409);
    assert!(body.contains("already replied"), "{body}");
    let (_, reviews) = page(app, &owner, "/seller/reviews").await;
    assert!(
        reviews.contains("Your reply: Thank you, sorry about the post.") && !reviews.contains(&reply),
        "{reviews}"
    );

    // A reported message, resolved in the console.
    let res = buyer
        .post(app.url("/api/v1/conversations"))
        .header("x-csrf-token", &buyer_csrf)
        .json(&json!({ "listing_id": l["id"], "body": "Is it dishwasher safe?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let conv = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let res = owner
        .post(app.url(&format!("/api/v1/conversations/{conv}/messages")))
        .header("x-csrf-token", &owner_api_csrf)
        .json(&json!({ "body": "Yes. Pay me directly by bank transfer next time." }))
        .send()
        .await
        .unwrap();
    let thread: Value = res.json().await.unwrap();
    let message = thread["messages"][1]["id"].as_str().unwrap().to_owned();
    let res = buyer
        .post(app.url(&format!("/api/v1/messages/{message}/report")))
        .header("x-csrf-token", &buyer_csrf)
        .json(&json!({ "text": "Asked me to pay outside Souk" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let anon = app.browser_client();
    let res = anon.get(app.url("/staff/reports")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login?next=/staff/reports");
    assert_eq!(page(app, &owner, "/staff/reports").await.0, 404);
    let people = crate::actors::staff(app, &[("tess@example.com", &["trust_safety"])]).await;
    let (tess, _) = &people[1];
    let (status, reports) = page(app, tess, "/staff/reports").await;
    assert_eq!(status, 200);
    assert!(
        reports.contains("Asked me to pay outside Souk") && reports.contains("bank transfer"),
        "{reports}"
    );
    let tess_csrf = csrf_in(&reports);
    let report =
        reports.split("action=\"/staff/reports/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let resolve = format!("/staff/reports/{report}/resolve");
    assert_eq!(post_form(app, tess, &resolve, &[("csrf", "forged"), ("reason", "Warned")]).await.0, 403);
    assert_eq!(
        post_form(app, &owner, &resolve, &[("csrf", &csrf), ("reason", "Nothing to see")]).await.0,
        404
    );
    let (status, location, _) =
        post_form(app, tess, &resolve, &[("csrf", &tess_csrf), ("reason", "Warned the shop")]).await;
    assert_eq!((status, location.as_str()), (303, "/staff/reports?done=resolved"));
    assert!(page(app, tess, "/staff/reports").await.1.contains("No open reports"));

    // An abusive review removed with a reason.
    let removal = format!("/staff/reviews/{review}/remove");
    assert_eq!(page(app, &owner, &removal).await.0, 404);
    assert_eq!(page(app, tess, &removal).await.0, 200);
    assert_eq!(post_form(app, tess, &removal, &[("csrf", "forged"), ("reason", "Abuse")]).await.0, 403);
    assert_eq!(post_form(app, &owner, &removal, &[("csrf", &csrf), ("reason", "I dislike it")]).await.0, 404);
    let (status, location, _) =
        post_form(app, tess, &removal, &[("csrf", &tess_csrf), ("reason", "Contains a personal attack")])
            .await;
    assert_eq!((status, location.ends_with("?done=review-removed")), (303, true));
    let rep: Value = app.get("/api/v1/shops/atlas/reviews").await.json().await.unwrap();
    assert_eq!(rep["count"], 0);

    // Suspension with a reason; only staff, only with the token.
    let suspend = format!("/staff/shops/{shop}/suspend");
    assert_eq!(post_form(app, tess, &suspend, &[("csrf", "forged"), ("reason", "Fraud")]).await.0, 403);
    assert_eq!(post_form(app, &owner, &suspend, &[("csrf", &csrf), ("reason", "Fraud")]).await.0, 404);
    let (status, location, _) = post_form(
        app,
        tess,
        &suspend,
        &[
            ("csrf", &tess_csrf),
            ("reason", "Repeated off-platform payment requests"),
            ("back", "//evil.example"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/staff/verifications?done=suspended"));
    let (_, home) = page(app, &owner, "/seller").await;
    assert!(
        home.contains("id=\"shop-status\">suspended<")
            && home.contains("Repeated off-platform payment requests"),
        "{home}"
    );
}
