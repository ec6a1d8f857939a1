//! Passkeys: adding one to an account (several, named, removable), passwordless sign-in
//! with any of them, and the ceremony state kept server-side between the two requests
//! (single use: taken, never read twice; five minutes at most).

use souk_domain::Timestamp;
use souk_identity::passkey::{
    CEREMONY_SECS, Mediation, Passkey, PasskeyError, PublicKeyCredential, Refresh,
    RegisterPublicKeyCredential,
};
use souk_identity::session::SessionToken;
use souk_store::StoreError;
use souk_store::identity::factors::{self, PasskeyRow};
use souk_store::identity::signin as store;

use super::sessions::{IssuedSession, issue, require_recent};
use super::{Client, Principal, internal};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// A started ceremony: the id the browser sends back, and the options for
/// `navigator.credentials.create()` / `.get()`.
#[derive(Debug)]
pub struct Ceremony {
    pub id: SessionToken,
    pub options: serde_json::Value,
}

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

const MAX_NAME: usize = 60;

fn rejected(e: &PasskeyError) -> CoreError {
    tracing::info!(error = %e, cause = ?std::error::Error::source(e), "passkey refused");
    match e {
        PasskeyError::Expired => CoreError::invalid("passkey", "that took too long; please try again"),
        PasskeyError::Config(_) | PasskeyError::Unavailable(_) => CoreError::Unavailable,
        _ => CoreError::Unauthenticated,
    }
}

fn parse(row: &PasskeyRow) -> Result<Passkey, CoreError> {
    serde_json::from_str(&row.passkey).map_err(internal)
}

async fn keep(
    souk: &Souk,
    purpose: &str,
    account: Option<souk_domain::ids::AccountId>,
    state: &[u8],
) -> Result<SessionToken, CoreError> {
    let id = SessionToken::generate(souk.entropy.as_ref());
    let now = souk.clock.now();
    let expires = Timestamp::from_micros(now.as_micros() + CEREMONY_SECS * 1_000_000);
    let state = std::str::from_utf8(state).map_err(internal)?;
    let mut conn = souk.store.conn().await?;
    factors::insert_ceremony(&mut conn, &id.key().0, purpose, account, state, expires).await?;
    Ok(id)
}

/// Starts adding a passkey to the principal's account (a sensitive change: step-up).
pub async fn start_registration(souk: &Souk, principal: &Principal) -> Result<Ceremony, CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, &Client::default())
        .await?;
    require_recent(souk, principal)?;
    super::require_confirmed_owner(principal)?;
    let mut conn = souk.store.conn().await?;
    let existing = factors::passkeys_of(&mut conn, principal.account)
        .await?
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    drop(conn);
    let profile = crate::accounts::profile(souk, principal.account).await?;
    let (options, state) = souk
        .identity
        .passkeys
        .start_registration(
            *principal.account.as_uuid(),
            profile.email.display(),
            profile.name.display(),
            &existing,
            souk.clock.now(),
        )
        .map_err(|e| rejected(&e))?;
    let id = keep(souk, "register", Some(principal.account), &state.to_json().map_err(internal)?).await?;
    Ok(Ceremony { id, options: serde_json::to_value(options).map_err(internal)? })
}

fn clean_name(name: &str) -> Result<String, CoreError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "name",
            format!("give the passkey a name of 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(n.to_owned())
}

/// Finishes adding a passkey and names it.
pub async fn finish_registration(
    souk: &Souk,
    principal: &Principal,
    ceremony: &str,
    name: &str,
    response: &RegisterPublicKeyCredential,
    client: &Client,
) -> Result<PasskeyView, CoreError> {
    let name = clean_name(name)?;
    let ceremony = SessionToken::from_cookie(ceremony).ok_or(CoreError::Unauthenticated)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let Some((Some(owner), state)) =
        factors::take_ceremony(tx.conn(), &ceremony.key().0, "register", now).await?
    else {
        return Err(CoreError::invalid(
            "ceremony",
            "that took too long or was already used; please try again",
        ));
    };
    // SECURITY: a ceremony started by one account cannot add a passkey to another.
    if owner != principal.account {
        return Err(CoreError::Unauthenticated);
    }
    let state = souk_identity::passkey::RegistrationState::from_json(state.as_bytes()).map_err(internal)?;
    let passkey = match souk.identity.passkeys.finish_registration(response, state, now) {
        Ok(p) => p,
        Err(e) => {
            // The ceremony is used up by a failed answer too.
            tx.record(&[Event {
                actor: principal.actor(client.ip),
                action: "passkey.register",
                target_kind: "passkey",
                target_id: String::new(),
                outcome: Outcome::Failure,
                request_id: client.request_id.clone(),
                detail: serde_json::json!({}),
            }])
            .await?;
            tx.commit().await?;
            return Err(rejected(&e));
        }
    };
    let id = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let row = PasskeyRow {
        id: id.clone(),
        account: principal.account,
        credential_id: passkey.cred_id().to_vec(),
        name: name.clone(),
        passkey: serde_json::to_string(&passkey).map_err(internal)?,
        created_at: now.as_micros(),
        last_used_at: None,
    };
    match factors::insert_passkey(tx.conn(), &row).await {
        Err(StoreError::Conflict { .. }) => {
            return Err(CoreError::Conflict("this passkey is already registered".into()));
        }
        other => other?,
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "passkey.register",
        target_kind: "passkey",
        target_id: id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await?;
    Ok(PasskeyView { id, name, created_at: now, last_used_at: None })
}

/// The principal's passkeys.
pub async fn list(souk: &Souk, principal: &Principal) -> Result<Vec<PasskeyView>, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(factors::passkeys_of(&mut conn, principal.account)
        .await?
        .into_iter()
        .map(|r| PasskeyView {
            id: r.id,
            name: r.name,
            created_at: Timestamp::from_micros(r.created_at),
            last_used_at: r.last_used_at.map(Timestamp::from_micros),
        })
        .collect())
}

