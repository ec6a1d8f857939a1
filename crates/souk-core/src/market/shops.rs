//! Opening and running a shop: a seller opens one shop, its owner and managers edit its
//! profile, and its people see its private side (contact, status, staff, limits).

use souk_access::{Action, Resource};
use souk_crypto::{FieldContext, Sealed};
use souk_domain::catalog::Slug;
use souk_domain::ids::ShopId;
use souk_domain::shop::{SellerKind, ShopProfile, ShopStatus};
use souk_store::shops::{self as store, ProfileUpdate, ShopRecord};

use super::{LoadedShop, load_shop, owner_subject, require_shop_session};
use crate::audit::{AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::{CoreError, Souk};

/// What a seller types to open or edit a shop.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopInput {
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub return_policy: String,
    pub contact: String,
    /// `individual` or `business`.
    pub seller_kind: String,
}

impl ShopInput {
    fn validate(&self) -> Result<ShopProfile, CoreError> {
        let kind = SellerKind::parse(&self.seller_kind)
            .ok_or_else(|| CoreError::invalid("seller_kind", "use individual or business"))?;
        ShopProfile::validate(
            &self.name,
            &self.tagline,
            &self.description,
            &self.location,
            &self.return_policy,
            &self.contact,
            kind,
        )
        .map_err(|e| CoreError::invalid("shop", e))
    }
}

/// A shop as its people see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopView {
    pub id: ShopId,
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub return_policy: String,
    pub seller_kind: String,
    pub contact: String,
    pub status: ShopStatus,
    pub status_reason: String,
    pub owner: souk_domain::ids::AccountId,
    pub created_at: souk_domain::Timestamp,
}

fn contact_ctx(shop: &str) -> FieldContext<'_> {
    FieldContext { table: "shops", column: "contact", row_id: shop }
}

pub(crate) async fn view_of(
    souk: &Souk,
    conn: &mut sqlx::AnyConnection,
    r: &ShopRecord,
) -> Result<ShopView, CoreError> {
    let row = r.id.to_string();
    let owner = r.owner.to_string();
    let contact = match &r.contact_sealed {
        Some(bytes) => souk
            .keys
            .reveal(conn, owner_subject(&owner), &contact_ctx(&row), &Sealed::from_stored(bytes.clone()))
            .await?
            .display()
            .to_owned(),
        None => String::new(),
    };
    Ok(ShopView {
        id: r.id,
        slug: r.slug.clone(),
        name: r.name.clone(),
        tagline: r.tagline.clone(),
        description: r.description.clone(),
        location: r.location.clone(),
        return_policy: r.return_policy.clone(),
        seller_kind: r.seller_kind.clone(),
        contact,
        status: ShopStatus::parse(&r.status).unwrap_or(ShopStatus::Suspended),
        status_reason: r.status_reason.clone(),
        owner: r.owner,
        created_at: r.created_at,
    })
}

/// Opens the seller's shop. One shop per account; the slug is its storefront address.
pub async fn open(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    slug: &str,
    input: &ShopInput,
) -> Result<ShopView, CoreError> {
    require_shop_session(souk, principal).await?;
    crate::identity::require_confirmed_owner(principal)?;
    if principal.role != "seller" {
        return Err(CoreError::Conflict(
            "become a seller first (it needs a confirmed address and a second factor)".into(),
        ));
    }
    let slug = Slug::parse(slug).map_err(|e| CoreError::invalid("slug", e))?;
    let profile = input.validate()?;
    let now = souk.clock.now();
    let id = ShopId::new(now, souk.entropy.as_ref());
    let row = id.to_string();
    let owner = principal.account.to_string();
    let mut tx = AuditedTx::begin_write(souk).await?;
    if store::owned_by(tx.conn(), principal.account).await?.is_some() {
        return Err(CoreError::Conflict("this account already has a shop".into()));
    }
    let contact = souk
        .keys
        .seal(tx.conn(), owner_subject(&owner), &contact_ctx(&row), profile.contact.as_bytes(), now)
        .await?;
    let record = ShopRecord {
        id,
        owner: principal.account,
        slug: slug.as_str().to_owned(),
        name: profile.name,
        tagline: profile.tagline,
        description: profile.description,
        location: profile.location,
        return_policy: profile.return_policy,
        seller_kind: profile.kind.as_str().to_owned(),
        contact_sealed: Some(contact.as_bytes().to_vec()),
        status: ShopStatus::Unverified.as_str().to_owned(),
        status_reason: String::new(),
        created_at: now,
        updated_at: now,
    };
    match store::insert(tx.conn(), &record).await {
        Ok(()) => {}
        Err(souk_store::StoreError::Conflict { constraint }) if constraint.contains("slug") => {
            return Err(CoreError::Conflict("that shop address is taken; choose another".into()));
        }
        Err(souk_store::StoreError::Conflict { .. }) => {
            return Err(CoreError::Conflict("this account already has a shop".into()));
        }
        Err(e) => return Err(e.into()),
    }
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "shop.open",
        target_kind: "shop",
        target_id: row.clone(),
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "slug": record.slug, "seller_kind": record.seller_kind }),
    }])
    .await?;
    let view = view_of(souk, tx.conn(), &record).await?;
    tx.commit().await?;
    Ok(view)
}

