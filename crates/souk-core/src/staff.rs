//! Staff: creating staff accounts (an admin in the console, or the operator with
//! `souk admin create`, or the one-time setup link printed at first start), assigning
//! their roles, and looking up a member's account for support. Every action is decided
//! by Cedar and recorded.

use souk_access::{Action, Resource, StaffRole};
use souk_domain::ids::AccountId;
use souk_identity::session::SessionToken;
use souk_store::identity::sessions as session_store;
use souk_store::identity::signin as store;

use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::identity::sessions::{IssuedSession, require_recent};
use crate::identity::{Client, Principal, parse_staff_roles};
use crate::{CoreError, Souk};

/// How long the first-admin setup link lives.
pub const SETUP_LINK_SECS: u64 = 3600;
/// How long a staff invitation lives.
pub const INVITE_SECS: u64 = 72 * 3600;

/// A member's account as support sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub id: AccountId,
    pub handle: String,
    pub role: String,
    pub staff_roles: Vec<String>,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
    pub disabled: bool,
    pub created_at: souk_domain::Timestamp,
}

fn roles_text(roles: &[StaffRole]) -> String {
    let mut names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

/// Parses role names, refusing unknown ones.
pub fn parse_roles(names: &[String]) -> Result<Vec<StaffRole>, CoreError> {
    names
        .iter()
        .map(|n| {
            StaffRole::ALL.into_iter().find(|r| r.as_str() == n.trim()).ok_or_else(|| {
                CoreError::invalid(
                    "roles",
                    format!("unknown role {n:?}; roles are support, trust_safety, finance, admin"),
                )
            })
        })
        .collect()
}

/// Support (and the account's owner) look an account up. The decision is recorded: it
/// reveals personal data.
pub async fn view_account(
    souk: &Souk,
    principal: &Principal,
    id: AccountId,
    client: &Client,
) -> Result<AccountSummary, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::AccountView, &Resource::Account(id), client)
        .await?;
    let auth = store::account_auth(tx.conn(), id).await?.ok_or(CoreError::NotFound("account"))?;
    tx.commit().await?;
    let profile = crate::accounts::profile(souk, id).await?;
    Ok(AccountSummary {
        id,
        handle: auth.handle,
        role: auth.role,
        staff_roles: parse_staff_roles(&auth.staff_roles).iter().map(|r| r.as_str().to_owned()).collect(),
        email: profile.email.display().to_owned(),
        name: profile.name.display().to_owned(),
        email_verified: auth.email_verified_at.is_some(),
        disabled: auth.disabled_at.is_some(),
        created_at: souk_domain::Timestamp::from_micros(auth.created_at),
    })
}

/// Sets a staff account's roles (an admin, step-up, never their own). The account's
/// sessions are revoked: a privilege change takes a new sign-in.
pub async fn assign_roles(
    souk: &Souk,
    principal: &Principal,
    id: AccountId,
    roles: &[StaffRole],
    client: &Client,
) -> Result<(), CoreError> {
    require_recent(souk, principal)?;
    let mut tx = AuditedTx::begin(souk).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::StaffAssignRole,
        &Resource::Account(id),
        client,
    )
    .await?;
    let target = store::account_auth(tx.conn(), id).await?.ok_or(CoreError::NotFound("account"))?;
    if target.role != "staff" {
        return Err(CoreError::invalid("account", "roles are for staff accounts; create one as staff"));
    }
    let before = target.staff_roles.clone();
    let after = roles_text(roles);
    let was_admin = parse_staff_roles(&before).contains(&StaffRole::Admin);
    if was_admin && !roles.contains(&StaffRole::Admin) && store::admin_count(tx.conn()).await? <= 1 {
        return Err(CoreError::Conflict("this is the last admin; make another admin first".into()));
    }
    store::set_staff_roles(tx.conn(), id, &after).await?;
    let revoked = session_store::revoke_all_sessions(tx.conn(), id, None, souk.clock.now()).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "staff.assign_role",
        target_kind: "account",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "before": before, "after": after, "sessions_revoked": revoked }),
    }])
    .await?;
    tx.commit().await
}

/// A new staff account and the link that lets them in to add their passkey.
#[derive(Debug)]
pub struct Invitation {
    pub account: AccountId,
    pub link: String,
}

async fn insert_staff(
    souk: &Souk,
    tx: &mut AuditedTx<'_>,
    email: &str,
    name: &str,
    roles: &[StaffRole],
) -> Result<(AccountId, SessionToken), CoreError> {
    let email = crate::identity::signup::valid_email(email)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CoreError::invalid("name", "1 to 100 characters"));
    }
    if roles.is_empty() {
        return Err(CoreError::invalid("roles", "give at least one role"));
    }
    if crate::accounts::find_by_email(souk, &email).await?.is_some() {
        return Err(CoreError::Conflict("an account already uses that address".into()));
    }
    let now = souk.clock.now();
    let id = AccountId::new(now, souk.entropy.as_ref());
    let compact = id.to_string().replace('-', "");
    let handle = format!("staff-{}", compact.get(20..).unwrap_or_default());
    store::insert_account(tx.conn(), id, &handle, "staff", &roles_text(roles), now).await?;
    crate::accounts::set_profile(souk, tx.conn(), id, &email, name, None).await?;
    // The link proves the address (it is mailed there) and signs in once, to add a passkey.
    let token = crate::identity::signup::issue_token(
        souk,
        tx.conn(),
        id,
        "verify_email",
        std::time::Duration::from_secs(INVITE_SECS),
    )
    .await?;
    Ok((id, token))
}

