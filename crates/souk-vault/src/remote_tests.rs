//! The vault's listener and [`RemoteVault`] in one process: the same answers as in-process,
//! mutual TLS (no client certificate, or one from another CA, fails the handshake),
//! scoped credentials (401 and 403, audited), and no card number in any answer.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use souk_crypto::provider::FileKeyProvider;
use souk_domain::entropy::SeededEntropy;
use souk_domain::{Currency, FakeClock, Money, OsEntropy, Timestamp};
use souk_payments::connector::card as payments_card;
use souk_payments::connector::simulator::{Simulator, SimulatorConfig};
use souk_payments::connector::{ConnectorError, IdempotencyKey, OperationStatus, Outcome};
use time::OffsetDateTime;

use crate::pki::{Issued, VaultCa};
use crate::server::{self, MARKETPLACE_OPERATIONS};
use crate::*;

const NOW: Timestamp = Timestamp::from_micros(1_796_083_200_000_000);

struct Setup {
    _dir: tempfile::TempDir,
    running: RunningVaultServer,
    audit: Arc<MemoryAuditSink>,
    ca: VaultCa,
    client: Issued,
    token: SecretString,
    /// A credential allowed two card storages in a burst, however many actors it names.
    tight: SecretString,
}

fn now() -> OffsetDateTime {
    souk_domain::Clock::now(&souk_domain::SystemClock).to_datetime().unwrap()
}

async fn setup() -> Setup {
    setup_with(Duration::ZERO).await
}

/// A vault whose processor takes `latency` per call.
async fn setup_with(latency: Duration) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let keys = FileKeyProvider::new(dir.path().join("vault-keys"));
    keys.ensure(&OsEntropy::new()).unwrap();
    let audit = Arc::new(MemoryAuditSink::default());
    let clock = Arc::new(FakeClock::at(NOW));
    let vault = InProcessVault::open(VaultConfig {
        database: VaultDatabase::sqlite_in(dir.path()),
        keys: Arc::new(keys),
        connector: Arc::new(Simulator::new(SimulatorConfig { latency }, Arc::new(SeededEntropy::new(9)))),
        clock: clock.clone(),
        entropy: Arc::new(OsEntropy::new()),
        audit: audit.clone(),
        limits: RateLimits::default(),
        bins: Arc::new(TestCardBins),
        connector_timeout: Duration::from_secs(2),
    })
    .await
    .unwrap();
    let ca = VaultCa::generate("test vault CA", now()).unwrap();
    let server_cert = ca.issue_server(&["localhost".into(), "127.0.0.1".into()], now()).unwrap();
    let client = ca.issue_client("marketplace", now()).unwrap();
    let tls = server::server_tls(
        ca.cert_pem.as_bytes(),
        server_cert.cert_pem.as_bytes(),
        server_cert.key_pem.expose_secret().as_bytes(),
    )
    .unwrap();
    let token = Credential::generate_token(&OsEntropy::new());
    let other = Credential::generate_token(&OsEntropy::new());
    let tight = Credential::generate_token(&OsEntropy::new());
    let credentials = vec![
        Credential::new("marketplace", &Credential::hash_token(&token), MARKETPLACE_OPERATIONS.to_vec())
            .unwrap()
            .for_client("marketplace"),
        Credential::new("reader", &Credential::hash_token(&other), vec![VaultOperation::ReadCard]).unwrap(),
        Credential::new("tight", &Credential::hash_token(&tight), MARKETPLACE_OPERATIONS.to_vec())
            .unwrap()
            .with_limits(RateLimits {
                tokenize: RateLimit { per_minute: 2, burst: 2 },
                ..RateLimits::default()
            }),
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = server::serve(listener, tls, Arc::new(vault), audit.clone(), clock, credentials).unwrap();
    Setup { _dir: dir, running, audit, ca, client, token, tight }
}

fn remote(s: &Setup, ca_pem: &str, client: &Issued, token: &SecretString) -> RemoteVault {
    remote_with(s, ca_pem, client, token, Duration::from_secs(10))
}

