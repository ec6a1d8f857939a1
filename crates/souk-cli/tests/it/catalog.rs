//! The catalog through the API and the pages, on both backends: demo data present,
//! cursor pagination complete and stable, filters and 404s.

use std::collections::HashSet;

use serde_json::Value;
use souk_testkit::backend_tests;

use crate::assert_problem;

backend_tests! {
    async fn cursor_pagination_walks_every_listing_once(app) {
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/listings?limit=5&cursor={c}"),
                None => "/api/v1/listings?limit=5".to_owned(),
            };
            let page: Value = app.get(&path).await.json().await.unwrap();
            let items = page["data"].as_array().unwrap();
            assert!(items.len() <= 5);
            for l in items {
                assert!(seen.insert(l["id"].as_str().unwrap().to_owned()), "no listing twice");
                assert!(l["price"]["amount_minor"].as_i64().unwrap() > 0);
                assert_eq!(l["price"]["currency"], "EUR");
            }
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 26, "the demo marketplace is loaded on an empty database");
        assert_eq!(pages, 6);
    }

    async fn listings_shops_and_categories_are_served(app) {
        let page: Value = app.get("/api/v1/listings?category=jewelry").await.json().await.unwrap();
        let items = page["data"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(|l| l["category"] == "jewelry"));
        let id = items[0]["id"].as_str().unwrap();
        let one: Value = app.get(&format!("/api/v1/listings/{id}")).await.json().await.unwrap();
        assert_eq!(one["id"], id);
        // The demo's listings have a photo (a real PNG, with a thumbnail) and a variant.
        let photo = app.get(one["images"][0]["url"].as_str().unwrap()).await;
        assert_eq!(photo.headers()["content-type"], "image/png");
        assert!(photo.bytes().await.unwrap().starts_with(b"\x89PNG"));
        assert_eq!(one["image_url"], one["images"][0]["thumbnail_url"]);
        assert_eq!(one["variants"].as_array().unwrap().len(), 1);
        // Demo buyers completed and reviewed orders: shops have a reputation.
        let reviews: Value = app.get("/api/v1/shops/atlas-ceramics/reviews").await.json().await.unwrap();
        assert!(reviews["count"].as_i64().unwrap() >= 1, "{reviews}");
        assert!(reviews["completed_orders"].as_i64().unwrap() >= 1);
        let shops: Value = app.get("/api/v1/shops").await.json().await.unwrap();
        assert_eq!(shops.as_array().unwrap().len(), 6);
        assert!(shops.as_array().unwrap().iter().all(|s| s["active_listings"].as_i64().unwrap() >= 4));
        let shop: Value = app.get("/api/v1/shops/atlas-ceramics").await.json().await.unwrap();
        assert_eq!(shop["shop"]["name"], "Atlas Ceramics");
        assert_eq!(shop["listings"]["data"].as_array().unwrap().len(), 5);
        assert_problem(app.get("/api/v1/shops/no-such-shop").await, 404, "not_found").await;
        assert_problem(app.get("/api/v1/shops/BAD%20SLUG").await, 404, "not_found").await;
        let cats: Value = app.get("/api/v1/categories").await.json().await.unwrap();
        assert_eq!(cats.as_array().unwrap().len(), 8);
        // The pages render the same data.
        let html = app.get("/shops/atlas-ceramics").await.text().await.unwrap();
        assert!(html.contains("Zellige blue breakfast bowl"));
        let html = app.get(&format!("/listings/{id}")).await.text().await.unwrap();
        assert!(html.contains("buyer protection"));
        let art = app.get(&format!("/media/listings/{id}/art.svg")).await;
        assert_eq!(art.headers()["content-type"], "image/svg+xml");
    }

    async fn text_is_escaped_in_pages(app) {
        // Templates escape by default: a query parameter echoed nowhere, and the demo
        // data's ampersands arrive as entities.
        let html = app.get("/c/jewelry").await.text().await.unwrap();
        assert!(html.contains("Copper &amp; Thread") || html.contains("Copper &#38; Thread"), "escaped");
        assert!(!html.contains("<script"), "no script tags on pages");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loader_is_idempotent_in_process() {
    let app = souk_testkit::TestApp::spawn(souk_testkit::Db::Sqlite).await;
    let report = souk_core::demo::load(app.state().souk()).await.unwrap();
    assert!(report.is_empty(), "a second load adds nothing: {report:?}");
    app.stop().await;
}
