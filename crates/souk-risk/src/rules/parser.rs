//! Parses tokens into a typed expression, resolving attribute names to the schema's slots and
//! checking types as it goes, so a rule that is saved can never fail at evaluation time.
//!
//! ```text
//! rule       := action "if" expr
//! expr       := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | "true" | "false" | test
//! test       := operand cmp operand | operand ["not"] "in" (@list | "(" literal ("," literal)* ")")
//!             | boolean-attribute
//! ```

use super::lexer::{CmpOp, Kind, Token};
use super::{Action, AttributeType, RuleError, Schema, Value};

/// A type-checked expression over attribute slots.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Const(bool),
    /// A boolean attribute used as a condition.
    Flag(usize),
    /// `:attr: op literal` (a literal on the left is flipped to the right when parsed).
    CmpConst {
        slot: usize,
        op: CmpOp,
        value: Value,
    },
    /// `:a: op :b:`, both of the same type.
    CmpSlots {
        left: usize,
        op: CmpOp,
        right: usize,
    },
    /// `:attr: in ('a', 'b')`
    InSet {
        slot: usize,
        values: Vec<Value>,
        negated: bool,
    },
    /// `:attr: in @list`
    InList {
        slot: usize,
        list: String,
        negated: bool,
    },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// Bounds nesting so that a hostile rule cannot exhaust the stack.
const MAX_DEPTH: usize = 32;

enum Operand {
    Slot(usize, AttributeType),
    Literal(Value),
}

