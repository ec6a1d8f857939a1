//! Password hashing cost with OWASP's argon2id parameters (m = 19 MiB, t = 2, p = 1): this
//! bounds login throughput per core, so it is measured, not assumed.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]

use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use souk_domain::OsEntropy;
use souk_identity::password::{PasswordHasher, PasswordPolicy, owasp_params};

fn bench(c: &mut Criterion) {
    let e = OsEntropy::new();
    let hasher = PasswordHasher::new(owasp_params(), Some(b"pepper"), &e).unwrap();
    let pw = SecretString::from("correct horse battery staple".to_owned());
    let stored = hasher.hash(&pw, &e).unwrap();
    let mut g = c.benchmark_group("password");
    g.sample_size(20);
    g.bench_function("argon2id verify (OWASP parameters)", |b| {
        b.iter(|| hasher.verify(&pw, &stored).unwrap());
    });
    g.bench_function("policy check with zxcvbn", |b| {
        b.iter(|| PasswordPolicy::default().check(&pw, false, &["amina.kabbaj@example.org"]));
    });
    g.bench_function("breached-list screen (binary search over 961,801 keys)", |b| {
        b.iter(|| souk_identity::breached::is_breached(std::hint::black_box("correct horse battery staple")));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
