//! The staff console's pages (`/staff/*`): trust & safety's verification queue and
//! decisions, shop suspension, listing takedowns, message reports and review removal.
//! Actions are shown only to the roles Cedar permits them to, and the use cases decide
//! again (with the passkey-only staff session rule) whatever the page showed.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::identity::sessions::Authenticated;
use souk_core::identity::{Client, Principal};
use souk_core::market::{listings, messages, reviews, verification};
use souk_domain::ids::{ListingId, ShopId, VerificationId};

use super::forms::{SignedInForm, csrf_field, require};
use super::seller::{day, inline, signed_in};
use super::seller_views::{
    QueueLine, ReportView, StaffQueuePage, StaffReportsPage, StaffReviewPage, StaffReviewRemovalPage,
    StaffTakedownPage,
};
use super::views::Layout;
use super::{page_with_status, render};
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

/// Outside the staff, the console does not exist (the use cases refuse them as well).
fn staff_only(principal: &Principal) -> Result<(), Problem> {
    if principal.is_staff() { Ok(()) } else { Err(Problem::of("not_found")) }
}

fn trust_and_safety(principal: &Principal) -> bool {
    principal.staff_roles.iter().any(|r| r.as_str() == "trust_safety")
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    done: Option<String>,
}

fn notice_of(done: Option<&str>) -> &'static str {
    match done {
        Some("verified") => "The shop is verified; its owner was told.",
        Some("rejected") => "The submission was rejected; its owner was told why.",
        Some("suspended") => "The shop is suspended.",
        Some("taken-down") => "The listing was taken down; the shop was told why.",
        Some("resolved") => "The report is resolved.",
        Some("review-removed") => "The review was removed; its author was told why.",
        _ => "",
    }
}

pub(crate) async fn index() -> Response {
    see_other("/staff/verifications")
}

pub(crate) async fn queue(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/verifications");
    staff_only(&s.principal)?;
    let items = verification::queue(state.souk(), &s.principal, None, 200).await?;
    Ok(render(&StaffQueuePage {
        layout: Layout::new("Verification queue").staff(),
        notice: notice_of(q.done.as_deref()).to_owned(),
        items: items
            .into_iter()
            .map(|i| QueueLine {
                id: i.verification.to_string(),
                shop_name: i.shop_name,
                submitted_at: day(i.submitted_at),
            })
            .collect(),
    })?
    .into_response())
}

fn verification_id(raw: &str) -> Result<VerificationId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such submission."))
}

async fn review_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    id: VerificationId,
    error: String,
    notice: String,
    reason: String,
) -> Result<StaffReviewPage, Problem> {
    staff_only(&s.principal)?;
    // The sealed details are revealed only by the use case, which decides and records it.
    let r = verification::review(state.souk(), &s.principal, client, id).await?;
    Ok(StaffReviewPage {
        layout: Layout::new(format!("Verification of {}", r.shop.name)).staff(),
        error,
        notice,
        csrf: s.csrf.clone(),
        id: r.verification.to_string(),
        document_url: format!("/api/v1/seller/shops/{}/verification/documents/{}", r.shop.id, r.document),
        shop_id: r.shop.id.to_string(),
        shop_name: r.shop.name,
        shop_slug: r.shop.slug,
        shop_status: r.shop.status.as_str().to_owned(),
        seller_kind: r.shop.seller_kind,
        legal_name: r.legal_name,
        address: r.address,
        registration_number: r.registration_number,
        document_type: r.document_type,
        submitted_at: day(r.submitted_at),
        decision: r.decision.unwrap_or_default(),
        decision_reason: r.reason.unwrap_or_default(),
        same_registration: r.same_registration.into_iter().map(|(id, name)| (id.to_string(), name)).collect(),
        can_decide: trust_and_safety(&s.principal),
        reason,
    })
}

pub(crate) async fn review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/verifications");
    let id = verification_id(&id)?;
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&review_page(&state, &client, &s, id, String::new(), notice, String::new()).await?)?
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(crate) struct ReasonForm {
    csrf: String,
    #[serde(default)]
    reason: String,
    /// Where to come back to (a console page).
    #[serde(default)]
    back: String,
}

csrf_field!(DecisionForm, ReasonForm);

pub(crate) async fn decide(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<DecisionForm>,
) -> Result<Response, Problem> {
    staff_only(&s.principal)?;
    let id = verification_id(&id)?;
    let (decision, done) = match f.decision.as_str() {
        "verify" => (verification::Decision::Verify, "verified"),
        "reject" => (verification::Decision::Reject, "rejected"),
        _ => return Err(Problem::of("invalid_parameter").with_detail("Decision: verify or reject.")),
    };
    match verification::decide(state.souk(), &s.principal, &client, id, decision, &f.reason).await {
        Ok(_) => Ok(see_other(&format!("/staff/verifications/{id}?done={done}"))),
        Err(e) => {
            let (status, error) = inline(e)?;
            let page = review_page(&state, &client, &s, id, error, String::new(), f.reason).await?;
            page_with_status(status, &page)
        }
    }
}

/// A console page to come back to: only a path under `/staff/`.
fn back_to(raw: &str, fallback: &str) -> String {
    if raw.starts_with("/staff/") && !raw.contains(|c: char| c.is_control() || c == '\\' || c == '?') {
        raw.to_owned()
    } else {
        fallback.to_owned()
    }
}