/// Removes one of the principal's passkeys (step-up). The last way to sign in cannot be
/// removed: an account with no password keeps at least one passkey.
pub async fn remove(souk: &Souk, principal: &Principal, id: &str, client: &Client) -> Result<(), CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    require_recent(souk, principal)?;
    let mut tx = AuditedTx::begin(souk).await?;
    let rows = factors::passkeys_of(tx.conn(), principal.account).await?;
    let has_password = store::password(tx.conn(), principal.account).await?.is_some();
    if rows.len() <= 1 && !has_password && rows.iter().any(|p| p.id == id) {
        return Err(CoreError::Conflict(
            "this is your only way to sign in: add another passkey or a password first".into(),
        ));
    }
    if !factors::delete_passkey(tx.conn(), principal.account, id).await? {
        return Err(CoreError::NotFound("passkey"));
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "passkey.remove",
        target_kind: "passkey",
        target_id: id.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await
}

/// Starts a passwordless sign-in.
pub async fn start_login(souk: &Souk, client: &Client) -> Result<Ceremony, CoreError> {
    souk.identity.gate.check(client.ip).map_err(|s| CoreError::Throttled { retry_after_secs: s })?;
    let (options, state) = souk
        .identity
        .passkeys
        .start_discoverable_login(Mediation::Modal, souk.clock.now())
        .map_err(|e| rejected(&e))?;
    let id = keep(souk, "login", None, &state.to_json().map_err(internal)?).await?;
    Ok(Ceremony { id, options: serde_json::to_value(options).map_err(internal)? })
}

/// Finishes a passwordless sign-in: the credential must be one of the account its user
/// handle names, signed over this ceremony's challenge, with user verification.
pub async fn finish_login(
    souk: &Souk,
    ceremony: &str,
    response: &PublicKeyCredential,
    client: &Client,
) -> Result<IssuedSession, CoreError> {
    let ceremony = SessionToken::from_cookie(ceremony).ok_or(CoreError::Unauthenticated)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let Some((_, state)) = factors::take_ceremony(tx.conn(), &ceremony.key().0, "login", now).await? else {
        return Err(CoreError::invalid(
            "ceremony",
            "that took too long or was already used; please try again",
        ));
    };
    let state = souk_identity::passkey::DiscoverableState::from_json(state.as_bytes()).map_err(internal)?;
    let passkeys = &souk.identity.passkeys;
    // Every failure from here on consumes the ceremony: it is committed with the audit entry.
    let (rows, stored, auth, verified) = match passkeys.identify_discoverable_login(response) {
        Err(e) => (Vec::new(), Vec::new(), None, Err(rejected(&e))),
        Ok(claimed) => {
            let account = souk_domain::ids::AccountId::from_uuid(claimed.user_id);
            let rows = factors::passkeys_of(tx.conn(), account).await?;
            let stored = rows.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
            let auth = store::account_auth(tx.conn(), account).await?;
            let verified = match (&auth, stored.is_empty()) {
                (Some(a), false) if a.disabled_at.is_none() => passkeys
                    .finish_discoverable_login(response, state, claimed.user_id, &stored, now)
                    .map_err(|e| rejected(&e)),
                _ => Err(CoreError::Unauthenticated),
            };
            (rows, stored, auth, verified)
        }
    };
    let result = match verified {
        Ok(r) => r,
        Err(e) => {
            // Consuming the ceremony is part of the failure: commit it with the audit entry.
            tx.record(&[Event {
                actor: Actor {
                    kind: "anonymous",
                    id: String::new(),
                    role: String::new(),
                    credential: String::new(),
                    ip: None,
                },
                action: "login.passkey",
                target_kind: "account",
                target_id: auth.as_ref().map(|a| a.id.to_string()).unwrap_or_default(),
                outcome: Outcome::Failure,
                request_id: client.request_id.clone(),
                detail: serde_json::json!({}),
            }])
            .await?;
            tx.commit().await?;
            return Err(e);
        }
    };
    let account = auth.ok_or(CoreError::Unauthenticated)?;
    for (row, mut pk) in rows.iter().zip(stored) {
        if souk_identity::passkey::refresh(&mut pk, &result) == Refresh::Changed {
            let json = serde_json::to_string(&pk).map_err(internal)?;
            factors::passkey_used(tx.conn(), &row.id, Some(&json), now).await?;
        } else if pk.cred_id() == result.cred_id() {
            factors::passkey_used(tx.conn(), &row.id, None, now).await?;
        }
    }
    let session = issue(souk, tx.conn(), &account, "passkey", client).await?;
    let new_device = super::login::remember_device(souk, tx.conn(), &account, client).await?;
    tx.record(&[Event {
        actor: Actor {
            kind: "account",
            id: account.id.to_string(),
            role: account.role.clone(),
            credential: format!("session:{}", session.id),
            ip: client.ip,
        },
        action: "login.success",
        target_kind: "account",
        target_id: account.id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "method": "passkey", "session": session.id, "new_device": new_device }),
    }])
    .await?;
    tx.commit().await?;
    if new_device {
        super::login::alert_new_device(souk, &account, client).await;
    }
    Ok(session)
}

