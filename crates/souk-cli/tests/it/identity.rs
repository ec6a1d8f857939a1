//! Accounts, sign-in, sessions and password reset over real HTTPS, with the attacks each
//! must withstand: enumeration (answers and timing), guessing (graduated delays, per-address
//! gate), session fixation, CSRF from another origin, revocation, single-use links.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use souk_testkit::{Db, TestApp, backend_tests, link_token};

use crate::assert_problem;

pub const PASSWORD: &str = "correct horse battery staple 42";

/// Signs up, follows the verification link, and returns the verified email.
pub async fn member(app: &TestApp, email: &str) -> reqwest::Client {
    let c = app.browser_client();
    let res = c
        .post(app.url("/api/v1/auth/signup"))
        .json(
            &json!({ "email": email, "name": "Test Member", "password": PASSWORD, "phrase": "blue teapot" }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let mail = app.mail_to(email, "Confirm your email").await;
    let token = link_token(&mail.body, "https://localhost");
    let res =
        c.post(app.url("/api/v1/auth/verify-email")).json(&json!({ "token": token })).send().await.unwrap();
    assert_eq!(res.status(), 200, "{:?} {token:?} {}", res.text().await, mail.body);
    c
}

/// Signs in `c` and returns the CSRF token.
pub async fn login(app: &TestApp, c: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    c.post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

pub async fn signed_in(app: &TestApp, email: &str) -> (reqwest::Client, String) {
    let c = member(app, email).await;
    let res = login(app, &c, email, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    (c, body["csrf_token"].as_str().unwrap().to_owned())
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

backend_tests! {
    async fn sign_up_verify_sign_in_and_out(app) {
        let email = "amina@example.com";
        let c = member(app, email).await;
        let mail = app.mail_to(email, "Confirm your email").await;
        assert!(mail.body.contains("Your anti-phishing phrase: blue teapot"), "{}", mail.body);
        // The link works once.
        let token = link_token(&mail.body, "https://localhost");
        let again = c.post(app.url("/api/v1/auth/verify-email")).json(&json!({ "token": token })).send().await.unwrap();
        assert_problem(again, 400, "invalid_parameter").await;

        let res = login(app, &c, email, PASSWORD).await;
        assert_eq!(res.status(), 200);
        let cookies = set_cookies(&res);
        let session = cookies.iter().find(|c| c.starts_with("__Host-souk_session=")).expect("session cookie");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(session.contains(attr), "{session}");
        }
        assert!(!session.contains("Domain"), "{session}");
        assert!(cookies.iter().any(|c| c.starts_with("__Host-souk_device=")), "{cookies:?}");
        let body: Value = res.json().await.unwrap();
        let csrf = body["csrf_token"].as_str().unwrap().to_owned();

        let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["email"], email);
        assert_eq!(me["role"], "buyer");
        assert_eq!(me["email_verified"], true);
        assert_eq!(me["anti_phishing_phrase"], "blue teapot");
        assert_eq!(me["totp"], false);
        assert!(me["advice"].as_array().unwrap().iter().any(|a| a.as_str().unwrap().contains("passkey")));

        let sessions: Value = c.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
        assert_eq!(sessions.as_array().unwrap().len(), 1);
        assert_eq!(sessions[0]["current"], true);
        assert_eq!(sessions[0]["place"], "127.0.0.0/24");

        let out = c.post(app.url("/api/v1/auth/logout")).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(out.status(), 204);
        assert_problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    }

    async fn sign_up_and_sign_in_answer_the_same_for_unknown_and_known_accounts(app) {
        let email = "known@example.com";
        let c = member(app, email).await;
        // Signing up again with a known address: the same answer, and a notice to the owner.
        let res = c
            .post(app.url("/api/v1/auth/signup"))
            .json(&json!({ "email": "Known@Example.com", "name": "Mallory", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let known_body = res.text().await.unwrap();
        let res = c
            .post(app.url("/api/v1/auth/signup"))
            .json(&json!({ "email": "fresh@example.com", "name": "Fresh", "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        assert_eq!(res.text().await.unwrap(), known_body);
        let notice = app.mail_to(email, "Someone tried to sign up").await;
        assert!(notice.body.contains("blue teapot"), "the notice carries the owner's phrase");

        let wrong = assert_problem(login(app, &c, email, "not the password at all!!").await, 401, "invalid_credentials").await;
        let unknown = assert_problem(login(app, &c, "nobody@example.com", "not the password at all!!").await, 401, "invalid_credentials").await;
        assert_eq!(wrong["detail"], unknown["detail"]);

        for addr in [email, "nobody-else@example.com"] {
            let res = c.post(app.url("/api/v1/auth/password-reset")).json(&json!({ "email": addr })).send().await.unwrap();
            assert_eq!(res.status(), 202);
            assert_eq!(res.json::<Value>().await.unwrap(), json!({ "status": "check_your_email" }));
        }
        app.mail_to(email, "Reset your Souk password").await;
        assert!(app.outbox().iter().all(|m| !m.to.contains("nobody-else")));
    }

    async fn password_reset_is_single_use_and_revokes_every_session(app) {
        let email = "reset@example.com";
        let (a, _) = signed_in(app, email).await;
        let b = app.browser_client();
        assert_eq!(login(app, &b, email, PASSWORD).await.status(), 200);
        // Asked from a browser with no session (a signed-in one would need its CSRF token).
        let res = app.client.post(app.url("/api/v1/auth/password-reset")).json(&json!({ "email": email })).send().await.unwrap();
        assert_eq!(res.status(), 202);
        let mail = app.mail_to(email, "Reset your Souk password").await;
        let token = link_token(&mail.body, "https://localhost");
        let b = app.browser_client();
        let weak = b
            .post(app.url("/api/v1/auth/password-reset/confirm"))
            .json(&json!({ "token": token, "password": "password" }))
            .send()
            .await
            .unwrap();
        let body = assert_problem(weak, 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().contains("password"), "{body}");
        let new = "an entirely new passphrase for souk";
        let ok = b
            .post(app.url("/api/v1/auth/password-reset/confirm"))
            .json(&json!({ "token": token, "password": new }))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 204);
        let replay = b
            .post(app.url("/api/v1/auth/password-reset/confirm"))
            .json(&json!({ "token": token, "password": "yet another passphrase for souk" }))
            .send()
            .await
            .unwrap();
        assert_problem(replay, 400, "invalid_parameter").await;
        for c in [&a, &b] {
            assert_problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
        }
        app.mail_to(email, "password was changed").await;
        assert_problem(login(app, &a, email, PASSWORD).await, 401, "invalid_credentials").await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(login(app, &a, email, new).await.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graduated_delays_apply_to_known_and_unknown_addresses_alike() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let email = "delay@example.com";
    let c = member(&app, email).await;
    for addr in [email, "ghost@example.com"] {
        assert_problem(login(&app, &c, addr, "wrong password number one").await, 401, "invalid_credentials")
            .await;
        let body = assert_problem(
            login(&app, &c, addr, "wrong password number two").await,
            429,
            "too_many_attempts",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains("1 s"), "{body}");
    }
    // Even the right password waits out the delay, then works and clears it.
    let res = login(&app, &c, email, PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_problem(login(&app, &c, email, "wrong password number three").await, 401, "invalid_credentials")
        .await;
    let res = login(&app, &c, email, PASSWORD).await;
    assert_eq!(res.status(), 429, "the second failure costs 3 s");
    assert!(res.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 2);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(login(&app, &c, email, PASSWORD).await.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_stuffing_from_one_network_is_stopped_before_hashing() {
    let app = TestApp::builder(Db::Sqlite)
        .set("identity.login_per_address_per_minute", "5")
        .set("identity.login_per_network_per_minute", "8")
        .set("http.trusted_proxies", "127.0.0.1/32")
        .spawn()
        .await;
    let c = app.browser_client();
    let attempt = |ip: &'static str, n: usize| {
        let c = c.clone();
        let url = app.url("/api/v1/auth/login");
        async move {
            c.post(url)
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": format!("victim{n}@example.com"), "password": "Summer2026!" }))
                .send()
                .await
                .unwrap()
        }
    };
    // Many accounts, one password each: the address's budget runs out, not the accounts'.
    for n in 0..5 {
        assert_eq!(attempt("198.51.100.7", n).await.status(), 401);
    }
    let started = Instant::now();
    let res = attempt("198.51.100.7", 5).await;
    assert_problem(res, 429, "too_many_attempts").await;
    assert!(
        started.elapsed() < Duration::from_millis(15),
        "refused before any hashing: {:?}",
        started.elapsed()
    );
    // A neighbour in the same /24 shares the network's budget (8), another network does not.
    for n in 6..9 {
        assert_eq!(attempt("198.51.100.8", n).await.status(), 401);
    }
    assert_eq!(attempt("198.51.100.9", 9).await.status(), 429);
    assert_eq!(attempt("203.0.113.5", 10).await.status(), 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_session_cookie_is_replaced_at_sign_in() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let email = "fixation@example.com";
    let c = member(&app, email).await;
    let planted = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("cookie", format!("__Host-souk_session={planted}"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let issued = set_cookies(&res).into_iter().find(|c| c.starts_with("__Host-souk_session=")).unwrap();
    assert!(!issued.contains(planted));
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("__Host-souk_session={planted}"))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "unauthorized").await;
    drop(c);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_from_another_origin_or_without_the_token_are_refused() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (c, csrf) = signed_in(&app, "csrf@example.com").await;
    let phrase = |origin: Option<&str>, token: Option<&str>| {
        let mut req =
            c.put(app.url("/api/v1/me/anti-phishing-phrase")).json(&json!({ "phrase": "green owl" }));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    assert_problem(phrase(Some("https://evil.example"), Some(&csrf)).await.unwrap(), 403, "csrf_failed")
        .await;
    assert_problem(phrase(Some("null"), Some(&csrf)).await.unwrap(), 403, "csrf_failed").await;
    assert_problem(phrase(Some(&app.base), None).await.unwrap(), 403, "csrf_failed").await;
    assert_problem(phrase(Some(&app.base), Some("forged")).await.unwrap(), 403, "csrf_failed").await;
    // Another member's token does not work on this session.
    let (_, other_csrf) = signed_in(&app, "other@example.com").await;
    assert_problem(phrase(None, Some(&other_csrf)).await.unwrap(), 403, "csrf_failed").await;
    assert_eq!(phrase(Some(&app.base), Some(&csrf)).await.unwrap().status(), 204);
    // Login CSRF: a cross-site form cannot sign the victim in to the attacker's account.
    let res = app
        .browser_client()
        .post(app.url("/api/v1/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({ "email": "csrf@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 403, "csrf_failed").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_session_ends_it_on_its_next_request() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let email = "devices@example.com";
    let (laptop, csrf) = signed_in(&app, email).await;
    let phone = app.browser_client();
    assert_eq!(login(&app, &phone, email, PASSWORD).await.status(), 200);
    let sessions: Value =
        laptop.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    let other = sessions.as_array().unwrap().iter().find(|s| s["current"] == false).unwrap();
    let id = other["id"].as_str().unwrap();
    // Another account cannot revoke it (no IDOR): it is simply not found.
    let (mallory, mallory_csrf) = signed_in(&app, "mallory@example.com").await;
    let res = mallory
        .delete(app.url(&format!("/api/v1/me/sessions/{id}")))
        .header("x-csrf-token", &mallory_csrf)
        .send()
        .await
        .unwrap();
    assert_problem(res, 404, "not_found").await;
    assert_eq!(phone.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    let res = laptop
        .delete(app.url(&format!("/api/v1/me/sessions/{id}")))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(phone.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    assert_eq!(laptop.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_gets_an_alert_and_sensitive_changes_need_a_fresh_sign_in() {
    let clock = std::sync::Arc::new(souk_domain::FakeClock::at(souk_domain::Timestamp::from_micros(
        1_790_000_000_000_000,
    )));
    let app = TestApp::builder(Db::Sqlite).clock(clock.clone()).spawn().await;
    let email = "stepup@example.com";
    let (c, csrf) = signed_in(&app, email).await;
    let other_device = app.browser_client();
    assert_eq!(login(&app, &other_device, email, PASSWORD).await.status(), 200);
    let alert = app.mail_to(email, "New sign-in").await;
    assert!(alert.body.contains("blue teapot") && alert.body.contains("127.0.0.0/24"), "{}", alert.body);

    clock.advance_secs(6 * 60);
    let change = |pw: &'static str| {
        c.put(app.url("/api/v1/me/password"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "new_password": pw }))
            .send()
    };
    assert_problem(change("a brand new passphrase for me").await.unwrap(), 403, "step_up_required").await;
    let res = c
        .post(app.url("/api/v1/me/reauthenticate"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "password": "wrong" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 401, "invalid_credentials").await;
    let res = c
        .post(app.url("/api/v1/me/reauthenticate"))
        .header("x-csrf-token", &csrf)
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(change("a brand new passphrase for me").await.unwrap().status(), 204);
    // The other device was signed out; this one stays.
    assert_problem(other_device.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    assert_eq!(c.get(app.url("/api/v1/me")).send().await.unwrap().status(), 200);
    // An idle session ends after 30 minutes.
    clock.advance_secs(31 * 60);
    assert_problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    app.stop().await;
}

/// Times `request` for `known` and `unknown` addresses, interleaved so that drift in
/// machine load affects both samples alike, and returns the two medians in milliseconds.
async fn medians<F, Fut>(n: usize, request: F) -> (f64, f64)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..n {
        for (email, sample) in
            [(format!("t{i}@example.com"), &mut known), (format!("u{i}@example.com"), &mut unknown)]
        {
            let t = Instant::now();
            let res = request(email).await;
            sample.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(res.status().is_client_error() || res.status() == 202, "{}", res.status());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut known), median(&mut unknown))
}

fn assert_same_time(what: &str, (k, u): (f64, f64)) {
    assert!(k > 5.0 && u > 5.0, "{what}: both paths do the work: known {k:.1} ms, unknown {u:.1} ms");
    let diff = (k - u).abs();
    assert!(diff < (0.1 * k.min(u)).max(3.0), "{what}: medians differ: known {k:.2} ms, unknown {u:.2} ms");
}

/// Statistical check that sign-in, sign-up and reset take the same time whether or not an
/// account has the address: both paths hash (the decoy for a missing account) and answers
/// are padded to a floor. Without these, a failed sign-in on a real account would take the
/// whole argon2id cost (~15 ms) longer, and the extra lookups a few more milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_take_the_same_time_whether_or_not_an_account_exists() {
    const N: usize = 15;
    let app = TestApp::builder(Db::Sqlite)
        .set("identity.login_per_address_per_minute", "1000")
        .set("identity.login_per_network_per_minute", "1000")
        .set("rate_limit.enabled", "false")
        .spawn()
        .await;
    let c = app.browser_client();
    let signup = |email: String| {
        let c = c.clone();
        let url = app.url("/api/v1/auth/signup");
        async move {
            c.post(url)
                .json(&json!({ "email": email, "name": "Timing", "password": PASSWORD }))
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..N {
        assert_eq!(signup(format!("t{i}@example.com")).await.status(), 202);
    }
    let login = |email: String| {
        let c = c.clone();
        let url = app.url("/api/v1/auth/login");
        async move {
            c.post(url)
                .json(&json!({ "email": email, "password": "a wrong password here" }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_same_time("sign-in", medians(N, login).await);
    let reset = |email: String| {
        let c = c.clone();
        let url = app.url("/api/v1/auth/password-reset");
        async move { c.post(url).json(&json!({ "email": email })).send().await.unwrap() }
    };
    assert_same_time("reset", medians(N, reset).await);
    // Sign-up again: t* are taken (a notice is mailed), u* are new accounts.
    assert_same_time("sign-up", medians(N, signup).await);
    app.stop().await;
}

/// With `mail.smtp_url` set, mail leaves over SMTP (here a real listener on loopback):
/// nothing is written to the outbox folder, and the message carries the phrase and link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_out_over_smtp_when_configured() {
    let smtp = souk_testkit::smtp::SmtpSink::start().await;
    let app = TestApp::builder(Db::Sqlite)
        .set("mail.smtp_url", smtp.url())
        .set("mail.from", "Souk Test <no-reply@souk.test>")
        .spawn()
        .await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "smtp@example.com", "name": "Mail", "password": PASSWORD, "phrase": "copper kettle" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let m = smtp.wait_for("smtp@example.com").await;
    assert_eq!(m.from, "<no-reply@souk.test>");
    assert!(m.data.contains("Subject: Confirm your email address for Souk"), "{}", m.data);
    assert!(m.data.contains("copper kettle"), "{}", m.data);
    assert!(m.data.contains("verify-email?token="), "{}", m.data);
    assert!(app.outbox().is_empty(), "nothing in the outbox");
    // The development mail page does not exist when mail goes out for real.
    assert_eq!(app.get("/dev/mail").await.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_smtp_to_a_remote_relay_is_refused_at_start() {
    let err = souk_cli::config::Config::load(&souk_cli::config::Sources {
        flags: vec![("mail.smtp_url", "smtp://user:secret@mail.example.com:25".into())],
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(err.key, "mail.smtp_url");
    assert!(err.message.contains("smtps://"), "{err}");
    assert!(!err.to_string().contains("secret"), "the password is not echoed: {err}");
}

/// The development outbox page shows mail to this machine only: it holds live links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mail_page_is_for_loopback_only() {
    let app = TestApp::builder(Db::Sqlite).set("http.trusted_proxies", "127.0.0.1/32").spawn().await;
    let _ = member(&app, "outbox@example.com").await;
    let page = app.get("/dev/mail").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert!(page.text().await.unwrap().contains("Confirm your email address for Souk"));
    let remote =
        app.client.get(app.url("/dev/mail")).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(remote.status(), 404, "a client behind the proxy is not this machine");
    let relayed = app.client.get(app.url("/dev/mail")).header("x-real-ip", "127.0.0.1").send().await.unwrap();
    assert_eq!(relayed.status(), 404, "anything that came through a proxy is refused");
    app.stop().await;
}

/// Password spraying: one common password against many accounts from many addresses.
/// Common passwords cannot be chosen at sign-up (breach list, zxcvbn), every miss costs
/// the account's throttle a delay, and each account is answered alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_spraying_finds_nothing_to_spray() {
    let app = TestApp::builder(Db::Sqlite).set("http.trusted_proxies", "127.0.0.1/32").spawn().await;
    for weak in ["Password123!", "qwertyuiop123456", "iloveyou12345678", "Summer2026Summer2026"] {
        let res = app
            .client
            .post(app.url("/api/v1/auth/signup"))
            .json(&json!({ "email": "weak@example.com", "name": "W", "password": weak }))
            .send()
            .await
            .unwrap();
        let body = assert_problem(res, 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().starts_with("password:"), "{weak}: {body}");
    }
    for i in 0..5 {
        let _ = member(&app, &format!("victim{i}@example.com")).await;
    }
    for i in 0..5 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("198.51.{i}.10"))
            .json(&json!({ "email": format!("victim{i}@example.com"), "password": "Password123!" }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 401, "invalid_credentials").await;
        // A second guess at the same account from yet another address waits its turn.
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("203.0.{i}.10"))
            .json(&json!({ "email": format!("victim{i}@example.com"), "password": "Welcome123!" }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 429, "too_many_attempts").await;
    }
    app.stop().await;
}

/// Pre-hijacking: someone signs up with a victim's address before the victim does. Until
/// the address is confirmed the account can hold no passkey, authenticator app or API key,
/// so nothing the attacker added survives the victim's reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_account_cannot_collect_credentials() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let attacker = app.browser_client();
    let res = attacker
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "victim@example.com", "name": "Victim", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let res = login(&app, &attacker, "victim@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200, "an unconfirmed account may sign in");
    let csrf = res.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    for (path, body) in [
        ("/api/v1/me/passkeys/start", json!(null)),
        ("/api/v1/me/totp", json!(null)),
        ("/api/v1/me/api-keys", json!({ "name": "k", "scopes": "orders:read" })),
    ] {
        let mut req = attacker.post(app.url(path)).header("x-csrf-token", &csrf);
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = assert_problem(req.send().await.unwrap(), 400, "invalid_parameter").await;
        assert!(res["detail"].as_str().unwrap().contains("confirm your email"), "{path}: {res}");
    }
    // The victim resets the password from the mail: the attacker's session and password go.
    let res = app
        .client
        .post(app.url("/api/v1/auth/password-reset"))
        .json(&json!({ "email": "victim@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail = app.mail_to("victim@example.com", "Reset your Souk password").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/password-reset/confirm"))
        .json(&json!({ "token": link_token(&mail.body, "https://localhost"), "password": "the victim's own passphrase" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_problem(attacker.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    app.stop().await;
}

/// Changing the address: a step-up, a link to the new address, notices to the old one, and
/// every session signed out. Asking for a taken address changes nothing and tells its owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_email_address_needs_the_new_inbox_and_signs_everyone_out() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (c, csrf) = signed_in(&app, "old@example.com").await;
    let _ = member(&app, "taken@example.com").await;
    let change = |email: &'static str| {
        c.put(app.url("/api/v1/me/email"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "email": email }))
            .send()
    };
    assert_problem(change("old@example.com").await.unwrap(), 400, "invalid_parameter").await;
    assert_eq!(
        change("taken@example.com").await.unwrap().status(),
        202,
        "the same answer for a taken address"
    );
    app.mail_to("taken@example.com", "Someone tried to use your address").await;
    assert_eq!(change("new@example.com").await.unwrap().status(), 202);
    let notice = app.mail_to("old@example.com", "change of your Souk email address was requested").await;
    assert!(notice.body.contains("new@example.com"));
    let mail = app.mail_to("new@example.com", "Confirm your new email address").await;
    assert!(mail.body.contains("blue teapot"), "the phrase is on mail to the new address too");
    let token = link_token(&mail.body, "https://localhost");
    // Nothing changed yet.
    let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], "old@example.com");
    let res = app
        .client
        .post(app.url("/api/v1/auth/confirm-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let again = app
        .client
        .post(app.url("/api/v1/auth/confirm-email"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_problem(again, 400, "invalid_parameter").await;
    assert_problem(c.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    app.mail_to("old@example.com", "Your Souk email address was changed").await;
    let fresh = app.browser_client();
    assert_problem(login(&app, &fresh, "old@example.com", PASSWORD).await, 401, "invalid_credentials").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = login(&app, &fresh, "new@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let me: Value = fresh.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["email"].as_str(), me["email_verified"].as_bool()), (Some("new@example.com"), Some(true)));
    app.stop().await;
}

/// Web forms acting on a session need its CSRF token; without a session they send the
/// browser to sign in and come back to the right page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_forms_need_the_session_and_its_token() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let (c, _) = signed_in(&app, "forms@example.com").await;
    let page = c.get(app.url("/account/security")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let post = |client: &reqwest::Client, path: &str, csrf: &str| {
        client
            .post(app.url(path))
            .header("origin", &app.base)
            .form(&[("csrf", csrf), ("phrase", "red kite")])
            .send()
    };
    assert_eq!(post(&c, "/account/phrase", "forged").await.unwrap().status(), 403);
    let res = post(&c, "/account/phrase", &csrf).await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account/security?done=phrase");
    let me: Value = c.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["anti_phishing_phrase"], "red kite");
    // A form refused for its content comes back as the same page with the reason next to the
    // form (status 422), not as a generic error page.
    let res = c
        .post(app.url("/account/password"))
        .header("origin", &app.base)
        .form(&[("csrf", csrf.as_str()), ("new_password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"new_password\""), "the security page is shown again");
    assert!(page.to_lowercase().contains("password"), "{page}");
    let anonymous = app.browser_client();
    let res = post(&anonymous, "/account/sessions/revoke-others", "x").await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=/account/sessions");
    app.stop().await;
}
