//! Keys and encryption at rest, and the tamper-evident audit log, through the real server
//! and its real database on both backends: personal data never stored in clear,
//! crypto-shredding, rotation under concurrent writes, and tampering caught by verify.

use souk_core::audit::{self, Actor, Event, Outcome};
use souk_core::keys::Revealed;
use souk_core::{Souk, accounts};
use souk_domain::ids::AccountId;
use souk_testkit::{Db, TestApp, backend_tests};
use sqlx::AssertSqlSafe;

/// The demo's buyers' personal data, which must never be stored in clear.
const DEMO_PII: &[&str] = &[
    "amina.kabbaj@example.org",
    "Amina Kabbaj",
    "14 Derb Sidi Ahmed",
    "lucas.moreau@example.net",
    "Lucas Moreau",
    "rue des Tanneurs",
    "priya.raman@example.com",
    "Marlowe Road",
    "Kenji Watanabe",
    "Nakameguro",
];

fn souk(app: &TestApp) -> &Souk {
    app.state().souk()
}

async fn demo_buyer(app: &TestApp) -> AccountId {
    accounts::find_by_email(souk(app), "Amina.Kabbaj@Example.org ")
        .await
        .unwrap()
        .expect("found by blind index")
}

fn event(i: usize) -> Event {
    Event {
        actor: Actor::system(),
        action: "test.event",
        target_kind: "thing",
        target_id: i.to_string(),
        outcome: Outcome::Success,
        request_id: format!("req-{i}"),
        detail: serde_json::json!({ "n": i }),
    }
}

/// Appends `n` entries in one transaction and signs a checkpoint.
async fn append(app: &TestApp, n: usize) {
    let s = souk(app);
    let mut tx = s.store.begin().await.unwrap();
    let events: Vec<Event> = (0..n).map(event).collect();
    audit::record(s, &mut tx, &events).await.unwrap();
    tx.commit().await.unwrap();
    audit::checkpoint(s).await.unwrap();
    let newest = audit::checkpoints(s).await.unwrap().last().unwrap().tree_size;
    let mut conn = s.store.conn().await.unwrap();
    let head = souk_store::audit::head_size(&mut conn).await.unwrap();
    assert_eq!(i64::try_from(newest).unwrap(), head, "a signed checkpoint covers the whole log");
}

async fn exec(app: &TestApp, sql: &str) {
    let mut conn = souk(app).store.conn().await.unwrap();
    sqlx::query(AssertSqlSafe(sql.to_owned())).execute(&mut *conn).await.unwrap();
}

async fn first_finding(app: &TestApp) -> String {
    let report = audit::verify(souk(app), |_, _| {}).await.unwrap();
    report.findings.first().map(ToString::to_string).unwrap_or_default()
}

