//! Authorization in the use cases: every staff action asks Cedar, and the decision on a
//! sensitive action (allowed or not) is written to the audit log with the policies that
//! decided it. Staff act only from a signed-in session (never an API key) and, when policy
//! says so, only from a session that signed in with a passkey.

use souk_access::{Action, Resource};

use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Credential, Principal};
use crate::{CoreError, Souk};

/// Actions whose every decision is recorded, not only refusals.
const SENSITIVE: &[Action] = &[
    Action::AccountView,
    Action::StaffAssignRole,
    Action::AuditRead,
    Action::AuditExport,
    Action::ShopVerify,
    Action::ShopSuspend,
    Action::ReviewRemove,
    Action::MessageReview,
    Action::ShopReadDocuments,
    Action::PayoutRelease,
    Action::OrderRefund,
    Action::ListingTakedown,
    Action::PayoutRun,
    Action::RiskRead,
    Action::RiskManage,
];

fn decision_event(
    principal: &Principal,
    client: &Client,
    action: Action,
    target: (&'static str, String),
    allowed: bool,
    policies: &[String],
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action: "authz.decision",
        target_kind: target.0,
        target_id: target.1,
        outcome: if allowed { Outcome::Success } else { Outcome::Denied },
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "action": action.as_str(), "allowed": allowed, "policies": policies }),
    }
}

fn target_of(resource: &Resource<'_>) -> (&'static str, String) {
    match resource {
        Resource::Account(id) => ("account", id.to_string()),
        Resource::AuditLog => ("audit_log", String::new()),
        Resource::Ledger => ("ledger", String::new()),
        Resource::Risk => ("risk", String::new()),
        Resource::Shop(s) => ("shop", s.id.to_string()),
        Resource::Listing { id, .. } => ("listing", id.to_string()),
        Resource::Order { id, .. } => ("order", (*id).to_owned()),
    }
}

/// A staff principal must act from a session, signed in with a passkey when
/// `identity.staff_need_passkey` is on.
pub fn require_staff_session(souk: &Souk, principal: &Principal) -> Result<(), CoreError> {
    match &principal.credential {
        Credential::Session { method, .. } if principal.is_staff() => {
            if souk.identity.config.staff_need_passkey && method != "passkey" {
                return Err(CoreError::PasskeyRequired);
            }
            Ok(())
        }
        Credential::ApiKey { .. } if principal.is_staff() => Err(CoreError::Forbidden),
        Credential::Session { .. } | Credential::ApiKey { .. } => Ok(()),
    }
}

/// Decides `action` on `resource` for `principal` inside the caller's transaction: the
/// decision on a sensitive action is recorded with the change it permits. A refusal is
/// recorded in a transaction of its own (the caller's rolls back) and answered `Forbidden`.
pub async fn authorize(
    souk: &Souk,
    tx: &mut AuditedTx<'_>,
    principal: &Principal,
    action: Action,
    resource: &Resource<'_>,
    client: &Client,
) -> Result<(), CoreError> {
    require_staff_session(souk, principal)?;
    let decision = souk.access.decide(&principal.access_actor(), action, resource);
    if !decision.errors.is_empty() {
        tracing::error!(errors = ?decision.errors, action = action.as_str(), "policy evaluation errors");
    }
    let event =
        decision_event(principal, client, action, target_of(resource), decision.allowed, &decision.policies);
    if !decision.allowed {
        record_alone(souk, event).await?;
        return Err(CoreError::Forbidden);
    }
    if SENSITIVE.contains(&action) {
        tx.record(&[event]).await?;
    }
    Ok(())
}

/// Decides an action outside a transaction of the caller's: people acting on their own
/// account (`account.view`, `account.update` on themselves) and other reads. A refusal, and
/// a sensitive decision about someone else, are recorded.
pub async fn check(
    souk: &Souk,
    principal: &Principal,
    action: Action,
    resource: &Resource<'_>,
    client: &Client,
) -> Result<(), CoreError> {
    let decision = souk.access.decide(&principal.access_actor(), action, resource);
    let own = matches!(resource, Resource::Account(id) if *id == principal.account);
    if !decision.allowed || (SENSITIVE.contains(&action) && !own) {
        let event = decision_event(
            principal,
            client,
            action,
            target_of(resource),
            decision.allowed,
            &decision.policies,
        );
        record_alone(souk, event).await?;
    }
    if decision.allowed { Ok(()) } else { Err(CoreError::Forbidden) }
}

/// A principal acting on its own account: Cedar's `own-account` policy decides.
pub async fn own_account(
    souk: &Souk,
    principal: &Principal,
    action: Action,
    client: &Client,
) -> Result<(), CoreError> {
    check(souk, principal, action, &Resource::Account(principal.account), client).await
}

async fn record_alone(souk: &Souk, event: Event) -> Result<(), CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    tx.record(&[event]).await?;
    tx.commit().await
}
