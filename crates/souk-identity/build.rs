//! Builds the breached-password screen at build time: the shipped list (see data/README.md)
//! becomes a sorted array of 32-bit truncated SHA-256 hashes in `OUT_DIR/breached.bin`.
#![allow(
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a build script reports a broken input by failing the build, which is the point"
)]
#![allow(clippy::disallowed_methods, reason = "cargo hands a build script its output directory in OUT_DIR")]

use std::io::Write as _;

use sha2::{Digest as _, Sha256};
use unicode_normalization::UnicodeNormalization as _;

fn main() {
    let source = "data/common-credentials-1M.txt.zz";
    println!("cargo:rerun-if-changed={source}");
    let compressed = std::fs::read(source).unwrap_or_else(|e| panic!("cannot read {source}: {e}"));
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&compressed)
        .unwrap_or_else(|e| panic!("{source} is not zlib data: {e:?}"));
    let text = String::from_utf8_lossy(&raw);
    let passwords: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    assert!(passwords.len() >= 999_999, "the breached list is too short: {} passwords", passwords.len());
    let mut hashes: Vec<u32> = passwords
        .iter()
        .map(|l| {
            let normalized: String = l.nfkc().collect::<String>().to_lowercase();
            let d = Sha256::digest(normalized.as_bytes());
            u32::from_be_bytes([d[0], d[1], d[2], d[3]])
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    // Case-folding merges variants ("Password", "password"): ~962,000 distinct keys remain.
    assert!(hashes.len() >= 950_000, "too few distinct screen keys: {}", hashes.len());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("breached.bin");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap_or_else(|e| panic!("{e}")));
    for h in &hashes {
        f.write_all(&h.to_be_bytes()).unwrap_or_else(|e| panic!("{e}"));
    }
}
