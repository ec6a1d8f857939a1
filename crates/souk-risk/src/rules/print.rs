//! Prints an expression back as rule text in canonical form: what is stored and shown, and
//! what parses back to the same expression.

use std::fmt::Write as _;

use super::parser::Expr;
use super::{Schema, Value};

pub(super) struct Printer<'a> {
    pub schema: &'a Schema,
}

/// Binding strength: `or` < `and` < `not` and tests.
const OR: u8 = 1;
const AND: u8 = 2;
const ATOM: u8 = 3;

impl Printer<'_> {
    pub(super) fn expr(&self, e: &Expr) -> String {
        self.at(e, 0)
    }

    fn at(&self, e: &Expr, context: u8) -> String {
        let (text, strength) = match e {
            Expr::Const(b) => (b.to_string(), ATOM),
            Expr::Flag(slot) => (format!(":{}:", self.schema.name_of(*slot)), ATOM),
            Expr::CmpConst { slot, op, value } => {
                (format!(":{}: {} {}", self.schema.name_of(*slot), op.symbol(), literal(value)), ATOM)
            }
            Expr::CmpSlots { left, op, right } => (
                format!(":{}: {} :{}:", self.schema.name_of(*left), op.symbol(), self.schema.name_of(*right)),
                ATOM,
            ),
            Expr::InSet { slot, values, negated } => {
                let items: Vec<String> = values.iter().map(literal).collect();
                let not = if *negated { "not " } else { "" };
                (format!(":{}: {not}in ({})", self.schema.name_of(*slot), items.join(", ")), ATOM)
            }
            Expr::InList { slot, list, negated } => {
                let not = if *negated { "not " } else { "" };
                (format!(":{}: {not}in @{list}", self.schema.name_of(*slot)), ATOM)
            }
            Expr::Not(inner) => (format!("not {}", self.at(inner, ATOM)), ATOM),
            Expr::And(parts) => (self.join(parts, " and ", AND), AND),
            Expr::Or(parts) => (self.join(parts, " or ", OR), OR),
        };
        // A nested `and`/`or` of the same kind is parenthesized too, so that the printed text
        // parses back to the same tree shape rather than a flattened one.
        if strength < context || (strength < ATOM && strength == context) {
            format!("({text})")
        } else {
            text
        }
    }

    fn join(&self, parts: &[Expr], separator: &str, strength: u8) -> String {
        let mut out = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(separator);
            }
            let _ = write!(out, "{}", self.at(p, strength));
        }
        out
    }
}

fn literal(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Bool(b) => b.to_string(),
    }
}
