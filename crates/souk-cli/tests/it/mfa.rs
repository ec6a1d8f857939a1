//! Second factors over real HTTPS on a clock the test controls: TOTP enrolment, sign-in
//! with a code, replay of a used code, the per-step lock after three wrong codes, recovery
//! codes used once, and the alert when a password is used without the second step.

use std::sync::Arc;

use serde_json::{Value, json};
use souk_domain::{Clock as _, FakeClock, Timestamp};
use souk_identity::totp::TotpSecret;
use souk_testkit::{Db, TestApp};

use crate::assert_problem;
use crate::identity::{PASSWORD, login, signed_in};

/// Turns on TOTP for the signed-in `c` at the clock's time; returns the secret and the
/// recovery codes.
pub async fn enable_totp(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    clock: &FakeClock,
) -> (TotpSecret, Vec<String>) {
    let enrol: Value = c
        .post(app.url("/api/v1/me/totp"))
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(enrol["secret"].as_str().unwrap()).unwrap();
    let res = c
        .post(app.url("/api/v1/me/totp/confirm"))
        .header("x-csrf-token", csrf)
        .json(&json!({ "code": secret.code_at(clock.now()).unwrap() }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let codes = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

async fn second(app: &TestApp, c: &reqwest::Client, pending: &str, body: Value) -> reqwest::Response {
    let mut body = body;
    body["pending_token"] = Value::from(pending);
    c.post(app.url("/api/v1/auth/login/second-factor")).json(&body).send().await.unwrap()
}

async fn pending(app: &TestApp, c: &reqwest::Client, email: &str) -> String {
    let res = login(app, c, email, PASSWORD).await;
    assert_eq!(res.status(), 202, "a second factor is required");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["totp"], true);
    body["pending_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_codes_work_once_lock_after_three_failures_and_recovery_codes_work_once() {
    // Two seconds into a 30-second step.
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let email = "totp@example.com";
    let (c, csrf) = signed_in(&app, email).await;

    let res = c.post(app.url("/api/v1/me/totp")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let enrol: Value = res.json().await.unwrap();
    assert!(
        enrol["otpauth_url"].as_str().unwrap().starts_with("otpauth://totp/Souk:totp%40example.com?secret=")
    );
    assert!(enrol["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let secret = TotpSecret::from_base32(enrol["secret"].as_str().unwrap()).unwrap();
    let code = |clock: &FakeClock| secret.code_at(clock.now()).unwrap();
    let confirm = |code: String| {
        c.post(app.url("/api/v1/me/totp/confirm"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "code": code }))
            .send()
    };
    let wrong = format!("{:06}", (code(&clock).parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_problem(confirm(wrong).await.unwrap(), 400, "invalid_parameter").await;
    let res = confirm(code(&clock)).await.unwrap();
    assert_eq!(res.status(), 200);
    let codes: Vec<String> = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    app.mail_to(email, "security setting").await;
    let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["totp"], true);
    assert_eq!(me["recovery_codes_left"], 10);

    let b = app.browser_client();
    // The code used to confirm cannot sign in: a code is accepted once.
    let p = pending(&app, &b, email).await;
    assert_problem(
        second(&app, &b, &p, json!({ "totp_code": code(&clock) })).await,
        401,
        "invalid_credentials",
    )
    .await;
    // Next step: three wrong codes lock TOTP for the rest of the step, even for the right one.
    clock.advance_secs(30);
    let bad = format!("{:06}", (code(&clock).parse::<u32>().unwrap() + 7) % 1_000_000);
    for _ in 0..2 {
        assert_problem(second(&app, &b, &p, json!({ "totp_code": bad })).await, 401, "invalid_credentials")
            .await;
    }
    let p = pending(&app, &b, email).await;
    assert_problem(second(&app, &b, &p, json!({ "totp_code": bad })).await, 401, "invalid_credentials").await;
    assert_problem(
        second(&app, &b, &p, json!({ "totp_code": code(&clock) })).await,
        429,
        "too_many_attempts",
    )
    .await;
    // The next step unlocks it.
    clock.advance_secs(30);
    let good = code(&clock);
    let res = second(&app, &b, &p, json!({ "totp_code": good })).await;
    assert_eq!(res.status(), 200);
    assert_eq!(b.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    // That code again, on a new sign-in: refused.
    let other = app.browser_client();
    let p = pending(&app, &other, email).await;
    assert_problem(second(&app, &other, &p, json!({ "totp_code": good })).await, 401, "invalid_credentials")
        .await;
    // A pending sign-in completes once.
    let p2 = pending(&app, &other, email).await;
    let res = second(&app, &other, &p2, json!({ "recovery_code": codes[0] })).await;
    assert_eq!(res.status(), 200);
    assert_problem(
        second(&app, &app.client, &p2, json!({ "recovery_code": codes[1] })).await,
        401,
        "invalid_credentials",
    )
    .await;
    // A recovery code works once, typed in any case and grouping.
    let third = app.browser_client();
    let p = pending(&app, &third, email).await;
    assert_problem(
        second(&app, &third, &p, json!({ "recovery_code": codes[0] })).await,
        401,
        "invalid_credentials",
    )
    .await;
    let sloppy = codes[1].to_uppercase().replace('-', " ");
    assert_eq!(second(&app, &third, &p, json!({ "recovery_code": sloppy })).await.status(), 200);
    let me: Value = third.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["recovery_codes_left"], 8);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_used_without_the_second_step_is_reported_to_the_owner() {
    let clock = Arc::new(FakeClock::at(Timestamp::from_micros(1_790_000_010_000_000)));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let email = "alerted@example.com";
    let (c, csrf) = signed_in(&app, email).await;
    enable_totp(&app, &c, &csrf, &clock).await;
    let attacker = app.browser_client();
    let _ = pending(&app, &attacker, email).await;
    let souk = app.state().souk();
    assert_eq!(souk_core::identity::login::alert_unfinished_sign_ins(souk).await.unwrap(), 0, "not yet");
    clock.advance_secs(181);
    assert_eq!(souk_core::identity::login::alert_unfinished_sign_ins(souk).await.unwrap(), 1);
    assert_eq!(souk_core::identity::login::alert_unfinished_sign_ins(souk).await.unwrap(), 0, "alerted once");
    let mail = app.mail_to(email, "used without the second step").await;
    assert!(mail.body.contains("blue teapot") && mail.body.contains("change it now"), "{}", mail.body);
    app.stop().await;
}
