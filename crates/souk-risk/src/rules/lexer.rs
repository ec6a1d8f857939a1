//! Turns a rule's text into tokens, each with the column it starts at, so that every later
//! error can point at the exact place in what the analyst typed.

use super::RuleError;

/// One token and the 1-based column (in characters) where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: Kind,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// `:name:`
    Attribute(String),
    /// `@name`
    List(String),
    Number(f64),
    Text(String),
    /// A bare word: a keyword (`if`, `and`, `block` …), matched case-insensitively.
    Word(String),
    Op(CmpOp),
    Open,
    Close,
    Comma,
    End,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl CmpOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "=",
            Self::Ne => "!=",
        }
    }

    /// The operator that gives the same answer with its operands swapped (`1 < x` is `x > 1`).
    pub(super) fn flipped(self) -> Self {
        match self {
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Eq | Self::Ne => self,
        }
    }
}

/// The longest rule we accept: rules are one line of logic, not programs.
pub const MAX_RULE_CHARS: usize = 2_000;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, RuleError> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > MAX_RULE_CHARS {
        return Err(RuleError::new(MAX_RULE_CHARS, format!("a rule is at most {MAX_RULE_CHARS} characters")));
    }
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let column = i + 1;
        let take_name = |from: usize| -> (String, usize) {
            let mut end = from;
            while chars.get(end).is_some_and(|c| is_name_char(*c)) {
                end += 1;
            }
            (chars.get(from..end).unwrap_or_default().iter().collect(), end)
        };
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            ':' => {
                let (name, end) = take_name(i + 1);
                if name.is_empty() || chars.get(end) != Some(&':') {
                    return Err(RuleError::new(
                        column,
                        "an attribute is written between colons, like :amount:".to_owned(),
                    ));
                }
                i = end + 1;
                Kind::Attribute(name.to_ascii_lowercase())
            }
            '@' => {
                let (name, end) = take_name(i + 1);
                if name.is_empty() {
                    return Err(RuleError::new(
                        column,
                        "a list is written @name, like @blocked_emails".to_owned(),
                    ));
                }
                i = end;
                Kind::List(name.to_ascii_lowercase())
            }
            '\'' | '"' => {
                let (text, end) = text_literal(&chars, i)?;
                i = end;
                Kind::Text(text)
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                let mut end = i + 1;
                while chars.get(end).is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == '_') {
                    end += 1;
                }
                let raw: String =
                    chars.get(i..end).unwrap_or_default().iter().filter(|c| **c != '_').collect();
                let number = raw
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| RuleError::new(column, format!("{raw} is not a number")))?;
                i = end;
                Kind::Number(number)
            }
            c if c.is_ascii_alphabetic() => {
                let (word, end) = take_name(i);
                i = end;
                Kind::Word(word.to_ascii_lowercase())
            }
            '(' => {
                i += 1;
                Kind::Open
            }
            ')' => {
                i += 1;
                Kind::Close
            }
            ',' => {
                i += 1;
                Kind::Comma
            }
            '<' | '>' | '=' | '!' => {
                let (op, width) = operator(c, chars.get(i + 1).copied(), column)?;
                i += width;
                Kind::Op(op)
            }
            other => return Err(RuleError::new(column, format!("unexpected character {other:?}"))),
        };
        tokens.push(Token { kind, column });
    }
    tokens.push(Token { kind: Kind::End, column: chars.len() + 1 });
    Ok(tokens)
}

/// A quoted text starting at `i`; returns it and the index just past its closing quote.
fn text_literal(chars: &[char], i: usize) -> Result<(String, usize), RuleError> {
    let quote = chars.get(i).copied().unwrap_or('\'');
    let mut text = String::new();
    let mut j = i + 1;
    loop {
        match chars.get(j) {
            None => return Err(RuleError::new(i + 1, format!("this text has no closing {quote}"))),
            // A doubled quote stands for the quote itself, as in SQL.
            Some(&q) if q == quote && chars.get(j + 1) == Some(&quote) => {
                text.push(quote);
                j += 2;
            }
            Some(&q) if q == quote => return Ok((text, j + 1)),
            Some(&other) => {
                text.push(other);
                j += 1;
            }
        }
    }
}

/// A comparison operator starting with `c`, and how many characters it takes.
fn operator(c: char, next: Option<char>, column: usize) -> Result<(CmpOp, usize), RuleError> {
    Ok(match (c, next) {
        ('<', Some('=')) => (CmpOp::Le, 2),
        ('>', Some('=')) => (CmpOp::Ge, 2),
        ('!', Some('=')) | ('<', Some('>')) => (CmpOp::Ne, 2),
        ('=', Some('=')) => (CmpOp::Eq, 2),
        ('<', _) => (CmpOp::Lt, 1),
        ('>', _) => (CmpOp::Gt, 1),
        ('=', _) => (CmpOp::Eq, 1),
        _ => {
            return Err(RuleError::new(
                column,
                "'!' must be followed by '=' (use 'not' for negation)".into(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        tokenize(text).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn reads_every_kind_of_token_with_its_column() {
        let tokens = tokenize("Block if :amount: >= 10_000 and :email: in @Blocked").unwrap();
        let columns: Vec<usize> = tokens.iter().map(|t| t.column).collect();
        assert_eq!(columns, vec![1, 7, 10, 19, 22, 29, 33, 41, 44, 52]);
        assert_eq!(
            kinds("x != 'it''s' <> -2.5,()"),
            vec![
                Kind::Word("x".into()),
                Kind::Op(CmpOp::Ne),
                Kind::Text("it's".into()),
                Kind::Op(CmpOp::Ne),
                Kind::Number(-2.5),
                Kind::Comma,
                Kind::Open,
                Kind::Close,
                Kind::End
            ]
        );
    }

    #[test]
    fn bad_input_points_at_the_column() {
        assert_eq!(tokenize("block if :amount > 1").unwrap_err().column, 10);
        assert_eq!(tokenize("block if :a: = 'open").unwrap_err().column, 16);
        assert_eq!(tokenize("block if 1.2.3 = 1").unwrap_err().column, 10);
        assert_eq!(tokenize("block if ! :a:").unwrap_err().column, 10);
        assert_eq!(tokenize("block if :a: = #").unwrap_err().column, 16);
        assert!(tokenize(&"x".repeat(MAX_RULE_CHARS + 1)).is_err());
    }
}
