//! Sessions: issuing one at sign-in (always a fresh token, so a token planted before
//! sign-in is worthless), finding the principal behind a cookie, listing an account's
//! devices, revoking one or all, and recording a fresh authentication (step-up).

use secrecy::SecretString;
use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::Timestamp;
use souk_identity::session::{Liveness, SessionKey, SessionPolicy, SessionTimes, SessionToken};
use souk_store::identity::sessions as store;
use souk_store::identity::signin::AccountAuth;
use sqlx::AnyConnection;

use super::{Client, Credential, Principal, device_label, network_of, parse_staff_roles};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::keys::Revealed;
use crate::{CoreError, Souk};

/// A session just issued: the token goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub token: SessionToken,
    pub id: String,
    pub staff: bool,
    /// The CSRF token for this session's forms and API calls.
    pub csrf: String,
}

/// An authenticated session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub key: SessionKey,
    pub csrf: String,
    /// Whether the user proved who they are within the step-up window.
    pub recently_authenticated: bool,
}

/// A row of the sessions list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub place: String,
    pub method: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub current: bool,
}

pub(crate) fn policy(staff: bool) -> SessionPolicy {
    if staff { SessionPolicy::STAFF } else { SessionPolicy::MEMBER }
}

fn ctx<'a>(column: &'static str, row: &'a str) -> FieldContext<'a> {
    FieldContext { table: "sessions", column, row_id: row }
}

/// Issues a session in the caller's transaction.
pub(crate) async fn issue(
    souk: &Souk,
    tx: &mut AnyConnection,
    account: &AccountAuth,
    method: &str,
    client: &Client,
) -> Result<IssuedSession, CoreError> {
    let token = SessionToken::generate(souk.entropy.as_ref());
    let key = token.key();
    let now = souk.clock.now();
    let id = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let account_row = account.id.to_string();
    let subject = Subject { kind: "account", id: &account_row };
    // SECURITY: the device and network are personal data: sealed under the account's key.
    let device = souk
        .keys
        .seal(tx, subject, &ctx("device", &id), device_label(&client.user_agent).as_bytes(), now)
        .await?;
    let network = match client.ip {
        Some(ip) => {
            Some(souk.keys.seal(tx, subject, &ctx("network", &id), network_of(ip).as_bytes(), now).await?)
        }
        None => None,
    };
    let staff = account.role == "staff";
    store::insert_session(
        tx,
        &key.0,
        &store::SessionRow {
            id: id.clone(),
            account: account.id,
            kind: if staff { "staff" } else { "member" }.into(),
            created_at: now.as_micros(),
            last_seen_at: now.as_micros(),
            authenticated_at: now.as_micros(),
            method: method.to_owned(),
            device_sealed: Some(device.as_bytes().to_vec()),
            network_sealed: network.map(|n| n.as_bytes().to_vec()),
            revoked_at: None,
        },
    )
    .await?;
    let csrf = souk.identity.csrf_token(&key);
    Ok(IssuedSession { token, id, staff, csrf })
}

pub(crate) fn principal_of(account: &AccountAuth, credential: Credential) -> Principal {
    Principal {
        account: account.id,
        handle: account.handle.clone(),
        role: account.role.clone(),
        staff_roles: if account.role == "staff" {
            parse_staff_roles(&account.staff_roles)
        } else {
            Vec::new()
        },
        credential,
        email_verified: account.email_verified_at.is_some(),
    }
}

/// The principal behind a session cookie, if the session is live.
pub async fn authenticate(souk: &Souk, token: &SessionToken) -> Result<Option<Authenticated>, CoreError> {
    let key = token.key();
    let mut conn = souk.store.conn().await?;
    let Some((row, account)) = store::session_by_key(&mut conn, &key.0).await? else { return Ok(None) };
    if account.disabled_at.is_some() {
        return Ok(None);
    }
    let staff = row.kind == "staff";
    let policy = policy(staff);
    let times = SessionTimes {
        created_at: Timestamp::from_micros(row.created_at),
        last_seen_at: Timestamp::from_micros(row.last_seen_at),
        authenticated_at: Timestamp::from_micros(row.authenticated_at),
    };
    let now = souk.clock.now();
    if policy.liveness(&times, now) != Liveness::Live {
        store::revoke_session(&mut conn, account.id, &row.id, now).await?;
        return Ok(None);
    }
    store::touch_session(&mut conn, &row.id, now).await?;
    let recently_authenticated = policy.recently_authenticated(&times, now);
    let principal = principal_of(
        &account,
        Credential::Session {
            id: row.id,
            authenticated_at: times.authenticated_at,
            staff,
            method: row.method,
        },
    );
    Ok(Some(Authenticated { principal, csrf: souk.identity.csrf_token(&key), key, recently_authenticated }))
}

/// A sealed session detail in clear, on the caller's connection.
async fn reveal(
    souk: &Souk,
    conn: &mut AnyConnection,
    subject: Subject<'_>,
    ctx: &FieldContext<'_>,
    bytes: Option<Vec<u8>>,
) -> Result<String, CoreError> {
    let Some(bytes) = bytes else { return Ok("unknown".to_owned()) };
    Ok(match souk.keys.reveal(conn, subject, ctx, &Sealed::from_stored(bytes)).await? {
        Revealed::Text(t) => t,
        Revealed::Erased => "[erased]".to_owned(),
    })
}