/// An admin creates a staff account; the invitation link is mailed to it.
pub async fn create_staff(
    souk: &Souk,
    principal: &Principal,
    email: &str,
    name: &str,
    roles: &[StaffRole],
    client: &Client,
) -> Result<Invitation, CoreError> {
    require_recent(souk, principal)?;
    let mut tx = AuditedTx::begin(souk).await?;
    // Creating staff is assigning staff roles to a new account.
    let placeholder = AccountId::new(souk.clock.now(), souk.entropy.as_ref());
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::StaffAssignRole,
        &Resource::Account(placeholder),
        client,
    )
    .await?;
    let (id, token) = insert_staff(souk, &mut tx, email, name, roles).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "staff.create",
        target_kind: "account",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "roles": roles_text(roles) }),
    }])
    .await?;
    tx.commit().await?;
    let link = souk.identity.link("/verify-email", &token);
    invite_mail(souk, id, &link).await;
    Ok(Invitation { account: id, link })
}

async fn invite_mail(souk: &Souk, id: AccountId, link: &str) {
    let body = format!(
        "A Souk staff account was created for you.\n\nOpen this link within {} hours to sign in once and add a passkey \
         (staff sign in with passkeys only):\n\n{link}\n\nIf you did not expect this, tell your Souk administrator.",
        INVITE_SECS / 3600
    );
    match crate::identity::signup::compose(souk, id, "Your Souk staff account", &body).await {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose a staff invitation"),
    }
}

/// `souk admin create`: the operator creates a staff account from the server's shell.
pub async fn create_staff_as_operator(
    souk: &Souk,
    operator: &str,
    email: &str,
    name: &str,
    roles: &[StaffRole],
) -> Result<Invitation, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    let (id, token) = insert_staff(souk, &mut tx, email, name, roles).await?;
    tx.record(&[Event {
        actor: Actor::operator(operator),
        action: "staff.create",
        target_kind: "account",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({ "roles": roles_text(roles) }),
    }])
    .await?;
    tx.commit().await?;
    let link = souk.identity.link("/verify-email", &token);
    invite_mail(souk, id, &link).await;
    Ok(Invitation { account: id, link })
}

/// At start: when there is no admin yet, a fresh single-use setup link (older ones stop
/// working). Returns the link to print, or `None` when an admin exists.
pub async fn first_admin_link(souk: &Souk) -> Result<Option<String>, CoreError> {
    let mut tx = AuditedTx::begin(souk).await?;
    if store::admin_count(tx.conn()).await? > 0 {
        return Ok(None);
    }
    let now = souk.clock.now();
    store::retire_unowned_tokens(tx.conn(), "admin_setup", now).await?;
    let token = SessionToken::generate(souk.entropy.as_ref());
    let expires = souk_domain::Timestamp::from_micros(
        now.as_micros() + i64::try_from(SETUP_LINK_SECS).unwrap_or(3600) * 1_000_000,
    );
    store::insert_token(tx.conn(), &token.key().0, "admin_setup", None, now, expires).await?;
    tx.record(&[Event {
        actor: Actor::system(),
        action: "staff.setup_link",
        target_kind: "account",
        target_id: String::new(),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({ "expires_in_secs": SETUP_LINK_SECS }),
    }])
    .await?;
    tx.commit().await?;
    Ok(Some(souk.identity.link("/setup", &token)))
}

/// Follows the first-admin setup link: creates the admin and signs them in once, to add
/// their passkey. Single use; refused once any admin exists.
pub async fn complete_setup(
    souk: &Souk,
    token: &str,
    email: &str,
    name: &str,
    client: &Client,
) -> Result<IssuedSession, CoreError> {
    let token =
        SessionToken::from_cookie(token).ok_or(CoreError::invalid("token", "this link is not valid"))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    if store::admin_count(tx.conn()).await? > 0 {
        return Err(CoreError::invalid("token", "Souk already has an admin; ask them for an account"));
    }
    if store::consume_token(tx.conn(), &token.key().0, "admin_setup", now).await?
        != store::Consumed::Used(None)
    {
        return Err(CoreError::invalid(
            "token",
            "this link has expired or was already used; restart Souk for a new one",
        ));
    }
    let (id, verify) = insert_staff(souk, &mut tx, email, name, &[StaffRole::Admin]).await?;
    let auth = store::account_auth(tx.conn(), id).await?.ok_or(CoreError::NotFound("account"))?;
    let session = crate::identity::sessions::issue(souk, tx.conn(), &auth, "setup_link", client).await?;
    tx.record(&[Event {
        actor: Actor {
            kind: "account",
            id: id.to_string(),
            role: "admin".into(),
            credential: String::new(),
            ip: client.ip,
        },
        action: "staff.setup",
        target_kind: "account",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await?;
    // The address is confirmed separately: the setup link proved access to the server's
    // output, not to the mailbox.
    let link = souk.identity.link("/verify-email", &verify);
    let body = format!("Confirm the address of your Souk admin account:\n\n{link}\n");
    match crate::identity::signup::compose(souk, id, "Confirm your Souk admin address", &body).await {
        Ok(mail) => souk.identity.send_later(mail),
        Err(e) => tracing::warn!(error = %e, "could not compose the admin confirmation"),
    }
    Ok(session)
}
