//! The seller hub and the staff console in a real headless Chromium over HTTPS, under the
//! strict CSP: a seller opens a shop, lists an item with a photo, and ships the paid order;
//! trust & safety verify a shop in the console.
//!
//! Sessions: the seller signs in over the API (password, then an authenticator app, then the
//! seller role) and the staff member with a software passkey (`soft_passkey`, the same
//! WebAuthn ceremony a browser runs); each session's `__Host-` cookie is then set in
//! Chromium with `Network.setCookie`. Everything after that happens in the browser.

use serde_json::{Value, json};
use souk_core::market::steps::PaymentState;
use souk_domain::{Clock as _, FakeClock, SystemClock};
use souk_testkit::browser::{Browser, Page};
use souk_testkit::{Db, TestApp};

use crate::identity::signed_in;
use crate::mfa::enable_totp;
use crate::seller_pages::{PDF, buy, png};
use crate::soft_passkey::Device;
use crate::staff::staff_with_passkey;

/// The session token in a response's `Set-Cookie`.
fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix("__Host-souk_session="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A seller (confirmed address, TOTP, the seller role), as an API client, its CSRF token,
/// and the session cookie's value.
async fn seller_session(app: &TestApp, email: &str) -> (reqwest::Client, String, String) {
    let (c, csrf) = signed_in(app, email).await;
    enable_totp(app, &c, &csrf, &FakeClock::at(SystemClock.now())).await;
    let res = c.post(app.url("/api/v1/me/seller")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);
    let body: Value = res.json().await.unwrap();
    (c, body["csrf_token"].as_str().unwrap().to_owned(), cookie)
}

async fn set_session(browser: &mut Browser, page: &Page, app: &TestApp, value: &str, same_site: &str) {
    browser
        .call(
            Some(&page.session),
            "Network.setCookie",
            json!({ "name": "__Host-souk_session", "value": value, "url": app.url("/"), "path": "/",
                    "secure": true, "httpOnly": true, "sameSite": same_site }),
        )
        .await
        .unwrap();
}

async fn fill(browser: &mut Browser, page: &Page, selector: &str, value: &str) {
    let script = format!(
        "(() => {{ const e = document.querySelector({sel}); e.value = {val}; return true; }})()",
        sel = serde_json::to_string(selector).unwrap(),
        val = serde_json::to_string(value).unwrap()
    );
    assert_eq!(browser.eval(page, &script).await.unwrap(), Value::Bool(true), "{selector}");
}

async fn submit_and_wait(browser: &mut Browser, page: &Page, form: &str) {
    let script = format!("document.querySelector({}).submit(); true", serde_json::to_string(form).unwrap());
    act_and_wait(browser, page, &script).await;
}

/// Runs `script` (which starts a navigation) and waits until a new document has loaded.
async fn act_and_wait(browser: &mut Browser, page: &Page, script: &str) {
    browser.eval(page, "window.__before_navigation = true").await.unwrap();
    browser.eval(page, script).await.unwrap();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let state = browser
            .eval(page, "window.__before_navigation === undefined && document.readyState === 'complete'")
            .await
            .unwrap_or(Value::Null);
        if state == Value::Bool(true) {
            return;
        }
    }
    panic!("no new page after {script}; errors: {:?}", browser.errors(page));
}

async fn text(browser: &mut Browser, page: &Page) -> String {
    browser.eval(page, "document.body.innerText").await.unwrap().as_str().unwrap_or_default().to_owned()
}

