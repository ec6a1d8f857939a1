//! Sellers' listings: create and edit (with variants, stock and images), the unverified
//! shop's cap on active listings, the prohibited-item check, and staff takedowns.
//! A seller acts from a session that meets the MFA policy, or with an API key holding
//! `listings:write`.

use souk_access::{Action, Resource};
use souk_domain::catalog::{Category, ListingStatus};
use souk_domain::ids::{ImageId, ListingId, ShopId, VariantId};
use souk_domain::listing::{self as rules, ListingDraft, ListingError, VariantInput};
use souk_domain::shop::ShopStatus;
use souk_identity::api_key::Scope;
use souk_store::listings::{self as store, ImageRow, ListingRow, ListingUpdate, VariantRow};

use super::{LoadedShop, load_shop, notify};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Credential, Principal};
use crate::{CoreError, Souk};

/// The most images one listing may have.
pub const MAX_IMAGES: usize = 10;

/// What a seller sends for a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListingInput {
    pub title: String,
    pub description: String,
    pub category: String,
    /// draft, active or paused.
    pub status: String,
    pub variants: Vec<VariantInput>,
}

/// A listing with everything its seller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerListing {
    pub listing: ListingRow,
    pub variants: Vec<VariantRow>,
    pub images: Vec<ImageRow>,
}

async fn require_seller_credential(
    souk: &Souk,
    principal: &Principal,
    scope: Scope,
) -> Result<(), CoreError> {
    crate::identity::api_keys::require_scope(principal, scope)?;
    if matches!(principal.credential, Credential::Session { .. }) {
        crate::identity::require_mfa_policy(souk, principal).await?;
    }
    Ok(())
}

fn event(
    principal: &Principal,
    client: &Client,
    action: &'static str,
    id: ListingId,
    detail: serde_json::Value,
) -> Event {
    Event {
        actor: principal.actor(client.ip),
        action,
        target_kind: "listing",
        target_id: id.to_string(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail,
    }
}

fn listing_error(e: ListingError) -> CoreError {
    CoreError::invalid("listing", e)
}

async fn check_input(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    input: &ListingInput,
) -> Result<ListingDraft, CoreError> {
    let category = Category::from_slug(&input.category)
        .ok_or_else(|| CoreError::invalid("category", "not a category of GET /api/v1/categories"))?;
    let status = rules::seller_status(&input.status).map_err(listing_error)?;
    let draft = rules::validate(
        &input.title,
        &input.description,
        category,
        status,
        &input.variants,
        souk.market.currency,
        &souk.market.prohibited_keywords,
    );
    if let Err(ListingError::Prohibited(word)) = &draft {
        // Attempts to list prohibited items are a trust signal: kept for trust & safety.
        let mut tx = AuditedTx::begin(souk).await?;
        tx.record(&[Event {
            actor: principal.actor(client.ip),
            action: "listing.prohibited_attempt",
            target_kind: "account",
            target_id: principal.account.to_string(),
            outcome: Outcome::Denied,
            request_id: client.request_id.clone(),
            detail: serde_json::json!({ "keyword": word, "title": input.title.chars().take(140).collect::<String>() }),
        }])
        .await?;
        tx.commit().await?;
    }
    draft.map_err(listing_error)
}

/// Refuses to make one more listing active when the shop is over its unverified cap.
async fn check_active_cap(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    shop: ShopId,
    status: ShopStatus,
) -> Result<(), CoreError> {
    if status == ShopStatus::Verified {
        return Ok(());
    }
    let cap = souk.market.unverified_max_active_listings;
    let active = souk_store::shops::active_listing_count(conn, shop).await?;
    if active >= i64::from(cap) {
        return Err(CoreError::Conflict(format!(
            "a shop that is not verified may have {cap} active listings; get verified to list more"
        )));
    }
    Ok(())
}

fn variant_rows(souk: &Souk, listing: ListingId, draft: &ListingDraft) -> Vec<VariantRow> {
    let now = souk.clock.now();
    draft
        .variants
        .iter()
        .zip(0i64..)
        .map(|(v, position)| VariantRow {
            id: VariantId::new(now, souk.entropy.as_ref()),
            listing,
            sku: v.sku.clone(),
            name: v.name.clone(),
            price_minor: v.price.minor,
            currency: v.price.currency.code().to_owned(),
            stock: i64::from(v.stock),
            position,
            archived: false,
        })
        .collect()
}

/// Creates a listing in the shop (owner and managers).
/// The risk step's view of a new listing (decided and counted in its transaction): many
/// high-value listings from a new or unverified shop is a classic fraud pattern.
async fn observe_listing(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    status: ShopStatus,
    price_minor: i64,
) -> Result<(), CoreError> {
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::Listing);
    signals.subject = Some(id.to_string());
    signals.amount = Some(price_minor);
    signals.email = crate::risk::facts::email_of(souk, principal.account).await?;
    signals.facts.push(("shop_verified", souk_risk::Value::Bool(status == ShopStatus::Verified)));
    let signals = crate::risk::facts::of_account(souk, conn, principal.account, client, signals).await?;
    let mut events = vec![("listing", price_minor)];
    if price_minor >= HIGH_VALUE_LISTING_MINOR {
        events.push(("listing_high_value", price_minor));
    }
    crate::risk::observe(souk, conn, &signals, false, &events).await?;
    Ok(())
}

