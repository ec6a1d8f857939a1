//! Souk's fraud and risk engine, free of I/O. This crate owns the rules language that trust &
//! safety staff write (`block if :risk_score: > 75`): parsing with errors that point at the
//! column, type-checking against the attributes the marketplace computes, and evaluation into
//! a decision with the rules that matched. Features, the model and storage come next to it.

pub mod model;
pub mod rules;
pub mod velocity;

pub use rules::{
    Action, AttributeType, Features, Lists, Mode, Outcome, Rule, RuleError, RuleSet, Schema, Value,
};
