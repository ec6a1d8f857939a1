//! A shop's webhook endpoints: registered, listed, changed, deleted and their signing
//! secret rotated by the shop's owner and managers (Cedar's `webhook.manage`; API keys need
//! `webhooks:manage`), anyone else gets 404. The URL passes the SSRF guard at registration
//! (and again at every delivery). The secret is shown once, when it is made; it is sealed
//! under the endpoint's own data key, which is destroyed with the endpoint.

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use souk_access::{Action, Resource};
use souk_crypto::{FieldContext, Sealed, Subject};
use souk_domain::ids::{ShopId, new_uuid_v7};
use souk_domain::{Entropy, Timestamp};
use souk_identity::api_key::Scope;
use souk_store::webhooks::{self as store, EndpointRow};
use sqlx::AnyConnection;

use super::EventType;
use super::destination::{self, DestinationError};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP_MICROS: i64 = 24 * 3_600 * 1_000_000;

/// An endpoint as its owners see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointView {
    pub id: String,
    pub shop: ShopId,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: String,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<EndpointRow> for EndpointView {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            shop: r.shop,
            url: r.url,
            description: r.description,
            events: r.event_types.split(' ').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            enabled: r.status == "enabled",
            disabled_reason: r.disabled_reason,
            previous_secret_until: r.previous_secret_until,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// What a registration or an edit asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A new endpoint with its secret, shown this once.
#[derive(Debug)]
pub struct Created {
    pub endpoint: EndpointView,
    pub secret: SecretString,
}

pub(crate) fn subject(id: &str) -> Subject<'_> {
    Subject { kind: "webhook_endpoint", id }
}

pub(crate) fn secret_ctx(id: &str) -> FieldContext<'_> {
    FieldContext { table: "webhook_endpoints", column: "secret_sealed", row_id: id }
}

pub(crate) fn previous_ctx(id: &str) -> FieldContext<'_> {
    FieldContext { table: "webhook_endpoints", column: "previous_secret_sealed", row_id: id }
}

fn new_secret(entropy: &dyn Entropy) -> SecretString {
    let mut bytes = zeroize::Zeroizing::new([0_u8; 32]);
    entropy.fill(bytes.as_mut());
    SecretString::from(format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref())
    ))
}

/// Why a destination was refused, as the caller sees it (422, naming the reason).
fn refused(e: &DestinationError) -> CoreError {
    CoreError::Unacceptable { field: "url", reason: e.to_string() }
}

/// Checks a URL with the SSRF guard (its form, then every address its host resolves to).
async fn check_destination(souk: &Souk, url: &str) -> Result<String, CoreError> {
    if url.len() > 2_048 {
        return Err(CoreError::invalid("url", "at most 2048 characters"));
    }
    let allow = souk.webhooks.config.allow_private_destinations;
    let dest = destination::resolve(url, allow).await.map_err(|e| refused(&e))?;
    Ok(dest.url.to_string())
}

fn event_types(events: &[String]) -> Result<String, CoreError> {
    if events.is_empty() {
        return Err(CoreError::invalid("events", "subscribe to at least one event"));
    }
    let mut types: Vec<&'static str> = Vec::new();
    for e in events {
        let t = EventType::parse(e).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            CoreError::invalid("events", format!("unknown event {e:?}; known: {}", known.join(", ")))
        })?;
        if !types.contains(&t.as_str()) {
            types.push(t.as_str());
        }
    }
    Ok(types.join(" "))
}

fn description(text: Option<&str>) -> Result<String, CoreError> {
    souk_domain::catalog::display_text("description", text.unwrap_or_default(), 0, 200)
        .map_err(|e| CoreError::invalid("description", e))
}

