//! The vault's tests: round trips through the simulator for every test card, idempotency,
//! refunds, tokens and fingerprints, what is (not) stored in the database and its file
//! bytes, the wrong key, rate limits and the audit trail; on PostgreSQL too when
//! `SOUK_TEST_DATABASE_URL` is set.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use secrecy::SecretString;
use souk_crypto::provider::FileKeyProvider;
use souk_domain::entropy::SeededEntropy;
use souk_domain::{Currency, FakeClock, Money, OsEntropy, Timestamp};
use souk_payments::connector::card::{Brand, CardError};
use souk_payments::connector::simulator::{
    Behaviour, CHALLENGE_CODE, Simulator, SimulatorConfig, TEST_CARDS,
};
use souk_payments::connector::{
    ConnectorError, DeclineReason, IdempotencyKey, OperationStatus, Outcome, PaymentId,
};

use crate::*;

/// 2026-12-01T00:00:00Z.
const NOW: Timestamp = Timestamp::from_micros(1_796_083_200_000_000);

fn generous() -> RateLimits {
    let lots = RateLimit { per_minute: 100_000, burst: 10_000 };
    RateLimits { tokenize: lots, authorize: lots, read: lots, follow_up: lots }
}

struct Harness {
    vault: InProcessVault,
    sim: Arc<Simulator>,
    audit: Arc<MemoryAuditSink>,
    config: VaultConfig,
}

fn config(
    database: VaultDatabase,
    keys_dir: &Path,
    limits: RateLimits,
) -> (VaultConfig, Arc<Simulator>, Arc<MemoryAuditSink>) {
    let keys = FileKeyProvider::new(keys_dir);
    keys.ensure(&OsEntropy::new()).unwrap();
    let sim = Arc::new(Simulator::new(SimulatorConfig::default(), Arc::new(SeededEntropy::new(3))));
    let audit = Arc::new(MemoryAuditSink::default());
    let config = VaultConfig {
        database,
        keys: Arc::new(keys),
        connector: sim.clone(),
        clock: Arc::new(FakeClock::at(NOW)),
        entropy: Arc::new(OsEntropy::new()),
        audit: audit.clone(),
        limits,
        bins: Arc::new(TestCardBins),
        connector_timeout: VaultConfig::DEFAULT_CONNECTOR_TIMEOUT,
    };
    (config, sim, audit)
}

async fn open(database: VaultDatabase, keys_dir: &Path, limits: RateLimits) -> Harness {
    let (config, sim, audit) = config(database, keys_dir, limits);
    let vault = InProcessVault::open(config.clone()).await.unwrap();
    Harness { vault, sim, audit, config }
}

fn sqlite(dir: &Path) -> VaultDatabase {
    VaultDatabase::new(SecretString::from(format!("sqlite://{}", dir.join("vault.db").display())))
}

fn ctx() -> CallContext {
    CallContext::new("account:test")
}

fn new_card(number: &str) -> NewCard {
    NewCard { number: SecretString::from(number), exp_month: 12, exp_year: 2030, cvc: None }
}

fn cvc_for(number: &str) -> &'static str {
    if number.starts_with("37") { "7391" } else { "739" }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

fn pay(token: &CardToken, number: &str, k: &str, minor: i64) -> AuthorizeCard {
    AuthorizeCard {
        token: token.clone(),
        cvc: Some(SecretString::from(cvc_for(number))),
        amount: eur(minor),
        idempotency_key: key(k),
        reference: "checkout-1".into(),
        require_challenge: false,
    }
}

