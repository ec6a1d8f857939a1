//! Souk's money rules, free of I/O: the double-entry ledger that escrow, payouts and refunds
//! are posted to, and the payment processor connector trait with its built-in simulator.
//! Persistence lives in souk-store and orchestration (transactions, audit) in souk-core.

pub mod bank;
pub mod connector;
pub mod ledger;
