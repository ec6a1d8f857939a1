//! One authorization decision on the real policy set, entities built per request as the use
//! cases will (target p99 ≤ 20 µs; criterion reports the mean and spread, `decision p99`
//! below measures the tail directly).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::indexing_slicing,
    reason = "benchmark"
)]

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use souk_access::{Access, Action, Actor, Resource, ShopFacts, StaffRole};
use souk_domain::ids::{AccountId, ShopId};

fn id(n: u128) -> AccountId {
    AccountId::from_uuid(uuid::Uuid::from_u128(n))
}

fn bench(c: &mut Criterion) {
    let access = Access::load().unwrap();
    let shop = ShopFacts {
        id: ShopId::from_uuid(uuid::Uuid::from_u128(100)),
        owner: id(1),
        managers: (2..6).map(id).collect(),
        fulfilment: (6..10).map(id).collect(),
        status: "verified".into(),
    };
    let packer = Actor { id: id(7), roles: vec![] };
    let finance = Actor { id: id(50), roles: vec![StaffRole::Finance] };
    let order = Resource::Order { id: "order-1", buyer: id(40), shop: &shop };
    c.bench_function("cedar decision: packer fulfils order", |b| {
        b.iter(|| access.decide(&packer, Action::OrderFulfil, std::hint::black_box(&order)));
    });
    c.bench_function("cedar decision: finance refunds order", |b| {
        b.iter(|| access.decide(&finance, Action::OrderRefund, std::hint::black_box(&order)));
    });
    // The tail, measured directly over 100,000 decisions.
    let mut samples: Vec<u128> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(access.decide(&packer, Action::OrderFulfil, &order));
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() as f64) * p) as usize] as f64 / 1000.0;
    eprintln!(
        "decision latency over 100,000: p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
        pct(0.5),
        pct(0.99),
        pct(0.999)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
