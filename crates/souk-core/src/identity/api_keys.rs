//! API keys for sellers and integrators: shown once, stored as a hash, prefixed so secret
//! scanners find leaked ones, scoped, expiring, revocable, and audited. A key acts for its
//! account within its scopes only; it can never manage the account's security (sessions,
//! passwords, factors, other keys): those need a signed-in person.

use souk_domain::Timestamp;
use souk_identity::api_key::{ApiKeyToken, Scope, Scopes};
use souk_store::identity::api_keys::{self as store, ApiKeyRow};

use super::sessions::{principal_of, require_recent};
use super::{Client, Credential, Principal};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::{CoreError, Souk};

/// The longest a key may live.
pub const MAX_DAYS: u32 = 365;
const MAX_NAME: usize = 60;

/// A key as its owner sees it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked: bool,
}

/// A key just created: the token is shown this once.
#[derive(Debug)]
pub struct CreatedKey {
    pub token: ApiKeyToken,
    pub key: ApiKeyView,
}

fn view(r: ApiKeyRow) -> ApiKeyView {
    ApiKeyView {
        id: r.id,
        name: r.name,
        scopes: r.scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: Timestamp::from_micros(r.created_at),
        expires_at: Timestamp::from_micros(r.expires_at),
        last_used_at: r.last_used_at.map(Timestamp::from_micros),
        revoked: r.revoked_at.is_some(),
    }
}

/// Which scopes a role may grant its keys: least privilege, so a buyer's key cannot
/// write listings even before the marketplace checks the shop.
fn grantable(role: &str) -> Scopes {
    match role {
        "seller" | "staff" => Scope::ALL.into_iter().collect(),
        _ => [Scope::OrdersRead].into_iter().collect(),
    }
}

/// Creates a key (step-up required).
pub async fn create(
    souk: &Souk,
    principal: &Principal,
    name: &str,
    scopes: &str,
    days: u32,
    client: &Client,
) -> Result<CreatedKey, CoreError> {
    require_recent(souk, principal)?;
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    super::require_confirmed_owner(principal)?;
    // A key acts for a shop: sellers need their second factor before handing one out.
    super::require_mfa_policy(souk, principal).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(CoreError::invalid("name", format!("give the key a name of 1 to {MAX_NAME} characters")));
    }
    let scopes: Scopes = scopes.parse().map_err(|e| CoreError::invalid("scopes", e))?;
    if scopes.is_empty() {
        return Err(CoreError::invalid("scopes", "choose at least one scope"));
    }
    let allowed = grantable(&principal.role);
    if let Some(s) = scopes.iter().find(|s| !allowed.allows(*s)) {
        return Err(CoreError::invalid("scopes", format!("your account cannot grant {s}")));
    }
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(CoreError::invalid("expires_in_days", format!("between 1 and {MAX_DAYS} days")));
    }
    let (token, id, hash) = ApiKeyToken::generate(souk.entropy.as_ref());
    let now = souk.clock.now();
    let row = ApiKeyRow {
        id: id.as_str().to_owned(),
        account: principal.account,
        name: name.to_owned(),
        scopes: scopes.to_string(),
        created_at: now.as_micros(),
        expires_at: now.as_micros() + i64::from(days) * 86_400_000_000,
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = AuditedTx::begin(souk).await?;
    store::insert_api_key(tx.conn(), &hash.0, &row).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "api_key.create",
        target_kind: "api_key",
        target_id: row.id.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "scopes": row.scopes, "expires_in_days": days }),
    }])
    .await?;
    tx.commit().await?;
    Ok(CreatedKey { token, key: view(row) })
}

/// The principal's keys, newest first.
pub async fn list(souk: &Souk, principal: &Principal) -> Result<Vec<ApiKeyView>, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::api_keys_of(&mut conn, principal.account).await?.into_iter().map(view).collect())
}

/// Revokes one of the principal's keys; it stops working on its next request.
pub async fn revoke(souk: &Souk, principal: &Principal, id: &str, client: &Client) -> Result<(), CoreError> {
    crate::authz::own_account(souk, principal, souk_access::Action::AccountUpdate, client).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    if !store::revoke_api_key(tx.conn(), principal.account, id, souk.clock.now()).await? {
        return Err(CoreError::NotFound("API key"));
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "api_key.revoke",
        target_kind: "api_key",
        target_id: id.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({}),
    }])
    .await?;
    tx.commit().await
}

/// The principal behind a bearer token, if it is a live key. The token's shape and
/// checksum are checked before any lookup, so garbage costs no database work.
pub async fn authenticate(souk: &Souk, presented: &str) -> Result<Option<Principal>, CoreError> {
    let Some((_, token)) = ApiKeyToken::parse(presented) else { return Ok(None) };
    let hash = token.hash();
    let mut conn = souk.store.conn().await?;
    let Some((row, account)) = store::api_key_by_hash(&mut conn, &hash.0).await? else { return Ok(None) };
    let now = souk.clock.now();
    if row.expires_at <= now.as_micros() || account.disabled_at.is_some() {
        return Ok(None);
    }
    store::api_key_used(&mut conn, &row.id, now).await?;
    let scopes = row.scopes.split_whitespace().map(str::to_owned).collect();
    Ok(Some(principal_of(&account, Credential::ApiKey { id: row.id, scopes })))
}

/// Refuses unless the principal may act with `scope`: a session may do what its account
/// may; an API key only what its scopes grant.
pub fn require_scope(principal: &Principal, scope: Scope) -> Result<(), CoreError> {
    match &principal.credential {
        Credential::Session { .. } => Ok(()),
        Credential::ApiKey { scopes, .. } if scopes.iter().any(|s| s == scope.as_str()) => Ok(()),
        Credential::ApiKey { .. } => Err(CoreError::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buyers_grant_less_than_sellers() {
        assert!(grantable("seller").allows(Scope::ListingsWrite));
        assert!(!grantable("buyer").allows(Scope::ListingsWrite));
        assert!(!grantable("buyer").allows(Scope::PayoutsRead));
        assert!(grantable("buyer").allows(Scope::OrdersRead));
    }
}