/// Every test card, tokenized then authorized through the vault, ends as its table says;
/// timeouts resolve through `status` and challenges through `complete_challenge`.
async fn every_test_card_round_trips(h: &Harness) {
    for (i, c) in TEST_CARDS.iter().enumerate() {
        let stored = h.vault.tokenize(&ctx(), new_card(c.number)).await.unwrap();
        assert_eq!(stored.brand, c.brand);
        assert_eq!(stored.last4, &c.number[c.number.len() - 4..]);
        assert_eq!(stored.bin_country.as_deref(), Some(c.country));
        assert_eq!((stored.exp_month, stored.exp_year), (12, 2030));
        assert_eq!(h.vault.card(&ctx(), &stored.token).await.unwrap(), stored);
        let k = format!("pay-{i}");
        let result = h.vault.authorize(&ctx(), pay(&stored.token, c.number, &k, 2500)).await;
        match c.behaviour {
            Behaviour::Succeed => {
                let Ok(Outcome::Authorized { payment, amount }) = result else {
                    panic!("{}: {result:?}", c.number)
                };
                assert_eq!(amount, eur(2500));
                h.vault.capture(&ctx(), &payment, eur(2500), &key(&format!("cap-{i}"))).await.unwrap();
            }
            Behaviour::Decline(reason) => assert_eq!(result.unwrap(), Outcome::Declined { reason }),
            Behaviour::Challenge => {
                let Ok(Outcome::ChallengeRequired { payment, challenge }) = result else {
                    panic!("{result:?}")
                };
                let done = h
                    .vault
                    .complete_challenge(
                        &ctx(),
                        &payment,
                        &challenge,
                        CHALLENGE_CODE,
                        &key(&format!("chl-{i}")),
                    )
                    .await
                    .unwrap();
                assert!(matches!(done, Outcome::Authorized { .. }), "{done:?}");
            }
            Behaviour::ProcessingError => {
                assert!(matches!(result, Err(VaultError::Connector(ConnectorError::Processing))));
            }
            Behaviour::Timeout => {
                assert!(matches!(result, Err(VaultError::Connector(ConnectorError::Timeout))));
                let status = h.vault.status(&CallContext::new("system:reconcile"), &key(&k)).await.unwrap();
                assert!(
                    matches!(status, OperationStatus::Completed(Outcome::Authorized { .. })),
                    "{status:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_test_card_round_trips_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("vault-keys"), generous()).await;
    every_test_card_round_trips(&h).await;
}

#[tokio::test]
async fn the_same_key_gives_the_same_outcome_and_one_charge() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let n = "4242424242424242";
    let card = h.vault.tokenize(&ctx(), new_card(n)).await.unwrap();
    let first = h.vault.authorize(&ctx(), pay(&card.token, n, "once", 1000)).await.unwrap();
    let again = h.vault.authorize(&ctx(), pay(&card.token, n, "once", 1000)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(h.sim.charges(), 1);
    let declined = "4000000000009995";
    let d = h.vault.tokenize(&ctx(), new_card(declined)).await.unwrap();
    let a = h.vault.authorize(&ctx(), pay(&d.token, declined, "d", 1000)).await.unwrap();
    assert_eq!(a, h.vault.authorize(&ctx(), pay(&d.token, declined, "d", 1000)).await.unwrap());
    assert_eq!(a, Outcome::Declined { reason: DeclineReason::InsufficientFunds });
    assert_eq!(h.sim.charges(), 1);
}

#[tokio::test]
async fn refunds_through_the_vault_never_exceed_the_capture() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let n = "5555555555554444";
    let card = h.vault.tokenize(&ctx(), new_card(n)).await.unwrap();
    let Outcome::Authorized { payment, .. } =
        h.vault.authorize(&ctx(), pay(&card.token, n, "a", 3000)).await.unwrap()
    else {
        panic!()
    };
    h.vault.capture(&ctx(), &payment, eur(2000), &key("c")).await.unwrap();
    h.vault.refund(&ctx(), &payment, eur(1500), &key("r1")).await.unwrap();
    let over = h.vault.refund(&ctx(), &payment, eur(501), &key("r2")).await;
    assert!(matches!(
        over,
        Err(VaultError::Connector(ConnectorError::AmountExceeds { available })) if available == eur(500)
    ));
    h.vault.refund(&ctx(), &payment, eur(500), &key("r3")).await.unwrap();
    assert_eq!(h.sim.totals(&payment), Some((2000, 2000)));
    assert!(
        h.vault.void(&ctx(), &payment, &key("v")).await.is_err(),
        "captured payments are refunded, not voided"
    );
}

#[tokio::test]
async fn the_same_card_twice_gets_two_tokens_and_one_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let a = h.vault.tokenize(&ctx(), new_card("4242 4242 4242 4242")).await.unwrap();
    let b = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    let other = h.vault.tokenize(&ctx(), new_card("5555555555554444")).await.unwrap();
    assert_ne!(a.token, b.token);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_ne!(a.fingerprint, other.fingerprint);
    for s in [a.token.as_str(), a.fingerprint.as_str()] {
        assert!(!s.contains("4242"), "{s}");
    }
    // A second vault (other keys) gives the same card another fingerprint: it is keyed.
    let dir2 = tempfile::tempdir().unwrap();
    let h2 = open(sqlite(dir2.path()), &dir2.path().join("k"), generous()).await;
    let c = h2.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    assert_ne!(a.fingerprint, c.fingerprint);
}

#[tokio::test]
async fn invalid_and_expired_cards_are_refused_and_audited_without_digits() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let refused = |n: &str, m: u8, y: u16| NewCard {
        number: SecretString::from(n),
        exp_month: m,
        exp_year: y,
        cvc: None,
    };
    for (card, why) in [
        (refused("4242424242424241", 12, 2030), CardError::Luhn),
        (refused("424242424242", 12, 2030), CardError::LengthForBrand(Brand::Visa)),
        (refused("9999999999999995", 12, 2030), CardError::UnknownBrand),
        (refused("4242424242424242", 11, 2026), CardError::Expired),
        (refused("4242424242424242", 13, 2030), CardError::ExpiryFormat),
    ] {
        match h.vault.tokenize(&ctx(), card).await {
            Err(VaultError::InvalidCard(e)) => assert_eq!(e, why),
            other => panic!("{why:?}: {other:?}"),
        }
    }
    let card = h.vault.tokenize(&ctx(), new_card("378282246310005")).await.unwrap();
    let mut wrong_cvc = pay(&card.token, "378282246310005", "x", 100);
    wrong_cvc.cvc = Some(SecretString::from("123"));
    assert!(matches!(
        h.vault.authorize(&ctx(), wrong_cvc).await,
        Err(VaultError::InvalidCard(CardError::Cvc(4)))
    ));
    let unknown = CardToken::parse(&format!("vt_{}", "a".repeat(32))).unwrap();
    assert!(matches!(h.vault.card(&ctx(), &unknown).await, Err(VaultError::UnknownToken)));
    let events = format!("{:?}", h.audit.events());
    assert!(events.contains("invalid_card") && events.contains("unknown_token"));
    for digits in
        ["4242424242424241", "424242424242", "9999999999999995", "4242424242424242", "378282246310005"]
    {
        assert!(!events.contains(digits), "audit holds {digits}");
    }
}

#[tokio::test]
async fn every_operation_is_rate_limited_per_caller_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let limits = RateLimits { tokenize: RateLimit { per_minute: 2, burst: 2 }, ..generous() };
    let h = open(sqlite(dir.path()), &dir.path().join("k"), limits).await;
    let ctx = CallContext::new("account:card-tester");
    h.vault.tokenize(&ctx, new_card("4242424242424242")).await.unwrap();
    h.vault.tokenize(&ctx, new_card("4242424242424242")).await.unwrap();
    assert!(matches!(
        h.vault.tokenize(&ctx, new_card("4242424242424242")).await,
        Err(VaultError::RateLimited { retry_after_secs: 30 })
    ));
    h.vault.tokenize(&CallContext::new("account:other"), new_card("4242424242424242")).await.unwrap();
    let events = h.audit.events();
    assert_eq!(events.len(), 4);
    assert_eq!(events[2].result, "rate_limited");
    assert_eq!(events[2].actor, "account:card-tester");
    assert_eq!(events[0].operation, VaultOperation::Tokenize);
    assert_eq!(events[0].card.as_deref(), Some("visa 4242"));
}

