//! The people of a marketplace test: a seller (confirmed address, an authenticator app, the
//! seller role) and staff members with passkeys (the first admin from the setup link, then
//! staff the admin creates).

use serde_json::{Value, json};
use souk_domain::{Clock as _, FakeClock, SystemClock};
use souk_testkit::TestApp;

use crate::identity::signed_in;
use crate::mfa::enable_totp;
use crate::soft_passkey::Device;
use crate::staff::staff_with_passkey;

/// A signed-in seller with TOTP on; returns the client and its CSRF token.
pub async fn seller(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let (c, csrf) = signed_in(app, email).await;
    enable_totp(app, &c, &csrf, &FakeClock::at(SystemClock.now())).await;
    let res = c.post(app.url("/api/v1/me/seller")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let body: Value = res.json().await.unwrap();
    (c, body["csrf_token"].as_str().unwrap().to_owned())
}

/// Opens a shop for a seller and returns its id.
pub async fn open_shop(app: &TestApp, c: &reqwest::Client, csrf: &str, slug: &str) -> String {
    let res = c
        .post(app.url("/api/v1/seller/shops"))
        .header("x-csrf-token", csrf)
        .json(&json!({
            "slug": slug, "name": format!("Shop {slug}"), "tagline": "Made by hand",
            "description": "Things we make.", "location": "Lyon", "return_policy": "30 days",
            "contact": format!("help@{slug}.example"), "seller_kind": "business"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// The first admin (from the setup link) and one staff member per entry of `staff`, each
/// signed in with a passkey. Call once per app: the setup link works once.
pub async fn staff(app: &TestApp, staff: &[(&str, &[&str])]) -> Vec<(reqwest::Client, String)> {
    let mut device = Device::new();
    let (admin, admin_csrf) = staff_with_passkey(app, "root@example.com", &mut device, true).await;
    let mut out = Vec::new();
    for (email, roles) in staff {
        let res = admin
            .post(app.url("/api/v1/staff/accounts"))
            .header("x-csrf-token", &admin_csrf)
            .json(&json!({ "email": email, "name": "Staff Member", "roles": roles }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        let mut device = Device::new();
        out.push(staff_with_passkey(app, email, &mut device, false).await);
    }
    out.insert(0, (admin, admin_csrf));
    out
}

/// The account id of the signed-in client.
pub async fn account_id(app: &TestApp, c: &reqwest::Client) -> String {
    let me: Value = c.get(app.url("/api/v1/whoami")).send().await.unwrap().json().await.unwrap();
    me["account_id"].as_str().unwrap().to_owned()
}
