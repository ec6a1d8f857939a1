//! The tamper-evident audit log's mathematics: RFC 9162 (Certificate Transparency v2)
//! Merkle tree hashing, inclusion and consistency proofs, and a compact tree that yields
//! the root at every size in one pass. No I/O: the store keeps the entries, the core
//! appends them inside the transactions they record.

pub mod checkpoint;
pub mod compact;
pub mod entry;
pub mod merkle;
pub mod verify;

pub use entry::Entry;
pub use merkle::Hash;

/// Lower-case hexadecimal, for ids and hashes shown to people.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