pub(crate) async fn suspend(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(shop): Path<String>,
    SignedInForm(s, f): SignedInForm<ReasonForm>,
) -> Result<Response, Problem> {
    staff_only(&s.principal)?;
    let shop: ShopId = shop.parse().map_err(|_| Problem::of("not_found"))?;
    let back = back_to(&f.back, "/staff/verifications");
    match verification::suspend(state.souk(), &s.principal, &client, shop, &f.reason).await {
        Ok(()) => Ok(see_other(&format!("{back}?done=suspended"))),
        Err(e) => {
            let (status, error) = inline(e)?;
            // Shown on the submission page it came from, when there is one.
            if let Some(id) = back.strip_prefix("/staff/verifications/").and_then(|v| v.parse().ok()) {
                let page = review_page(&state, &client, &s, id, error, String::new(), f.reason).await?;
                page_with_status(status, &page)
            } else {
                Err(Problem::of("invalid_parameter").with_detail(error))
            }
        }
    }
}

fn takedown_page(
    s: &Authenticated,
    id: &str,
    error: String,
    notice: String,
    reason: String,
) -> StaffTakedownPage {
    StaffTakedownPage {
        layout: Layout::new("Take a listing down").staff(),
        can_act: trust_and_safety(&s.principal),
        error,
        notice,
        csrf: s.csrf.clone(),
        id: id.to_owned(),
        reason,
    }
}

pub(crate) async fn takedown_form(
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/verifications");
    staff_only(&s.principal)?;
    let id: ListingId = id.parse().map_err(|_| Problem::of("not_found"))?;
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&takedown_page(&s, &id.to_string(), String::new(), notice, String::new()))?.into_response())
}

pub(crate) async fn takedown(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReasonForm>,
) -> Result<Response, Problem> {
    staff_only(&s.principal)?;
    let id: ListingId = id.parse().map_err(|_| Problem::of("not_found"))?;
    match listings::takedown(state.souk(), &s.principal, &client, id, &f.reason).await {
        Ok(()) => Ok(see_other(&format!("/staff/listings/{id}/takedown?done=taken-down"))),
        Err(e) => {
            let (status, error) = inline(e)?;
            page_with_status(status, &takedown_page(&s, &id.to_string(), error, String::new(), f.reason))
        }
    }
}

async fn reports_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
) -> Result<StaffReportsPage, Problem> {
    staff_only(&s.principal)?;
    let list = messages::open_reports(state.souk(), &s.principal, client).await?;
    Ok(StaffReportsPage {
        layout: Layout::new("Message reports").staff(),
        error,
        notice,
        csrf: s.csrf.clone(),
        reports: list
            .into_iter()
            .map(|r| ReportView {
                id: r.report.id,
                reason: r.report.reason,
                reported_at: day(r.report.created_at),
                shop_name: r.conversation.shop_name,
                buyer: r.conversation.buyer_handle,
                from: r.message.side,
                body: r.message.body,
                warnings: r.message.flags.iter().map(souk_domain::messaging::Flag::warning).collect(),
            })
            .collect(),
    })
}

pub(crate) async fn reports(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/reports");
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&reports_page(&state, &client, &s, String::new(), notice).await?)?.into_response())
}

pub(crate) async fn resolve(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReasonForm>,
) -> Result<Response, Problem> {
    staff_only(&s.principal)?;
    match messages::resolve(state.souk(), &s.principal, &client, &id, &f.reason).await {
        Ok(()) => Ok(see_other("/staff/reports?done=resolved")),
        Err(e) => {
            let (status, error) = inline(e)?;
            page_with_status(status, &reports_page(&state, &client, &s, error, String::new()).await?)
        }
    }
}

fn removal_page(
    s: &Authenticated,
    id: &str,
    error: String,
    notice: String,
    reason: String,
) -> StaffReviewRemovalPage {
    StaffReviewRemovalPage {
        layout: Layout::new("Remove a review").staff(),
        can_act: trust_and_safety(&s.principal),
        error,
        notice,
        csrf: s.csrf.clone(),
        id: id.to_owned(),
        reason,
    }
}

/// Review ids are UUIDs; anything else is not a review.
fn review_id(raw: &str) -> Result<String, Problem> {
    let ok = raw.len() == 36 && raw.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    if ok { Ok(raw.to_ascii_lowercase()) } else { Err(Problem::of("not_found")) }
}

pub(crate) async fn review_removal_form(
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/verifications");
    staff_only(&s.principal)?;
    let id = review_id(&id)?;
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&removal_page(&s, &id, String::new(), notice, String::new()))?.into_response())
}

pub(crate) async fn remove_review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReasonForm>,
) -> Result<Response, Problem> {
    staff_only(&s.principal)?;
    let id = review_id(&id)?;
    match reviews::remove(state.souk(), &s.principal, &client, &id, &f.reason).await {
        Ok(()) => Ok(see_other(&format!("/staff/reviews/{id}/remove?done=review-removed"))),
        Err(e) => {
            let (status, error) = match e {
                CoreError::NotFound(_) => (StatusCode::NOT_FOUND, "No such review.".to_owned()),
                other => inline(other)?,
            };
            page_with_status(status, &removal_page(&s, &id, error, String::new(), f.reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::back_to;

    #[test]
    fn suspension_returns_only_to_console_pages() {
        assert_eq!(back_to("/staff/verifications/abc", "/x"), "/staff/verifications/abc");
        assert_eq!(back_to("//evil.example", "/x"), "/x");
        assert_eq!(back_to("/staff/\\evil", "/x"), "/x");
        assert_eq!(back_to("https://evil.example/staff/", "/x"), "/x");
    }
}