/// The shop's webhooks may be managed by the principal, or the shop is `NotFound` to them
/// (a refusal is recorded; outsiders learn nothing about the shop or its endpoints).
async fn authorize(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    missing: &'static str,
) -> Result<crate::market::LoadedShop, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::WebhooksManage)
        .map_err(|_| CoreError::NotFound(missing))?;
    let mut conn = souk.store.conn().await?;
    let loaded = load_shop(&mut conn, shop).await.map_err(|_| CoreError::NotFound(missing))?;
    drop(conn);
    match crate::authz::check(souk, principal, Action::WebhookManage, &Resource::Shop(&loaded.facts), client)
        .await
    {
        Ok(()) => Ok(loaded),
        Err(CoreError::Forbidden) => Err(CoreError::NotFound(missing)),
        Err(e) => Err(e),
    }
}

/// Loads an endpoint the principal may manage, or `NotFound`.
pub(crate) async fn owned(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<EndpointRow, CoreError> {
    let mut conn = souk.store.conn().await?;
    let row = store::endpoint(&mut conn, id).await?.ok_or(CoreError::NotFound("webhook endpoint"))?;
    drop(conn);
    authorize(souk, principal, client, row.shop, "webhook endpoint").await?;
    Ok(row)
}

/// What the audit log keeps of a URL: its host (paths often carry a receiver's own token).
fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}

