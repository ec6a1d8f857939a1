//! The buyer's journey in a real headless Chromium over HTTPS: sign in with a password,
//! add items from two shops to the cart, check out once with an address, pay with the card
//! form (the card goes to the vault's endpoint, only its token to the marketplace), and
//! find two orders (one per shop) on the orders page. The console stays clean under the strict CSP.

use serde_json::{Value, json};
use souk_testkit::browser::{Browser, Page};
use souk_testkit::{Db, TestApp};

use crate::actors::{open_shop, seller};
use crate::identity::{PASSWORD, member};
use crate::listings::{create, listing, variant};

async fn fill(browser: &mut Browser, page: &Page, selector: &str, value: &str) {
    let script = format!(
        "(() => {{ const e = document.querySelector({sel}); e.value = {val}; return true; }})()",
        sel = serde_json::to_string(selector).unwrap(),
        val = serde_json::to_string(value).unwrap()
    );
    assert_eq!(browser.eval(page, &script).await.unwrap(), Value::Bool(true), "{selector}");
}

/// Submits a form (as its button would) and waits until the next document has loaded.
async fn submit_and_wait(browser: &mut Browser, page: &Page, form: &str) {
    browser.eval(page, "window.__before_navigation = true").await.unwrap();
    let script =
        format!("document.querySelector({}).requestSubmit(); true", serde_json::to_string(form).unwrap());
    browser.eval(page, &script).await.unwrap();
    for _ in 0..150 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let state = browser
            .eval(page, "window.__before_navigation === undefined && document.readyState === 'complete'")
            .await
            .unwrap_or(Value::Null);
        if state == Value::Bool(true) {
            return;
        }
    }
    panic!("no new page after submitting {form}; errors: {:?}", browser.errors(page));
}

async fn text(browser: &mut Browser, page: &Page) -> String {
    browser.eval(page, "document.body.innerText").await.unwrap().as_str().unwrap_or_default().to_owned()
}

async fn path(browser: &mut Browser, page: &Page) -> String {
    browser.eval(page, "location.pathname").await.unwrap().as_str().unwrap_or_default().to_owned()
}

/// A shop with one active listing with `photos` photos; returns the listing id.
async fn shop_listing(app: &TestApp, email: &str, slug: &str, title: &str, price: i64, photos: u8) -> String {
    let (c, csrf) = seller(app, email).await;
    let shop = open_shop(app, &c, &csrf, slug).await;
    let body = listing(title, "active", json!([variant(&format!("{slug}-1"), price, 4)]));
    let res = create(app, &c, &csrf, &shop, &body).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for n in 0..photos {
        let mut png = Vec::new();
        image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([u8::try_from(x * 3).unwrap(), u8::try_from(y * 5).unwrap(), n * 90])
        })
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
        let res = c
            .post(app.url(&format!("/api/v1/seller/listings/{id}/images?alt=Photo%20{n}")))
            .header("x-csrf-token", &csrf)
            .header("content-type", "image/png")
            .body(png)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    id
}

