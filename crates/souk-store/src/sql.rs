//! A tiny builder for queries whose shape depends on the request (optional filters, a
//! cursor): it numbers the `$n` placeholders so values are always bound, never spliced.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    NullBytes,
}

/// SQL text plus the values for its placeholders, in order.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    text: String,
    params: Vec<Param>,
}

impl Sql {
    pub(crate) fn new(text: &'static str) -> Self {
        Self { text: text.to_owned(), params: Vec::new() }
    }

    /// Appends literal SQL (never user input).
    pub(crate) fn push(&mut self, text: &'static str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder (`$n`) for `value`.
    pub(crate) fn bind(&mut self, value: Param) -> &mut Self {
        self.params.push(value);
        self.text.push('$');
        self.text.push_str(&self.params.len().to_string());
        self
    }

    pub(crate) fn query(&self) -> Query<'_, Any, AnyArguments> {
        // Only literal SQL is ever pushed; every value goes through a placeholder.
        let mut q = sqlx::query(AssertSqlSafe(self.text.as_str()));
        for p in &self.params {
            q = match p {
                Param::Int(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.as_str()),
                Param::Bytes(v) => q.bind(v.as_slice()),
                Param::NullBytes => q.bind(None::<Vec<u8>>),
            };
        }
        q
    }
}
