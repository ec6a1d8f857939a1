//! Shops over real HTTPS: a seller opens a shop, uploads an identity document (checked by
//! content) and submits it; trust & safety reviews (reads recorded), rejects with a
//! reason, then verifies; staff suspend and reinstate; the owner invites shop staff by
//! mail. With the attacks: another seller's shop (BOLA), mass assignment of the status,
//! documents that are not what they claim, a leaked invitation link, racing decisions.

use serde_json::{Value, json};
use souk_domain::{Clock as _, FakeClock, SystemClock};
use souk_testkit::{TestApp, backend_tests, link_token};

use crate::actors::{account_id, open_shop, seller, staff};
use crate::assert_problem;
use crate::identity::signed_in;
use crate::mfa::enable_totp;

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn upload(
    app: &TestApp,
    c: &reqwest::Client,
    csrf: &str,
    shop: &str,
    bytes: &[u8],
) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/seller/shops/{shop}/verification/documents")))
        .header("x-csrf-token", csrf)
        // The client's claim is ignored; the content decides.
        .header("content-type", "image/jpeg")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

async fn submit(app: &TestApp, c: &reqwest::Client, csrf: &str, shop: &str, doc: &str) -> reqwest::Response {
    c.post(app.url(&format!("/api/v1/seller/shops/{shop}/verification")))
        .header("x-csrf-token", csrf)
        .json(&json!({
            "legal_name": "Atlas Ceramics SARL", "address": "12 rue des Potiers, 69001 Lyon",
            "registration_number": "FR 123 456 789", "document_id": doc
        }))
        .send()
        .await
        .unwrap()
}

