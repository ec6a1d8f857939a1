//! A buyer becomes a seller: the account's role changes once it has a confirmed address and
//! a second factor (sellers must have MFA), after a step-up. A privilege change takes a new
//! session: every session ends and the caller gets a fresh one. The shop itself (name,
//! verification, listings) is the marketplace's, built on this.

use souk_store::identity::sessions as session_store;
use souk_store::identity::signin as store;

use super::sessions::{IssuedSession, issue, require_recent};
use super::{Client, Credential, Principal};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// Turns the principal's buyer account into a seller account.
pub async fn become_seller(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
) -> Result<IssuedSession, CoreError> {
    if !matches!(principal.credential, Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    require_recent(souk, principal)?;
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    super::require_confirmed_owner(principal)?;
    match principal.role.as_str() {
        "buyer" => {}
        "seller" => return Err(CoreError::Conflict("this account already sells".into())),
        _ => return Err(CoreError::Forbidden),
    }
    let mut conn = souk.store.conn().await?;
    let mfa = super::factors_enrolled(&mut conn, principal.account).await?;
    drop(conn);
    if souk.identity.config.sellers_need_mfa && !mfa {
        return Err(CoreError::MfaRequired);
    }
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    store::set_role(tx.conn(), principal.account, "seller").await?;
    let revoked = session_store::revoke_all_sessions(tx.conn(), principal.account, None, now).await?;
    let account =
        store::account_auth(tx.conn(), principal.account).await?.ok_or(CoreError::NotFound("account"))?;
    let session = issue(souk, tx.conn(), &account, "privilege_change", client).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "account.become_seller",
        target_kind: "account",
        target_id: principal.account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "sessions_revoked": revoked, "session": session.id }),
    }])
    .await?;
    tx.commit().await?;
    Ok(session)
}