/// Reads every value of every vault table and checks that no card number and no security
/// code is among them (the envelope is binary; checking its lossy text is belt and braces).
async fn assert_rows_hold_no_card_secrets(h: &Harness) {
    let values = h.vault_store_dump().await;
    assert!(!values.is_empty());
    for v in &values {
        for c in TEST_CARDS {
            assert!(!v.contains(c.number), "a row holds {}", c.number);
        }
        assert!(!v.contains("7391") && !v.contains("739"), "a row holds the security code: {v:?}");
    }
}

impl Harness {
    async fn vault_store_dump(&self) -> Vec<String> {
        self.vault.store_for_tests().dump().await
    }
}

#[tokio::test]
async fn security_codes_are_never_stored_and_card_numbers_only_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    every_test_card_round_trips(&h).await;
    assert_rows_hold_no_card_secrets(&h).await;
    let audit = format!("{:?}", h.audit.events());
    for c in TEST_CARDS {
        assert!(!audit.contains(c.number));
    }
    assert!(!audit.contains("739"));
}

fn file_bytes_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn the_database_files_never_hold_a_card_number() {
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    std::fs::create_dir(&db_dir).unwrap();
    let h = open(sqlite(&db_dir), &dir.path().join("k"), generous()).await;
    every_test_card_round_trips(&h).await;
    h.vault
        .forget(&ctx(), &h.vault.tokenize(&ctx(), new_card("6011111111111117")).await.unwrap().token)
        .await
        .unwrap();
    let check = |when: &str| {
        for n in TEST_CARDS.iter().map(|c| c.number).chain(["6011111111111117"]) {
            let hits = file_bytes_contain(&db_dir, n.as_bytes());
            assert!(hits.is_empty(), "{when}: {n} found in {hits:?}");
        }
        // Nor anything else that looks like a card number (a Luhn-valid digit run).
        for entry in std::fs::read_dir(&db_dir).unwrap().flatten() {
            let found =
                souk_payments::connector::card::find_card_numbers(&std::fs::read(entry.path()).unwrap());
            assert!(found.is_empty(), "{when}: card-like digits in {}", entry.path().display());
        }
        // The envelope is there (the files are not simply empty).
        assert!(!file_bytes_contain(&db_dir, b"vault_cards").is_empty(), "{when}");
    };
    check("while open (WAL)");
    h.vault.close().await;
    check("after close (checkpointed)");
}

