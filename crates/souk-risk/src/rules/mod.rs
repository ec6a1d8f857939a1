//! The rules language: `block if :cards_per_ip_24h: > 3 and :amount: >= 50_00`.
//!
//! A rule is an action, `if`, and a condition over attributes (`:name:`), numbers, quoted
//! text, sets (`('FR', 'DE')`) and named lists (`@blocked_emails`), combined with `and`,
//! `or`, `not` and parentheses. Rules are type-checked against a [`Schema`] when saved, so
//! evaluation never fails; a missing attribute makes a comparison unknown (three-valued
//! logic, as in SQL), and a rule matches only when its condition is true.
//!
//! Precedence of actions, fixed: a matching `allow` rule wins (it is an analyst's explicit
//! exception, as Radar's allow rules are); otherwise the most severe matching action
//! (`block` > `review` > `step_up`); with no match, allow. Shadow rules are evaluated and
//! reported but never change the outcome.

mod eval;
mod lexer;
mod parser;
mod print;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};

pub use lexer::{CmpOp, MAX_RULE_CHARS};
use parser::{Expr, Parser};

/// What a rule asks for when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    /// Ask the buyer for 3-D Secure, or the person for a second factor.
    StepUp,
    /// Hold for an analyst.
    Review,
    Block,
}

impl Action {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "allow" => Some(Self::Allow),
            "step_up" | "stepup" => Some(Self::StepUp),
            "review" => Some(Self::Review),
            "block" => Some(Self::Block),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::StepUp => "step_up",
            Self::Review => "review",
            Self::Block => "block",
        }
    }
}

/// Whether a rule's match changes the outcome or is only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Active,
    Shadow,
}

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    Number,
    Text,
    Bool,
}

impl AttributeType {
    fn name(self) -> &'static str {
        match self {
            Self::Number => "number",
            Self::Text => "text",
            Self::Bool => "true/false",
        }
    }
}

/// A value of an attribute, or a literal in a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Value {
    fn kind(&self) -> AttributeType {
        match self {
            Self::Number(_) => AttributeType::Number,
            Self::Text(_) => AttributeType::Text,
            Self::Bool(_) => AttributeType::Bool,
        }
    }

    fn zero(ty: AttributeType) -> Self {
        match ty {
            AttributeType::Number => Self::Number(0.0),
            AttributeType::Text => Self::Text(String::new()),
            AttributeType::Bool => Self::Bool(false),
        }
    }
}

/// The attributes rules may use, each with its type and a slot in the feature vector, and
/// the names of the lists staff keep.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    attributes: Vec<(String, AttributeType)>,
    slots: HashMap<String, usize>,
    lists: HashSet<String>,
}

impl Schema {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an attribute (names are lower case, letters, digits and `_`); returns its slot.
    #[must_use]
    pub fn attribute(mut self, name: &str, ty: AttributeType) -> Self {
        let name = name.to_ascii_lowercase();
        if !self.slots.contains_key(&name) {
            self.slots.insert(name.clone(), self.attributes.len());
            self.attributes.push((name, ty));
        }
        self
    }

    #[must_use]
    pub fn list(mut self, name: &str) -> Self {
        self.lists.insert(name.to_ascii_lowercase());
        self
    }

    pub fn lookup(&self, name: &str) -> Option<(usize, AttributeType)> {
        let slot = *self.slots.get(name)?;
        self.attributes.get(slot).map(|(_, ty)| (slot, *ty))
    }

    pub fn has_list(&self, name: &str) -> bool {
        self.lists.contains(name)
    }

    pub fn len(&self) -> usize {
        self.attributes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty()
    }

    fn name_of(&self, slot: usize) -> &str {
        self.attributes.get(slot).map_or("?", |(n, _)| n.as_str())
    }

    /// An empty feature vector for this schema.
    pub fn features(&self) -> Features {
        Features { values: vec![None; self.attributes.len()] }
    }
}

/// The attribute values of one event, by slot; a missing value is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    values: Vec<Option<Value>>,
}

