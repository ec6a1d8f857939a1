//! A shop's own staff: the owner invites people by email to a role (manager or
//! fulfilment) on that shop only, and removes them. An invitation link works once, before
//! it expires, and only for an account whose confirmed address is the one invited, so a
//! forwarded or leaked link grants nothing.

use souk_access::{Action, Resource};
use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, InvitationId, ShopId};
use souk_domain::shop::ShopRole;
use souk_identity::session::SessionToken;
use souk_store::shops as store;

use super::{LoadedShop, load_shop, require_shop_session};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::keys::Revealed;
use crate::{CoreError, Souk};

fn event(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    shop: ShopId,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "shop",
        target_id: shop.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

fn parse_role(role: &str) -> Result<ShopRole, CoreError> {
    ShopRole::parse(role).ok_or_else(|| CoreError::invalid("role", "use manager or fulfilment"))
}

/// Invites an address to the shop's staff and mails it the link. Returns the invitation id.
pub async fn invite(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    email: &str,
    role: &str,
) -> Result<InvitationId, CoreError> {
    require_shop_session(souk, principal).await?;
    let role = parse_role(role)?;
    let email = crate::identity::signup::valid_email(email)?;
    let email = email.as_str();
    let now = souk.clock.now();
    let ttl = i64::try_from(souk.market.invitation_ttl.as_micros()).unwrap_or(i64::MAX);
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, .. } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopManageStaff,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    let id = InvitationId::new(now, souk.entropy.as_ref());
    let token = SessionToken::generate(souk.entropy.as_ref());
    let invitation = store::Invitation {
        id,
        shop,
        email_index: souk.keys.email_index(email),
        role: role.as_str().to_owned(),
        invited_by: principal.account,
        created_at: now,
        expires_at: Timestamp::from_micros(now.as_micros().saturating_add(ttl)),
        accepted_at: None,
        revoked_at: None,
    };
    store::insert_invitation(tx.conn(), &invitation, &token.key().0).await?;
    tx.record(&[event(
        principal,
        client,
        "shop.invite",
        shop,
        serde_json::json!({ "invitation": id.to_string(), "role": role.as_str() }),
    )])
    .await?;
    tx.commit().await?;
    let link = souk.identity.link("/seller/invitations/accept", &token);
    let body = format!(
        "{} invited you to help run the shop \"{}\" on Souk as {}.\n\n\
         Sign in (or create an account) with this address, then open this link within {} days:\n\n{link}\n\n\
         If you did not expect this, ignore it: nothing happens unless you accept.",
        principal.handle,
        record.name,
        role.as_str(),
        souk.market.invitation_ttl.as_secs() / 86_400
    );
    souk.identity.send_later(crate::mail::Mail {
        to: email.to_owned(),
        subject: format!("You are invited to the shop \"{}\"", record.name),
        body: crate::identity::signup::with_phrase(None, &body),
    });
    Ok(id)
}

/// Accepts an invitation: the signed-in account must hold the invited, confirmed address.
pub async fn accept(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    token: &str,
) -> Result<ShopId, CoreError> {
    let invalid =
        || CoreError::invalid("token", "this invitation link is not valid (used, revoked or expired)");
    let token = SessionToken::from_cookie(token).ok_or_else(invalid)?;
    if principal.is_staff() || !matches!(principal.credential, crate::identity::Credential::Session { .. }) {
        return Err(CoreError::Forbidden);
    }
    crate::identity::require_confirmed_owner(principal)?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let inv = store::invitation_by_token(tx.conn(), &token.key().0).await?.ok_or_else(invalid)?;
    if inv.accepted_at.is_some() || inv.revoked_at.is_some() || inv.expires_at <= now {
        return Err(invalid());
    }
    let Revealed::Text(email) = crate::accounts::profile(souk, principal.account).await?.email else {
        return Err(CoreError::Forbidden);
    };
    if souk.keys.email_index(&email) != inv.email_index {
        return Err(CoreError::invalid(
            "token",
            "this invitation was sent to another address; sign in with that one",
        ));
    }
    let LoadedShop { facts, .. } = load_shop(tx.conn(), inv.shop).await?;
    if facts.owner == principal.account {
        return Err(CoreError::Conflict("you own this shop already".into()));
    }
    let mut conn = souk.store.conn().await?;
    let mfa = crate::identity::factors_enrolled(&mut conn, principal.account).await?;
    drop(conn);
    if souk.identity.config.sellers_need_mfa && !mfa {
        return Err(CoreError::MfaRequired);
    }
    if !store::accept_invitation(tx.conn(), inv.id, principal.account, now).await? {
        return Err(invalid());
    }
    store::upsert_member(tx.conn(), inv.shop, principal.account, &inv.role, inv.invited_by, now).await?;
    tx.record(&[event(
        principal,
        client,
        "shop.join",
        inv.shop,
        serde_json::json!({ "invitation": inv.id.to_string(), "role": inv.role }),
    )])
    .await?;
    tx.commit().await?;
    Ok(inv.shop)
}

/// Removes a member (owner only). Their next request already lacks the role.
pub async fn remove(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    member: AccountId,
) -> Result<(), CoreError> {
    require_shop_session(souk, principal).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { facts, .. } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopManageStaff,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    if !store::remove_member(tx.conn(), shop, member).await? {
        return Err(CoreError::NotFound("member"));
    }
    tx.record(&[event(
        principal,
        client,
        "shop.remove_member",
        shop,
        serde_json::json!({ "member": member.to_string() }),
    )])
    .await?;
    tx.commit().await
}

/// Revokes an open invitation (owner only).
pub async fn revoke(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    invitation: InvitationId,
) -> Result<(), CoreError> {
    require_shop_session(souk, principal).await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { facts, .. } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(
        souk,
        &mut tx,
        principal,
        Action::ShopManageStaff,
        &Resource::Shop(&facts),
        client,
    )
    .await?;
    if !store::revoke_invitation(tx.conn(), shop, invitation, now).await? {
        return Err(CoreError::NotFound("invitation"));
    }
    tx.record(&[event(
        principal,
        client,
        "shop.revoke_invitation",
        shop,
        serde_json::json!({ "invitation": invitation.to_string() }),
    )])
    .await?;
    tx.commit().await
}

/// The shop's invitations (owner only).
pub async fn invitations(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
) -> Result<Vec<store::Invitation>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let LoadedShop { facts, .. } = load_shop(&mut conn, shop).await?;
    drop(conn);
    crate::authz::check(souk, principal, Action::ShopManageStaff, &Resource::Shop(&facts), client).await?;
    let mut conn = souk.store.conn().await?;
    Ok(store::invitations(&mut conn, shop).await?)
}