/// A listing priced at this or more (minor units) counts as high-value for risk.
pub const HIGH_VALUE_LISTING_MINOR: i64 = 100_000;

pub async fn create(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    input: &ListingInput,
) -> Result<ListingId, CoreError> {
    require_seller_credential(souk, principal, Scope::ListingsWrite).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { facts, status, .. } = load_shop(tx.conn(), shop).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::ListingCreate, &Resource::Shop(&facts), client)
        .await?;
    drop(tx);
    let draft = check_input(souk, principal, client, input).await?;
    let now = souk.clock.now();
    let id = ListingId::new(now, souk.entropy.as_ref());
    let mut tx = AuditedTx::begin(souk).await?;
    if draft.status == ListingStatus::Active {
        check_active_cap(souk, tx.conn(), shop, status).await?;
    }
    let from = draft.from_price().ok_or_else(|| listing_error(ListingError::VariantCount))?;
    let row = ListingRow {
        id,
        shop,
        title: draft.title.clone(),
        description: draft.description.clone(),
        category: draft.category.slug().to_owned(),
        status: draft.status.as_str().to_owned(),
        takedown_reason: String::new(),
        price_minor: from.minor,
        currency: from.currency.code().to_owned(),
        stock: i64::try_from(draft.total_stock()).unwrap_or(i64::MAX),
        created_at: now,
        updated_at: now,
    };
    let variants = variant_rows(souk, id, &draft);
    match store::insert(tx.conn(), &row, &variants).await {
        Err(souk_store::StoreError::Conflict { constraint }) if constraint.contains("sku") => {
            return Err(CoreError::Conflict("a SKU is already used by another listing of this shop".into()));
        }
        other => other?,
    }
    observe_listing(souk, tx.conn(), principal, client, id, status, from.minor).await?;
    tx.record(&[event(
        principal,
        client,
        "listing.create",
        id,
        serde_json::json!({ "shop": shop.to_string(), "status": row.status, "variants": variants.len() }),
    )])
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Loads a listing with its shop and decides `action` on it.
async fn load_for(
    souk: &Souk,
    tx: &mut AuditedTx<'_>,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    action: Action,
) -> Result<(ListingRow, LoadedShop), CoreError> {
    let row = store::by_id(tx.conn(), id).await?.ok_or(CoreError::NotFound("listing"))?;
    let shop = load_shop(tx.conn(), row.shop).await?;
    let resource = Resource::Listing { id, status: &row.status, shop: &shop.facts };
    crate::authz::authorize(souk, tx, principal, action, &resource, client).await?;
    Ok((row, shop))
}

