//! The rule sets trust & safety keep: every save is a new version (never an edit), checked
//! against the schema before it is stored, with the error pointing at the rule's line and
//! column; the newest version is the active one, read from the database for every decision
//! so that every server process acts on the same rules. The shipped defaults become
//! version 1 the first time rules are needed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use souk_access::{Action, Resource};
use souk_risk::{Mode, Rule, RuleSet};
use souk_store::risk::{self as store, RuleSetRow};
use sqlx::AnyConnection;

use super::defaults;
use super::schema::{EMAIL_LISTS, LISTS, schema};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// The most rules one version may hold.
pub const MAX_RULES: usize = 500;
/// The most entries one list may hold.
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// Email list entries already hashed start with this (what reading a version shows).
pub const HASHED_PREFIX: &str = "#";

/// One rule as stored and shown: its canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRule {
    pub id: String,
    pub rule: String,
    pub mode: Mode,
}

/// A version of the rules and lists, as staff read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetVersion {
    pub version: i64,
    pub rules: Vec<StoredRule>,
    pub lists: BTreeMap<String, Vec<String>>,
    pub author: String,
    pub created_at: souk_domain::Timestamp,
}

/// Lists by name, as stored.
pub type Lists = BTreeMap<String, Vec<String>>;

/// A version ready to evaluate.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub version: i64,
    pub set: RuleSet,
    pub lists: HashMap<String, HashSet<String>>,
}

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string().into())
}

fn version_of(row: RuleSetRow) -> Result<RuleSetVersion, CoreError> {
    Ok(RuleSetVersion {
        version: row.version,
        rules: serde_json::from_str(&row.rules).map_err(internal)?,
        lists: serde_json::from_str(&row.lists).map_err(internal)?,
        author: row.author,
        created_at: row.created_at,
    })
}

fn load(v: &RuleSetVersion) -> Loaded {
    let mut rules = Vec::with_capacity(v.rules.len());
    for r in &v.rules {
        match Rule::parse(&r.id, &r.rule, r.mode, schema()) {
            Ok(rule) => rules.push(rule),
            // Saved rules were checked against this schema; one that no longer parses means
            // an attribute was removed from the code. It is left out, loudly.
            Err(e) => {
                tracing::error!(rule = %r.id, version = v.version, error = %e, "stored risk rule no longer parses");
            }
        }
    }
    let lists = v
        .lists
        .iter()
        .map(|(name, entries)| {
            let set = entries.iter().map(|e| e.trim_start_matches(HASHED_PREFIX).to_owned()).collect();
            (name.clone(), set)
        })
        .collect();
    Loaded { version: v.version, set: RuleSet::new(rules), lists }
}

/// The shipped defaults as a version.
fn defaults_version(souk: &Souk) -> RuleSetVersion {
    let rules = defaults::RULES
        .iter()
        .map(|r| StoredRule { id: r.id.to_owned(), rule: r.source.to_owned(), mode: r.mode })
        .collect();
    RuleSetVersion {
        version: 1,
        rules,
        lists: LISTS.iter().map(|l| ((*l).to_owned(), Vec::new())).collect(),
        author: "system".into(),
        created_at: souk.clock.now(),
    }
}

fn row_of(v: &RuleSetVersion) -> Result<RuleSetRow, CoreError> {
    Ok(RuleSetRow {
        version: v.version,
        rules: serde_json::to_string(&v.rules).map_err(internal)?,
        lists: serde_json::to_string(&v.lists).map_err(internal)?,
        author: v.author.clone(),
        created_at: v.created_at,
    })
}

/// The newest version, saving the defaults as version 1 if none was saved yet.
pub async fn latest(souk: &Souk, conn: &mut AnyConnection) -> Result<RuleSetVersion, CoreError> {
    if let Some(row) = store::latest_rule_set(conn).await? {
        return version_of(row);
    }
    // Two processes may both get here: the version's key lets one insert win.
    store::insert_rule_set(conn, &row_of(&defaults_version(souk))?).await?;
    let row = store::latest_rule_set(conn).await?.ok_or(CoreError::NotFound("rule set"))?;
    version_of(row)
}

/// The active rules, ready to evaluate.
pub async fn active(souk: &Souk, conn: &mut AnyConnection) -> Result<Loaded, CoreError> {
    Ok(load(&latest(souk, conn).await?))
}