pub(super) struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    schema: &'a Schema,
    depth: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(tokens: &'a [Token], schema: &'a Schema) -> Self {
        Self { tokens, at: 0, schema, depth: 0 }
    }

    fn peek(&self) -> &Token {
        // The lexer always ends the list with `End`, and the parser never steps past it.
        static END: Token = Token { kind: Kind::End, column: 1 };
        self.tokens.get(self.at).or_else(|| self.tokens.last()).unwrap_or(&END)
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != Kind::End {
            self.at += 1;
        }
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(&self.peek().kind, Kind::Word(w) if w == word)
    }

    fn expected(&self, what: &str) -> RuleError {
        let token = self.peek();
        let found = describe(&token.kind);
        RuleError::new(token.column, format!("expected {what}, found {found}"))
    }

    pub(super) fn rule(&mut self) -> Result<(Action, Expr), RuleError> {
        let token = self.bump();
        let action = match &token.kind {
            Kind::Word(w) => Action::parse(w),
            _ => None,
        }
        .ok_or_else(|| {
            RuleError::new(
                token.column,
                "a rule starts with its action: allow, step_up, review or block".into(),
            )
        })?;
        if !self.is_word("if") {
            return Err(self.expected("'if' after the action"));
        }
        self.bump();
        let expr = self.or()?;
        if self.peek().kind != Kind::End {
            return Err(self.expected("'and', 'or' or the end of the rule"));
        }
        Ok((action, expr))
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(RuleError::new(
                self.peek().column,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut parts = vec![self.and()?];
        while self.is_word("or") {
            self.bump();
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Const(false)) } else { Expr::Or(parts) })
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut parts = vec![self.unary()?];
        while self.is_word("and") {
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 { parts.pop().unwrap_or(Expr::Const(false)) } else { Expr::And(parts) })
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if self.is_word("not") {
            self.bump();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(RuleError::new(
                    self.peek().column,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                ));
            }
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek().kind == Kind::Open {
            self.bump();
            let inner = self.or()?;
            if self.peek().kind != Kind::Close {
                return Err(self.expected("')'"));
            }
            self.bump();
            return Ok(inner);
        }
        if self.is_word("true") || self.is_word("false") {
            let value = self.is_word("true");
            self.bump();
            return Ok(Expr::Const(value));
        }
        self.test()
    }

    fn operand(&mut self) -> Result<(Operand, usize), RuleError> {
        let token = self.bump();
        let operand = match token.kind {
            Kind::Attribute(name) => {
                let (slot, ty) = self
                    .schema
                    .lookup(&name)
                    .ok_or_else(|| RuleError::new(token.column, format!("there is no attribute :{name}:")))?;
                Operand::Slot(slot, ty)
            }
            Kind::Number(n) => Operand::Literal(Value::Number(n)),
            Kind::Text(t) => Operand::Literal(Value::Text(t)),
            Kind::Word(w) if w == "true" || w == "false" => Operand::Literal(Value::Bool(w == "true")),
            other => {
                return Err(RuleError::new(
                    token.column,
                    format!("expected an attribute like :amount: or a value, found {}", describe(&other)),
                ));
            }
        };
        Ok((operand, token.column))
    }

    fn test(&mut self) -> Result<Expr, RuleError> {
        let (left, left_column) = self.operand()?;
        let negated = self.is_word("not");
        if negated || self.is_word("in") {
            self.bump();
            if negated {
                if !self.is_word("in") {
                    return Err(self.expected("'in' after 'not'"));
                }
                self.bump();
            }
            let Operand::Slot(slot, ty) = left else {
                return Err(RuleError::new(
                    left_column,
                    "'in' tests an attribute, like :email: in @blocked".into(),
                ));
            };
            return self.membership(slot, ty, negated, left_column);
        }
        let Kind::Op(op) = self.peek().kind else {
            return match left {
                Operand::Slot(slot, AttributeType::Bool) => Ok(Expr::Flag(slot)),
                _ => Err(self.expected("a comparison (<, <=, >, >=, =, !=) or 'in'")),
            };
        };
        let op_column = self.peek().column;
        self.bump();
        let (right, right_column) = self.operand()?;
        let check = |ty: AttributeType, value: &Value, column: usize| -> Result<(), RuleError> {
            if value.kind() != ty {
                return Err(RuleError::new(
                    column,
                    format!("a {} cannot be compared with a {}", ty.name(), value.kind().name()),
                ));
            }
            if ty != AttributeType::Number && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(RuleError::new(
                    op_column,
                    format!("{} only compares numbers; use = or != for {}", op.symbol(), ty.name()),
                ));
            }
            Ok(())
        };
        match (left, right) {
            (Operand::Slot(slot, ty), Operand::Literal(value)) => {
                check(ty, &value, right_column)?;
                Ok(Expr::CmpConst { slot, op, value })
            }
            (Operand::Literal(value), Operand::Slot(slot, ty)) => {
                check(ty, &value, left_column)?;
                Ok(Expr::CmpConst { slot, op: op.flipped(), value })
            }
            (Operand::Slot(l, lt), Operand::Slot(r, rt)) => {
                if lt != rt {
                    return Err(RuleError::new(
                        right_column,
                        format!("a {} cannot be compared with a {}", lt.name(), rt.name()),
                    ));
                }
                check(lt, &Value::zero(lt), right_column)?;
                Ok(Expr::CmpSlots { left: l, op, right: r })
            }
            (Operand::Literal(_), Operand::Literal(_)) => {
                Err(RuleError::new(left_column, "compare an attribute, not two fixed values".into()))
            }
        }
    }

    fn membership(
        &mut self,
        slot: usize,
        ty: AttributeType,
        negated: bool,
        column: usize,
    ) -> Result<Expr, RuleError> {
        let token = self.bump();
        match token.kind {
            Kind::List(list) => {
                if ty != AttributeType::Text {
                    return Err(RuleError::new(
                        column,
                        "lists hold text; only a text attribute can be in @list".into(),
                    ));
                }
                if !self.schema.has_list(&list) {
                    return Err(RuleError::new(token.column, format!("there is no list @{list}")));
                }
                Ok(Expr::InList { slot, list, negated })
            }
            Kind::Open => {
                let mut values = Vec::new();
                loop {
                    let (operand, value_column) = self.operand()?;
                    let Operand::Literal(value) = operand else {
                        return Err(RuleError::new(
                            value_column,
                            "a set holds fixed values, not attributes".into(),
                        ));
                    };
                    if value.kind() != ty || ty == AttributeType::Bool {
                        return Err(RuleError::new(
                            value_column,
                            format!("a set for a {} attribute holds {} values", ty.name(), ty.name()),
                        ));
                    }
                    values.push(value);
                    match self.peek().kind {
                        Kind::Comma => {
                            self.bump();
                        }
                        Kind::Close => {
                            self.bump();
                            break;
                        }
                        _ => return Err(self.expected("',' or ')'")),
                    }
                }
                Ok(Expr::InSet { slot, values, negated })
            }
            _ => {
                Err(RuleError::new(token.column, "expected @list or a set like ('a', 'b') after 'in'".into()))
            }
        }
    }
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Attribute(a) => format!(":{a}:"),
        Kind::List(l) => format!("@{l}"),
        Kind::Number(n) => n.to_string(),
        Kind::Text(t) => format!("'{t}'"),
        Kind::Word(w) => format!("'{w}'"),
        Kind::Op(op) => format!("'{}'", op.symbol()),
        Kind::Open => "'('".into(),
        Kind::Close => "')'".into(),
        Kind::Comma => "','".into(),
        Kind::End => "the end of the rule".into(),
    }
}