/// Changes a shop's profile (owner and managers).
pub async fn update(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ShopId,
    input: &ShopInput,
) -> Result<ShopView, CoreError> {
    require_shop_session(souk, principal).await?;
    let profile = input.validate()?;
    let now = souk.clock.now();
    let mut tx = AuditedTx::begin(souk).await?;
    let LoadedShop { record, facts, .. } = load_shop(tx.conn(), id).await?;
    crate::authz::authorize(souk, &mut tx, principal, Action::ShopUpdate, &Resource::Shop(&facts), client)
        .await?;
    let row = id.to_string();
    let owner = record.owner.to_string();
    let contact = souk
        .keys
        .seal(tx.conn(), owner_subject(&owner), &contact_ctx(&row), profile.contact.as_bytes(), now)
        .await?;
    let update = ProfileUpdate {
        name: &profile.name,
        tagline: &profile.tagline,
        description: &profile.description,
        location: &profile.location,
        return_policy: &profile.return_policy,
        seller_kind: profile.kind.as_str(),
        contact_sealed: contact.as_bytes(),
    };
    store::update_profile(tx.conn(), id, &update, now).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "shop.update",
        target_kind: "shop",
        target_id: row,
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({ "name": profile.name }),
    }])
    .await?;
    let record = store::by_id(tx.conn(), id).await?.ok_or(CoreError::NotFound("shop"))?;
    let view = view_of(souk, tx.conn(), &record).await?;
    tx.commit().await?;
    Ok(view)
}

/// The shops the principal owns or works for, with the role held in each.
pub async fn mine(souk: &Souk, principal: &Principal) -> Result<Vec<(ShopView, String)>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let shops = store::shops_of(&mut conn, principal.account).await?;
    let mut out = Vec::with_capacity(shops.len());
    for (record, role) in shops {
        out.push((view_of(souk, &mut conn, &record).await?, role));
    }
    Ok(out)
}

/// A shop's private side, for its people and for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopDetail {
    pub shop: ShopView,
    pub members: Vec<store::Member>,
    pub active_listings: i64,
    /// The listing cap while unverified (`None` once verified).
    pub listing_limit: Option<u32>,
    /// The order value cap while unverified (`None` once verified).
    pub order_limit_minor: Option<i64>,
    pub payouts_held: bool,
}

/// Reads a shop's private side (`shop.view`).
pub async fn detail(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    id: ShopId,
) -> Result<ShopDetail, CoreError> {
    let mut conn = souk.store.conn().await?;
    let LoadedShop { record, facts, status } = match load_shop(&mut conn, id).await {
        Err(CoreError::NotFound(_)) => {
            // A shop that does not exist and one the caller may not see answer alike.
            return Err(CoreError::NotFound("shop"));
        }
        other => other?,
    };
    drop(conn);
    if let Err(e) =
        crate::authz::check(souk, principal, Action::ShopView, &Resource::Shop(&facts), client).await
    {
        return Err(match e {
            CoreError::Forbidden => CoreError::NotFound("shop"),
            other => other,
        });
    }
    let mut conn = souk.store.conn().await?;
    let members = store::members(&mut conn, id).await?;
    let active_listings = store::active_listing_count(&mut conn, id).await?;
    let shop = view_of(souk, &mut conn, &record).await?;
    let verified = status == ShopStatus::Verified;
    let cfg = &souk.market;
    Ok(ShopDetail {
        shop,
        members,
        active_listings,
        listing_limit: (!verified).then_some(cfg.unverified_max_active_listings),
        order_limit_minor: (!verified).then_some(cfg.unverified_max_order_minor),
        payouts_held: !verified && cfg.unverified_payouts_held,
    })
}