/// A stored version, ready to evaluate (replay).
pub async fn version(conn: &mut AnyConnection, version: i64) -> Result<Loaded, CoreError> {
    let row = store::rule_set(conn, version).await?.ok_or(CoreError::NotFound("rule set version"))?;
    Ok(load(&version_of(row)?))
}

/// A rule as staff send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInput {
    pub id: String,
    pub rule: String,
    pub mode: Mode,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Checks every rule and list; the first bad rule is answered with its line (1-based
/// position in the list) and column.
fn checked(
    souk: &Souk,
    rules: &[RuleInput],
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<(Vec<StoredRule>, Lists), CoreError> {
    if rules.len() > MAX_RULES {
        return Err(CoreError::invalid("rules", format!("at most {MAX_RULES} rules")));
    }
    let mut seen = HashSet::new();
    let mut stored = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let line = i + 1;
        if !valid_id(&r.id) {
            return Err(CoreError::InvalidRule {
                line,
                column: 0,
                message: "a rule's id is 1 to 64 lower-case letters, digits or _".into(),
            });
        }
        if !seen.insert(r.id.as_str()) {
            return Err(CoreError::InvalidRule {
                line,
                column: 0,
                message: format!("the id {:?} is used twice", r.id),
            });
        }
        let rule = Rule::parse(&r.id, &r.rule, r.mode, schema()).map_err(|e| CoreError::InvalidRule {
            line,
            column: e.column,
            message: e.message,
        })?;
        stored.push(StoredRule { id: r.id.clone(), rule: rule.canonical(schema()), mode: r.mode });
    }
    let mut out = BTreeMap::new();
    for name in LISTS {
        out.insert((*name).to_owned(), Vec::new());
    }
    for (name, entries) in lists {
        if !LISTS.contains(&name.as_str()) {
            return Err(CoreError::invalid(
                "lists",
                format!("there is no list @{name}; lists are {}", LISTS.join(", ")),
            ));
        }
        if entries.len() > MAX_LIST_ENTRIES {
            return Err(CoreError::invalid(
                "lists",
                format!("@{name} holds more than {MAX_LIST_ENTRIES} entries"),
            ));
        }
        let email = EMAIL_LISTS.contains(&name.as_str());
        let mut kept: Vec<String> = entries
            .iter()
            .map(|e| e.trim())
            .filter(|e| !e.is_empty())
            .map(|e| {
                if email && !e.starts_with(HASHED_PREFIX) {
                    format!("{HASHED_PREFIX}{}", souk.keys.risk_email(e))
                } else if email {
                    e.to_ascii_lowercase()
                } else {
                    e.to_lowercase()
                }
            })
            .collect();
        kept.sort();
        kept.dedup();
        out.insert(name.clone(), kept);
    }
    Ok((stored, out))
}

fn authorize_event(principal: &Principal, client: &Client, detail: serde_json::Value) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action: "risk.rules.save",
        target_kind: "risk_rules",
        target_id: String::new(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

/// Reads the active version (trust & safety and admins).
pub async fn read_rules(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
) -> Result<RuleSetVersion, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::RiskRead, &Resource::Risk, client).await?;
    let v = latest(souk, tx.conn()).await?;
    tx.commit().await?;
    Ok(v)
}

/// Saves a new version (trust & safety and admins); answers it. A bad rule is refused with
/// its line and column and nothing is saved.
pub async fn save_rules(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    rules: &[RuleInput],
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<RuleSetVersion, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::RiskManage, &Resource::Risk, client).await?;
    let (stored, lists) = checked(souk, rules, lists)?;
    let current = latest(souk, tx.conn()).await?;
    let next = RuleSetVersion {
        version: current.version + 1,
        rules: stored,
        lists,
        author: principal.account.to_string(),
        created_at: souk.clock.now(),
    };
    if !store::insert_rule_set(tx.conn(), &row_of(&next)?).await? {
        return Err(CoreError::Conflict("another version was saved meanwhile; read the rules again".into()));
    }
    let detail = serde_json::json!({
        "version": next.version,
        "rules": next.rules.iter().map(|r| format!("{} ({})", r.id, if r.mode == Mode::Shadow { "shadow" } else { "active" })).collect::<Vec<_>>(),
    });
    tx.record(&[authorize_event(principal, client, detail)]).await?;
    tx.commit().await?;
    Ok(next)
}