/// Edits a listing (owner and managers). A listing staff took down stays down.
pub async fn update(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    input: &ListingInput,
) -> Result<(), CoreError> {
    require_seller_credential(souk, principal, Scope::ListingsWrite).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    let (row, shop) = load_for(souk, &mut tx, principal, client, id, Action::ListingUpdate).await?;
    drop(tx);
    if row.status == ListingStatus::Removed.as_str() {
        return Err(CoreError::Conflict(format!(
            "this listing was taken down by trust & safety ({}); it cannot be edited",
            row.takedown_reason
        )));
    }
    if !shop.status.can_sell() {
        return Err(CoreError::Forbidden);
    }
    let draft = check_input(souk, principal, client, input).await?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    if draft.status == ListingStatus::Active && row.status != ListingStatus::Active.as_str() {
        check_active_cap(souk, tx.conn(), row.shop, shop.status).await?;
    }
    let update = ListingUpdate {
        title: &draft.title,
        description: &draft.description,
        category: draft.category.slug(),
        status: draft.status.as_str(),
    };
    let variants = variant_rows(souk, id, &draft);
    match store::update(tx.conn(), &row, &update, &variants, now).await {
        Err(souk_store::StoreError::Conflict { constraint }) if constraint.contains("sku") => {
            return Err(CoreError::Conflict("a SKU is already used by another listing of this shop".into()));
        }
        other => other?,
    }
    tx.record(&[event(
        principal,
        client,
        "listing.update",
        id,
        serde_json::json!({ "status": draft.status.as_str(), "was": row.status, "variants": variants.len() }),
    )])
    .await?;
    tx.commit().await
}

/// A listing as its shop's people see it (any status).
pub async fn seller_view(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ListingId,
) -> Result<SellerListing, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::ListingsRead)?;
    let mut conn = souk.store.conn().await?;
    let listing = store::by_id(&mut conn, id).await?.ok_or(CoreError::NotFound("listing"))?;
    let shop = load_shop(&mut conn, listing.shop).await?;
    drop(conn);
    if crate::authz::check(souk, principal, Action::ShopView, &Resource::Shop(&shop.facts), client)
        .await
        .is_err()
    {
        return Err(CoreError::NotFound("listing"));
    }
    let mut conn = souk.store.conn().await?;
    let variants = store::variants(&mut conn, id, false).await?;
    let images = store::images(&mut conn, id).await?;
    Ok(SellerListing { listing, variants, images })
}

/// A shop's listings in every status (its people), newest first.
pub async fn of_shop(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    status: Option<&str>,
    after: Option<(souk_domain::Timestamp, ListingId)>,
    limit: u16,
) -> Result<Vec<ListingRow>, CoreError> {
    crate::identity::api_keys::require_scope(principal, Scope::ListingsRead)?;
    if let Some(s) = status
        && ListingStatus::parse(s).is_none()
    {
        return Err(CoreError::invalid("status", "use draft, active, paused or removed"));
    }
    let mut conn = souk.store.conn().await?;
    let loaded = load_shop(&mut conn, shop).await?;
    drop(conn);
    if crate::authz::check(souk, principal, Action::ShopView, &Resource::Shop(&loaded.facts), client)
        .await
        .is_err()
    {
        return Err(CoreError::NotFound("shop"));
    }
    let mut conn = souk.store.conn().await?;
    Ok(store::of_shop(&mut conn, shop, status, after, limit.clamp(1, 200)).await?)
}

/// Takes a listing down (trust & safety), with a reason shown to the shop.
pub async fn takedown(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    reason: &str,
) -> Result<(), CoreError> {
    let reason = souk_domain::shop::decision_reason(reason).map_err(|e| CoreError::invalid("reason", e))?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let (row, shop) = load_for(souk, &mut tx, principal, client, id, Action::ListingTakedown).await?;
    if row.status == ListingStatus::Removed.as_str() {
        return Err(CoreError::Conflict("the listing is already taken down".into()));
    }
    if !store::change_status(tx.conn(), id, &row.status, ListingStatus::Removed.as_str(), &reason, now)
        .await?
    {
        return Err(CoreError::Conflict("the listing changed meanwhile; try again".into()));
    }
    tx.record(&[event(
        principal,
        client,
        "listing.takedown",
        id,
        serde_json::json!({ "reason": reason, "was": row.status }),
    )])
    .await?;
    tx.commit().await?;
    let body = format!(
        "Your listing \"{}\" was taken down by Souk's trust & safety team.\n\nReason: {reason}\n\n\
         It is no longer visible. Repeated violations lead to the shop's suspension.",
        row.title
    );
    notify(souk, shop.record.owner, "A listing was taken down", &body).await;
    Ok(())
}

