//! API keys over real HTTPS: shown once, checked for shape before lookup, scoped by role,
//! usable only for what a key may do (never the account's own security), revocable and
//! expiring, with step-up to create one.

use std::sync::Arc;

use serde_json::{Value, json};
use souk_domain::{FakeClock, Timestamp};
use souk_testkit::{Db, TestApp};

use crate::assert_problem;
use crate::identity::signed_in;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_scoped_revocable_expiring_and_cannot_manage_the_account() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let (c, csrf) = signed_in(&app, "integrator@example.com").await;
    let create =
        |body: Value| c.post(app.url("/api/v1/me/api-keys")).header("x-csrf-token", &csrf).json(&body).send();
    let res = create(json!({ "name": "sync", "scopes": "listings:write" })).await.unwrap();
    let body = assert_problem(res, 400, "invalid_parameter").await;
    assert!(body["detail"].as_str().unwrap().contains("cannot grant listings:write"), "{body}");
    assert_problem(
        create(json!({ "name": "sync", "scopes": "everything" })).await.unwrap(),
        400,
        "invalid_parameter",
    )
    .await;
    assert_problem(
        create(json!({ "name": "sync", "scopes": "orders:read", "expires_in_days": 400 })).await.unwrap(),
        400,
        "invalid_parameter",
    )
    .await;
    let res = create(json!({ "name": "Order export", "scopes": "orders:read" })).await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("souk_sk_") && token.len() == 70, "{token}");
    let id = created["key"]["id"].as_str().unwrap().to_owned();

    let plain = &app.client;
    let whoami = |t: String| plain.get(app.url("/api/v1/whoami")).bearer_auth(t).send();
    let me: Value = whoami(token.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(me["credential"], "api_key");
    assert_eq!(me["scopes"], json!(["orders:read"]));
    assert_eq!(me["api_key_id"], id.as_str());
    // A key never manages the account: sessions, profile, keys need a person.
    for path in ["/api/v1/me", "/api/v1/me/sessions", "/api/v1/me/api-keys"] {
        let res = plain.get(app.url(path)).bearer_auth(&token).send().await.unwrap();
        assert_problem(res, 401, "unauthorized").await;
    }
    // One changed character fails the checksum; a wrong scheme or garbage is refused.
    let mut tampered = token.clone().into_bytes();
    tampered[30] = if tampered[30] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_problem(whoami(tampered).await.unwrap(), 401, "unauthorized").await;
    let res = plain
        .get(app.url("/api/v1/whoami"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;

    let keys: Value = c.get(app.url("/api/v1/me/api-keys")).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys[0]["name"], "Order export");
    assert!(keys[0]["last_used_at"].is_string(), "use is recorded: {keys}");
    assert!(!keys.to_string().contains(&token[20..]), "the secret is never shown again");

    // Another account cannot revoke it.
    let (m, m_csrf) = signed_in(&app, "mallory@example.com").await;
    let res = m
        .delete(app.url(&format!("/api/v1/me/api-keys/{id}")))
        .header("x-csrf-token", &m_csrf)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    let res = c
        .delete(app.url(&format!("/api/v1/me/api-keys/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(whoami(token).await.unwrap(), 401, "unauthorized").await;

    // Expiry.
    let res =
        create(json!({ "name": "short", "scopes": "orders:read", "expires_in_days": 1 })).await.unwrap();
    let short = res.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(whoami(short.clone()).await.unwrap().status(), 200);
    clock.advance_secs(86_400 + 1);
    assert_problem(whoami(short).await.unwrap(), 401, "unauthorized").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_key_needs_a_fresh_sign_in() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let (c, csrf) = signed_in(&app, "stale@example.com").await;
    clock.advance_secs(10 * 60);
    let res = c
        .post(app.url("/api/v1/me/api-keys"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "late", "scopes": "orders:read" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "step_up_required").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sellers_need_a_second_factor_before_handing_out_a_key() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let (c, csrf) = signed_in(&app, "seller@example.com").await;
    // Becoming a seller needs the second factor first.
    let res = c.post(app.url("/api/v1/me/seller")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_problem(res, 403, "mfa_required").await;
    let me: Value = c.get(app.url("/api/v1/whoami")).send().await.unwrap().json().await.unwrap();
    let id: souk_domain::ids::AccountId = me["account_id"].as_str().unwrap().parse().unwrap();
    {
        // A seller made before the rule (or by an operator) without MFA:
        let mut conn = app.state().souk().store.conn().await.unwrap();
        souk_store::identity::signin::set_role(&mut conn, id, "seller").await.unwrap();
    }
    let create = || {
        c.post(app.url("/api/v1/me/api-keys"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "shop sync", "scopes": "listings:read listings:write" }))
            .send()
    };
    assert_problem(create().await.unwrap(), 403, "mfa_required").await;
    let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["mfa_required_missing"], true, "the security centre says so");
    crate::mfa::enable_totp(&app, &c, &csrf, &clock).await;
    let res = create().await.unwrap();
    assert_eq!(res.status(), 201, "a seller may grant listings:write once protected");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_with_mfa_becomes_a_seller_and_gets_a_new_session() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let (c, csrf) = signed_in(&app, "maker@example.com").await;
    let other = app.browser_client();
    assert_eq!(
        crate::identity::login(&app, &other, "maker@example.com", crate::identity::PASSWORD).await.status(),
        200
    );
    crate::mfa::enable_totp(&app, &c, &csrf, &clock).await;
    let before: Value = c.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
    let res = c.post(app.url("/api/v1/me/seller")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_ne!(before[0]["id"], body["session_id"], "a privilege change issues a new session id");
    let new_csrf = body["csrf_token"].as_str().unwrap().to_owned();
    let me: Value = c.get(app.url("/api/v1/whoami")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["role"], "seller");
    assert_problem(other.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    let again = c.post(app.url("/api/v1/me/seller")).header("x-csrf-token", &new_csrf).send().await.unwrap();
    assert_problem(again, 409, "conflict").await;
    app.stop().await;
}
