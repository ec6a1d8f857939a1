//! Field encryption cost: seal + open of a 64-byte personal-data field under a data key
//! (target ≤ 250 ns on the 2-core reference machine), and blind-index computation.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]

use criterion::{Criterion, criterion_group, criterion_main};
use souk_crypto::blind_index::BlindIndexKey;
use souk_crypto::nonce::Nonces;
use souk_crypto::{DataKey, FieldContext, KeyBytes};
use souk_domain::OsEntropy;

fn field(c: &mut Criterion) {
    let entropy = OsEntropy::new();
    let key = DataKey::new(1, &KeyBytes::generate(&entropy)).unwrap();
    let nonces = Nonces::new(Box::new(OsEntropy::new()));
    let ctx =
        FieldContext { table: "accounts", column: "email", row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f" };
    let plain = [0x61u8; 64];
    c.bench_function("field seal+open 64 B", |b| {
        b.iter(|| {
            let sealed = key.seal(&ctx, std::hint::black_box(&plain), &nonces).unwrap();
            key.open(&ctx, &sealed).unwrap()
        });
    });
    let sealed = key.seal(&ctx, &plain, &nonces).unwrap();
    c.bench_function("field open 64 B", |b| {
        b.iter(|| key.open(&ctx, std::hint::black_box(&sealed)).unwrap());
    });
    // The floor: ring's AES-256-GCM alone, seal then open in place, fixed nonce.
    let raw = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    c.bench_function("ring AES-256-GCM seal+open 64 B (floor)", |b| {
        b.iter(|| {
            let mut buf = plain.to_vec();
            let nonce = || ring::aead::Nonce::assume_unique_for_key([1u8; 12]);
            let tag =
                raw.seal_in_place_separate_tag(nonce(), ring::aead::Aad::from(b"ctx"), &mut buf).unwrap();
            buf.extend_from_slice(tag.as_ref());
            raw.open_in_place(nonce(), ring::aead::Aad::from(b"ctx"), &mut buf).unwrap().len()
        });
    });
    let bidx = BlindIndexKey::derive(&KeyBytes::generate(&entropy), "accounts", "email");
    c.bench_function("blind index (email)", |b| {
        b.iter(|| bidx.index(std::hint::black_box(b"amina@example.org"), 20));
    });
}

criterion_group!(benches, field);
criterion_main!(benches);
