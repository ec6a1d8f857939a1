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
    // What the envelope costs beyond the cipher, part by part (for BENCHMARKS.md).
    c.bench_function("part: nonce", |b| b.iter(|| nonces.next()));
    // Format 2 with a UUID row id: header (5) ‖ column id (10) ‖ row kind (1) ‖ UUID (16).
    let aad = vec![0x5au8; 5 + 10 + 1 + 16];
    c.bench_function("part: ring seal+open 64 B, the field's 32-byte AAD, no allocation (floor)", |b| {
        b.iter(|| {
            let mut buf = [0u8; 80];
            buf[..64].copy_from_slice(std::hint::black_box(&plain));
            let nonce = || ring::aead::Nonce::assume_unique_for_key([1u8; 12]);
            let (body, tag_out) = buf.split_at_mut(64);
            let tag = raw.seal_in_place_separate_tag(nonce(), ring::aead::Aad::from(&aad), body).unwrap();
            tag_out.copy_from_slice(tag.as_ref());
            raw.open_in_place(nonce(), ring::aead::Aad::from(&aad), &mut buf).unwrap().len()
        });
    });
    c.bench_function("part: allocate and free 97 B and 64 B", |b| {
        b.iter(|| {
            let a = Vec::<u8>::with_capacity(std::hint::black_box(97));
            let b = Vec::<u8>::with_capacity(std::hint::black_box(64));
            (std::hint::black_box(a), std::hint::black_box(b))
        });
    });
    c.bench_function("part: zeroize 64 B", |b| {
        let mut buf = zeroize::Zeroizing::new(vec![0x61u8; 64]);
        b.iter(|| zeroize::Zeroize::zeroize(std::hint::black_box(&mut *buf)));
    });
    let bidx = BlindIndexKey::derive(&KeyBytes::generate(&entropy), "accounts", "email");
    c.bench_function("blind index (email)", |b| {
        b.iter(|| bidx.index(std::hint::black_box(b"amina@example.org"), 20));
    });
}

criterion_group!(benches, field);
criterion_main!(benches);
