//! A crash in the middle of a checkout load. `souk serve` runs as a child process with the
//! card vault in a process of its own (as a real processor, it outlives the marketplace);
//! buyers check out and pay over HTTPS until the server is killed with SIGKILL mid-load.
//! After a restart on the same data: every checkout answered "paid" is paid, a buyer whose
//! payment was cut off can pay again and is charged once, no checkout has two charges in
//! the ledger nor two authorizations at the processor (the vault's own audit log), and
//! `souk ledger check` and `souk audit verify` pass. Then, after every test card was used,
//! a canary: no card number in any byte of the logs (debug level), the databases, the mail
//! outbox or the vault's audit log.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use souk_cli::drive::{Actor, Market, Offer};

use crate::vault_process::{self, souk};

const BUYERS: usize = 10;
/// Paid checkouts before the kill: enough that payments are in flight when it lands.
const PAID_BEFORE_KILL: usize = 25;

/// `souk serve` on `port` with its data in `data`, paying through the vault at `vault_port`,
/// logging at debug level (SQL included) into `log` for the card-number canary.
fn serve(data: &Path, vault_dir: &Path, vault_port: u16, port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    server_env(souk().arg("serve"), data, vault_dir, vault_port, port)
        .env("SOUK_LOG_LEVEL", "debug,hyper=info,h2=info,rustls=info,hyper_util=info")
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

/// Overwrites every hex identifier in `bytes` (request ids, UUIDs: a run of at least 16
/// hex digits and dashes with at least one letter) with `u`s: their digit groups can look
/// like a card number, and a card number has no letters.
fn blank_hex_ids(bytes: &mut [u8]) {
    let mut at = 0;
    while at < bytes.len() {
        let len = bytes[at..].iter().take_while(|b| b.is_ascii_hexdigit() || **b == b'-').count();
        let run = &mut bytes[at..at + len];
        if len >= 16 && run.iter().any(u8::is_ascii_alphabetic) {
            run.fill(b'u');
        }
        at += len.max(1);
    }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn server_env<'c>(
    cmd: &'c mut Command,
    data: &Path,
    vault_dir: &Path,
    vault_port: u16,
    port: u16,
) -> &'c mut Command {
    cmd.env("SOUK_SERVER_DATA_DIR", data)
        .env("SOUK_SERVER_HTTPS_ADDR", format!("127.0.0.1:{port}"))
        .env("SOUK_SERVER_HTTP_ADDR", "")
        .env("SOUK_SERVER_PUBLIC_URL", format!("https://localhost:{port}"))
        .env("SOUK_DEMO_LOAD_ON_EMPTY", "false")
        .env("SOUK_RATE_LIMIT_ENABLED", "false")
        // Every buyer signs in from loopback.
        .env("SOUK_IDENTITY_LOGIN_PER_ADDRESS_PER_MINUTE", "10000")
        .env("SOUK_IDENTITY_LOGIN_PER_NETWORK_PER_MINUTE", "10000")
        .env("SOUK_LOG_LEVEL", "warn")
        .env("SOUK_PAYMENTS_VAULT_URL", format!("https://127.0.0.1:{vault_port}"))
        .env("SOUK_PAYMENTS_VAULT_CLIENT_DIR", vault_dir)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn until_ready(market: &Market, child: &mut Child) {
    let started = Instant::now();
    while !market.ready().await {
        assert!(child.try_wait().unwrap().is_none(), "souk serve exited at start");
        assert!(started.elapsed() < Duration::from_mins(1), "souk serve is not ready after 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What one buyer saw: checkouts answered "paid", and checkouts whose payment got no answer.
#[derive(Debug, Default)]
struct Seen {
    created: Vec<String>,
    paid: Vec<String>,
    cut_off: Vec<String>,
}

async fn shop(
    buyer: Actor,
    offer: Offer,
    token: String,
    paid: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> (Actor, Seen) {
    let mut seen = Seen::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        if buyer.add_to_cart(&offer, 1).await.is_err() {
            continue;
        }
        let Ok(checkout) = buyer.checkout(&offer.shop, &format!("crash-{}-{n}", buyer.email)).await else {
            continue;
        };
        seen.created.push(checkout.id.clone());
        match buyer.pay(&checkout.id, &token, &format!("crash-pay-{}-{n}", buyer.email)).await {
            Ok(p) if p.status == "paid" => {
                seen.paid.push(checkout.id);
                paid.fetch_add(1, Ordering::SeqCst);
            }
            Ok(p) => panic!("the success card was answered {p:?}"),
            Err(_) => seen.cut_off.push(checkout.id),
        }
    }
    (buyer, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_checkouts_loses_no_payment_and_charges_nobody_twice() {
    let dir = tempfile::tempdir().unwrap();
    let vault_dir = dir.path().join("vault");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&vault_dir).unwrap();
    let vault = vault_process::start(&vault_dir, None);
    let port = free_port();
    let mut server = serve(&data, &vault_dir, vault.port, port, &dir.path().join("serve-1.log"));
    let ca_path = data.join("tls").join("souk-local-ca.pem");
    for _ in 0..600 {
        if ca_path.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let market = Market::new(&format!("https://localhost:{port}"), &std::fs::read(&ca_path).unwrap())
        .unwrap()
        .at(addr);
    until_ready(&market, &mut server).await;

    let (_seller, offer) =
        market.seller("crash-seller@example.com", "crash-shop", 100_000, 1500).await.unwrap();
    let mut buyers = Vec::new();
    for i in 0..BUYERS {
        let buyer = market.member(&format!("crash-buyer-{i}@example.com"), "Crash Buyer").await.unwrap();
        let token = buyer.tokenize(souk_payments::connector::simulator::TEST_CARDS[0].number).await.unwrap();
        buyers.push((buyer, token));
    }

    // Load, then SIGKILL once enough checkouts were paid: others are mid-request.
    let paid = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = buyers
        .iter()
        .map(|(b, t)| tokio::spawn(shop(b.clone(), offer.clone(), t.clone(), paid.clone(), stop.clone())))
        .collect();
    let started = Instant::now();
    while paid.load(Ordering::SeqCst) < PAID_BEFORE_KILL {
        assert!(
            started.elapsed() < Duration::from_mins(3),
            "the load paid only {} checkouts",
            paid.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let mut answered_paid = BTreeSet::new();
    let mut cut_off = Vec::new();
    let mut created = Vec::new();
    for task in tasks {
        let (buyer, seen) = task.await.unwrap();
        created.extend(seen.created);
        answered_paid.extend(seen.paid);
        cut_off.extend(seen.cut_off.into_iter().map(|c| (buyer.clone(), c)));
    }
    assert!(answered_paid.len() >= PAID_BEFORE_KILL);
    eprintln!(
        "killed with {} checkouts answered paid and {} payments cut off",
        answered_paid.len(),
        cut_off.len()
    );

    // Restart on the same data: sessions, checkouts and the ledger are where they were.
    let mut server = serve(&data, &vault_dir, vault.port, port, &dir.path().join("serve-2.log"));
    until_ready(&market, &mut server).await;
    let token_of: BTreeMap<String, String> =
        buyers.iter().map(|(b, t)| (b.email.clone(), t.clone())).collect();
    // A buyer whose payment got no answer pays again (a new key, as a page reload makes):
    // the vault's keys are the checkout's own, so the processor answers what it did before.
    for (buyer, checkout) in &cut_off {
        let again = buyer.pay(checkout, &token_of[&buyer.email], &format!("retry-{checkout}")).await.unwrap();
        assert_eq!(again.status, "paid", "checkout {checkout} after the restart");
        answered_paid.insert(checkout.clone());
    }
    // Every test card once (a buyer each: the risk rules limit checkouts per buyer), so the
    // canary below sees declines, challenges, errors and timeouts go through the logs too.
    for (i, card) in souk_payments::connector::simulator::TEST_CARDS.iter().enumerate() {
        let buyer = market.member(&format!("canary-{i}@example.com"), "Canary Buyer").await.unwrap();
        buyer.add_to_cart(&offer, 1).await.unwrap();
        let checkout = buyer.checkout(&offer.shop, &format!("canary-{i}")).await.unwrap();
        let token = buyer.tokenize(card.number).await.unwrap();
        let _ = buyer.pay(&checkout.id, &token, &format!("canary-pay-{i}")).await;
    }
    Command::new("kill").arg("-TERM").arg(server.id().to_string()).status().unwrap();
    server.wait().unwrap();

    // Canary: no card number in any log line of either run, any marketplace file (database,
    // WAL, mail outbox), or the vault's files outside its ciphertext (its audit log).
    let mut scanned = 0;
    for path in files(dir.path()) {
        let mut bytes = std::fs::read(&path).unwrap();
        // The cards that went in, exactly, in any file.
        for card in souk_payments::connector::simulator::TEST_CARDS {
            let hit = bytes.windows(card.number.len()).position(|w| w == card.number.as_bytes());
            assert!(hit.is_none(), "test card {} in {} at {hit:?}", card.number, path.display());
        }
        // Then anything card-shaped, once hex identifiers are blanked.
        blank_hex_ids(&mut bytes);
        let found = souk_payments::connector::card::find_card_numbers(&bytes);
        if let Some(r) = found.first() {
            let around = &bytes[r.start.saturating_sub(120)..(r.end + 40).min(bytes.len())];
            panic!("a card number in {} at {r:?}: {}", path.display(), String::from_utf8_lossy(around));
        }
        scanned += bytes.len();
    }
    let logs = std::fs::read_to_string(dir.path().join("serve-2.log")).unwrap();
    assert!(logs.contains("DEBUG") && logs.contains("/vault/v1/cards"), "the canary read real debug logs");
    assert!(scanned > 1_000_000, "scanned only {scanned} bytes");

    // The operator's checks pass.
    for args in [["ledger", "check"], ["audit", "verify"]] {
        let out = server_env(souk().args(args), &data, &vault_dir, vault.port, port).output().unwrap();
        assert!(
            out.status.success(),
            "souk {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Every checkout answered "created" exists, every one answered "paid" is paid, and no
    // order has two charges in the ledger.
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", data.join("souk.db").display()))
        .await
        .unwrap();
    for checkout in &created {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM checkouts WHERE id = ?")
            .bind(checkout)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 1, "checkout {checkout} was answered 201 and is gone");
    }
    for checkout in &answered_paid {
        let state: String = sqlx::query_scalar("SELECT payment_state FROM checkouts WHERE id = ?")
            .bind(checkout)
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(state, "paid", "checkout {checkout}");
    }
    let twice: Vec<(String, i64)> = sqlx::query_as(
        "SELECT reference, COUNT(*) FROM ledger_transactions WHERE kind = 'charge' \
         GROUP BY reference HAVING COUNT(*) > 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(twice.is_empty(), "charged twice in the ledger: {twice:?}");
    let charged: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'charge'")
        .fetch_one(&db)
        .await
        .unwrap();
    db.close().await;

    // The processor's side, from the vault's own log: one authorization per checkout.
    let log = std::fs::read_to_string(vault_dir.join("vault-audit.jsonl")).unwrap();
    let mut payments: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in log.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["operation"] == "vault.authorize" && e["result"] == "authorized" {
            // The vault's keys are `authorize.<checkout>` (and a suffix, if any): one
            // checkout, however many attempts, holds funds once.
            let key = e["idempotency_key"].as_str().unwrap();
            let checkout = key.split('.').nth(1).unwrap().to_owned();
            payments.entry(checkout).or_default().insert(e["payment"].as_str().unwrap().to_owned());
        }
    }
    let doubled: Vec<_> = payments.iter().filter(|(_, p)| p.len() > 1).collect();
    assert!(doubled.is_empty(), "authorized twice at the processor: {doubled:?}");
    assert!(
        usize::try_from(charged).unwrap() >= answered_paid.len(),
        "{charged} charges for {} paid checkouts",
        answered_paid.len()
    );
    drop(vault);
}