backend_tests! {
    async fn a_shop_is_opened_verified_suspended_and_reinstated(app) {
        // A buyer cannot open a shop; a seller opens one, once, at a free address.
        let (buyer, buyer_csrf) = signed_in(app, "buyer@example.com").await;
        let res = buyer
            .post(app.url("/api/v1/seller/shops"))
            .header("x-csrf-token", &buyer_csrf)
            .json(&json!({ "slug": "sneaky", "name": "Sneaky", "contact": "a@b.example", "seller_kind": "individual" }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 409, "conflict").await;
        let (owner, csrf) = seller(app, "owner@example.com").await;
        let shop = open_shop(app, &owner, &csrf, "atlas").await;
        let again = owner
            .post(app.url("/api/v1/seller/shops"))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "slug": "atlas-two", "name": "Atlas 2", "contact": "a@b.example", "seller_kind": "business" }))
            .send()
            .await
            .unwrap();
        assert_problem(again, 409, "conflict").await;
        let (rival, rival_csrf) = seller(app, "rival@example.com").await;
        let taken = rival
            .post(app.url("/api/v1/seller/shops"))
            .header("x-csrf-token", &rival_csrf)
            .json(&json!({ "slug": "atlas", "name": "Atlas", "contact": "r@b.example", "seller_kind": "business" }))
            .send()
            .await
            .unwrap();
        let body = assert_problem(taken, 409, "conflict").await;
        assert!(body["detail"].as_str().unwrap().contains("address is taken"), "{body}");
        let rival_shop = open_shop(app, &rival, &rival_csrf, "rival").await;

        // The owner's private view: contact in clear, the unverified limits.
        let detail: Value =
            owner.get(app.url(&format!("/api/v1/seller/shops/{shop}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(detail["shop"]["status"], "unverified");
        assert_eq!(detail["shop"]["contact"], "help@atlas.example");
        assert_eq!(detail["listing_limit"], 5);
        assert_eq!(detail["payouts_held"], true);
        // BOLA: the rival sees nothing, changes nothing, uploads nothing.
        assert_problem(rival.get(app.url(&format!("/api/v1/seller/shops/{shop}"))).send().await.unwrap(), 404, "not_found").await;
        let edit = json!({ "name": "Pwned", "contact": "x@y.example", "seller_kind": "business" });
        let res = rival.put(app.url(&format!("/api/v1/seller/shops/{shop}"))).header("x-csrf-token", &rival_csrf).json(&edit).send().await.unwrap();
        assert_problem(res, 403, "forbidden").await;
        assert_problem(upload(app, &rival, &rival_csrf, &shop, PDF).await, 403, "forbidden").await;
        // Mass assignment: the status is not a field a seller can send.
        let res = owner
            .put(app.url(&format!("/api/v1/seller/shops/{shop}")))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "Atlas", "contact": "x@y.example", "seller_kind": "business", "status": "verified" }))
            .send()
            .await
            .unwrap();
        assert_problem(res, 422, "unprocessable").await;
        let res = owner
            .put(app.url(&format!("/api/v1/seller/shops/{shop}")))
            .header("x-csrf-token", &csrf)
            .json(&json!({ "name": "Atlas Ceramics", "contact": "help@atlas.example", "seller_kind": "business", "return_policy": "30 days, buyer pays return shipping" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "unverified");

        // Documents are judged by content: text, HTML and a PDF with JavaScript are refused.
        for bad in [&b"hello, I am a passport"[..], b"<html><script>alert(1)</script></html>", b"%PDF-1.7\n<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\n%%EOF"] {
            assert_problem(upload(app, &owner, &csrf, &shop, bad).await, 400, "invalid_parameter").await;
        }
        let res = upload(app, &owner, &csrf, &shop, PDF).await;
        assert_eq!(res.status(), 201);
        let doc = res.json::<Value>().await.unwrap()["document_id"].as_str().unwrap().to_owned();
        // A document of another shop cannot be cited.
        let rival_doc = upload(app, &rival, &rival_csrf, &rival_shop, PDF).await.json::<Value>().await.unwrap()["document_id"].as_str().unwrap().to_owned();
        assert_problem(submit(app, &owner, &csrf, &shop, &rival_doc).await, 404, "not_found").await;
        let res = submit(app, &owner, &csrf, &shop, &doc).await;
        assert_eq!(res.status(), 201);
        let verification = res.json::<Value>().await.unwrap()["verification_id"].as_str().unwrap().to_owned();
        assert_problem(submit(app, &owner, &csrf, &shop, &doc).await, 409, "conflict").await;
        // The rival submits the same registration number: the reviewer will see it.
        assert_eq!(submit(app, &rival, &rival_csrf, &rival_shop, &rival_doc).await.status(), 201);

        let people = staff(app, &[("tess@example.com", &["trust_safety"]), ("sam@example.com", &["support"])]).await;
        let (admin, _) = &people[0];
        let (tess, tess_csrf) = &people[1];
        let (sam, sam_csrf) = &people[2];
        let queue: Value = tess.get(app.url("/api/v1/staff/verifications")).send().await.unwrap().json().await.unwrap();
        let ids: Vec<&str> = queue["items"].as_array().unwrap().iter().map(|i| i["verification_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], verification, "oldest first");
        assert_problem(sam.get(app.url("/api/v1/staff/verifications")).send().await.unwrap(), 403, "forbidden").await;

        // The review shows the sealed details in clear, and the shared registration number.
        let res = tess.get(app.url(&format!("/api/v1/staff/verifications/{verification}"))).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let review: Value = res.json().await.unwrap();
        assert_eq!(review["legal_name"], "Atlas Ceramics SARL");
        assert_eq!(review["registration_number"], "FR123456789");
        assert_eq!(review["same_registration"][0]["shop_id"], rival_shop.as_str());
        for who in [&rival, sam] {
            assert_problem(who.get(app.url(&format!("/api/v1/staff/verifications/{verification}"))).send().await.unwrap(), 403, "forbidden").await;
        }
        let doc_url = app.url(review["document_url"].as_str().unwrap());
        let res = tess.get(&doc_url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(res.headers()["content-security-policy"], "sandbox; default-src 'none'");
        assert_eq!(&res.bytes().await.unwrap()[..], PDF);
        assert_eq!(owner.get(&doc_url).send().await.unwrap().status(), 200, "the owner reads their own");
        assert_problem(sam.get(&doc_url).send().await.unwrap(), 403, "forbidden").await;
        assert_problem(rival.get(&doc_url).send().await.unwrap(), 403, "forbidden").await;

        // Decisions: a rejection needs a reason; support cannot decide.
        let decide = |who: &reqwest::Client, csrf: &str, body: Value| {
            who.post(app.url(&format!("/api/v1/staff/verifications/{verification}/decision"))).header("x-csrf-token", csrf).json(&body).send()
        };
        assert_problem(decide(tess, tess_csrf, json!({ "decision": "reject" })).await.unwrap(), 400, "invalid_parameter").await;
        assert_problem(decide(sam, sam_csrf, json!({ "decision": "verify" })).await.unwrap(), 403, "forbidden").await;
        let res = decide(tess, tess_csrf, json!({ "decision": "reject", "reason": "The document is not readable." })).await.unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "rejected");
        let mail = app.mail_to("owner@example.com", "verification").await;
        assert!(mail.body.contains("The document is not readable."), "{}", mail.body);
        assert_problem(decide(tess, tess_csrf, json!({ "decision": "verify" })).await.unwrap(), 409, "conflict").await;
        let status: Value = owner.get(app.url(&format!("/api/v1/seller/shops/{shop}/verification"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(status["decision"], "rejected");

        // The owner submits again; this time the shop is verified and its limits lift.
        let res = submit(app, &owner, &csrf, &shop, &doc).await;
        let second = res.json::<Value>().await.unwrap()["verification_id"].as_str().unwrap().to_owned();
        let res = tess
            .post(app.url(&format!("/api/v1/staff/verifications/{second}/decision")))
            .header("x-csrf-token", tess_csrf)
            .json(&json!({ "decision": "verify" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "verified");
        let detail: Value = owner.get(app.url(&format!("/api/v1/seller/shops/{shop}"))).send().await.unwrap().json().await.unwrap();
        assert_eq!(detail["shop"]["status"], "verified");
        assert!(detail["listing_limit"].is_null());

        // Suspension takes the shop off the storefront; reinstatement brings it back verified.
        assert_eq!(app.get("/api/v1/shops/atlas").await.status(), 200);
        let suspend = |who: &reqwest::Client, csrf: &str| {
            who.post(app.url(&format!("/api/v1/staff/shops/{shop}/suspension"))).header("x-csrf-token", csrf).json(&json!({ "reason": "Counterfeit goods reported." })).send()
        };
        assert_problem(suspend(sam, sam_csrf).await.unwrap(), 403, "forbidden").await;
        assert_problem(suspend(&owner, &csrf).await.unwrap(), 403, "forbidden").await;
        assert_eq!(suspend(tess, tess_csrf).await.unwrap().status(), 200);
        assert_eq!(app.get("/api/v1/shops/atlas").await.status(), 404);
        assert!(!app.get("/api/v1/shops").await.text().await.unwrap().contains("\"atlas\""));
        app.mail_to("owner@example.com", "suspended").await;
        let res = tess
            .post(app.url(&format!("/api/v1/staff/shops/{shop}/reinstatement")))
            .header("x-csrf-token", tess_csrf)
            .json(&json!({ "reason": "Report was unfounded." }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.json::<Value>().await.unwrap()["status"], "verified");
        assert_eq!(app.get("/api/v1/shops/atlas").await.status(), 200);

        // Every step is in the audit log, reads of the sealed details included.
        let audit: Value = admin.get(app.url(&format!("/api/v1/audit?target_kind=shop&target_id={shop}&limit=100"))).send().await.unwrap().json().await.unwrap();
        let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        for expected in ["shop.open", "shop.update", "shop.document_upload", "shop.verification_submit", "shop.verification_read", "shop.document_read", "shop.verification_decide", "shop.suspend", "shop.reinstate"] {
            assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
        }
        let _ = buyer;
        let _ = account_id(app, &owner).await;
    }

    async fn shop_staff_join_by_invitation_only_with_the_invited_address(app) {
        let (owner, csrf) = seller(app, "owner@example.com").await;
        let shop = open_shop(app, &owner, &csrf, "nordlys").await;
        let invite = |role: &str, email: &str| {
            owner.post(app.url(&format!("/api/v1/seller/shops/{shop}/invitations"))).header("x-csrf-token", &csrf).json(&json!({ "email": email, "role": role })).send()
        };
        assert_problem(invite("owner", "packer@example.com").await.unwrap(), 400, "invalid_parameter").await;
        let res = invite("fulfilment", "packer@example.com").await.unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.json::<Value>().await.unwrap()["state"], "open");
        let mail = app.mail_to("packer@example.com", "invited").await;
        let token = link_token(&mail.body, "https://localhost");
        let accept = |c: &reqwest::Client, csrf: &str| {
            c.post(app.url("/api/v1/seller/invitations/accept")).header("x-csrf-token", csrf).json(&json!({ "token": token })).send()
        };

        // A leaked link is useless to anyone signed in with another address.
        let (eve, eve_csrf) = signed_in(app, "eve@example.com").await;
        let body = assert_problem(accept(&eve, &eve_csrf).await.unwrap(), 400, "invalid_parameter").await;
        assert!(body["detail"].as_str().unwrap().contains("another address"), "{body}");
        // The invited person needs a second factor first, like every seller.
        let (packer, packer_csrf) = signed_in(app, "packer@example.com").await;
        assert_problem(accept(&packer, &packer_csrf).await.unwrap(), 403, "mfa_required").await;
        enable_totp(app, &packer, &packer_csrf, &FakeClock::at(SystemClock.now())).await;
        let res = accept(&packer, &packer_csrf).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["shop_id"], shop.as_str());
        assert_problem(accept(&packer, &packer_csrf).await.unwrap(), 400, "invalid_parameter").await;

        // Fulfilment sees the shop, but cannot edit it or manage its staff.
        let mine: Value = packer.get(app.url("/api/v1/seller/shops")).send().await.unwrap().json().await.unwrap();
        assert_eq!(mine[0]["role"], "fulfilment");
        assert_eq!(packer.get(app.url(&format!("/api/v1/seller/shops/{shop}"))).send().await.unwrap().status(), 200);
        let edit = json!({ "name": "Mine now", "contact": "x@y.example", "seller_kind": "business" });
        assert_problem(packer.put(app.url(&format!("/api/v1/seller/shops/{shop}"))).header("x-csrf-token", &packer_csrf).json(&edit).send().await.unwrap(), 403, "forbidden").await;
        let res = packer.post(app.url(&format!("/api/v1/seller/shops/{shop}/invitations"))).header("x-csrf-token", &packer_csrf).json(&json!({ "email": "friend@example.com", "role": "manager" })).send().await.unwrap();
        assert_problem(res, 403, "forbidden").await;
        let res = packer.post(app.url(&format!("/api/v1/seller/shops/{shop}/verification/documents"))).header("x-csrf-token", &packer_csrf).body(PDF.to_vec()).send().await.unwrap();
        assert_problem(res, 403, "forbidden").await;

        // A revoked invitation cannot be accepted.
        let res = invite("manager", "later@example.com").await.unwrap();
        let inv = res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let mail = app.mail_to("later@example.com", "invited").await;
        let later_token = link_token(&mail.body, "https://localhost");
        let res = owner.delete(app.url(&format!("/api/v1/seller/shops/{shop}/invitations/{inv}"))).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(res.status(), 204);
        let (later, later_csrf) = signed_in(app, "later@example.com").await;
        enable_totp(app, &later, &later_csrf, &FakeClock::at(SystemClock.now())).await;
        let res = later.post(app.url("/api/v1/seller/invitations/accept")).header("x-csrf-token", &later_csrf).json(&json!({ "token": later_token })).send().await.unwrap();
        assert_problem(res, 400, "invalid_parameter").await;

        // The owner removes the packer, whose access ends with the next request.
        let packer_id = account_id(app, &packer).await;
        let res = owner.delete(app.url(&format!("/api/v1/seller/shops/{shop}/members/{packer_id}"))).header("x-csrf-token", &csrf).send().await.unwrap();
        assert_eq!(res.status(), 204);
        assert_problem(packer.get(app.url(&format!("/api/v1/seller/shops/{shop}"))).send().await.unwrap(), 404, "not_found").await;
        let _ = eve;
    }
}

backend_tests! {
    // SQLite allows one writer: a transaction that reads before it writes must take the
    // write lock at its start, or a concurrent writer makes it fail at once ("database is
    // locked", a 503) instead of waiting its turn. Sellers opening shops at the same moment
    // all succeed.
    async fn sellers_opening_shops_at_the_same_moment_all_succeed(app) {
        let mut sellers = Vec::new();
        for i in 0..6 {
            sellers.push(seller(app, &format!("rush-{i}@example.com")).await);
        }
        let opened = futures_util::future::join_all(sellers.iter().enumerate().map(|(i, (c, csrf))| {
            c.post(app.url("/api/v1/seller/shops"))
                .header("x-csrf-token", csrf)
                .json(&json!({
                    "slug": format!("rush-{i}"), "name": format!("Rush {i}"), "tagline": "Made by hand",
                    "description": "Things we make.", "location": "Lyon", "return_policy": "30 days",
                    "contact": format!("help@rush-{i}.example"), "seller_kind": "business"
                }))
                .send()
        }))
        .await;
        for res in opened {
            let res = res.unwrap();
            assert_eq!(res.status(), 201, "{:?}", res.text().await);
        }
    }
}
