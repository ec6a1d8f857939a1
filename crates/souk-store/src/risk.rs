//! Risk's tables: velocity events (one row per key an event touched) and their windowed
//! figures, versioned rule sets, and the decisions taken with their features. The window
//! rule is the one souk-risk states: at `now`, an event at `at` counts for window `w` when
//! `now - w < at <= now`; times are microseconds, like every timestamp here.

use souk_domain::Timestamp;
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// One key an event touched, written after its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow<'a> {
    /// `card`, `device`, `ip`, `network`, `account`, `email_domain`, `address`.
    pub key_kind: &'a str,
    /// The key (a keyed hash for anything personal).
    pub key_value: &'a str,
    /// `signup`, `login`, `login_failed`, `payment`, `payment_declined`, …
    pub event_kind: &'a str,
    /// What is counted distinct under this key (the card under an IP), if anything.
    pub other: Option<&'a str>,
    pub amount: i64,
}

pub async fn insert_events(
    conn: &mut AnyConnection,
    events: &[EventRow<'_>],
    at: Timestamp,
) -> Result<(), StoreError> {
    for e in events {
        sqlx::query(
            "INSERT INTO risk_events (key_kind, key_value, event_kind, other, amount, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.key_kind)
        .bind(e.key_value)
        .bind(e.event_kind)
        .bind(e.other)
        .bind(e.amount)
        .bind(at.as_micros())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The figures of one key and event kind over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Figures {
    pub count: i64,
    pub sum: i64,
    pub distinct: i64,
}

/// Count, sum of amounts and distinct `other` values of `event_kind` events under the key
/// with `now - window < at <= now`.
pub async fn figures(
    conn: &mut AnyConnection,
    key_kind: &str,
    key_value: &str,
    event_kind: &str,
    now: Timestamp,
    window_micros: i64,
) -> Result<Figures, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total, \
         COUNT(DISTINCT other) AS others FROM risk_events \
         WHERE key_kind = $1 AND key_value = $2 AND event_kind = $3 AND at > $4 AND at <= $5",
    )
    .bind(key_kind)
    .bind(key_value)
    .bind(event_kind)
    .bind(now.as_micros().saturating_sub(window_micros))
    .bind(now.as_micros())
    .fetch_one(conn)
    .await?;
    Ok(Figures { count: row.try_get("n")?, sum: row.try_get("total")?, distinct: row.try_get("others")? })
}

/// Forgets events at or before `before`; returns how many.
pub async fn prune_events(conn: &mut AnyConnection, before: Timestamp) -> Result<u64, StoreError> {
    Ok(sqlx::query("DELETE FROM risk_events WHERE at <= $1")
        .bind(before.as_micros())
        .execute(conn)
        .await?
        .rows_affected())
}

/// A saved version of the rules and lists, as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetRow {
    pub version: i64,
    pub rules: String,
    pub lists: String,
    pub author: String,
    pub created_at: Timestamp,
}

fn rule_set_of(r: &sqlx::any::AnyRow) -> Result<RuleSetRow, StoreError> {
    Ok(RuleSetRow {
        version: r.try_get("version")?,
        rules: r.try_get("rules")?,
        lists: r.try_get("lists")?,
        author: r.try_get("author")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

/// The newest version, if any was saved.
pub async fn latest_rule_set(conn: &mut AnyConnection) -> Result<Option<RuleSetRow>, StoreError> {
    sqlx::query(
        "SELECT version, rules, lists, author, created_at FROM risk_rule_sets ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?
    .as_ref()
    .map(rule_set_of)
    .transpose()
}

pub async fn rule_set(conn: &mut AnyConnection, version: i64) -> Result<Option<RuleSetRow>, StoreError> {
    sqlx::query("SELECT version, rules, lists, author, created_at FROM risk_rule_sets WHERE version = $1")
        .bind(version)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(rule_set_of)
        .transpose()
}

/// Saves `row` as its version; false if that version exists already (another save won).
pub async fn insert_rule_set(conn: &mut AnyConnection, row: &RuleSetRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO risk_rule_sets (version, rules, lists, author, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (version) DO NOTHING",
    )
    .bind(row.version)
    .bind(row.rules.as_str())
    .bind(row.lists.as_str())
    .bind(row.author.as_str())
    .bind(row.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A decision as stored. List-like fields are JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRow {
    pub id: String,
    pub event_kind: String,
    pub account_id: Option<String>,
    pub subject: Option<String>,
    pub action: String,
    pub score: Option<i64>,
    pub matched: String,
    pub shadow_matched: String,
    pub reasons: String,
    pub features: String,
    pub rule_set_version: i64,
    pub model_sha: Option<String>,
    /// `open` while held for an analyst, then `approved` or `rejected`.
    pub review_state: Option<String>,
    pub reviewed_by: Option<String>,
    pub created_at: Timestamp,
}

pub async fn insert_decision(conn: &mut AnyConnection, d: &DecisionRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO risk_decisions (id, event_kind, account_id, subject, action, score, matched, \
         shadow_matched, reasons, features, rule_set_version, model_sha, review_state, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(d.id.as_str())
    .bind(d.event_kind.as_str())
    .bind(d.account_id.as_deref())
    .bind(d.subject.as_deref())
    .bind(d.action.as_str())
    .bind(d.score)
    .bind(d.matched.as_str())
    .bind(d.shadow_matched.as_str())
    .bind(d.reasons.as_str())
    .bind(d.features.as_str())
    .bind(d.rule_set_version)
    .bind(d.model_sha.as_deref())
    .bind(d.review_state.as_deref())
    .bind(d.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

const DECISION_COLUMNS: &str = "id, event_kind, account_id, subject, action, score, matched, shadow_matched, \
     reasons, features, rule_set_version, model_sha, review_state, reviewed_by, created_at";

fn decision_of(r: &sqlx::any::AnyRow) -> Result<DecisionRow, StoreError> {
    Ok(DecisionRow {
        id: r.try_get("id")?,
        event_kind: r.try_get("event_kind")?,
        account_id: r.try_get("account_id")?,
        subject: r.try_get("subject")?,
        action: r.try_get("action")?,
        score: r.try_get("score")?,
        matched: r.try_get("matched")?,
        shadow_matched: r.try_get("shadow_matched")?,
        reasons: r.try_get("reasons")?,
        features: r.try_get("features")?,
        rule_set_version: r.try_get("rule_set_version")?,
        model_sha: r.try_get("model_sha")?,
        review_state: r.try_get("review_state")?,
        reviewed_by: r.try_get("reviewed_by")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

pub async fn decision(conn: &mut AnyConnection, id: &str) -> Result<Option<DecisionRow>, StoreError> {
    let sql = format!("SELECT {DECISION_COLUMNS} FROM risk_decisions WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(decision_of)
        .transpose()
}

/// The decisions about `subject` (a checkout, a listing…), oldest first.
pub async fn decisions_about(
    conn: &mut AnyConnection,
    subject: &str,
) -> Result<Vec<DecisionRow>, StoreError> {
    let sql =
        format!("SELECT {DECISION_COLUMNS} FROM risk_decisions WHERE subject = $1 ORDER BY created_at, id");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(subject)
        .fetch_all(conn)
        .await?
        .iter()
        .map(decision_of)
        .collect()
}

/// Whether `subject` has a decision still held for review.
pub async fn open_review_about(
    conn: &mut AnyConnection,
    subject: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM risk_decisions WHERE subject = $1 AND review_state = 'open' ORDER BY created_at LIMIT 1",
    )
    .bind(subject)
    .fetch_optional(conn)
    .await?)
}

/// Closes an open review; false if it was not open (decided already, or never held).
pub async fn close_review(
    conn: &mut AnyConnection,
    id: &str,
    state: &str,
    by: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE risk_decisions SET review_state = $1, reviewed_by = $2, reviewed_at = $3 \
         WHERE id = $4 AND review_state = 'open'",
    )
    .bind(state)
    .bind(by)
    .bind(at.as_micros())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the account has signed in from this device before.
pub async fn device_known(
    conn: &mut AnyConnection,
    account: &str,
    device_hash: &[u8],
) -> Result<bool, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM known_devices WHERE account_id = $1 AND device_hash = $2")
            .bind(account)
            .bind(device_hash)
            .fetch_one(conn)
            .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}
