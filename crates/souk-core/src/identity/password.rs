//! Password reset by mailed link and password change. Reset answers the same whether or
//! not the address has an account; a completed reset or change revokes the other sessions
//! and every outstanding reset link.

use secrecy::SecretString;
use souk_identity::session::SessionToken;
use souk_store::identity::sessions as session_store;
use souk_store::identity::signin as store;

use super::signup::{compose, issue_token, password_refusal};
use super::{Client, Principal};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// Mails a reset link if the address has an account. Always answers `Ok`, after at least
/// [`super::ANSWER_FLOOR`].
pub async fn request_reset(souk: &Souk, email: &str, client: &Client) -> Result<(), CoreError> {
    souk.identity.gate.check(client.ip).map_err(|s| CoreError::Throttled { retry_after_secs: s })?;
    let started = tokio::time::Instant::now();
    let result = request_reset_inner(souk, email, client).await;
    super::pad(started).await;
    result
}

async fn request_reset_inner(souk: &Souk, email: &str, client: &Client) -> Result<(), CoreError> {
    let Some(account) = crate::accounts::find_by_email(souk, email).await? else { return Ok(()) };
    let mut tx = AuditedTx::begin(souk).await?;
    let now = souk.clock.now();
    // A newer link replaces older ones.
    store::retire_tokens(tx.conn(), account, "reset_password", now).await?;
    let token =
        issue_token(souk, tx.conn(), account, "reset_password", souk.identity.config.reset_link_ttl).await?;
    tx.record(&[Event {
        actor: Actor {
            kind: "anonymous",
            id: String::new(),
            role: String::new(),
            credential: String::new(),
            ip: None,
        },
        action: "password.reset_requested",
        target_kind: "account",
        target_id: account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await?;
    let link = souk.identity.link("/reset/confirm", &token);
    let body = format!(
        "Someone (hopefully you) asked to reset the password of your Souk account.\n\n\
         Choose a new password here (the link works once, within {} minutes):\n\n{link}\n\n\
         Signing in after the reset signs out every other device. If you did not ask, ignore this mail: \
         your password stays as it is.",
        souk.identity.config.reset_link_ttl.as_secs() / 60
    );
    let mail = compose(souk, account, "Reset your Souk password", &body).await?;
    souk.identity.send_later(mail);
    Ok(())
}

/// Sets a new password with a reset link: once, before it expires; revokes every session.
pub async fn reset(
    souk: &Souk,
    token: &str,
    password: SecretString,
    client: &Client,
) -> Result<(), CoreError> {
    let token =
        SessionToken::from_cookie(token).ok_or(CoreError::invalid("token", "this link is not valid"))?;
    let now = souk.clock.now();
    // The link is checked before the (slow) policy and hash, then consumed in the transaction.
    let mut conn = souk.store.conn().await?;
    let has_mfa = {
        let hash = token.key().0;
        let owner = sqlx_owner(&mut conn, &hash).await?;
        match owner {
            Some(a) => super::factors_enrolled(&mut conn, a).await?,
            None => return Err(expired()),
        }
    };
    drop(conn);
    souk.identity.config.password_policy.check(&password, has_mfa, &[]).map_err(|r| password_refusal(&r))?;
    let hash = souk.identity.hash_password(password, souk.entropy.clone()).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    let store::Consumed::Used(Some(account)) =
        store::consume_token(tx.conn(), &token.key().0, "reset_password", now).await?
    else {
        return Err(expired());
    };
    store::set_password(tx.conn(), account, hash.as_str(), now).await?;
    let revoked = session_store::revoke_all_sessions(tx.conn(), account, None, now).await?;
    store::retire_tokens(tx.conn(), account, "reset_password", now).await?;
    // Following the link proved control of the address.
    store::mark_email_verified(tx.conn(), account, now).await?;
    tx.record(&[Event {
        actor: Actor {
            kind: "account",
            id: account.to_string(),
            role: String::new(),
            credential: "reset_link".into(),
            ip: client.ip,
        },
        action: "password.reset",
        target_kind: "account",
        target_id: account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "sessions_revoked": revoked }),
    }])
    .await?;
    tx.commit().await?;
    notify_changed(souk, account).await;
    Ok(())
}

fn expired() -> CoreError {
    CoreError::invalid("token", "this link has expired or was already used; ask for a new one")
}

async fn sqlx_owner(
    conn: &mut sqlx::AnyConnection,
    hash: &[u8],
) -> Result<Option<souk_domain::ids::AccountId>, CoreError> {
    Ok(store::token_owner(conn, hash, "reset_password").await?)
}

async fn notify_changed(souk: &Souk, account: souk_domain::ids::AccountId) {
    let body = format!(
        "The password of your Souk account was just changed, and your other devices were signed out.\n\n\
         If you did not do this, reset your password at {}/reset and contact support.",
        souk.identity.config.public_url
    );
    match compose(souk, account, "Your Souk password was changed", &body).await {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose a password-change notice"),
    }
}

/// Changes the signed-in user's password (step-up required); other sessions are revoked.
pub async fn change(
    souk: &Souk,
    principal: &Principal,
    new: SecretString,
    client: &Client,
) -> Result<(), CoreError> {
    super::sessions::require_recent(souk, principal)?;
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let mut conn = souk.store.conn().await?;
    let has_mfa = super::factors_enrolled(&mut conn, principal.account).await?;
    drop(conn);
    let profile = crate::accounts::profile(souk, principal.account).await?;
    let context = [profile.email.display(), profile.name.display(), principal.handle.as_str()];
    souk.identity.config.password_policy.check(&new, has_mfa, &context).map_err(|r| password_refusal(&r))?;
    let hash = souk.identity.hash_password(new, souk.entropy.clone()).await?;
    let now = souk.clock.now();
    let keep = match &principal.credential {
        super::Credential::Session { id, .. } => Some(id.clone()),
        super::Credential::ApiKey { .. } => return Err(CoreError::Forbidden),
    };
    let mut tx = AuditedTx::begin(souk).await?;
    store::set_password(tx.conn(), principal.account, hash.as_str(), now).await?;
    let revoked =
        session_store::revoke_all_sessions(tx.conn(), principal.account, keep.as_deref(), now).await?;
    store::retire_tokens(tx.conn(), principal.account, "reset_password", now).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "password.change",
        target_kind: "account",
        target_id: principal.account.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "sessions_revoked": revoked }),
    }])
    .await?;
    tx.commit().await?;
    notify_changed(souk, principal.account).await;
    Ok(())
}
