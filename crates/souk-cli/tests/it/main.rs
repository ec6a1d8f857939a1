//! Souk's integration suite: the real server, real TLS, real databases, over the network.
//! One test binary (faster to link); each file is one area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::missing_panics_doc, clippy::too_many_lines, reason = "tests")]

mod actors;
mod api_keys;
mod browser;
mod buyer_browser;
mod buyer_pages;
mod catalog;
mod checkout;
mod cli;
mod conversations;
mod crash;
mod errors;
mod finance;
mod headers;
mod identity;
mod ledger;
mod listings;
mod mfa;
mod openapi;
mod passkeys;
mod payments;
mod probes;
mod rate_limit;
mod risk;
mod risk_cli;
mod seller_browser;
mod seller_pages;
mod shops;
mod shutdown;
mod soft_passkey;
mod staff;
mod tls;
mod trust;
mod vault_process;
mod webhooks;

use serde_json::Value;

/// Asserts `res` is an RFC 9457 problem with `status` and `code`, and returns its body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ctype = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ctype.as_deref(), Some("application/problem+json"));
    let body: Value = res.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["type"].as_str().is_some_and(|t| t.ends_with(code)));
    assert_eq!(body["request_id"].as_str().map(str::len), Some(32), "{body}");
    body
}