backend_tests! {
    async fn a_change_without_its_audit_entry_cannot_commit(app) {
        let s = souk(app);
        let mut tx = audit::AuditedTx::begin(s).await.unwrap();
        sqlx::query("UPDATE listings SET stock = 0").execute(tx.conn()).await.unwrap();
        assert!(tx.commit().await.is_err(), "refused without an entry");
        let page: serde_json::Value = app.get("/api/v1/listings?limit=5").await.json().await.unwrap();
        assert!(page["data"].as_array().unwrap().iter().all(|l| l["stock"].as_u64().unwrap() > 0), "rolled back");
        // With its entry, the same change commits, and the entry is in the log.
        let mut tx = audit::AuditedTx::begin(s).await.unwrap();
        sqlx::query("UPDATE listings SET stock = stock + 1").execute(tx.conn()).await.unwrap();
        let seq = tx.record(&[event(1)]).await.unwrap();
        tx.commit().await.unwrap();
        audit::checkpoint(s).await.unwrap();
        assert!(audit::prove(s, seq).await.unwrap().verifies());
    }

    async fn personal_data_is_sealed_and_found_by_blind_index(app) {
        let id = demo_buyer(app).await;
        let profile = accounts::profile(souk(app), id).await.unwrap();
        assert_eq!(profile.email, Revealed::Text("amina.kabbaj@example.org".into()));
        assert_eq!(profile.name, Revealed::Text("Amina Kabbaj".into()));
        assert!(accounts::find_by_email(souk(app), "nobody@example.org").await.unwrap().is_none());
        // What the database holds is ciphertext: no demo value appears in any column.
        let mut conn = souk(app).store.conn().await.unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as("SELECT email_sealed, name_sealed FROM accounts WHERE email_sealed IS NOT NULL")
            .fetch_all(&mut *conn).await.unwrap();
        assert!(rows.len() >= 6);
        for (email, name) in rows {
            for pii in DEMO_PII {
                assert!(!email.windows(pii.len()).any(|w| w == pii.as_bytes()) && !name.windows(pii.len()).any(|w| w == pii.as_bytes()));
            }
        }
    }

    async fn erasing_an_account_shreds_its_data_everywhere_at_once(app) {
        let id = demo_buyer(app).await;
        let destroyed = accounts::erase(souk(app), id, Actor::operator("test")).await.unwrap();
        assert_eq!(destroyed, 1);
        let profile = accounts::profile(souk(app), id).await.unwrap();
        assert_eq!(profile.email, Revealed::Erased);
        assert_eq!(profile.name, Revealed::Erased);
        assert_eq!(profile.address, Some(Revealed::Erased));
        assert_eq!(profile.email.display(), "[erased]");
        assert!(accounts::find_by_email(souk(app), "amina.kabbaj@example.org").await.unwrap().is_none());
        // Nothing new can be sealed for an erased subject.
        let mut tx = souk(app).store.begin().await.unwrap();
        assert!(accounts::set_profile(souk(app), &mut tx, id, "x@example.org", "X", None).await.is_err());
        drop(tx);
        // The erasure itself is in the audit log, which still verifies.
        audit::checkpoint(souk(app)).await.unwrap();
        assert!(audit::verify(souk(app), |_, _| {}).await.unwrap().is_clean());
        // Other accounts are untouched.
        let other = accounts::find_by_email(souk(app), "lucas.moreau@example.net").await.unwrap().unwrap();
        assert_eq!(accounts::profile(souk(app), other).await.unwrap().name, Revealed::Text("Lucas Moreau".into()));
    }

    async fn audit_verify_names_each_kind_of_tampering(app) {
        append(app, 30).await;
        let clean = audit::verify(souk(app), |_, _| {}).await.unwrap();
        assert!(clean.is_clean(), "{:?}", clean.findings);
        assert!(clean.entries >= 31 && clean.checkpoints_verified >= 2);
        // An inclusion proof verifies against the signed checkpoint.
        assert!(audit::prove(souk(app), 5).await.unwrap().verifies());

        exec(app, "UPDATE audit_log SET outcome = 'denied' WHERE seq = 12").await;
        assert_eq!(first_finding(app).await, "entry 12 was modified");
        exec(app, "UPDATE audit_log SET outcome = 'success' WHERE seq = 12").await;
        assert!(audit::verify(souk(app), |_, _| {}).await.unwrap().is_clean(), "restored");

        // Swap two entries' positions.
        exec(app, "UPDATE audit_log SET seq = -1 WHERE seq = 20").await;
        exec(app, "UPDATE audit_log SET seq = 20 WHERE seq = 21").await;
        exec(app, "UPDATE audit_log SET seq = 21 WHERE seq = -1").await;
        assert_eq!(first_finding(app).await, "entry 20 holds the entry written at position 21 (reordered)");
        exec(app, "UPDATE audit_log SET seq = -1 WHERE seq = 20").await;
        exec(app, "UPDATE audit_log SET seq = 20 WHERE seq = 21").await;
        exec(app, "UPDATE audit_log SET seq = 21 WHERE seq = -1").await;

        exec(app, "DELETE FROM audit_log WHERE seq = 7").await;
        assert_eq!(first_finding(app).await, "entry 7 was deleted");
    }

    async fn audit_verify_catches_inserted_entries_and_rewritten_hashes(app) {
        append(app, 20).await;
        let mut conn = souk(app).store.conn().await.unwrap();
        let head: i64 = sqlx::query_scalar("SELECT size FROM audit_head").fetch_one(&mut *conn).await.unwrap();
        drop(conn);
        exec(app, &format!(
            "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_role, credential_id, action, target_kind, \
             target_id, outcome, request_id, detail, leaf_hash) SELECT {head}, at, actor_kind, actor_id, actor_role, \
             credential_id, action, target_kind, target_id, outcome, request_id, detail, leaf_hash FROM audit_log WHERE seq = 3"
        )).await;
        assert_eq!(first_finding(app).await, format!("entry {head} was inserted (beyond the log's recorded size)"));
        exec(app, &format!("DELETE FROM audit_log WHERE seq = {head}")).await;
        // A careful forger edits a row and stores the matching leaf hash: the signed
        // checkpoint still catches it.
        let row = {
            let mut conn = souk(app).store.conn().await.unwrap();
            souk_store::audit::rows_from(&mut conn, 9, 1).await.unwrap().remove(0)
        };
        let forged = souk_audit::Entry {
            seq: 9, at: row.at, actor_kind: row.actor_kind, actor_id: row.actor_id, actor_role: row.actor_role,
            credential_id: row.credential_id, ip_sealed: row.ip_sealed, action: row.action,
            target_kind: row.target_kind, target_id: "forged".into(), outcome: row.outcome,
            request_id: row.request_id, detail: row.detail,
        };
        let hash = souk_audit::hex(&forged.leaf_hash());
        let hex_literal = if app.db == Db::Postgres { format!("'\\x{hash}'::bytea") } else { format!("X'{hash}'") };
        exec(app, &format!("UPDATE audit_log SET target_id = 'forged', leaf_hash = {hex_literal} WHERE seq = 9")).await;
        let finding = first_finding(app).await;
        assert!(finding.starts_with("the signed checkpoint at size") && finding.contains("were rewritten"), "{finding}");
    }

    async fn rotation_under_concurrent_writes_loses_nothing(app) {
        let s = souk(app).clone();
        // Writers keep creating accounts with sealed profiles while the master key rotates.
        let writer = {
            let s = s.clone();
            tokio::spawn(async move {
                let mut made = Vec::new();
                for i in 0..60 {
                    let id = AccountId::new(s.clock.now(), s.entropy.as_ref());
                    let mut tx = s.store.begin().await.unwrap();
                    souk_store::catalog::insert_account_if_absent(&mut tx, id, &format!("rot{i}"), souk_store::catalog::Role::Buyer, s.clock.now()).await.unwrap();
                    accounts::set_profile(&s, &mut tx, id, &format!("rot{i}@example.org"), &format!("Rot {i}"), None).await.unwrap();
                    tx.commit().await.unwrap();
                    made.push((id, i));
                    tokio::task::yield_now().await;
                }
                made
            })
        };
        let v2 = s.keys.provider().create_version(s.entropy.as_ref()).unwrap();
        s.keys.reload().unwrap();
        while s.keys.rewrap_batch(&s.store, 7).await.unwrap() > 0 {}
        let made = writer.await.unwrap();
        // Keys created by writers that raced the switch are picked up by a resumed pass.
        while s.keys.rewrap_batch(&s.store, 7).await.unwrap() > 0 {}
        let mut conn = s.store.conn().await.unwrap();
        let (live, _) = souk_store::keys::data_key_census(&mut conn).await.unwrap();
        drop(conn);
        assert_eq!(live.iter().map(|(v, _)| *v).collect::<Vec<_>>(), vec![v2], "every data key is under v{v2}: {live:?}");
        for (id, i) in made {
            let p = accounts::profile(&s, id).await.unwrap();
            assert_eq!(p.email, Revealed::Text(format!("rot{i}@example.org")));
        }
        let amina = demo_buyer(app).await;
        assert_eq!(accounts::profile(&s, amina).await.unwrap().name, Revealed::Text("Amina Kabbaj".into()));
    }
}

