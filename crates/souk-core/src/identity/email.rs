//! Changing the account's email address: a step-up, then a link to the new address (the
//! change happens only when it is followed), a notice to the old one at each step, and
//! every session signed out when it completes. Asking for an address another account
//! uses answers the same, and that account's owner is told instead.

use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::Timestamp;
use souk_identity::session::SessionToken;
use souk_store::identity::sessions as session_store;
use souk_store::identity::signin as store;

use super::sessions::require_recent;
use super::signup::{compose, valid_email};
use super::{Client, Principal};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::keys::Revealed;
use crate::mail::Mail;
use crate::{CoreError, Souk};

/// How long the confirmation link lives.
pub const LINK_SECS: i64 = 24 * 3600;

fn pending_ctx(row: &str) -> FieldContext<'_> {
    FieldContext { table: "email_changes", column: "new_email", row_id: row }
}

/// Asks to change the principal's address to `new_email`.
pub async fn request_change(
    souk: &Souk,
    principal: &Principal,
    new_email: &str,
    client: &Client,
) -> Result<(), CoreError> {
    require_recent(souk, principal)?;
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let started = tokio::time::Instant::now();
    let result = request_inner(souk, principal, new_email, client).await;
    if result.is_ok() {
        super::pad(started).await;
    }
    result
}

async fn request_inner(
    souk: &Souk,
    principal: &Principal,
    new_email: &str,
    client: &Client,
) -> Result<(), CoreError> {
    let new_email = valid_email(new_email)?;
    let current = crate::accounts::profile(souk, principal.account).await?;
    if souk_crypto::blind_index::normalize_email(current.email.display())
        == souk_crypto::blind_index::normalize_email(&new_email)
    {
        return Err(CoreError::invalid("email", "that is already your address"));
    }
    let url = souk.identity.config.public_url.clone();
    if let Some(owner) = crate::accounts::find_by_email(souk, &new_email).await? {
        let body = format!(
            "Someone signed in to another Souk account asked to move it to this address, which is yours. Nothing \
             changed. If you are signed in elsewhere and did not expect this, check your security centre at {url}/account/security."
        );
        if let Ok(mail) = compose(souk, owner, "Someone tried to use your address on Souk", &body).await {
            souk.identity.send_later(mail);
        }
        let mut tx = AuditedTx::begin(souk).await?;
        tx.record(&[event(principal, client, "account.email_change_requested", Outcome::Denied)]).await?;
        return tx.commit().await;
    }
    let now = souk.clock.now();
    let token = SessionToken::generate(souk.entropy.as_ref());
    let row = principal.account.to_string();
    let mut tx = AuditedTx::begin(souk).await?;
    let sealed = souk
        .keys
        .seal(tx.conn(), Subject { kind: "account", id: &row }, &pending_ctx(&row), new_email.as_bytes(), now)
        .await?;
    let expires = Timestamp::from_micros(now.as_micros() + LINK_SECS * 1_000_000);
    store::insert_email_change(tx.conn(), &token.key().0, principal.account, &sealed, now, expires).await?;
    tx.record(&[event(principal, client, "account.email_change_requested", Outcome::Success)]).await?;
    tx.commit().await?;
    let phrase = super::signup::phrase(souk, principal.account).await?;
    let link = souk.identity.link("/confirm-email", &token);
    let confirm = format!(
        "Confirm that this is the new address of your Souk account by opening this link (it works once, within 24 hours):\n\n{link}\n\n\
         If you did not ask for this, ignore this mail: nothing changes."
    );
    souk.identity.send_later(Mail {
        to: new_email.clone(),
        subject: "Confirm your new email address for Souk".into(),
        body: super::signup::with_phrase(phrase.as_deref(), &confirm),
    });
    let notice = format!(
        "Someone signed in to your Souk account asked to change its address to {new_email}. It changes only when that address \
         confirms. If this was not you, change your password now at {url}/account/security and sign out other devices."
    );
    if let Ok(mail) =
        compose(souk, principal.account, "A change of your Souk email address was requested", &notice).await
    {
        souk.identity.send_later(mail);
    }
    Ok(())
}

fn event(principal: &Principal, client: &Client, action: &'static str, outcome: Outcome) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "account",
        target_id: principal.account.to_string(),
        outcome,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }
}

/// Follows the link sent to the new address: the change happens, every session ends.
pub async fn confirm_change(souk: &Souk, token: &str, client: &Client) -> Result<(), CoreError> {
    let token =
        SessionToken::from_cookie(token).ok_or(CoreError::invalid("token", "this link is not valid"))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let Some((account, sealed)) = store::consume_email_change(tx.conn(), &token.key().0, now).await? else {
        return Err(CoreError::invalid("token", "this link has expired or was already used"));
    };
    let row = account.to_string();
    let subject = Subject { kind: "account", id: &row };
    let Revealed::Text(new_email) =
        souk.keys.reveal(tx.conn(), subject, &pending_ctx(&row), &Sealed::from_stored(sealed)).await?
    else {
        return Err(CoreError::NotFound("account"));
    };
    let old = crate::accounts::profile(souk, account).await?;
    // Another account may have taken the address since the request.
    if crate::accounts::find_by_email(souk, &new_email).await?.is_some() {
        return Err(CoreError::invalid("email", "that address now belongs to another account"));
    }
    let ctx = FieldContext { table: "accounts", column: "email", row_id: &row };
    let sealed = souk.keys.seal(tx.conn(), subject, &ctx, new_email.as_bytes(), now).await?;
    store::replace_email(tx.conn(), account, &sealed, &souk.keys.email_index(&new_email)).await?;
    store::mark_email_verified(tx.conn(), account, now).await?;
    let revoked = session_store::revoke_all_sessions(tx.conn(), account, None, now).await?;
    tx.record(&[Event {
        actor: crate::audit::Actor {
            kind: "account",
            id: row.clone(),
            role: String::new(),
            credential: "email_link".into(),
            ip: client.ip,
        },
        action: "account.email_change",
        target_kind: "account",
        target_id: row.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "sessions_revoked": revoked }),
    }])
    .await?;
    tx.commit().await?;
    if let Revealed::Text(old_email) = old.email {
        let phrase = super::signup::phrase(souk, account).await?;
        let body = format!(
            "The email address of your Souk account was changed to {new_email}, and every device was signed out.\n\n\
             If you did not do this, reply to Souk support at once: your account may have been taken over."
        );
        souk.identity.send_later(Mail {
            to: old_email,
            subject: "Your Souk email address was changed".into(),
            body: super::signup::with_phrase(phrase.as_deref(), &body),
        });
    }
    Ok(())
}
