//! A decision: the features of one event (its facts and its velocity figures, read from the
//! shared event table), the model's score when a model is loaded, the active rules, and the
//! record of it all. The counters move only in [`record_events`], called after the decision
//! (and, for a payment, after its outcome), so an event never counts itself.

use std::collections::BTreeMap;

use souk_domain::Timestamp;
use souk_domain::ids::new_uuid_v7;
use souk_risk::{Action, Features, Value};
use souk_store::risk::{self as store, DecisionRow};
use sqlx::AnyConnection;

use super::Engine;
use super::defaults::is_disposable;
use super::rules::{self, Loaded};
use super::schema::{Measure, VELOCITY, schema};
use super::signals::{Keys, Signals};
use crate::{CoreError, Souk};

/// How many of the model's reasons a decision keeps.
pub const REASONS: usize = 3;

/// A decision taken and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub id: String,
    pub action: Action,
    pub score: Option<u8>,
    pub matched: Vec<String>,
    pub shadow_matched: Vec<String>,
    pub reasons: Vec<(String, f32)>,
    pub rule_set_version: i64,
    /// The event's keys, for [`record_events`] once the outcome is known.
    pub keys: Keys,
}

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string().into())
}

/// The feature values of one event, by attribute name.
pub type FeatureMap = BTreeMap<String, Value>;

/// Builds the feature map: the event's facts, then its velocity figures.
pub async fn features(
    souk: &Souk,
    conn: &mut AnyConnection,
    signals: &Signals,
    keys: &Keys,
    now: Timestamp,
) -> Result<FeatureMap, CoreError> {
    let mut f = FeatureMap::new();
    f.insert("event".into(), Value::Text(signals.kind.as_str().into()));
    if let Some(email) = &signals.email {
        f.insert("email".into(), Value::Text(souk.keys.risk_email(email)));
    }
    if let Some(domain) = signals.email_domain() {
        f.insert("disposable_email".into(), Value::Bool(is_disposable(&domain)));
        f.insert("email_domain".into(), Value::Text(domain));
    }
    #[allow(clippy::cast_precision_loss, reason = "amounts in minor units are far below 2^52")]
    if let Some(amount) = signals.amount {
        f.insert("amount".into(), Value::Number(amount as f64));
    }
    for (name, value) in &signals.facts {
        f.insert((*name).to_owned(), value.clone());
    }
    for vel in VELOCITY {
        let Some(key) = keys.get(vel.key) else { continue };
        let figures =
            store::figures(conn, vel.key.as_str(), key, vel.event, now, vel.window.seconds() * 1_000_000)
                .await?;
        let n = match vel.measure {
            Measure::Count => figures.count,
            Measure::Sum => figures.sum,
            Measure::Distinct => figures.distinct,
        };
        #[allow(clippy::cast_precision_loss, reason = "counts and sums are far below 2^52")]
        f.insert(vel.name.to_owned(), Value::Number(n as f64));
    }
    // The amount against what the buyer usually pays (absent without history).
    if let (Some(Value::Number(amount)), Some(Value::Number(n)), Some(Value::Number(sum))) =
        (f.get("amount"), f.get("buyer_payments_30d"), f.get("buyer_paid_amount_30d"))
        && *n > 0.0
        && *sum > 0.0
    {
        let ratio = amount / (sum / n);
        f.insert("amount_vs_buyer_average".into(), Value::Number((ratio * 100.0).round() / 100.0));
    }
    if let (Some(Value::Text(card)), Some(Value::Text(ship))) =
        (f.get("card_country"), f.get("shipping_country"))
    {
        let mismatch = !card.eq_ignore_ascii_case(ship);
        f.insert("billing_shipping_country_mismatch".into(), Value::Bool(mismatch));
    }
    Ok(f)
}

/// The feature vector rules evaluate, from a map (unknown names and wrong types refused:
/// a stored map that no longer fits the schema cannot be replayed silently wrong).
pub fn vector(map: &FeatureMap) -> Result<Features, CoreError> {
    let mut features = schema().features();
    for (name, value) in map {
        features.set(schema(), name, value.clone()).map_err(internal)?;
    }
    Ok(features)
}

/// The model's score and reasons for a feature map (the score itself left out), if a
/// model is loaded.
pub fn score(engine: &Engine, map: &FeatureMap) -> Option<(u8, Vec<(String, f32)>)> {
    let model = engine.model.as_ref()?;
    let row: Vec<f32> = model
        .features()
        .iter()
        .map(|name| match map.get(name) {
            #[allow(clippy::cast_possible_truncation, reason = "the model works in f32")]
            Some(Value::Number(n)) if name != "risk_score" => *n as f32,
            Some(Value::Bool(b)) => f32::from(u8::from(*b)),
            _ => f32::NAN,
        })
        .collect();
    let reasons = model.reasons(&row, REASONS).into_iter().map(|r| (r.feature, r.contribution)).collect();
    Some((model.score(&row), reasons))
}