/// `souk keys rotate` runs as its own process while the server runs: the server has never
/// loaded the new master key, yet keeps reading rewrapped keys (it reloads on meeting an
/// unknown version) and never needs a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_reads_keys_rotated_by_another_process() {
    let app = TestApp::spawn(Db::Sqlite).await;
    let server = souk(&app);
    let amina = demo_buyer(&app).await;
    // A second, independent key service on the same database and key directory, as the
    // `souk keys rotate` process would open.
    let dir = app.dir.path().join("keys");
    let provider = std::sync::Arc::new(souk_crypto::provider::FileKeyProvider::new(dir));
    let other = souk_core::keys::KeyService::open(
        &server.store,
        provider,
        server.entropy.as_ref(),
        server.clock.now(),
    )
    .await
    .unwrap();
    let v2 = other.provider().create_version(server.entropy.as_ref()).unwrap();
    other.reload().unwrap();
    while other.rewrap_batch(&server.store, 100).await.unwrap() > 0 {}
    assert_eq!(server.keys.versions(), vec![1], "the server has not seen v{v2} yet");
    let profile = accounts::profile(server, amina).await.unwrap();
    assert_eq!(profile.name, Revealed::Text("Amina Kabbaj".into()));
    assert_eq!(server.keys.versions(), vec![1, v2], "it reloaded on meeting the new version");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_appears_in_the_sqlite_files() {
    let app = TestApp::spawn(Db::Sqlite).await;
    assert!(demo_buyer(&app).await.to_string().len() == 36);
    let kept = app.stop_keeping_data().await;
    let dir = kept.path().to_owned();
    // A connection closing after the server stopped (a pool's last connection) checkpoints
    // the write-ahead log into the main file and deletes it: a file can vanish while it is
    // listed. Then the scan starts over, until it reads every file that is there.
    let mut scanned = 0;
    for attempt in 0.. {
        assert!(attempt < 20, "the database files kept changing");
        scanned = 0;
        let mut complete = true;
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("souk.db") {
                continue;
            }
            let bytes = match std::fs::read(entry.path()) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    complete = false;
                    break;
                }
                Err(e) => panic!("{name}: {e}"),
            };
            scanned += bytes.len();
            for pii in DEMO_PII {
                assert!(
                    !bytes.windows(pii.len()).any(|w| w == pii.as_bytes()),
                    "{pii:?} found in clear in {name}"
                );
            }
        }
        if complete {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(scanned > 10_000, "the database files were read ({scanned} bytes)");
}
