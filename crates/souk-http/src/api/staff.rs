//! The staff API: account look-up for support, staff accounts and roles for admins, and
//! the audit log for trust & safety and admins (read, and export as JSON lines for a SIEM).
//! Every call is authorized by Cedar in the use case and recorded in the audit log.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use souk_core::audit_read::{self, EntryView};
use souk_core::staff;
use souk_domain::ids::AccountId;
use souk_store::audit::AuditFilter;
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::ProblemDoc;
use crate::middleware::auth::{ClientInfo, Session};
use crate::{AppState, Problem};

fn account_id(raw: &str) -> Result<AccountId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such account."))
}

/// A member's account as support sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffAccountDto {
    id: String,
    handle: String,
    role: String,
    staff_roles: Vec<String>,
    email: String,
    name: String,
    email_verified: bool,
    disabled: bool,
    created_at: String,
}

/// Look up an account (support; recorded in the audit log).
#[utoipa::path(
    get, path = "/api/v1/staff/accounts/{id}", tag = "staff",
    params(("id" = String, Path, description = "The account id")),
    responses(
        (status = 200, description = "The account", body = StaffAccountDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn view_account(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<StaffAccountDto>, Problem> {
    let a = staff::view_account(state.souk(), &s.principal, account_id(&id)?, &client).await?;
    Ok(Json(StaffAccountDto {
        id: a.id.to_string(),
        handle: a.handle,
        role: a.role,
        staff_roles: a.staff_roles,
        email: a.email,
        name: a.name,
        email_verified: a.email_verified,
        disabled: a.disabled,
        created_at: a.created_at.to_rfc3339(),
    }))
}

/// A new staff member.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaffRequest {
    email: String,
    name: String,
    /// Any of support, trust_safety, finance, admin.
    roles: Vec<String>,
}

/// A created staff account.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedStaffDto {
    id: String,
}

/// Create a staff account (admins; step-up). The invitation is mailed to it.
#[utoipa::path(
    post, path = "/api/v1/staff/accounts", tag = "staff", request_body = NewStaffRequest,
    responses(
        (status = 201, description = "Created; the invitation link was mailed", body = CreatedStaffDto),
        (status = 403, description = "Not permitted, or step-up required", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The address has an account", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn create_staff(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Body(req): Body<NewStaffRequest>,
) -> Result<(StatusCode, Json<CreatedStaffDto>), Problem> {
    let roles = staff::parse_roles(&req.roles)?;
    let inv = staff::create_staff(state.souk(), &s.principal, &req.email, &req.name, &roles, &client).await?;
    Ok((StatusCode::CREATED, Json(CreatedStaffDto { id: inv.account.to_string() })))
}

/// A staff account's roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    roles: Vec<String>,
}

/// Set a staff account's roles (admins, never their own; step-up). Its sessions end.
#[utoipa::path(
    put, path = "/api/v1/staff/accounts/{id}/roles", tag = "staff", request_body = RolesRequest,
    params(("id" = String, Path, description = "The staff account id")),
    responses(
        (status = 204, description = "Set; the account signs in again"),
        (status = 403, description = "Not permitted, or step-up required", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "It would remove the last admin", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn assign_roles(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<RolesRequest>,
) -> Result<StatusCode, Problem> {
    let roles = staff::parse_roles(&req.roles)?;
    staff::assign_roles(state.souk(), &s.principal, account_id(&id)?, &roles, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which audit entries to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries by this actor (an account id, or `souk` for the system).
    actor: Option<String>,
    /// Only this action, e.g. `login.password`.
    action: Option<String>,
    /// Only entries about this kind of target (`account`, `session`, `api_key`…).
    target_kind: Option<String>,
    /// Only entries about this target id.
    target_id: Option<String>,
    /// `success`, `denied` or `failure`.
    outcome: Option<String>,
    /// From this time (RFC 3339), inclusive.
    from: Option<String>,
    /// Until this time (RFC 3339), exclusive.
    to: Option<String>,
    /// Entries after this position (the previous page's `next_after`).
    after: Option<i64>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
}

fn time(field: &'static str, value: Option<&str>) -> Result<Option<i64>, Problem> {
    value
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map(|t| souk_domain::Timestamp::from_datetime(t).as_micros())
                .map_err(|_| {
                    Problem::of("invalid_parameter")
                        .with_detail(format!("{field}: expected an RFC 3339 time"))
                })
        })
        .transpose()
}

fn filter(q: &AuditQuery) -> Result<AuditFilter, Problem> {
    let clean = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if let Some(o) = clean(&q.outcome)
        && !["success", "denied", "failure"].contains(&o.as_str())
    {
        return Err(Problem::of("invalid_parameter").with_detail("outcome: success, denied or failure"));
    }
    Ok(AuditFilter {
        actor_id: clean(&q.actor),
        action: clean(&q.action),
        target_kind: clean(&q.target_kind),
        target_id: clean(&q.target_id),
        outcome: clean(&q.outcome),
        from: time("from", q.from.as_deref())?,
        to: time("to", q.to.as_deref())?,
    })
}

/// An audit entry (the export writes the same object, one per line).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Its position in the log (the Merkle tree's leaf index).
    seq: i64,
    at: String,
    /// `account`, `anonymous`, `system` or `operator`.
    actor_kind: String,
    actor_id: String,
    actor_role: String,
    /// `session:ID` or `api_key:ID`.
    credential: String,
    /// The client address; `[erased]` once its account was erased.
    ip: Option<String>,
    action: String,
    target_kind: String,
    target_id: String,
    /// `success`, `denied` or `failure`.
    outcome: String,
    request_id: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    /// The Merkle leaf hash (hex), to check against `souk audit prove`.
    leaf_hash: String,
}

impl From<EntryView> for AuditEntry {
    fn from(e: EntryView) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            credential: e.credential,
            ip: e.ip,
            action: e.action,
            target_kind: e.target_kind,
            target_id: e.target_id,
            outcome: e.outcome,
            request_id: e.request_id,
            detail: e.detail,
            leaf_hash: e.leaf_hash,
        }
    }
}