/// Scores and evaluates a feature map under a loaded rule set.
pub fn evaluate(engine: &Engine, rules: &Loaded, map: &mut FeatureMap) -> Result<Evaluated, CoreError> {
    map.remove("risk_score");
    let scored = score(engine, map);
    if let Some((s, _)) = &scored {
        map.insert("risk_score".into(), Value::Number(f64::from(*s)));
    }
    let outcome = rules.set.evaluate(&vector(map)?, &rules.lists);
    let (score, reasons) = scored.map_or((None, Vec::new()), |(s, r)| (Some(s), r));
    Ok(Evaluated {
        action: outcome.action,
        score,
        matched: outcome.matched,
        shadow_matched: outcome.shadow_matched,
        reasons,
    })
}

/// What evaluating produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub action: Action,
    pub score: Option<u8>,
    pub matched: Vec<String>,
    pub shadow_matched: Vec<String>,
    pub reasons: Vec<(String, f32)>,
}

/// Decides on an event and stores the decision on `conn` (the caller's transaction when the
/// decision goes with a change). A `review` is stored open when `holds` (the caller holds
/// something until an analyst decides).
pub async fn decide(
    souk: &Souk,
    conn: &mut AnyConnection,
    signals: &Signals,
    holds: bool,
) -> Result<Decision, CoreError> {
    let now = souk.clock.now();
    let keys = Keys::of(souk, signals);
    let rules = rules::active(souk, conn).await?;
    let mut map = features(souk, conn, signals, &keys, now).await?;
    let e = evaluate(&souk.risk_engine, &rules, &mut map)?;
    let id = new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let row = DecisionRow {
        id: id.clone(),
        event_kind: signals.kind.as_str().into(),
        account_id: signals.account.map(|a| a.to_string()),
        subject: signals.subject.clone(),
        action: e.action.as_str().into(),
        score: e.score.map(i64::from),
        matched: serde_json::to_string(&e.matched).map_err(internal)?,
        shadow_matched: serde_json::to_string(&e.shadow_matched).map_err(internal)?,
        reasons: serde_json::to_string(&e.reasons).map_err(internal)?,
        features: serde_json::to_string(&map).map_err(internal)?,
        rule_set_version: rules.version,
        model_sha: souk.risk_engine.model_sha.clone(),
        review_state: (holds && e.action == Action::Review).then(|| "open".to_owned()),
        reviewed_by: None,
        created_at: now,
    };
    store::insert_decision(conn, &row).await?;
    if e.action != Action::Allow || !e.shadow_matched.is_empty() {
        tracing::info!(
            decision = %id,
            event = signals.kind.as_str(),
            action = e.action.as_str(),
            matched = ?e.matched,
            shadow = ?e.shadow_matched,
            "risk decision"
        );
    }
    Ok(Decision {
        id,
        action: e.action,
        score: e.score,
        matched: e.matched,
        shadow_matched: e.shadow_matched,
        reasons: e.reasons,
        rule_set_version: rules.version,
        keys,
    })
}

/// Decides on an event and counts it at once (events whose outcome is the decision itself:
/// a sign-up, a listing, a message, a payout-details change).
pub async fn observe(
    souk: &Souk,
    conn: &mut AnyConnection,
    signals: &Signals,
    holds: bool,
    events: &[(&str, i64)],
) -> Result<Decision, CoreError> {
    let decision = decide(souk, conn, signals, holds).await?;
    record_events(souk, conn, &decision.keys, events).await?;
    Ok(decision)
}

/// Records `events` (kind, amount) under every key of a decided event, and `seen` (the
/// account under each key) once. Call after the decision and its outcome.
pub async fn record_events(
    souk: &Souk,
    conn: &mut AnyConnection,
    keys: &Keys,
    events: &[(&str, i64)],
) -> Result<(), CoreError> {
    let now = souk.clock.now();
    let mut rows = keys.rows("seen", 0);
    for (event, amount) in events {
        rows.extend(keys.rows(event, *amount));
    }
    store::insert_events(conn, &rows, now).await?;
    Ok(())
}

/// Forgets velocity events older than the longest window; returns how many.
pub async fn prune(souk: &Souk) -> Result<u64, CoreError> {
    let before = souk.clock.now().plus_micros(-souk_risk::velocity::Window::Month.seconds() * 1_000_000);
    let mut conn = souk.store.conn().await?;
    Ok(store::prune_events(&mut conn, before).await?)
}