/// Adds an image to a listing: checked by content, re-encoded without metadata, with a
/// thumbnail for cards.
pub async fn add_image(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    bytes: &[u8],
    alt_text: &str,
) -> Result<ImageId, CoreError> {
    require_seller_credential(souk, principal, Scope::ListingsWrite).await?;
    let alt = souk_domain::catalog::display_text("alt_text", alt_text, 0, 200)
        .map_err(|e| CoreError::invalid("alt_text", e))?;
    let mut tx = AuditedTx::begin(souk).await?;
    let (row, _) = load_for(souk, &mut tx, principal, client, id, Action::ListingUpdate).await?;
    if store::images(tx.conn(), id).await?.len() >= MAX_IMAGES {
        return Err(CoreError::Conflict(format!("a listing has at most {MAX_IMAGES} images")));
    }
    drop(tx);
    let (image, thumb) = clean_image(bytes).await?;
    let now = souk.clock.now();
    let image_id = ImageId::new(now, souk.entropy.as_ref());
    let mut tx = AuditedTx::begin(souk).await?;
    let meta = ImageRow {
        id: image_id,
        listing: row.id,
        position: 0,
        media_type: image.media_type.to_owned(),
        width: i64::from(image.width),
        height: i64::from(image.height),
        alt_text: alt,
    };
    store::insert_image(tx.conn(), &meta, &image.bytes, &thumb.bytes, now).await?;
    tx.record(&[event(
        principal,
        client,
        "listing.image_add",
        id,
        serde_json::json!({ "image": image_id.to_string(), "bytes": image.bytes.len(), "width": image.width, "height": image.height }),
    )])
    .await?;
    tx.commit().await?;
    Ok(image_id)
}

/// Removes an image from a listing.
pub async fn remove_image(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ListingId,
    image: ImageId,
) -> Result<(), CoreError> {
    require_seller_credential(souk, principal, Scope::ListingsWrite).await?;
    let mut tx = AuditedTx::begin(souk).await?;
    load_for(souk, &mut tx, principal, client, id, Action::ListingUpdate).await?;
    if !store::delete_image(tx.conn(), id, image).await? {
        return Err(CoreError::NotFound("image"));
    }
    tx.record(&[event(
        principal,
        client,
        "listing.image_remove",
        id,
        serde_json::json!({ "image": image.to_string() }),
    )])
    .await?;
    tx.commit().await
}

/// A cleaned image ready to store.
pub(crate) struct CleanImage {
    pub media_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// The largest side of a listing card's thumbnail, in pixels.
const THUMBNAIL_SIDE: u32 = 480;

async fn clean_image(bytes: &[u8]) -> Result<(CleanImage, CleanImage), CoreError> {
    let _turn = super::decode_permit().await?;
    let bytes = bytes.to_vec();
    // Decoding is CPU-bound and may allocate up to the limits: off the async workers, and a
    // panic in a decoder ends this task, not the server.
    let (image, thumb) = tokio::task::spawn_blocking(move || {
        let image = souk_media::clean_image(&bytes, &souk_media::Limits::LISTING_IMAGE)?;
        let thumb = souk_media::thumbnail(&image, THUMBNAIL_SIDE)?;
        Ok::<_, souk_media::MediaError>((image, thumb))
    })
    .await
    .map_err(|_| CoreError::invalid("image", "the file could not be read"))?
    .map_err(|e| CoreError::invalid("image", e))?;
    let pack = |i: souk_media::CleanImage| CleanImage {
        media_type: i.kind().mime(),
        width: i.width(),
        height: i.height(),
        bytes: i.into_bytes(),
    };
    Ok((pack(image), pack(thumb)))
}

/// An image of one of the shop's listings in any status (drafts included), for its people.
pub async fn seller_image(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    listing: ListingId,
    image: ImageId,
    thumbnail: bool,
) -> Result<(String, Vec<u8>), CoreError> {
    let view = seller_view(souk, principal, client, listing).await?;
    if !view.images.iter().any(|i| i.id == image) {
        return Err(CoreError::NotFound("image"));
    }
    let mut conn = souk.store.conn().await?;
    store::image_content(&mut conn, image, thumbnail, false).await?.ok_or(CoreError::NotFound("image"))
}