/// The account's live sessions, for the sessions page.
pub async fn list(souk: &Souk, principal: &Principal) -> Result<Vec<SessionView>, CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountView, &Client::default()).await?;
    let mut conn = souk.store.conn().await?;
    let rows = store::sessions_of(&mut conn, principal.account).await?;
    let current = match &principal.credential {
        Credential::Session { id, .. } => Some(id.clone()),
        Credential::ApiKey { .. } => None,
    };
    let account_row = principal.account.to_string();
    let subject = Subject { kind: "account", id: &account_row };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let staff = r.kind == "staff";
        let times = SessionTimes {
            created_at: Timestamp::from_micros(r.created_at),
            last_seen_at: Timestamp::from_micros(r.last_seen_at),
            authenticated_at: Timestamp::from_micros(r.authenticated_at),
        };
        if policy(staff).liveness(&times, souk.clock.now()) != Liveness::Live {
            continue;
        }
        out.push(SessionView {
            device: reveal(souk, &mut conn, subject, &ctx("device", &r.id), r.device_sealed.clone()).await?,
            place: reveal(souk, &mut conn, subject, &ctx("network", &r.id), r.network_sealed.clone()).await?,
            current: current.as_deref() == Some(r.id.as_str()),
            id: r.id,
            method: r.method,
            created_at: times.created_at,
            last_seen_at: times.last_seen_at,
        });
    }
    Ok(out)
}

fn session_event(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    target: String,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "session",
        target_id: target,
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

/// Revokes one of the principal's own sessions (another account's id is "not found").
pub async fn revoke(souk: &Souk, principal: &Principal, id: &str, client: &Client) -> Result<(), CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    if !store::revoke_session(tx.conn(), principal.account, id, souk.clock.now()).await? {
        return Err(CoreError::NotFound("session"));
    }
    tx.record(&[session_event(principal, client, "session.revoke", id.to_owned(), serde_json::json!({}))])
        .await?;
    tx.commit().await
}

/// Revokes every session of the principal's account except the current one.
pub async fn revoke_others(souk: &Souk, principal: &Principal, client: &Client) -> Result<u64, CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let keep = match &principal.credential {
        Credential::Session { id, .. } => Some(id.as_str()),
        Credential::ApiKey { .. } => None,
    };
    let mut tx = AuditedTx::begin(souk).await?;
    let n = store::revoke_all_sessions(tx.conn(), principal.account, keep, souk.clock.now()).await?;
    tx.record(&[session_event(
        principal,
        client,
        "session.revoke_others",
        principal.account.to_string(),
        serde_json::json!({ "revoked": n }),
    )])
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// Ends the current session (sign-out).
pub async fn sign_out(souk: &Souk, principal: &Principal, client: &Client) -> Result<(), CoreError> {
    match &principal.credential {
        Credential::Session { id, .. } => {
            let mut tx = AuditedTx::begin(souk).await?;
            store::revoke_session(tx.conn(), principal.account, id, souk.clock.now()).await?;
            tx.record(&[session_event(
                principal,
                client,
                "session.sign_out",
                id.clone(),
                serde_json::json!({}),
            )])
            .await?;
            tx.commit().await
        }
        Credential::ApiKey { .. } => Ok(()),
    }
}

/// Step-up: the user proves who they are again (password) for a sensitive action.
pub async fn reauthenticate_with_password(
    souk: &Souk,
    principal: &Principal,
    password: SecretString,
    client: &Client,
) -> Result<(), CoreError> {
    let Credential::Session { id, .. } = &principal.credential else { return Err(CoreError::Forbidden) };
    let mut conn = souk.store.conn().await?;
    let stored = souk_store::identity::signin::password(&mut conn, principal.account).await?;
    drop(conn);
    let ok = matches!(
        souk.identity
            .verify_password(password, stored.map(|p| souk_identity::PasswordHash::from_stored(p.phc)))
            .await?,
        souk_identity::password::Verified::Yes { .. }
    );
    let mut tx = AuditedTx::begin(souk).await?;
    if ok {
        store::reauthenticated(tx.conn(), id, souk.clock.now()).await?;
    }
    let mut event = session_event(
        principal,
        client,
        "session.reauthenticate",
        id.clone(),
        serde_json::json!({ "method": "password" }),
    );
    if !ok {
        event.outcome = Outcome::Failure;
    }
    tx.record(&[event]).await?;
    tx.commit().await?;
    if ok { Ok(()) } else { Err(CoreError::Unauthenticated) }
}

/// Refuses a sensitive action unless the session authenticated within the step-up window.
pub fn require_recent(souk: &Souk, principal: &Principal) -> Result<(), CoreError> {
    match &principal.credential {
        Credential::Session { authenticated_at, staff, .. } => {
            let times = SessionTimes {
                created_at: *authenticated_at,
                last_seen_at: souk.clock.now(),
                authenticated_at: *authenticated_at,
            };
            if policy(*staff).recently_authenticated(&times, souk.clock.now()) {
                Ok(())
            } else {
                Err(CoreError::StepUpRequired)
            }
        }
        // API keys never perform account-security actions.
        Credential::ApiKey { .. } => Err(CoreError::Forbidden),
    }
}
