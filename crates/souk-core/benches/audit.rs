//! Audit log costs through the real store (SQLite in a temporary directory, or PostgreSQL
//! when SOUK_BENCH_DATABASE_URL is set): appending in batched transactions (target
//! ≥ 10,000 entries/s on SQLite), and verifying a 1,000,000-entry log against its signed
//! checkpoint (target < 2 s).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secrecy::SecretString;
use souk_core::Souk;
use souk_core::audit::{self, Actor, Event, Outcome};
use souk_core::keys::KeyService;
use souk_crypto::provider::FileKeyProvider;
use souk_domain::{OsEntropy, SystemClock};
use souk_store::{Store, StoreConfig};

const BATCH: usize = 500;
const VERIFY_SIZE: usize = 1_000_000;

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            actor: Actor::system(),
            action: "bench.event",
            target_kind: "order",
            target_id: format!("0192f0c0-a1b2-7c3d-8e9f-{i:012}"),
            outcome: Outcome::Success,
            request_id: "5f4dcc3b5aa765d61d8327deb882cf99".into(),
            detail: serde_json::json!({ "amount_minor": 1250, "currency": "EUR" }),
        })
        .collect()
}

fn open(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> Souk {
    #[expect(clippy::disallowed_methods, reason = "the benchmark's own switch")]
    let url = std::env::var("SOUK_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.display()));
    rt.block_on(async {
        let store = Store::connect(&StoreConfig {
            url: SecretString::from(url),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(30),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let provider = FileKeyProvider::new(dir.join("keys"));
        provider.ensure(&OsEntropy::new()).unwrap();
        let keys = KeyService::open(
            &store,
            Arc::new(provider),
            &OsEntropy::new(),
            souk_domain::Timestamp::from_micros(0),
        )
        .await
        .unwrap();
        Souk::new(
            store,
            Arc::new(SystemClock),
            Arc::new(OsEntropy::new()),
            Arc::new(keys),
            souk_core::identity::IdentityConfig::default(),
            souk_core::mail::Mailer::Disabled,
        )
        .unwrap()
    })
}

async fn append(souk: &Souk, batch: &[Event]) {
    let mut tx = souk.store.begin().await.unwrap();
    audit::record(souk, &mut tx, batch).await.unwrap();
    tx.commit().await.unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let souk = open(&rt, dir.path());
    let batch = events(BATCH);

    let mut group = c.benchmark_group("audit append");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(format!("{BATCH} entries per transaction"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                rt.block_on(append(&souk, &batch));
            }
            start.elapsed()
        });
    });
    group.finish();

    // Grow the log to a million entries, sign it, then time a full verification.
    let big = events(2_000);
    let have = rt.block_on(async {
        let mut conn = souk.store.conn().await.unwrap();
        usize::try_from(souk_store::audit::head_size(&mut conn).await.unwrap()).unwrap()
    });
    let started = Instant::now();
    let mut size = have;
    while size < VERIFY_SIZE {
        let n = big.len().min(VERIFY_SIZE - size);
        rt.block_on(append(&souk, &big[..n]));
        size += n;
    }
    eprintln!("filled the log to {size} entries in {:.1} s", started.elapsed().as_secs_f64());
    rt.block_on(audit::checkpoint(&souk)).unwrap();

    let mut group = c.benchmark_group("audit verify");
    group.sample_size(10).measurement_time(Duration::from_secs(40));
    group.throughput(Throughput::Elements(VERIFY_SIZE as u64));
    group.bench_function("1,000,000 entries", |b| {
        b.iter(|| {
            let report = rt.block_on(audit::verify(&souk, |_, _| {})).unwrap();
            assert!(report.is_clean() && report.entries == VERIFY_SIZE as u64);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
