//! Souk's pure domain: the marketplace's vocabulary and the rules that need no I/O.
//!
//! Nothing here touches a database, a socket, the wall clock or the OS random source
//! directly: time comes from a [`clock::Clock`] and randomness from an
//! [`entropy::Entropy`], both passed in, so every rule is testable with fixed inputs.

pub mod catalog;
pub mod checkout;
pub mod clock;
pub mod entropy;
pub mod ids;
pub mod listing;
pub mod messaging;
pub mod money;
pub mod order;
pub mod page;
pub mod shop;
pub mod timestamp;

pub use clock::{Clock, FakeClock, SystemClock};
pub use entropy::{Entropy, OsEntropy};
pub use money::{Currency, Money};
pub use timestamp::Timestamp;