impl Features {
    /// Sets an attribute by name; refuses unknown names and wrong types.
    pub fn set(&mut self, schema: &Schema, name: &str, value: Value) -> Result<(), RuleError> {
        let (slot, ty) = schema
            .lookup(name)
            .ok_or_else(|| RuleError::new(0, format!("there is no attribute :{name}:")))?;
        if value.kind() != ty {
            return Err(RuleError::new(
                0,
                format!(":{name}: is a {}, not a {}", ty.name(), value.kind().name()),
            ));
        }
        if let Some(v) = self.values.get_mut(slot) {
            *v = Some(value);
        }
        Ok(())
    }

    /// Sets an attribute by slot (the fast path for the feature builder).
    pub fn set_slot(&mut self, slot: usize, value: Value) {
        if let Some(v) = self.values.get_mut(slot) {
            *v = Some(value);
        }
    }

    fn get(&self, slot: usize) -> Option<&Value> {
        self.values.get(slot).and_then(Option::as_ref)
    }
}

/// The named lists rules test membership in (`@blocked_emails`).
pub trait Lists {
    /// Whether `value` is on `list`; text is compared case-insensitively by the caller's
    /// convention of storing lower-case entries (the evaluator passes the value lower-cased).
    fn contains(&self, list: &str, value: &str) -> bool;
}

impl<S: std::hash::BuildHasher, T: std::hash::BuildHasher> Lists for HashMap<String, HashSet<String, T>, S> {
    fn contains(&self, list: &str, value: &str) -> bool {
        self.get(list).is_some_and(|l| l.contains(value))
    }
}

/// A rule that could not be saved, with the 1-based column it points at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct RuleError {
    pub column: usize,
    pub message: String,
}

impl RuleError {
    fn new(column: usize, message: String) -> Self {
        Self { column, message }
    }

    /// The rule's text with a caret under the column, for a terminal or a `<pre>`.
    pub fn pointing_into(&self, source: &str) -> String {
        let pad = " ".repeat(self.column.saturating_sub(1));
        format!("{source}\n{pad}^ {}", self.message)
    }
}

/// A parsed, type-checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub action: Action,
    pub mode: Mode,
    expr: Expr,
}

impl Rule {
    pub fn parse(id: &str, source: &str, mode: Mode, schema: &Schema) -> Result<Self, RuleError> {
        let tokens = lexer::tokenize(source)?;
        let (action, expr) = Parser::new(&tokens, schema).rule()?;
        Ok(Self { id: id.to_owned(), action, mode, expr })
    }

    /// Whether the condition is true for these features (unknown counts as no match).
    pub fn matches(&self, features: &Features, lists: &dyn Lists) -> bool {
        eval::eval(&self.expr, features, lists) == Some(true)
    }

    /// The rule in canonical form (keywords lower case, one space between tokens, minimal
    /// parentheses): what is stored and shown, and parses back to the same rule.
    pub fn canonical(&self, schema: &Schema) -> String {
        format!("{} if {}", self.action.as_str(), print::Printer { schema }.expr(&self.expr))
    }
}

/// The outcome of a rule set over one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub action: Action,
    /// Active rules that matched, in the set's order.
    pub matched: Vec<String>,
    /// Shadow rules that matched (recorded, no effect).
    pub shadow_matched: Vec<String>,
}

/// An ordered set of rules, evaluated together.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Self {
        Self { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn evaluate(&self, features: &Features, lists: &dyn Lists) -> Outcome {
        let mut matched = Vec::new();
        let mut shadow_matched = Vec::new();
        let mut allowed = false;
        let mut strongest: Option<Action> = None;
        for rule in &self.rules {
            if !rule.matches(features, lists) {
                continue;
            }
            match rule.mode {
                Mode::Shadow => shadow_matched.push(rule.id.clone()),
                Mode::Active => {
                    matched.push(rule.id.clone());
                    if rule.action == Action::Allow {
                        allowed = true;
                    } else {
                        strongest = strongest.max(Some(rule.action));
                    }
                }
            }
        }
        let action = if allowed { Action::Allow } else { strongest.unwrap_or(Action::Allow) };
        Outcome { action, matched, shadow_matched }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;