#[tokio::test]
async fn a_wrong_vault_key_cannot_open_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("vault-keys"), generous()).await;
    let card = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    h.vault.close().await;
    // The marketplace's (or any other) key directory holds another master key.
    let (other, _, _) = config(sqlite(dir.path()), &dir.path().join("marketplace-keys"), generous());
    assert!(matches!(InProcessVault::open(other).await, Err(VaultError::WrongKey)));
    // A key file readable by others is refused before anything is opened.
    let key_file = dir.path().join("vault-keys/kek-v0001.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(InProcessVault::open(h.config.clone()).await, Err(VaultError::Keys(_))));
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The right key still opens it, and the card is still there.
    let again = InProcessVault::open(h.config.clone()).await.unwrap();
    assert_eq!(again.card(&ctx(), &card.token).await.unwrap(), card);
    let Outcome::Authorized { .. } =
        again.authorize(&ctx(), pay(&card.token, "4242424242424242", "after-reopen", 100)).await.unwrap()
    else {
        panic!()
    };
}

#[tokio::test]
async fn a_rotated_vault_master_key_rewraps_and_the_old_one_retires() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let card = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    assert_eq!(h.vault.master_key_versions_in_use().await.unwrap(), vec![1]);
    assert_eq!(h.config.keys.create_version(&OsEntropy::new()).unwrap(), 2);
    let again = InProcessVault::open(h.config.clone()).await.unwrap();
    assert_eq!(again.card(&ctx(), &card.token).await.unwrap().last4, "4242", "old versions still unwrap");
    assert_eq!(again.rewrap_keys().await.unwrap(), 2, "the cards key and the fingerprint key");
    assert_eq!(again.rewrap_keys().await.unwrap(), 0, "nothing left to do");
    assert_eq!(again.master_key_versions_in_use().await.unwrap(), vec![2]);
    again.close().await;
    h.vault.close().await;
    h.config.keys.retire(1).unwrap();
    let after = InProcessVault::open(h.config.clone()).await.unwrap();
    let Outcome::Authorized { .. } =
        after.authorize(&ctx(), pay(&card.token, "4242424242424242", "rotated", 100)).await.unwrap()
    else {
        panic!()
    };
    let same = after.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    assert_eq!(same.fingerprint, card.fingerprint, "fingerprints survive rotation");
}

