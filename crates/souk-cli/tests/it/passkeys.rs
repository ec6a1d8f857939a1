//! Passkeys over the API with a software authenticator: an account with no password signs
//! up, adds passkeys, signs in without a username, steps up with a passkey, and cannot
//! remove its last way to sign in. Replayed and cross-account answers are refused.

use std::sync::Arc;

use serde_json::{Value, json};
use souk_domain::{FakeClock, Timestamp};
use souk_testkit::{Db, TestApp, link_token};

use crate::assert_problem;
use crate::soft_passkey::Device;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_only_account_signs_in_steps_up_and_keeps_its_last_passkey() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let c = app.browser_client();
    let res = c
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "nopass@example.com", "name": "No Password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail = app.mail_to("nopass@example.com", "Confirm your email").await;
    let res = c
        .post(app.url("/api/v1/auth/verify-email"))
        .json(&json!({ "token": link_token(&mail.body, "https://localhost") }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let mut phone = Device::new();
    assert_eq!(phone.register(&app, &c, &csrf, "Phone").await, 201);
    let mut laptop = Device::new();
    assert_eq!(laptop.register(&app, &c, &csrf, "Laptop").await, 201);
    let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["has_password"].as_bool(), me["passkeys"].as_u64()), (Some(false), Some(2)));

    // Passwordless sign-in from a new browser, with either device.
    let b = app.browser_client();
    let res = laptop.sign_in(&app, &b).await;
    assert_eq!(res.status(), 200);
    let b_csrf = res.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let sessions: Value = b.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
    assert!(sessions.as_array().unwrap().iter().any(|s| s["current"] == true && s["method"] == "passkey"));

    // After five minutes a sensitive change needs a fresh proof: the passkey gives it.
    clock.advance_secs(6 * 60);
    let key = |client: &reqwest::Client, csrf: &str| {
        client
            .post(app.url("/api/v1/me/api-keys"))
            .header("x-csrf-token", csrf)
            .json(&json!({ "name": "k", "scopes": "orders:read" }))
            .send()
    };
    assert_problem(key(&b, &b_csrf).await.unwrap(), 403, "step_up_required").await;
    assert_eq!(laptop.reauthenticate(&app, &b, &b_csrf).await, 204);
    assert_eq!(key(&b, &b_csrf).await.unwrap().status(), 201);

    // The last passkey of an account without a password cannot be removed.
    let list: Value = b.get(app.url("/api/v1/me/passkeys")).send().await.unwrap().json().await.unwrap();
    let ids: Vec<String> =
        list.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2);
    let del = |id: &str| {
        b.delete(app.url(&format!("/api/v1/me/passkeys/{id}"))).header("x-csrf-token", &b_csrf).send()
    };
    assert_eq!(del(&ids[0]).await.unwrap().status(), 204);
    assert_problem(del(&ids[1]).await.unwrap(), 409, "conflict").await;

    // Another account's passkey cannot sign in as this one by claiming its user handle.
    let mut stranger = Device::new();
    let other = app.browser_client();
    let res = other
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "stranger@example.com", "name": "Stranger" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail = app.mail_to("stranger@example.com", "Confirm your email").await;
    let res = other
        .post(app.url("/api/v1/auth/verify-email"))
        .json(&json!({ "token": link_token(&mail.body, "https://localhost") }))
        .send()
        .await
        .unwrap();
    let s_csrf = res.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(stranger.register(&app, &other, &s_csrf, "Stranger's key").await, 201);
    let victim = laptop.user();
    let res = stranger.sign_in_claiming(&app, &app.browser_client(), victim).await;
    assert_problem(res, 401, "invalid_credentials").await;
    assert_eq!(stranger.sign_in(&app, &app.browser_client()).await.status(), 200, "its own account: fine");
    // A ceremony id works once: replaying a finished sign-in's ceremony is refused.
    let body: Value =
        app.client.post(app.url("/api/v1/auth/passkey/start")).send().await.unwrap().json().await.unwrap();
    let ceremony = body["ceremony_id"].as_str().unwrap();
    let junk = json!({ "ceremony_id": ceremony, "credential": { "id": "AA", "rawId": "AA", "type": "public-key",
        "response": { "authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA", "userHandle": null },
        "extensions": {} } });
    let first = app.client.post(app.url("/api/v1/auth/passkey/finish")).json(&junk).send().await.unwrap();
    assert_problem(first, 401, "invalid_credentials").await;
    let again = app.client.post(app.url("/api/v1/auth/passkey/finish")).json(&junk).send().await.unwrap();
    assert_problem(again, 400, "invalid_parameter").await;
    app.stop().await;
}