/// A page of audit entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent at the end.
    next_after: Option<i64>,
}

/// Read the audit log (trust & safety, admins; the read is itself recorded).
#[utoipa::path(
    get, path = "/api/v1/audit", tag = "staff", params(AuditQuery),
    responses(
        (status = 200, description = "Entries, oldest first", body = AuditPage),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn read_audit(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Query(q): Query<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    let f = filter(&q)?;
    let page =
        audit_read::read(state.souk(), &s.principal, &f, q.after, q.limit.unwrap_or(100), &client).await?;
    Ok(Json(AuditPage {
        entries: page.entries.into_iter().map(AuditEntry::from).collect(),
        next_after: page.next_after,
    }))
}

/// Export the audit log as JSON lines (admins; for a SIEM). Streams every matching entry.
#[utoipa::path(
    get, path = "/api/v1/audit/export", tag = "staff", params(AuditQuery),
    responses(
        (status = 200, description = "One JSON object per line (application/x-ndjson)", content_type = "application/x-ndjson", body = String),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn export_audit(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Problem> {
    let f = filter(&q)?;
    let export = audit_read::export(state.souk(), &s.principal, f, &client).await?;
    let stream = futures_util::stream::unfold(export, |mut export| async move {
        match export.next_page().await {
            Ok(Some(entries)) => {
                let mut chunk = Vec::new();
                for e in entries {
                    if serde_json::to_writer(&mut chunk, &AuditEntry::from(e)).is_err() {
                        break;
                    }
                    chunk.push(b'\n');
                }
                Some((Ok::<_, std::io::Error>(chunk), export))
            }
            Ok(None) => None,
            Err(e) => {
                // Headers are gone: end the stream early; the client sees a truncated body.
                tracing::error!(error = %e, "audit export failed mid-stream");
                Some((Err(std::io::Error::other("export failed")), export))
            }
        }
    });
    let mut res = HttpBody::from_stream(stream).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"souk-audit.jsonl\""),
    );
    Ok(res)
}
