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
