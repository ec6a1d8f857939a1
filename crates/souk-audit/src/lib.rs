//! The tamper-evident audit log's mathematics: RFC 9162 (Certificate Transparency v2)
//! Merkle tree hashing, inclusion and consistency proofs, and a compact tree that yields
//! the root at every size in one pass. No I/O: the store keeps the entries, the core
//! appends them inside the transactions they record.

pub mod compact;
pub mod merkle;

pub use merkle::Hash;
