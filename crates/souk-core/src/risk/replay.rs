//! Replaying a stored decision: its stored feature vector, evaluated again under the rule-set
//! version and the model it was taken with, must give the same action and score. This is
//! how an analyst checks why something was blocked, and how we prove decisions are
//! reproducible (no hidden input, no clock, no randomness in the evaluation).

use souk_access::{Action as CedarAction, Resource};
use souk_risk::Action;
use souk_store::risk as store;

use super::decide::{FeatureMap, evaluate};
use super::rules;
use crate::audit::AuditedTx;
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// A stored decision and what replaying it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub decision: StoredDecision,
    pub action: Action,
    pub score: Option<u8>,
    pub matched: Vec<String>,
    pub shadow_matched: Vec<String>,
    /// Same action, score and matched rules as stored.
    pub same: bool,
}

/// A decision as staff read it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    pub id: String,
    pub event_kind: String,
    pub account: Option<String>,
    pub subject: Option<String>,
    pub action: Action,
    pub score: Option<u8>,
    pub matched: Vec<String>,
    pub shadow_matched: Vec<String>,
    pub reasons: Vec<(String, f32)>,
    pub features: FeatureMap,
    pub rule_set_version: i64,
    pub model_sha: Option<String>,
    pub review_state: Option<String>,
    pub created_at: souk_domain::Timestamp,
}

fn internal(e: impl std::fmt::Display) -> CoreError {
    CoreError::Internal(e.to_string().into())
}

fn action_of(s: &str) -> Result<Action, CoreError> {
    match s {
        "allow" => Ok(Action::Allow),
        "step_up" => Ok(Action::StepUp),
        "review" => Ok(Action::Review),
        "block" => Ok(Action::Block),
        other => Err(internal(format!("stored action {other:?}"))),
    }
}

pub(crate) fn stored_of(row: souk_store::risk::DecisionRow) -> Result<StoredDecision, CoreError> {
    Ok(StoredDecision {
        action: action_of(&row.action)?,
        score: row.score.map(|s| u8::try_from(s).map_err(internal)).transpose()?,
        matched: serde_json::from_str(&row.matched).map_err(internal)?,
        shadow_matched: serde_json::from_str(&row.shadow_matched).map_err(internal)?,
        reasons: serde_json::from_str(&row.reasons).map_err(internal)?,
        features: serde_json::from_str(&row.features).map_err(internal)?,
        id: row.id,
        event_kind: row.event_kind,
        account: row.account_id,
        subject: row.subject,
        rule_set_version: row.rule_set_version,
        model_sha: row.model_sha,
        review_state: row.review_state,
        created_at: row.created_at,
    })
}

/// Replays decision `id` without authorization: the operator's command line, and the staff
/// API after Cedar allowed it.
pub async fn replay_unchecked(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Replay, CoreError> {
    let row = store::decision(conn, id).await?.ok_or(CoreError::NotFound("decision"))?;
    let decision = stored_of(row)?;
    if decision.model_sha != souk.risk_engine.model_sha {
        return Err(CoreError::Conflict(format!(
            "this decision was scored by model {}; load that model to replay it",
            decision.model_sha.as_deref().unwrap_or("(none)")
        )));
    }
    let loaded = rules::version(conn, decision.rule_set_version).await?;
    let mut map = decision.features.clone();
    let e = evaluate(&souk.risk_engine, &loaded, &mut map)?;
    let same = e.action == decision.action
        && e.score == decision.score
        && e.matched == decision.matched
        && e.shadow_matched == decision.shadow_matched;
    Ok(Replay {
        action: e.action,
        score: e.score,
        matched: e.matched,
        shadow_matched: e.shadow_matched,
        same,
        decision,
    })
}

/// Trust & safety (and admins) replay a decision. The read is recorded: decisions hold
/// personal signals.
pub async fn replay(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<Replay, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, CedarAction::RiskRead, &Resource::Risk, client).await?;
    let replayed = replay_unchecked(souk, tx.conn(), id).await?;
    tx.commit().await?;
    Ok(replayed)
}

/// Trust & safety read a decision.
pub async fn view(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<StoredDecision, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, CedarAction::RiskRead, &Resource::Risk, client).await?;
    let row = store::decision(tx.conn(), id).await?.ok_or(CoreError::NotFound("decision"))?;
    tx.commit().await?;
    stored_of(row)
}