#[test]
fn default_locations_are_beside_the_marketplace() {
    let db = VaultDatabase::sqlite_in(Path::new("/srv/souk/data"));
    assert_eq!(secrecy::ExposeSecret::expose_secret(&db.url), "sqlite:///srv/souk/data/vault.db");
    assert_eq!(db.schema, "souk_vault");
    assert_eq!(VaultDatabase::DEFAULT_KEYS_DIR, "vault-keys");
}

#[tokio::test]
async fn forgotten_cards_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    let card = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    h.vault.forget(&ctx(), &card.token).await.unwrap();
    h.vault.forget(&ctx(), &card.token).await.unwrap();
    assert!(matches!(h.vault.card(&ctx(), &card.token).await, Err(VaultError::UnknownToken)));
    assert!(matches!(
        h.vault.authorize(&ctx(), pay(&card.token, "4242424242424242", "gone", 100)).await,
        Err(VaultError::UnknownToken)
    ));
    let unknown = h.vault.capture(&ctx(), &PaymentId::new("simpay_x"), eur(1), &key("u")).await;
    assert!(matches!(unknown, Err(VaultError::Connector(ConnectorError::UnknownPayment))));
}

#[expect(clippy::disallowed_methods, reason = "the test harness's own switch, not a server setting")]
fn postgres_url() -> Option<String> {
    std::env::var("SOUK_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

#[tokio::test]
async fn the_vault_on_postgresql_lives_in_its_own_schema() {
    use sqlx::{Connection as _, Row as _};
    let Some(url) = postgres_url() else {
        eprintln!("SOUK_TEST_DATABASE_URL is not set: the PostgreSQL variant did not run");
        return;
    };
    let mut suffix = [0u8; 6];
    souk_domain::Entropy::fill(&OsEntropy::new(), &mut suffix);
    let schema = format!("souk_vault_test_{}", crate::token::letters(&suffix));
    let database =
        VaultDatabase { schema: schema.clone(), ..VaultDatabase::new(SecretString::from(url.clone())) };
    let dir = tempfile::tempdir().unwrap();
    let h = open(database.clone(), &dir.path().join("k"), generous()).await;
    every_test_card_round_trips(&h).await;
    let a = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    let b = h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    assert_ne!(a.token, b.token);
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_rows_hold_no_card_secrets(&h).await;
    h.vault.close().await;

    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url).await.unwrap();
    let schemas: Vec<String> = sqlx::query(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'vault_cards'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(schemas.contains(&schema), "{schemas:?}");
    assert!(!schemas.iter().any(|s| s == "public"), "nothing in the marketplace's schema");

    let (other, _, _) = config(database, &dir.path().join("other-keys"), generous());
    assert!(matches!(InProcessVault::open(other).await, Err(VaultError::WrongKey)));
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .unwrap();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

    /// For any valid Visa number: two tokenizations give two tokens and one fingerprint,
    /// the stored details match, and the database rows do not hold the number.
    #[test]
    fn any_valid_card_is_tokenized_without_being_stored_in_clear(body in "4[0-9]{14}") {
        let number = (0..10).map(|d| format!("{body}{d}")).find(|n| souk_payments::connector::card::luhn_valid(n)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
            let a = h.vault.tokenize(&ctx(), new_card(&number)).await.unwrap();
            let b = h.vault.tokenize(&ctx(), new_card(&number)).await.unwrap();
            assert_ne!(a.token, b.token);
            assert_eq!(a.fingerprint, b.fingerprint);
            assert_eq!(a.last4, number[12..]);
            assert_eq!(a.brand, Brand::Visa);
            for v in h.vault_store_dump().await {
                assert!(!v.contains(&number));
            }
            h.vault.close().await;
            assert!(file_bytes_contain(dir.path(), number.as_bytes()).is_empty());
        });
    }
}

#[tokio::test]
async fn a_processor_that_does_not_answer_in_time_is_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, _, audit) = config(sqlite(dir.path()), &dir.path().join("k"), generous());
    let slow = Arc::new(Simulator::new(
        SimulatorConfig { latency: std::time::Duration::from_millis(300) },
        Arc::new(SeededEntropy::new(1)),
    ));
    config.connector = slow.clone();
    config.connector_timeout = std::time::Duration::from_millis(20);
    let vault = InProcessVault::open(config).await.unwrap();
    let n = "4242424242424242";
    let card = vault.tokenize(&ctx(), new_card(n)).await.unwrap();
    let result = vault.authorize(&ctx(), pay(&card.token, n, "slow", 100)).await;
    assert!(matches!(result, Err(VaultError::Connector(ConnectorError::Timeout))), "{result:?}");
    assert_eq!(slow.charges(), 0, "the simulated request was abandoned before it arrived");
    assert_eq!(audit.events().last().unwrap().result, "error:timeout");
}

