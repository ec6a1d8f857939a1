//! Orders held for review: a checkout payment the rules sent to `review` is charged, but its
//! orders cannot be shipped and their escrow is not released until an analyst approves;
//! rejecting cancels them and gives the escrow back, as a cancellation before shipping does.

use souk_access::{Action, Resource};
use souk_domain::order::Actor as OrderActor;
use souk_store::orders as order_store;
use souk_store::risk as store;
use sqlx::AnyConnection;

use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// Whether a checkout's orders are held by an open review.
pub async fn held(conn: &mut AnyConnection, checkout: &str) -> Result<bool, CoreError> {
    Ok(store::open_review_about(conn, checkout).await?.is_some())
}

/// Refuses to ship (`shipping`) an order whose checkout is held by an open review.
pub async fn refuse_shipping_if_held(
    conn: &mut AnyConnection,
    checkout: &str,
    shipping: bool,
) -> Result<(), CoreError> {
    if shipping && held(conn, checkout).await? {
        return Err(CoreError::Conflict("this order is held for a review; it cannot ship yet".into()));
    }
    Ok(())
}

/// An analyst's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The orders go on as paid.
    Approve,
    /// The orders are cancelled and their escrow refunded.
    Reject,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
        }
    }
}

/// Decides a held review (trust & safety, admins). Deciding twice is a conflict.
pub async fn decide_review(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
    verdict: Verdict,
) -> Result<Verdict, CoreError> {
    // Decided (and recorded) before the write transaction: a refusal is recorded in a
    // transaction of its own, which must not wait behind ours.
    let mut check = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut check, principal, Action::RiskManage, &Resource::Risk, client).await?;
    check.commit().await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin_write(souk).await?;
    let decision = store::decision(tx.conn(), id).await?.ok_or(CoreError::NotFound("decision"))?;
    let by = principal.account.to_string();
    if !store::close_review(tx.conn(), id, verdict.as_str(), &by, now).await? {
        return Err(CoreError::Conflict("this decision is not waiting for a review".into()));
    }
    let mut cancelled = 0;
    if verdict == Verdict::Reject
        && decision.event_kind == "payment"
        && let Some(checkout) = &decision.subject
    {
        for order in order_store::of_checkout(tx.conn(), checkout).await? {
            let note = "refused after a risk review";
            if crate::market::checkout::cancel_in(tx.conn(), &order, OrderActor::Staff, &by, note, now)
                .await?
            {
                cancelled += 1;
            }
        }
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "risk.review",
        target_kind: "risk_decision",
        target_id: id.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "verdict": verdict.as_str(), "subject": decision.subject, "cancelled_orders": cancelled }),
    }])
    .await?;
    tx.commit().await?;
    Ok(verdict)
}
