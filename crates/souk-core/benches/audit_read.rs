//! Where verification time goes: reading 200,000 audit rows through the store alone, versus
//! reading and recomputing every leaf hash. Complements `audit` (see BENCHMARKS.md).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "benchmark"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use souk_core::Souk;
use souk_core::audit::{self, Actor, Event, Outcome};
use souk_core::keys::KeyService;
use souk_crypto::provider::FileKeyProvider;
use souk_domain::{OsEntropy, SystemClock};
use souk_store::{Store, StoreConfig};
use sqlx::Connection as _;

const ROWS: usize = 200_000;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let store = Store::connect(&StoreConfig {
            url: SecretString::from(format!("sqlite://{}/read.db", dir.path().display())),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(30),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let provider = FileKeyProvider::new(dir.path().join("keys"));
        provider.ensure(&OsEntropy::new()).unwrap();
        let keys = KeyService::open(&store, Arc::new(provider), &OsEntropy::new(), souk_domain::Timestamp::from_micros(0))
            .await
            .unwrap();
        let souk = Souk::new(
            store.clone(),
            Arc::new(SystemClock),
            Arc::new(OsEntropy::new()),
            Arc::new(keys),
            souk_core::identity::IdentityConfig::default(),
            souk_core::mail::Mailer::Disabled,
        )
        .unwrap();
        let events: Vec<Event> = (0..2_000)
            .map(|i| Event {
                actor: Actor::system(),
                action: "bench.event",
                target_kind: "order",
                target_id: format!("0192f0c0-a1b2-7c3d-8e9f-{i:012}"),
                outcome: Outcome::Success,
                request_id: "5f4dcc3b5aa765d61d8327deb882cf99".into(),
                detail: serde_json::json!({ "amount_minor": 1250 }),
            })
            .collect();
        for _ in 0..ROWS / events.len() {
            let mut tx = store.begin().await.unwrap();
            audit::record(&souk, &mut tx, &events).await.unwrap();
            tx.commit().await.unwrap();
        }
        audit::checkpoint(&souk).await.unwrap();

        let mut conn = store.conn().await.unwrap();
        let started = Instant::now();
        let mut from = 0;
        let mut n = 0;
        loop {
            let rows = souk_store::audit::rows_from(&mut conn, from, 10_000).await.unwrap();
            let Some(last) = rows.last() else { break };
            from = last.seq + 1;
            n += rows.len();
        }
        let read = started.elapsed();
        drop(conn);
        // The same rows through the native SQLite driver, without the Any layer.
        let mut native = sqlx::SqliteConnection::connect(&format!("sqlite://{}/read.db", dir.path().display())).await.unwrap();
        let started = Instant::now();
        let mut from = 0i64;
        let mut m = 0;
        loop {
            type Row = (i64, i64, String, String, String, String, Option<Vec<u8>>, String, String, String, String, String, String, Vec<u8>);
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT seq, at, actor_kind, actor_id, actor_role, credential_id, ip_sealed, action, target_kind, target_id, \
                 outcome, request_id, detail, leaf_hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 10000",
            )
            .bind(from)
            .fetch_all(&mut native)
            .await
            .unwrap();
            let Some(last) = rows.last() else { break };
            from = last.0 + 1;
            m += rows.len();
        }
        println!("{m} rows through the native driver: {:.2} s", started.elapsed().as_secs_f64());
        let started = Instant::now();
        let report = audit::verify(&souk, |_, _| {}).await.unwrap();
        let verify = started.elapsed();
        assert!(report.is_clean());
        println!(
            "{n} rows: read only {:.2} s ({:.2} us/row); full verify {:.2} s ({:.2} us/row)",
            read.as_secs_f64(),
            read.as_secs_f64() * 1e6 / n as f64,
            verify.as_secs_f64(),
            verify.as_secs_f64() * 1e6 / n as f64
        );
    });
}
