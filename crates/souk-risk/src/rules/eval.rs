//! Evaluates a type-checked expression over one event's features, in three-valued logic: a
//! comparison with a missing attribute is unknown, `not unknown` is unknown, `false and
//! unknown` is false, `true or unknown` is true.

use std::cmp::Ordering;

use super::lexer::CmpOp;
use super::parser::Expr;
use super::{Features, Lists, Value};

pub(super) fn eval(expr: &Expr, features: &Features, lists: &dyn Lists) -> Option<bool> {
    match expr {
        Expr::Const(b) => Some(*b),
        Expr::Flag(slot) => match features.get(*slot)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        },
        Expr::CmpConst { slot, op, value } => compare(features.get(*slot)?, *op, value),
        Expr::CmpSlots { left, op, right } => compare(features.get(*left)?, *op, features.get(*right)?),
        Expr::InSet { slot, values, negated } => {
            let v = features.get(*slot)?;
            Some(values.iter().any(|x| equal(v, x)) != *negated)
        }
        Expr::InList { slot, list, negated } => match features.get(*slot)? {
            Value::Text(t) => Some(lists.contains(list, &t.to_lowercase()) != *negated),
            _ => None,
        },
        Expr::Not(inner) => eval(inner, features, lists).map(|b| !b),
        Expr::And(parts) => {
            let mut unknown = false;
            for p in parts {
                match eval(p, features, lists) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Expr::Or(parts) => {
            let mut unknown = false;
            for p in parts {
                match eval(p, features, lists) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
    }
}

/// Text is compared without regard to case (emails, country codes, domains). Numbers are
/// counts and integer minor units, so exact equality is what a rule's `=` means.
#[allow(clippy::float_cmp)]
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Text(x), Value::Text(y)) => x.to_lowercase() == y.to_lowercase(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

fn compare(a: &Value, op: CmpOp, b: &Value) -> Option<bool> {
    match op {
        CmpOp::Eq => Some(equal(a, b)),
        CmpOp::Ne => Some(!equal(a, b)),
        _ => {
            let (Value::Number(x), Value::Number(y)) = (a, b) else { return None };
            let ord = x.partial_cmp(y)?;
            Some(match op {
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
                CmpOp::Eq | CmpOp::Ne => false,
            })
        }
    }
}
