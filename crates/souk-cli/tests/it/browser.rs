//! End to end in a real headless Chromium over HTTPS: the storefront renders the demo
//! listings with every image, the CSP header is there, and the console stays clean.

use serde_json::Value;
use souk_testkit::browser::Browser;
use souk_testkit::{Db, TestApp};

/// Waits for every image and returns how many failed to load.
const BROKEN_IMAGES: &str = "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager'); \
    Promise.all([...document.images].map(i => i.complete ? null : \
    new Promise(r => { i.onload = r; i.onerror = r; }))).then(() => \
    [...document.images].filter(i => i.naturalWidth === 0).map(i => i.src))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_page_renders_demo_listings_under_csp_without_console_errors() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let mut browser = Browser::launch().await.expect("Chromium starts (scripts/test installs it)");
    let page = browser.new_page().await.unwrap();
    let home = app.url("/");
    browser.goto(&page, &home).await.unwrap();

    let headers = browser.document_headers(&page, &home).expect("document response seen");
    let csp = headers.get("content-security-policy").expect("CSP header");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert!(headers.contains_key("strict-transport-security"));

    let cards = browser.eval(&page, "document.querySelectorAll('.listing-card').length").await.unwrap();
    assert!(cards.as_u64().unwrap() >= 20, "demo listings rendered: {cards}");
    let title = browser.eval(&page, "document.title").await.unwrap();
    assert!(title.as_str().unwrap().ends_with("· Souk"), "{title}");
    let styled = browser
        .eval(&page, "getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        .await
        .unwrap();
    assert_eq!(styled, Value::from("rgb(255, 255, 255)"), "the stylesheet applied");
    let broken = browser.eval(&page, BROKEN_IMAGES).await.unwrap();
    assert_eq!(broken, Value::Array(vec![]), "every image loads");

    // Follow a card to its listing, then to its shop.
    let href = browser.eval(&page, "document.querySelector('.listing-card a').href").await.unwrap();
    browser.goto(&page, href.as_str().unwrap()).await.unwrap();
    let h1 = browser.eval(&page, "document.querySelector('h1').textContent").await.unwrap();
    assert!(!h1.as_str().unwrap().is_empty());
    let shop = browser.eval(&page, "document.querySelector('.listing-info a').href").await.unwrap();
    browser.goto(&page, shop.as_str().unwrap()).await.unwrap();
    browser.goto(&page, &app.url("/api/docs")).await.unwrap();

    let errors = browser.errors(&page);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}

/// Fills a form field and submits its form, waiting for the next page to load.
async fn fill(browser: &mut Browser, page: &souk_testkit::browser::Page, selector: &str, value: &str) {
    let script = format!(
        "(() => {{ const e = document.querySelector({sel}); e.value = {val}; return true; }})()",
        sel = serde_json::to_string(selector).unwrap(),
        val = serde_json::to_string(value).unwrap()
    );
    assert_eq!(browser.eval(page, &script).await.unwrap(), Value::Bool(true), "{selector}");
}

async fn submit_and_wait(browser: &mut Browser, page: &souk_testkit::browser::Page, form: &str) {
    let script = format!("document.querySelector({}).submit(); true", serde_json::to_string(form).unwrap());
    act_and_wait(browser, page, &script).await;
}

/// Runs `script` (which starts a navigation) and waits until a new document has loaded.
async fn act_and_wait(browser: &mut Browser, page: &souk_testkit::browser::Page, script: &str) {
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
    let status = browser.eval(page, "(document.getElementById('passkey-status') || {}).textContent").await;
    panic!("no new page after {script}; passkey status: {status:?}; errors: {:?}", browser.errors(page));
}

async fn text(browser: &mut Browser, page: &souk_testkit::browser::Page) -> String {
    browser.eval(page, "document.body.innerText").await.unwrap().as_str().unwrap_or_default().to_owned()
}

/// A member signs up in the browser (no password: passkey only), confirms the address from
/// the mail, adds a passkey with Chromium's virtual authenticator, signs out, and signs in
/// again with the passkey alone. The console stays clean under the strict CSP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_with_a_passkey_alone_and_sign_back_in_with_it() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let spki = app.server_spki_sha256().await;
    let mut browser =
        Browser::launch_trusting(&spki).await.expect("Chromium starts (scripts/test installs it)");
    let page = browser.new_page().await.unwrap();
    let authenticator = browser.add_virtual_authenticator(&page).await.unwrap();

    browser.goto(&page, &app.url("/signup")).await.unwrap();
    fill(&mut browser, &page, "input[name=email]", "leila@example.com").await;
    fill(&mut browser, &page, "input[name=name]", "Leila").await;
    fill(&mut browser, &page, "input[name=phrase]", "olive grove").await;
    submit_and_wait(&mut browser, &page, "form[action='/signup']").await;
    let shown = text(&mut browser, &page).await;
    assert!(shown.contains("Check your inbox"), "{shown}");

    let mail = app.mail_to("leila@example.com", "Confirm your email").await;
    assert!(mail.body.contains("olive grove"));
    let token = souk_testkit::link_token(&mail.body, "https://localhost");
    browser.goto(&page, &app.url(&format!("/verify-email?token={token}"))).await.unwrap();
    submit_and_wait(&mut browser, &page, "form[action='/verify-email']").await;
    let security = text(&mut browser, &page).await;
    assert!(security.contains("Security centre") && security.contains("Add a passkey below"), "{security}");

    fill(&mut browser, &page, "#passkey-name", "Test laptop").await;
    act_and_wait(&mut browser, &page, "document.querySelector('#passkey-add').click(); true").await;
    let security = text(&mut browser, &page).await;
    assert!(security.contains("Your passkey was added") && security.contains("Test laptop"), "{security}");
    let creds = browser.webauthn_credentials(&page, &authenticator).await.unwrap();
    assert_eq!(creds.len(), 1, "one resident credential on the authenticator");

    // Sign out, then back in with the passkey alone.
    browser.goto(&page, &app.url("/account/sessions")).await.unwrap();
    submit_and_wait(&mut browser, &page, "form[action='/logout']").await;
    browser.goto(&page, &app.url("/account/security")).await.unwrap();
    assert!(browser.eval(&page, "location.pathname").await.unwrap() == "/login", "signed out");
    act_and_wait(&mut browser, &page, "document.querySelector('#passkey-login').click(); true").await;
    let security = text(&mut browser, &page).await;
    assert!(security.contains("Security centre") && security.contains("leila@example.com"), "{security}");
    let errors = browser.errors(&page);
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    browser.close().await;
    app.stop().await;
}