fn audit(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    id: &str,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "webhook_endpoint",
        target_id: id.to_owned(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

/// Registers an endpoint for a shop; answers it with its secret (shown this once).
pub async fn create(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    input: &EndpointInput,
) -> Result<Created, CoreError> {
    authorize(souk, principal, client, shop, "shop").await?;
    let url =
        check_destination(souk, input.url.as_deref().ok_or_else(|| CoreError::invalid("url", "required"))?)
            .await?;
    let types = event_types(input.events.as_deref().unwrap_or_default())?;
    let description = description(input.description.as_deref())?;
    let now = souk.clock.now();
    let id = new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let secret = new_secret(souk.entropy.as_ref());
    let mut tx = AuditedTx::begin(souk).await?;
    let sealed = souk
        .keys
        .seal(tx.conn(), subject(&id), &secret_ctx(&id), secret.expose_secret().as_bytes(), now)
        .await?;
    let enabled = input.enabled.unwrap_or(true);
    let row = EndpointRow {
        id: id.clone(),
        shop,
        url,
        description,
        event_types: types,
        secret_sealed: sealed.as_bytes().to_vec(),
        previous_secret_sealed: None,
        previous_secret_until: None,
        status: if enabled { "enabled" } else { "disabled" }.to_owned(),
        disabled_reason: String::new(),
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_endpoint(tx.conn(), &row).await?;
    tx.record(&[audit(
        principal,
        client,
        "webhook.endpoint.create",
        &id,
        serde_json::json!({ "shop": shop.to_string(), "host": host_of(&row.url), "events": row.event_types }),
    )])
    .await?;
    tx.commit().await?;
    Ok(Created { endpoint: row.into(), secret })
}

/// A shop's endpoints.
pub async fn list(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
) -> Result<Vec<EndpointView>, CoreError> {
    authorize(souk, principal, client, shop, "shop").await?;
    let mut conn = souk.store.conn().await?;
    Ok(store::endpoints_of_shop(&mut conn, shop).await?.into_iter().map(EndpointView::from).collect())
}

/// One endpoint.
pub async fn get(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<EndpointView, CoreError> {
    Ok(owned(souk, principal, client, id).await?.into())
}

/// Changes an endpoint's URL (checked again), description, events or whether it is enabled.
pub async fn update(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
    input: &EndpointInput,
) -> Result<EndpointView, CoreError> {
    let mut row = owned(souk, principal, client, id).await?;
    if let Some(url) = &input.url {
        row.url = check_destination(souk, url).await?;
    }
    if let Some(events) = &input.events {
        row.event_types = event_types(events)?;
    }
    if input.description.is_some() {
        row.description = description(input.description.as_deref())?;
    }
    if let Some(enabled) = input.enabled {
        if enabled { "enabled" } else { "disabled" }.clone_into(&mut row.status);
        if enabled { "" } else { "disabled by the shop" }.clone_into(&mut row.disabled_reason);
    }
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    if !store::update_endpoint(tx.conn(), &row, now).await? {
        return Err(CoreError::NotFound("webhook endpoint"));
    }
    tx.record(&[audit(
        principal,
        client,
        "webhook.endpoint.update",
        id,
        serde_json::json!({ "host": host_of(&row.url), "events": row.event_types, "status": row.status }),
    )])
    .await?;
    tx.commit().await?;
    let mut conn = souk.store.conn().await?;
    Ok(store::endpoint(&mut conn, id).await?.ok_or(CoreError::NotFound("webhook endpoint"))?.into())
}

/// Deletes an endpoint with its delivery log, and destroys its secret's key.
pub async fn delete(souk: &Souk, principal: &Principal, client: &Client, id: &str) -> Result<(), CoreError> {
    let row = owned(souk, principal, client, id).await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    if !store::delete_endpoint(tx.conn(), id).await? {
        return Err(CoreError::NotFound("webhook endpoint"));
    }
    souk.keys.shred(tx.conn(), subject(id), now).await?;
    tx.record(&[audit(
        principal,
        client,
        "webhook.endpoint.delete",
        id,
        serde_json::json!({ "host": host_of(&row.url) }),
    )])
    .await?;
    tx.commit().await
}

/// Replaces the signing secret; the previous one keeps signing (a second `v1`) for 24
/// hours, so receivers can switch without missing a delivery. Answers the new secret once.
pub async fn rotate_secret(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: &str,
) -> Result<Created, CoreError> {
    owned(souk, principal, client, id).await?;
    let now = souk.clock.now();
    let secret = new_secret(souk.entropy.as_ref());
    let mut tx = AuditedTx::begin_write(souk).await?;
    // Read under the write lock: two rotations at once keep a consistent pair.
    let row = store::endpoint(tx.conn(), id).await?.ok_or(CoreError::NotFound("webhook endpoint"))?;
    let current = reveal(souk, tx.conn(), id, &row.secret_sealed, &secret_ctx(id)).await?;
    let previous = souk
        .keys
        .seal(tx.conn(), subject(id), &previous_ctx(id), current.expose_secret().as_bytes(), now)
        .await?;
    let sealed = souk
        .keys
        .seal(tx.conn(), subject(id), &secret_ctx(id), secret.expose_secret().as_bytes(), now)
        .await?;
    let until = now.plus_micros(ROTATION_OVERLAP_MICROS);
    if !store::rotate_secret(tx.conn(), id, sealed.as_bytes(), previous.as_bytes(), until, now).await? {
        return Err(CoreError::NotFound("webhook endpoint"));
    }
    tx.record(&[audit(
        principal,
        client,
        "webhook.endpoint.rotate_secret",
        id,
        serde_json::json!({ "previous_secret_until": until.to_rfc3339() }),
    )])
    .await?;
    tx.commit().await?;
    let mut conn = souk.store.conn().await?;
    let row = store::endpoint(&mut conn, id).await?.ok_or(CoreError::NotFound("webhook endpoint"))?;
    Ok(Created { endpoint: row.into(), secret })
}

/// Opens a sealed secret of an endpoint.
pub(crate) async fn reveal(
    souk: &Souk,
    conn: &mut AnyConnection,
    id: &str,
    sealed: &[u8],
    ctx: &FieldContext<'_>,
) -> Result<SecretString, CoreError> {
    match souk.keys.reveal(conn, subject(id), ctx, &Sealed::from_stored(sealed.to_vec())).await? {
        crate::keys::Revealed::Text(t) => Ok(SecretString::from(t)),
        crate::keys::Revealed::Erased => Err(CoreError::NotFound("webhook endpoint")),
    }
}