fn remote_with(
    s: &Setup,
    ca_pem: &str,
    client: &Issued,
    token: &SecretString,
    timeout: Duration,
) -> RemoteVault {
    RemoteVault::new(&RemoteVaultConfig {
        url: format!("https://localhost:{}", s.running.addr.port()),
        ca_pem: ca_pem.as_bytes().to_vec(),
        client_cert_pem: client.cert_pem.as_bytes().to_vec(),
        client_key_pem: client.key_pem.clone(),
        credential: token.clone(),
        timeout,
        connect_timeout: Duration::from_secs(5),
    })
    .unwrap()
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

#[tokio::test]
async fn the_remote_vault_answers_like_the_in_process_one() {
    let s = setup().await;
    let vault = remote(&s, &s.ca.cert_pem, &s.client, &s.token);
    let ctx = CallContext::new("account:1");
    let n = "4242424242424242";
    let card = vault
        .tokenize(&ctx, NewCard { number: SecretString::from(n), exp_month: 12, exp_year: 2030, cvc: None })
        .await
        .unwrap();
    assert_eq!(card.last4, "4242");
    assert_eq!(vault.card(&ctx, &card.token).await.unwrap(), card);
    let k = IdempotencyKey::new("pay-1").unwrap();
    let request = AuthorizeCard {
        token: card.token.clone(),
        cvc: Some(SecretString::from("123")),
        amount: eur(1999),
        idempotency_key: k.clone(),
        reference: "checkout-1".into(),
        require_challenge: false,
    };
    let Outcome::Authorized { payment, amount } = vault.authorize(&ctx, request).await.unwrap() else {
        panic!("not authorized")
    };
    assert_eq!(amount, eur(1999));
    // A challenge the marketplace asks for (risk step-up) crosses the wire too.
    let asked = AuthorizeCard {
        token: card.token.clone(),
        cvc: Some(SecretString::from("123")),
        amount: eur(500),
        idempotency_key: IdempotencyKey::new("pay-3ds").unwrap(),
        reference: "checkout-3ds".into(),
        require_challenge: true,
    };
    let challenged = vault.authorize(&ctx, asked).await.unwrap();
    assert!(matches!(challenged, Outcome::ChallengeRequired { .. }), "{challenged:?}");
    let captured =
        vault.capture(&ctx, &payment, eur(1999), &IdempotencyKey::new("cap-1").unwrap()).await.unwrap();
    assert!(matches!(captured, Outcome::Captured { .. }));
    let over = vault.refund(&ctx, &payment, eur(5000), &IdempotencyKey::new("ref-1").unwrap()).await;
    assert!(matches!(
        over,
        Err(VaultError::Connector(ConnectorError::AmountExceeds { available })) if available == eur(1999)
    ));
    let status = vault.status(&ctx, &k).await.unwrap();
    assert!(matches!(status, OperationStatus::Completed(Outcome::Authorized { .. })));
    let bad = vault
        .tokenize(
            &ctx,
            NewCard {
                number: SecretString::from("4242424242424241"),
                exp_month: 12,
                exp_year: 2030,
                cvc: None,
            },
        )
        .await;
    assert!(matches!(bad, Err(VaultError::InvalidCard(payments_card::CardError::Luhn))), "{bad:?}");
    // Rate limits apply per actor, as in-process (tokenize: a burst of 5).
    let burst = CallContext::new("account:burst");
    for i in 0..6 {
        let r = vault
            .tokenize(
                &burst,
                NewCard { number: SecretString::from(n), exp_month: 12, exp_year: 2030, cvc: None },
            )
            .await;
        if i < 5 {
            assert!(r.is_ok(), "{r:?}");
        } else {
            assert!(
                matches!(r, Err(VaultError::RateLimited { retry_after_secs }) if retry_after_secs > 0),
                "{r:?}"
            );
        }
    }
    // `forget` is not granted to the marketplace credential: refused and audited.
    assert!(matches!(vault.forget(&ctx, &card.token).await, Err(VaultError::Refused(_))));
    let events = s.audit.events();
    assert!(events.iter().any(|e| e.operation == VaultOperation::Forget && e.result == "forbidden"));
    assert!(events.iter().any(|e| e.actor == "marketplace/account:1" && e.result == "authorized"));
    s.running.stop().await;
}

#[tokio::test]
async fn wrong_credentials_client_certificates_and_cas_are_refused() {
    let s = setup().await;
    let ctx = CallContext::new("account:2");
    let wrong = remote(&s, &s.ca.cert_pem, &s.client, &SecretString::from("svt_wrong"));
    assert!(matches!(
        wrong.card(&ctx, &CardToken::parse(&format!("vt_{}", "a".repeat(32))).unwrap()).await,
        Err(VaultError::Refused(_))
    ));
    assert!(s.audit.events().iter().any(|e| e.actor == "credential:none" && e.result == "unauthenticated"));

    // The marketplace's credential from another client's certificate (same CA): refused.
    let reader_cert = s.ca.issue_client("reader", now()).unwrap();
    let borrowed = remote(&s, &s.ca.cert_pem, &reader_cert, &s.token);
    let r = borrowed.card(&ctx, &CardToken::parse(&format!("vt_{}", "d".repeat(32))).unwrap()).await;
    assert!(matches!(r, Err(VaultError::Refused(_))), "{r:?}");
    assert!(s.audit.events().iter().any(|e| e.result == "wrong_client_certificate"));

    // A client certificate from another CA: the handshake fails, nothing is called.
    let other_ca = VaultCa::generate("another CA", now()).unwrap();
    let stranger = other_ca.issue_client("marketplace", now()).unwrap();
    let foreign = remote(&s, &s.ca.cert_pem, &stranger, &s.token);
    let r = foreign.card(&ctx, &CardToken::parse(&format!("vt_{}", "b".repeat(32))).unwrap()).await;
    assert!(matches!(r, Err(VaultError::Transport(_))), "{r:?}");

    // A client that pins another CA does not trust the vault's certificate.
    let unpinned = remote(&s, &other_ca.cert_pem, &s.client, &s.token);
    let r = unpinned.card(&ctx, &CardToken::parse(&format!("vt_{}", "c".repeat(32))).unwrap()).await;
    assert!(matches!(r, Err(VaultError::Transport(_))), "{r:?}");
    s.running.stop().await;
}

#[tokio::test]
async fn an_address_presenting_many_wrong_credentials_is_locked_out() {
    let s = setup().await;
    let ctx = CallContext::new("account:3");
    let t = CardToken::parse(&format!("vt_{}", "e".repeat(32))).unwrap();
    let wrong = remote(&s, &s.ca.cert_pem, &s.client, &SecretString::from("svt_guess"));
    for _ in 0..20 {
        assert!(matches!(wrong.card(&ctx, &t).await, Err(VaultError::Refused(_))));
    }
    assert!(matches!(wrong.card(&ctx, &t).await, Err(VaultError::RateLimited { retry_after_secs: 60 })));
    // Locked out: even the right credential waits (the vault's clock stands still here).
    let right = remote(&s, &s.ca.cert_pem, &s.client, &s.token);
    assert!(matches!(right.card(&ctx, &t).await, Err(VaultError::RateLimited { .. })));
    assert!(s.audit.events().iter().any(|e| e.result == "locked_out" && e.actor == "address:127.0.0.1"));
    s.running.stop().await;
}

#[tokio::test]
async fn a_credential_is_rate_limited_whatever_actors_its_calls_name() {
    let s = setup().await;
    let vault = remote(&s, &s.ca.cert_pem, &s.client, &s.tight);
    let card = || NewCard {
        number: SecretString::from("4242424242424242"),
        exp_month: 12,
        exp_year: 2030,
        cvc: None,
    };
    // Each call names a new actor, so the vault's per-actor limits never bind; the
    // credential's own budget does.
    for n in 0..2 {
        assert!(vault.tokenize(&CallContext::new(format!("account:{n}")), card()).await.is_ok());
    }
    let r = vault.tokenize(&CallContext::new("account:99"), card()).await;
    assert!(matches!(r, Err(VaultError::RateLimited { .. })), "{r:?}");
    assert!(s.audit.events().iter().any(|e| e.actor == "credential:tight" && e.result == "rate_limited"));
    // Another credential has its own budget.
    let other = remote(&s, &s.ca.cert_pem, &s.client, &s.token);
    assert!(other.tokenize(&CallContext::new("account:99"), card()).await.is_ok());
    s.running.stop().await;
}

#[tokio::test]
async fn a_payment_call_without_an_answer_is_an_unknown_outcome_that_status_resolves() {
    let s = setup_with(Duration::from_millis(600)).await;
    let ctx = CallContext::new("account:4");
    let impatient = remote_with(&s, &s.ca.cert_pem, &s.client, &s.token, Duration::from_millis(200));
    let n = "5555555555554444";
    let card = remote(&s, &s.ca.cert_pem, &s.client, &s.token)
        .tokenize(&ctx, NewCard { number: SecretString::from(n), exp_month: 12, exp_year: 2030, cvc: None })
        .await
        .unwrap();
    let k = IdempotencyKey::new("slow-1").unwrap();
    let request = AuthorizeCard {
        token: card.token,
        cvc: Some(SecretString::from("123")),
        amount: eur(700),
        idempotency_key: k.clone(),
        reference: "checkout-slow".into(),
        require_challenge: false,
    };
    let r = impatient.authorize(&ctx, request).await;
    assert!(matches!(r, Err(VaultError::Connector(ConnectorError::Timeout))), "{r:?}");
    // The vault finished the call although the caller hung up; status says what happened.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let patient = remote(&s, &s.ca.cert_pem, &s.client, &s.token);
    let status = patient.status(&ctx, &k).await.unwrap();
    assert!(matches!(status, OperationStatus::Completed(Outcome::Authorized { .. })), "{status:?}");
    assert!(
        s.audit.events().iter().any(|e| e.operation == VaultOperation::Authorize && e.result == "authorized")
    );
    s.running.stop().await;
}