/// Starts a step-up with one of the principal's own passkeys.
pub async fn start_reauthentication(souk: &Souk, principal: &Principal) -> Result<Ceremony, CoreError> {
    let mut conn = souk.store.conn().await?;
    let own = factors::passkeys_of(&mut conn, principal.account)
        .await?
        .iter()
        .map(parse)
        .collect::<Result<Vec<_>, _>>()?;
    drop(conn);
    if own.is_empty() {
        return Err(CoreError::invalid("passkey", "this account has no passkey"));
    }
    let (options, state) =
        souk.identity.passkeys.start_login(&own, souk.clock.now()).map_err(|e| rejected(&e))?;
    let id =
        keep(souk, "reauthenticate", Some(principal.account), &state.to_json().map_err(internal)?).await?;
    Ok(Ceremony { id, options: serde_json::to_value(options).map_err(internal)? })
}

/// Finishes a step-up: the session counts as freshly authenticated for five minutes.
pub async fn finish_reauthentication(
    souk: &Souk,
    principal: &Principal,
    ceremony: &str,
    response: &PublicKeyCredential,
    client: &Client,
) -> Result<(), CoreError> {
    let super::Credential::Session { id: session_id, .. } = &principal.credential else {
        return Err(CoreError::Forbidden);
    };
    let ceremony = SessionToken::from_cookie(ceremony).ok_or(CoreError::Unauthenticated)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let Some((Some(owner), state)) =
        factors::take_ceremony(tx.conn(), &ceremony.key().0, "reauthenticate", now).await?
    else {
        return Err(CoreError::invalid(
            "ceremony",
            "that took too long or was already used; please try again",
        ));
    };
    if owner != principal.account {
        return Err(CoreError::Unauthenticated);
    }
    let state = souk_identity::passkey::LoginState::from_json(state.as_bytes()).map_err(internal)?;
    let verified = souk.identity.passkeys.finish_login(response, state, now).map_err(|e| rejected(&e));
    let mut event = Event {
        actor: principal.actor(client.ip),
        action: "session.reauthenticate",
        target_kind: "session",
        target_id: session_id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "method": "passkey" }),
    };
    let result = match verified {
        Ok(r) => r,
        Err(e) => {
            event.outcome = Outcome::Failure;
            tx.record(&[event]).await?;
            tx.commit().await?;
            return Err(e);
        }
    };
    for row in factors::passkeys_of(tx.conn(), principal.account).await? {
        let mut pk = parse(&row)?;
        match souk_identity::passkey::refresh(&mut pk, &result) {
            Refresh::Changed => {
                let json = serde_json::to_string(&pk).map_err(internal)?;
                factors::passkey_used(tx.conn(), &row.id, Some(&json), now).await?;
            }
            Refresh::Unchanged => factors::passkey_used(tx.conn(), &row.id, None, now).await?,
            Refresh::OtherCredential => {}
        }
    }
    souk_store::identity::sessions::reauthenticated(tx.conn(), session_id, now).await?;
    tx.record(&[event]).await?;
    tx.commit().await
}