#[tokio::test]
async fn the_sqlite_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("k"), generous()).await;
    h.vault.tokenize(&ctx(), new_card("4242424242424242")).await.unwrap();
    let mode = std::fs::metadata(dir.path().join("vault.db")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn requests_never_print_their_secrets() {
    let card = new_card("4242424242424242");
    let token = CardToken::parse(&format!("vt_{}", "b".repeat(32))).unwrap();
    let request = pay(&token, "4242424242424242", "k", 100);
    let printed = format!("{card:?} {request:?}");
    assert!(!printed.contains("4242424242424242") && !printed.contains("739"), "{printed}");
}

/// A security code given at tokenization is checked, held in memory for the token's first
/// authorization only, then gone.
#[tokio::test]
async fn a_cvc_given_at_tokenization_serves_the_first_authorization_only() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(sqlite(dir.path()), &dir.path().join("vault-keys"), RateLimits::default()).await;
    let number = TEST_CARDS[0].number;
    let bad = NewCard { cvc: Some(SecretString::from("12")), ..new_card(number) };
    assert!(matches!(h.vault.tokenize(&ctx(), bad).await, Err(VaultError::InvalidCard(_))));
    let with_cvc = NewCard { cvc: Some(SecretString::from("739")), ..new_card(number) };
    let stored = h.vault.tokenize(&ctx(), with_cvc).await.unwrap();
    assert!(h.vault.holds_cvc_for(&stored.token));
    let request = AuthorizeCard { cvc: None, ..pay(&stored.token, number, "cvc-once", 500) };
    assert!(matches!(h.vault.authorize(&ctx(), request).await, Ok(Outcome::Authorized { .. })));
    assert!(!h.vault.holds_cvc_for(&stored.token));
    let without = h.vault.tokenize(&ctx(), new_card(number)).await.unwrap();
    assert!(!h.vault.holds_cvc_for(&without.token));
}
