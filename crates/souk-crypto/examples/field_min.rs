//! Field encryption timed directly, as the best of 400 batches of 2,000 calls: on a shared
//! 2-core machine criterion's means swing with the neighbours' load, the minimum much less.
//! `cargo run --release -p souk-crypto --example field_min [filter…]`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "measurement"
)]

use std::hint::black_box;
use std::time::Instant;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use souk_crypto::nonce::Nonces;
use souk_crypto::{DataKey, FieldContext, KeyBytes};
use souk_domain::{Entropy, OsEntropy};

fn measure(name: &str, mut f: impl FnMut()) {
    const BATCH: u32 = 2000;
    let mut times: Vec<f64> = (0..400)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("{name:58} min {:6.1} ns  p10 {:6.1}  p50 {:6.1}", times[0], times[40], times[200]);
}

fn main() {
    let filters: Vec<String> = std::env::args().skip(1).collect();
    let on = |name: &str| filters.is_empty() || filters.iter().any(|w| name.contains(w.as_str()));
    let entropy = OsEntropy::new();
    let key = DataKey::new(1, &KeyBytes::generate(&entropy)).unwrap();
    let nonces = Nonces::new(Box::new(OsEntropy::new()));
    let ctx =
        FieldContext { table: "accounts", column: "email", row_id: "0192f0c0-a1b2-7c3d-8e9f-0a1b2c3d4e5f" };
    let plain = [0x61u8; 64];
    let sealed = key.seal(&ctx, &plain, &nonces).unwrap();
    let raw = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
    let ring_seal_open = |aad: &[u8]| {
        let mut buf = [0u8; 80];
        buf[..64].copy_from_slice(black_box(&plain));
        let (body, tag_out) = buf.split_at_mut(64);
        let tag = raw
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key([1; 12]), Aad::from(aad), body)
            .unwrap();
        tag_out.copy_from_slice(tag.as_ref());
        black_box(
            raw.open_in_place(Nonce::assume_unique_for_key([1; 12]), Aad::from(aad), &mut buf).unwrap(),
        );
    };
    if on("field") {
        measure("field seal+open 64 B", || {
            let s = key.seal(&ctx, black_box(&plain), &nonces).unwrap();
            black_box(key.open(&ctx, &s).unwrap());
        });
        measure("field seal 64 B", || {
            black_box(key.seal(&ctx, black_box(&plain), &nonces).unwrap());
        });
        measure("field open 64 B", || {
            black_box(key.open(&ctx, black_box(&sealed)).unwrap());
        });
    }
    if on("ring") {
        // A field's authenticated data is 32 bytes for this context (format 2; format 1's
        // was 70).
        for len in [0usize, 3, 16, 32, 48, 64, 70, 80] {
            let aad = vec![0x5au8; len];
            measure(&format!("ring seal+open 64 B, stack buffer, AAD {len} B"), || ring_seal_open(&aad));
        }
    }
    if on("parts") {
        measure("nonce", || {
            black_box(nonces.next());
        });
        let mut refill = [0u8; 4092];
        measure("OS generator, 4092 bytes (one refill of 341 nonces)", || {
            entropy.fill(black_box(&mut refill));
        });
        measure("allocate and free 97 B and 64 B", || {
            black_box(Vec::<u8>::with_capacity(black_box(97)));
            black_box(Vec::<u8>::with_capacity(black_box(64)));
        });
        let mut z = vec![1u8; 64];
        measure("zeroize 64 B", || zeroize::Zeroize::zeroize(black_box(&mut z)));
    }
}
