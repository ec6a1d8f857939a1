//! Staff over real HTTPS: the first admin from the setup link, passkey-only staff sign-in
//! (with a software authenticator), staff created by an admin, Cedar deciding every staff
//! route with decisions recorded in the audit log, and the audit log read and exported.
//! Ends with an access-control matrix: each route, each role, the owner and a non-owner.

use serde_json::{Value, json};
use souk_testkit::{Db, TestApp, link_token};

use crate::assert_problem;
use crate::identity::signed_in;
use crate::soft_passkey::Device;

/// Follows `link` (a setup or invitation link), adds a passkey, signs in with it on a new
/// client, and returns that client and its CSRF token.
pub async fn staff_with_passkey(
    app: &TestApp,
    email: &str,
    device: &mut Device,
    setup: bool,
) -> (reqwest::Client, String) {
    let c = app.browser_client();
    if setup {
        let token = link_token(app.setup_link.as_deref().unwrap(), "https://localhost");
        let res = c
            .post(app.url("/setup"))
            .header("origin", &app.base)
            .form(&[("token", token.as_str()), ("email", email), ("name", "First Admin")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{:?}", res.text().await);
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with("__Host-souk_session="))
            .unwrap();
        assert!(cookie.contains("SameSite=Strict"), "staff cookies are Strict: {cookie}");
    } else {
        let mail = app.mail_to(email, "Your Souk staff account").await;
        let token = link_token(&mail.body, "https://localhost");
        let res = c
            .post(app.url("/api/v1/auth/verify-email"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "the invitation signs in once");
    }
    let csrf = c.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(csrf.status(), 200);
    // A session from a link cannot act as staff.
    let res = c.get(app.url("/api/v1/audit")).send().await.unwrap();
    assert_problem(res, 403, "passkey_required").await;
    let sessions: Value = c.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sessions[0]["method"], if setup { "setup_link" } else { "email_link" });
    // The CSRF token of a link session comes from a fresh sign-in; take it from the page.
    let page = c.get(app.url("/account/security")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert_eq!(device.register(app, &c, &csrf, "Staff laptop").await, 201);
    let staff = app.browser_client();
    let res = device.sign_in(app, &staff).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    (staff, body["csrf_token"].as_str().unwrap().to_owned())
}

async fn id_of(app: &TestApp, c: &reqwest::Client) -> String {
    let me: Value = c.get(app.url("/api/v1/whoami")).send().await.unwrap().json().await.unwrap();
    me["account_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_actions_are_decided_by_policy_recorded_and_need_a_passkey() {
    let app = TestApp::spawn(Db::Sqlite).await;
    assert!(app.setup_link.as_deref().unwrap().contains("/setup?token="), "no admin yet: a setup link");
    let mut admin_device = Device::new();
    let (admin, admin_csrf) = staff_with_passkey(&app, "root@example.com", &mut admin_device, true).await;
    let admin_id = id_of(&app, &admin).await;
    // The setup link worked once.
    let token = link_token(app.setup_link.as_deref().unwrap(), "https://localhost");
    let res = app
        .client
        .post(app.url("/setup"))
        .header("origin", &app.base)
        .form(&[("token", token.as_str()), ("email", "second@example.com"), ("name", "Intruder")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // The admin creates a support agent, who joins with a passkey.
    let res = admin
        .post(app.url("/api/v1/staff/accounts"))
        .header("x-csrf-token", &admin_csrf)
        .json(&json!({ "email": "sam@example.com", "name": "Sam Support", "roles": ["support"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let sam_id = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let mut sam_device = Device::new();
    let (sam, _) = staff_with_passkey(&app, "sam@example.com", &mut sam_device, false).await;

    let (buyer, buyer_csrf) = signed_in(&app, "buyer@example.com").await;
    let buyer_id = id_of(&app, &buyer).await;

    // Support looks the buyer up; the admin may not (least privilege), nor may the buyer
    // look at anyone else.
    let res = sam.get(app.url(&format!("/api/v1/staff/accounts/{buyer_id}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["email"], "buyer@example.com");
    assert_problem(
        admin.get(app.url(&format!("/api/v1/staff/accounts/{buyer_id}"))).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        buyer.get(app.url(&format!("/api/v1/staff/accounts/{sam_id}"))).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        buyer.get(app.url(&format!("/api/v1/staff/accounts/{buyer_id}"))).send().await.unwrap().status(),
        200,
        "own account"
    );
    // Only admins assign roles, never their own.
    let roles = |c: &reqwest::Client, csrf: &str, id: &str, roles: Value| {
        c.put(app.url(&format!("/api/v1/staff/accounts/{id}/roles")))
            .header("x-csrf-token", csrf)
            .json(&json!({ "roles": roles }))
            .send()
    };
    assert_problem(roles(&buyer, &buyer_csrf, &sam_id, json!(["admin"])).await.unwrap(), 403, "forbidden")
        .await;
    assert_problem(
        roles(&admin, &admin_csrf, &admin_id, json!(["support", "admin"])).await.unwrap(),
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        roles(&admin, &admin_csrf, &sam_id, json!(["root"])).await.unwrap(),
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(
        roles(&admin, &admin_csrf, &sam_id, json!(["support", "trust_safety"])).await.unwrap().status(),
        204
    );
    assert_problem(sam.get(app.url("/api/v1/me")).send().await.unwrap(), 401, "unauthorized").await;
    let sam = app.browser_client();
    assert_eq!(
        sam_device.sign_in(&app, &sam).await.status(),
        200,
        "a new sign-in after the privilege change"
    );

    // The audit log: trust & safety reads it; the buyer's refusals are in it, with the policies.
    assert_problem(buyer.get(app.url("/api/v1/audit")).send().await.unwrap(), 403, "forbidden").await;
    let page: Value = sam
        .get(app.url(&format!("/api/v1/audit?action=authz.decision&actor={buyer_id}&outcome=denied")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let denied = page["entries"].as_array().unwrap();
    assert!(denied.len() >= 3, "{page}");
    assert!(denied.iter().all(|e| e["outcome"] == "denied" && e["actor_id"] == buyer_id.as_str()));
    assert!(denied.iter().any(|e| e["detail"]["action"] == "staff.assign_role"));
    assert_eq!(denied[0]["ip"], "127.0.0.1", "addresses are revealed to readers");
    // Support's view of the buyer was recorded as a sensitive decision.
    let page: Value = sam
        .get(app.url(&format!(
            "/api/v1/audit?action=authz.decision&target_kind=account&target_id={buyer_id}&outcome=success"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        page["entries"].as_array().unwrap().iter().any(|e| e["detail"]["action"] == "account.view"),
        "{page}"
    );
    // Paging.
    let first: Value = sam.get(app.url("/api/v1/audit?limit=2")).send().await.unwrap().json().await.unwrap();
    let after = first["next_after"].as_i64().unwrap();
    let second: Value = sam
        .get(app.url(&format!("/api/v1/audit?limit=2&after={after}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(second["entries"][0]["seq"].as_i64().unwrap() > after);
    assert_problem(
        sam.get(app.url("/api/v1/audit?from=yesterday")).send().await.unwrap(),
        400,
        "invalid_parameter",
    )
    .await;
    // Only admins export, as JSON lines.
    assert_problem(sam.get(app.url("/api/v1/audit/export")).send().await.unwrap(), 403, "forbidden").await;
    let res = admin.get(app.url("/api/v1/audit/export")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() > 20);
    assert!(lines.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()), "in log order");
    for action in [
        "account.sign_up",
        "login.success",
        "staff.create",
        "staff.assign_role",
        "audit.read",
        "passkey.register",
    ] {
        assert!(lines.iter().any(|l| l["action"] == action), "{action} recorded");
    }
    assert!(!text.contains("buyer@example.com"), "no personal data in clear in the log");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_accounts_lock_for_thirty_minutes_after_ten_failed_passwords() {
    let clock = std::sync::Arc::new(souk_domain::FakeClock::at(souk_domain::Timestamp::from_micros(
        1_790_000_010_000_000,
    )));
    let app = TestApp::builder(Db::Sqlite)
        .clock(clock.clone())
        .set("identity.login_per_address_per_minute", "1000")
        .set("identity.login_per_network_per_minute", "1000")
        .spawn()
        .await;
    // A staff account with a password (set through the reset link).
    let souk = app.state().souk();
    souk_core::staff::create_staff_as_operator(
        souk,
        "test",
        "ops@example.com",
        "Ops",
        &[souk_access::StaffRole::Support],
    )
    .await
    .unwrap();
    let c = app.browser_client();
    c.post(app.url("/api/v1/auth/password-reset"))
        .json(&json!({ "email": "ops@example.com" }))
        .send()
        .await
        .unwrap();
    let mail = app.mail_to("ops@example.com", "Reset your Souk password").await;
    let password = "a long staff passphrase for ops";
    let res = c
        .post(app.url("/api/v1/auth/password-reset/confirm"))
        .json(&json!({ "token": link_token(&mail.body, "https://localhost"), "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let login = |pw: &'static str| {
        c.post(app.url("/api/v1/auth/login"))
            .json(&json!({ "email": "ops@example.com", "password": pw }))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(login("wrong password for ops").await.unwrap().status(), 401);
        clock.advance_secs(11); // past the member delays, which top out at 10 s
    }
    let res = login(password).await.unwrap();
    let body = assert_problem(res, 429, "too_many_attempts").await;
    assert!(body["detail"].as_str().unwrap().contains("s."), "{body}");
    clock.advance_secs(29 * 60);
    assert_eq!(login(password).await.unwrap().status(), 429, "still locked at 29 minutes");
    clock.advance_secs(60);
    assert_eq!(login(password).await.unwrap().status(), 200, "unlocked after 30 minutes");
    app.stop().await;
}

/// The access-control matrix: every identity and staff route, each role, the resource's
/// owner and a non-owner. No BOLA (another's session, key or account), no BFLA (a buyer or
/// the wrong staff role on a staff route), no mass assignment (unknown fields refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_control_matrix_over_every_identity_and_staff_route() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let mut admin_device = Device::new();
    let (admin, admin_csrf) = staff_with_passkey(&app, "root@example.com", &mut admin_device, true).await;
    for (email, role) in [("sam@example.com", "support"), ("tess@example.com", "trust_safety")] {
        let res = admin
            .post(app.url("/api/v1/staff/accounts"))
            .header("x-csrf-token", &admin_csrf)
            .json(&json!({ "email": email, "name": "Staff", "roles": [role] }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let (support, support_csrf) =
        staff_with_passkey(&app, "sam@example.com", &mut Device::new(), false).await;
    let (analyst, analyst_csrf) =
        staff_with_passkey(&app, "tess@example.com", &mut Device::new(), false).await;
    let (owner, owner_csrf) = signed_in(&app, "owner@example.com").await;
    let (other, other_csrf) = signed_in(&app, "other@example.com").await;
    let owner_id = id_of(&app, &owner).await;
    let analyst_id = id_of(&app, &analyst).await;
    let sessions: Value =
        owner.get(app.url("/api/v1/me/sessions")).send().await.unwrap().json().await.unwrap();
    let owner_session = sessions[0]["id"].as_str().unwrap().to_owned();
    let key: Value = owner
        .post(app.url("/api/v1/me/api-keys"))
        .header("x-csrf-token", &owner_csrf)
        .json(&json!({ "name": "k", "scopes": "orders:read" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let owner_key = key["key"]["id"].as_str().unwrap().to_owned();

    let anon = app.client.clone();
    let actors: [(&str, &reqwest::Client, &str); 6] = [
        ("anonymous", &anon, ""),
        ("owner", &owner, &owner_csrf),
        ("other buyer", &other, &other_csrf),
        ("support", &support, &support_csrf),
        ("trust & safety", &analyst, &analyst_csrf),
        ("admin", &admin, &admin_csrf),
    ];
    // (method, path, body, expected status per actor in the order above)
    let rows: Vec<(&str, String, Value, [u16; 6])> = vec![
        ("GET", "/api/v1/me".into(), Value::Null, [401, 200, 200, 200, 200, 200]),
        ("GET", "/api/v1/me/sessions".into(), Value::Null, [401, 200, 200, 200, 200, 200]),
        ("DELETE", format!("/api/v1/me/sessions/{owner_session}"), Value::Null, [401, 0, 404, 404, 404, 404]),
        ("DELETE", format!("/api/v1/me/api-keys/{owner_key}"), Value::Null, [401, 0, 404, 404, 404, 404]),
        ("GET", format!("/api/v1/staff/accounts/{owner_id}"), Value::Null, [401, 200, 403, 200, 403, 403]),
        ("GET", "/api/v1/audit".into(), Value::Null, [401, 403, 403, 403, 200, 200]),
        ("GET", "/api/v1/audit/export".into(), Value::Null, [401, 403, 403, 403, 403, 200]),
        (
            "POST",
            "/api/v1/staff/accounts".into(),
            json!({ "email": "new@example.com", "name": "N", "roles": ["finance"] }),
            [401, 403, 403, 403, 403, 201],
        ),
        (
            "PUT",
            format!("/api/v1/staff/accounts/{analyst_id}/roles"),
            json!({ "roles": ["trust_safety"] }),
            [401, 403, 403, 403, 0, 204],
        ),
    ];
    for (method, path, body, expected) in &rows {
        for ((who, client, csrf), want) in actors.iter().zip(expected) {
            if *want == 0 {
                continue; // the owner's own destructive call is checked below
            }
            let mut req = client.request(method.parse().unwrap(), app.url(path));
            if !csrf.is_empty() {
                req = req.header("x-csrf-token", *csrf);
            }
            if !body.is_null() {
                req = req.json(body);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), *want, "{who}: {method} {path}: {:?}", res.text().await);
        }
    }
    // The owner may do what nobody else could.
    let res = owner
        .delete(app.url(&format!("/api/v1/me/api-keys/{owner_key}")))
        .header("x-csrf-token", &owner_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    // Mass assignment: fields a client may not set are refused, not ignored.
    let res = anon
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "sneaky@example.com", "name": "S", "password": "correct horse battery staple 42", "role": "staff" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "unprocessable").await;
    let res = owner
        .put(app.url("/api/v1/me/anti-phishing-phrase"))
        .header("x-csrf-token", &owner_csrf)
        .json(&json!({ "phrase": "x y", "account_id": analyst_id }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "unprocessable").await;
    let res = admin
        .post(app.url("/api/v1/staff/accounts"))
        .header("x-csrf-token", &admin_csrf)
        .json(&json!({ "email": "x@example.com", "name": "X", "roles": ["support"], "staff_roles": "admin" }))
        .send()
        .await
        .unwrap();
    assert_problem(res, 422, "unprocessable").await;
    app.stop().await;
}