/// Chooses a file in a file input, as a person would in the file dialog.
async fn choose_file(browser: &mut Browser, page: &Page, selector: &str, path: &std::path::Path) {
    let doc = browser.call(Some(&page.session), "DOM.getDocument", json!({})).await.unwrap();
    let root = doc["root"]["nodeId"].as_u64().unwrap();
    let node = browser
        .call(Some(&page.session), "DOM.querySelector", json!({ "nodeId": root, "selector": selector }))
        .await
        .unwrap();
    let node = node["nodeId"].as_u64().unwrap();
    assert_ne!(node, 0, "{selector} is on the page");
    browser
        .call(
            Some(&page.session),
            "DOM.setFileInputFiles",
            json!({ "nodeId": node, "files": [path.to_str().unwrap()] }),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_lists_with_a_photo_and_ships_a_paid_order_in_the_browser() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let spki = app.server_spki_sha256().await;
    let mut browser =
        Browser::launch_trusting(&spki).await.expect("Chromium starts (scripts/test installs it)");
    let page = browser.new_page().await.unwrap();
    let (api, _, cookie) = seller_session(&app, "potter@example.com").await;
    set_session(&mut browser, &page, &app, &cookie, "Lax").await;

    // Open the shop.
    browser.goto(&page, &app.url("/seller")).await.unwrap();
    fill(&mut browser, &page, "#open-shop input[name=name]", "Atelier Potter").await;
    fill(&mut browser, &page, "#open-shop input[name=slug]", "atelier-potter").await;
    fill(&mut browser, &page, "#open-shop textarea[name=description]", "Stoneware from Lyon").await;
    fill(&mut browser, &page, "#open-shop input[name=contact]", "help@potter.example").await;
    fill(&mut browser, &page, "#open-shop textarea[name=return_policy]", "30 days").await;
    submit_and_wait(&mut browser, &page, "#open-shop").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Your shop is open") && shown.contains("unverified"), "{shown}");
    assert!(shown.contains("Payouts are held until verification"), "{shown}");

    // List an item, with a price typed as a decimal.
    browser.goto(&page, &app.url("/seller/listings/new")).await.unwrap();
    fill(&mut browser, &page, "input[name=title]", "Speckled bowl").await;
    fill(&mut browser, &page, "textarea[name=description]", "Wheel-thrown, food safe.").await;
    fill(&mut browser, &page, "select[name=category]", "home").await;
    fill(&mut browser, &page, "select[name=status]", "active").await;
    fill(&mut browser, &page, "input[name=sku]", "BOWL-1").await;
    fill(&mut browser, &page, "input[name=variant_name]", "Speckled").await;
    fill(&mut browser, &page, "input[name=price]", "18.50").await;
    fill(&mut browser, &page, "input[name=stock]", "4").await;
    submit_and_wait(&mut browser, &page, "#listing-form").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("The listing was created"), "{shown}");
    let path = browser.eval(&page, "location.pathname").await.unwrap();
    let listing = path.as_str().unwrap().split('/').nth(3).unwrap().to_owned();

    // Add a photo through the file input; its thumbnail loads in the page.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bowl.png");
    std::fs::write(&file, png()).unwrap();
    fill(&mut browser, &page, "#photo-form input[name=alt]", "A speckled bowl").await;
    choose_file(&mut browser, &page, "#photo-form input[name=photo]", &file).await;
    submit_and_wait(&mut browser, &page, "#photo-form").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("The photo was added"), "{shown}");
    let loaded = browser
        .eval(
            &page,
            "[...document.querySelectorAll('#photos img')].map(i => i.complete && i.naturalWidth > 0)",
        )
        .await
        .unwrap();
    assert_eq!(loaded, json!([true]), "one thumbnail, loaded");

    // A buyer buys it (through the API); the payment step reports it paid.
    let l: Value = api
        .get(app.url(&format!("/api/v1/seller/listings/{listing}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["variants"][0]["price"]["amount_minor"], 1850);
    let variant = l["variants"][0]["id"].as_str().unwrap().to_owned();
    let shop = l["shop_id"].as_str().unwrap().to_owned();
    let (buyer, buyer_csrf) = signed_in(&app, "buyer@example.com").await;
    let (checkout, order) = buy(&app, &buyer, &buyer_csrf, &variant, &shop).await;

    // Before payment, the order page explains why it cannot ship yet.
    browser.goto(&page, &app.url("/seller/orders")).await.unwrap();
    act_and_wait(&mut browser, &page, "document.querySelector('#orders a').click(); true").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Awaiting the buyer's payment"), "{shown}");
    let ship_forms = browser.eval(&page, "document.querySelectorAll('#ship-form').length").await.unwrap();
    assert_eq!(ship_forms, json!(0));

    souk_core::market::checkout::record_payment(app.state().souk(), &checkout, PaymentState::Paid)
        .await
        .unwrap();
    browser.goto(&page, &app.url(&format!("/seller/orders/{order}"))).await.unwrap();
    fill(&mut browser, &page, "#ship-form select[name=carrier]", "la_poste").await;
    fill(&mut browser, &page, "#ship-form input[name=tracking_number]", "6A12345678901").await;
    submit_and_wait(&mut browser, &page, "#ship-form").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("The order is marked shipped"), "{shown}");
    assert!(shown.contains("tracking number 6A12345678901"), "{shown}");

    // The buyer's order shows it shipped, with the tracking.
    let mine: Value =
        buyer.get(app.url(&format!("/api/v1/orders/{order}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine["order"]["status"], "shipped", "{mine}");
    assert!(mine.to_string().contains("6A12345678901"), "{mine}");

    let errors = browser.errors(&page);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_and_safety_verify_a_shop_in_the_console() {
    let app = TestApp::spawn(Db::Sqlite).await;
    // A shop submitted for verification (through the API).
    let (owner, csrf, _) = seller_session(&app, "potter@example.com").await;
    let shop = crate::actors::open_shop(&app, &owner, &csrf, "potter").await;
    let res = owner
        .post(app.url(&format!("/api/v1/seller/shops/{shop}/verification/documents")))
        .header("x-csrf-token", &csrf)
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let doc: Value = res.json().await.unwrap();
    let res = owner
        .post(app.url(&format!("/api/v1/seller/shops/{shop}/verification")))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "legal_name": "Potter SARL", "address": "3 rue des Potiers, Lyon", "registration_number": "FR12345678901", "document_id": doc["document_id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    // Trust & safety: the first admin creates Tess, who adds a passkey and signs in with it.
    let mut admin_device = Device::new();
    let (admin, admin_csrf) = staff_with_passkey(&app, "root@example.com", &mut admin_device, true).await;
    let res = admin
        .post(app.url("/api/v1/staff/accounts"))
        .header("x-csrf-token", &admin_csrf)
        .json(&json!({ "email": "tess@example.com", "name": "Tess", "roles": ["trust_safety"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let mut device = Device::new();
    staff_with_passkey(&app, "tess@example.com", &mut device, false).await;
    let res = device.sign_in(&app, &app.browser_client()).await;
    assert_eq!(res.status(), 200);
    let cookie = session_cookie(&res);

    let spki = app.server_spki_sha256().await;
    let mut browser =
        Browser::launch_trusting(&spki).await.expect("Chromium starts (scripts/test installs it)");
    let page = browser.new_page().await.unwrap();
    set_session(&mut browser, &page, &app, &cookie, "Strict").await;
    browser.goto(&page, &app.url("/staff")).await.unwrap();
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Verification queue") && shown.contains("Shop potter"), "{shown}");
    act_and_wait(&mut browser, &page, "document.querySelector('#queue a').click(); true").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Potter SARL") && shown.contains("FR12345678901"), "{shown}");
    let link = browser
        .eval(&page, "document.querySelector('#submission a[download]').getAttribute('href')")
        .await
        .unwrap();
    assert!(
        link.as_str().unwrap().contains(&format!("/api/v1/seller/shops/{shop}/verification/documents/")),
        "{link}"
    );
    submit_and_wait(&mut browser, &page, "#verify-form").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("The shop is verified"), "{shown}");
    let status = browser.eval(&page, "document.querySelector('#shop-status').textContent").await.unwrap();
    assert_eq!(status, json!("verified"));

    // The owner sees it verified.
    let mine: Value = owner.get(app.url("/api/v1/seller/shops")).send().await.unwrap().json().await.unwrap();
    assert_eq!(mine[0]["status"], "verified");
    let errors = browser.errors(&page);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}
