//! The staff API of the fraud engine (trust & safety and admins, decided by Cedar and
//! recorded): the rules and lists (each save a new version; a rule that does not type-check
//! is a 422 naming its line and column), stored decisions, their replay, and the verdict on
//! a payment held for review.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use souk_core::risk::replay::{self, StoredDecision};
use souk_core::risk::reviews::{self, Verdict};
use souk_core::risk::rules::{self, RuleInput, RuleSetVersion};
use souk_risk::Mode;
use utoipa::ToSchema;

use super::auth::Body;
use super::dto::ProblemDoc;
use crate::middleware::auth::{ClientInfo, Session};
use crate::{AppState, Problem};

/// One rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDto {
    /// Lower-case letters, digits and `_`; unique in the set.
    id: String,
    /// `block if :cards_per_ip_24h: > 10` (stored in canonical form).
    rule: String,
    /// `active` (acts) or `shadow` (only recorded); active when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    mode: Option<Mode>,
}

/// A version of the rules and lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleSetDto {
    version: i64,
    rules: Vec<RuleDto>,
    /// Each list's entries; email entries are shown hashed (`#…`) and may be sent back so.
    lists: BTreeMap<String, Vec<String>>,
    author: String,
    created_at: String,
}

fn rule_set_dto(v: RuleSetVersion) -> RuleSetDto {
    RuleSetDto {
        version: v.version,
        rules: v.rules.into_iter().map(|r| RuleDto { id: r.id, rule: r.rule, mode: Some(r.mode) }).collect(),
        lists: v.lists,
        author: v.author,
        created_at: v.created_at.to_rfc3339(),
    }
}

/// The active rules and lists.
#[utoipa::path(
    get, path = "/api/v1/staff/risk/rules", tag = "staff", operation_id = "read_risk_rules",
    responses(
        (status = 200, description = "The newest version", body = RuleSetDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn read_rules(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Json<RuleSetDto>, Problem> {
    Ok(Json(rule_set_dto(rules::read_rules(state.souk(), &s.principal, &client).await?)))
}

/// A new version of the rules and lists.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveRulesRequest {
    rules: Vec<RuleDto>,
    /// Lists by name (`blocked_emails`, `allowed_emails`, `blocked_email_domains`,
    /// `blocked_cards`, `blocked_countries`); a list left out is saved empty.
    #[serde(default)]
    lists: BTreeMap<String, Vec<String>>,
}

/// Save the rules and lists as a new version (it is active at once).
#[utoipa::path(
    post, path = "/api/v1/staff/risk/rules", tag = "staff", operation_id = "save_risk_rules",
    request_body = SaveRulesRequest,
    responses(
        (status = 201, description = "Saved as the newest version", body = RuleSetDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Another version was saved meanwhile", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "A rule does not type-check (`line` is the rule's position, `column` the column in it)", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn save_rules(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<SaveRulesRequest>,
) -> Result<(StatusCode, Json<RuleSetDto>), Problem> {
    let input: Vec<RuleInput> = req
        .rules
        .into_iter()
        .map(|r| RuleInput { id: r.id, rule: r.rule, mode: r.mode.unwrap_or(Mode::Active) })
        .collect();
    let saved = rules::save_rules(state.souk(), &s.principal, &client, &input, &req.lists).await?;
    Ok((StatusCode::CREATED, Json(rule_set_dto(saved))))
}

/// A stored decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionDto {
    id: String,
    event: String,
    account: Option<String>,
    subject: Option<String>,
    action: String,
    score: Option<u8>,
    matched: Vec<String>,
    shadow_matched: Vec<String>,
    /// The model's reasons: feature and its contribution to the log-odds.
    #[schema(value_type = Vec<Object>)]
    reasons: Vec<(String, f32)>,
    /// The feature vector, by attribute name.
    #[schema(value_type = Object)]
    features: serde_json::Value,
    rule_set_version: i64,
    model_sha: Option<String>,
    review_state: Option<String>,
    created_at: String,
}

fn decision_dto(d: StoredDecision) -> DecisionDto {
    DecisionDto {
        features: serde_json::to_value(&d.features).unwrap_or_default(),
        id: d.id,
        event: d.event_kind,
        account: d.account,
        subject: d.subject,
        action: d.action.as_str().to_owned(),
        score: d.score,
        matched: d.matched,
        shadow_matched: d.shadow_matched,
        reasons: d.reasons,
        rule_set_version: d.rule_set_version,
        model_sha: d.model_sha,
        review_state: d.review_state,
        created_at: d.created_at.to_rfc3339(),
    }
}

/// A stored decision with its features and versions.
#[utoipa::path(
    get, path = "/api/v1/staff/risk/decisions/{id}", tag = "staff", operation_id = "view_risk_decision",
    params(("id" = String, Path, description = "The decision id")),
    responses(
        (status = 200, description = "The decision", body = DecisionDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such decision", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn view_decision(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<DecisionDto>, Problem> {
    Ok(Json(decision_dto(replay::view(state.souk(), &s.principal, &client, &id).await?)))
}

/// A decision replayed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayDto {
    decision: DecisionDto,
    action: String,
    score: Option<u8>,
    matched: Vec<String>,
    shadow_matched: Vec<String>,
    /// The replay gave the stored action, score and matched rules.
    same: bool,
}

/// Replay a decision from its stored features, rule-set version and model.
#[utoipa::path(
    post, path = "/api/v1/staff/risk/decisions/{id}/replay", tag = "staff", operation_id = "replay_risk_decision",
    params(("id" = String, Path, description = "The decision id")),
    responses(
        (status = 200, description = "The replay", body = ReplayDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such decision", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The decision's model is not loaded", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn replay_decision(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<ReplayDto>, Problem> {
    let r = replay::replay(state.souk(), &s.principal, &client, &id).await?;
    Ok(Json(ReplayDto {
        action: r.action.as_str().to_owned(),
        score: r.score,
        matched: r.matched,
        shadow_matched: r.shadow_matched,
        same: r.same,
        decision: decision_dto(r.decision),
    }))
}

/// An analyst's verdict on a held payment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictRequest {
    /// `approve` (the orders go on) or `reject` (they are cancelled and refunded).
    verdict: String,
}

/// The verdict given.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerdictDto {
    review_state: String,
}

/// Decide a payment held for review.
#[utoipa::path(
    post, path = "/api/v1/staff/risk/reviews/{id}/decision", tag = "staff", operation_id = "decide_risk_review",
    request_body = VerdictRequest,
    params(("id" = String, Path, description = "The decision id")),
    responses(
        (status = 200, description = "Decided", body = VerdictDto),
        (status = 400, description = "The verdict is neither approve nor reject", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such decision", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not waiting for a review", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn decide_review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<VerdictRequest>,
) -> Result<Json<VerdictDto>, Problem> {
    let verdict = match req.verdict.as_str() {
        "approve" => Verdict::Approve,
        "reject" => Verdict::Reject,
        _ => return Err(Problem::of("invalid_parameter").with_detail("verdict: approve or reject")),
    };
    let done = reviews::decide_review(state.souk(), &s.principal, &client, &id, verdict).await?;
    Ok(Json(VerdictDto { review_state: done.as_str().to_owned() }))
}