/// Waits for every image of the page and returns the addresses of those that did not load.
const BROKEN_IMAGES: &str = "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager'); \
    Promise.all([...document.images].map(i => i.complete ? null : \
    new Promise(r => { i.onload = r; i.onerror = r; }))).then(() => \
    [...document.images].filter(i => i.naturalWidth === 0).map(i => i.src))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_fills_a_cart_from_two_shops_and_checks_out_once_in_chromium() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let vase = shop_listing(&app, "atlas@example.com", "atlas", "Speckled vase", 2400, 2).await;
    let apron = shop_listing(&app, "nordlys@example.com", "nordlys", "Linen apron", 3900, 0).await;
    member(&app, "buyer@example.com").await;

    let spki = app.server_spki_sha256().await;
    let mut browser =
        Browser::launch_trusting(&spki).await.expect("Chromium starts (scripts/test installs it)");
    let page = browser.new_page().await.unwrap();

    // Sign in with the password, coming back to the cart.
    browser.goto(&page, &app.url("/cart")).await.unwrap();
    assert_eq!(path(&mut browser, &page).await, "/login", "the cart needs a session");
    fill(&mut browser, &page, "input[name=email]", "buyer@example.com").await;
    fill(&mut browser, &page, "input[name=password]", PASSWORD).await;
    submit_and_wait(&mut browser, &page, "form[action='/login']").await;
    assert_eq!(path(&mut browser, &page).await, "/cart");
    assert!(text(&mut browser, &page).await.contains("Your cart is empty"));

    // Two items from two shops, through the listing pages' forms.
    for (id, qty) in [(&vase, "2"), (&apron, "1")] {
        browser.goto(&page, &app.url(&format!("/listings/{id}"))).await.unwrap();
        if id == &vase {
            // Its photos: the first at full size, both as thumbnails; every image loads.
            let thumbs =
                browser.eval(&page, "document.querySelectorAll('.thumbs img').length").await.unwrap();
            assert_eq!(thumbs, Value::from(2));
            let main = browser.eval(&page, "document.querySelector('.listing-image').src").await.unwrap();
            assert!(main.as_str().unwrap().ends_with("/full"), "{main}");
            assert_eq!(browser.eval(&page, BROKEN_IMAGES).await.unwrap(), Value::Array(vec![]));
        }
        fill(&mut browser, &page, "form.add-to-cart input[name=quantity]", qty).await;
        submit_and_wait(&mut browser, &page, "form.add-to-cart").await;
        assert_eq!(path(&mut browser, &page).await, "/cart");
    }
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Shop atlas") && shown.contains("Shop nordlys"), "{shown}");
    assert!(shown.contains("€87.00"), "{shown}");
    let shops = browser.eval(&page, "document.querySelectorAll('section.cart-shop').length").await.unwrap();
    assert_eq!(shops, Value::from(2));

    // Check out once: address, shipping per shop (standard by default).
    let link = browser.eval(&page, "document.querySelector('a[href=\"/checkout\"]') !== null").await.unwrap();
    assert_eq!(link, Value::Bool(true), "the cart offers checkout");
    browser.goto(&page, &app.url("/checkout")).await.unwrap();
    for (name, value) in [
        ("name", "Amina Kaddour"),
        ("line1", "3 rue des Fleurs"),
        ("postal_code", "69001"),
        ("city", "Lyon"),
        ("country", "FR"),
    ] {
        fill(&mut browser, &page, &format!("form.checkout input[name={name}]"), value).await;
    }
    submit_and_wait(&mut browser, &page, "form.checkout").await;
    let placed = path(&mut browser, &page).await;
    assert!(placed.starts_with("/checkout/"), "{placed}: {}", text(&mut browser, &page).await);
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("awaiting payment") && shown.contains("2 orders"), "{shown}");

    // Pay with the card form: the script sends the card to the vault, then only the token.
    for (field, value) in [
        ("card-number", "4242 4242 4242 4242"),
        ("card-exp-month", "12"),
        ("card-exp-year", "2099"),
        ("card-cvc", "123"),
    ] {
        fill(&mut browser, &page, &format!("#{field}"), value).await;
    }
    submit_and_wait(&mut browser, &page, "#card-form").await;
    assert_eq!(path(&mut browser, &page).await, placed);
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("your order is paid") && !shown.contains("4242 4242"), "{shown}");

    // Two orders, one per shop.
    browser.goto(&page, &app.url("/orders")).await.unwrap();
    let rows = browser.eval(&page, "document.querySelectorAll('tr.order-row').length").await.unwrap();
    assert_eq!(rows, Value::from(2));
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Shop atlas") && shown.contains("Shop nordlys"), "{shown}");
    let header = browser
        .eval(&page, "[...document.querySelectorAll('.main-nav a')].map(a => a.textContent).join(',')")
        .await
        .unwrap();
    assert!(header.as_str().unwrap().contains("Cart,Orders,Messages"), "{header}");

    let errors = browser.errors(&page);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}
