//! The demo marketplace: a handful of shops, their listings and some buyers, so a fresh
//! install shows a living storefront. Loading it twice changes nothing.

mod catalogue;
mod orders;
mod pictures;

use sha2::{Digest as _, Sha256};
use souk_domain::catalog::{NewListing, Slug, display_text};
use souk_domain::ids::{AccountId, ImageId, ListingId, ShopId};
use souk_domain::{Currency, Money};
use souk_store::catalog::{self as store, NewShop, Role};
use uuid::Uuid;

use crate::{CoreError, Souk};

/// How many demo rows were new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoReport {
    pub accounts: u32,
    pub shops: u32,
    pub listings: u32,
    pub orders: u32,
}

impl DemoReport {
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.accounts == 0 && self.shops == 0 && self.listings == 0 && self.orders == 0
    }
}

/// Demo rows get ids derived from their names (UUID version 8 over SHA-256), so a second
/// load finds the rows of the first and inserts nothing.
fn demo_uuid(kind: &str, key: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(b"souk-demo\0")
        .chain_update(kind)
        .chain_update(b"\0")
        .chain_update(key)
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// Loads the demo marketplace in one transaction. Idempotent.
pub async fn load(souk: &Souk) -> Result<DemoReport, CoreError> {
    let now = souk.clock.now();
    let mut report = DemoReport::default();
    let mut tx = crate::audit::AuditedTx::begin(souk).await?;

    for (i, (handle, name, email, address)) in catalogue::BUYERS.iter().enumerate() {
        let id = AccountId::from_uuid(demo_uuid("account", handle));
        let at = now.plus_micros(-(i64::try_from(i).unwrap_or(0) + 1) * 86_400_000_000);
        if store::insert_account_if_absent(tx.conn(), id, handle, Role::Buyer, at).await? {
            report.accounts += 1;
            crate::accounts::set_profile(souk, tx.conn(), id, email, name, Some(address)).await?;
        }
    }

    let mut age = 0i64;
    for shop in catalogue::SHOPS {
        let owner = AccountId::from_uuid(demo_uuid("account", shop.owner));
        if store::insert_account_if_absent(tx.conn(), owner, shop.owner, Role::Seller, now).await? {
            report.accounts += 1;
            let email = format!("{}@{}.example", shop.owner.replace('_', "."), shop.slug);
            crate::accounts::set_profile(souk, tx.conn(), owner, &email, shop.name, None).await?;
        }
        let shop_id = ShopId::from_uuid(demo_uuid("shop", shop.slug));
        let new_shop = NewShop {
            id: shop_id,
            owner,
            slug: Slug::parse(shop.slug).map_err(|e| CoreError::invalid("demo shop slug", e))?,
            name: display_text("shop name", shop.name, 2, 80)
                .map_err(|e| CoreError::invalid("demo shop", e))?,
            tagline: shop.tagline.to_owned(),
            description: shop.description.to_owned(),
            location: shop.location.to_owned(),
            created_at: now.plus_micros(-90 * 86_400_000_000),
        };
        if store::insert_shop_if_absent(tx.conn(), &new_shop).await? {
            report.shops += 1;
        }
        for item in shop.listings {
            // Spread creation times so "newest first" interleaves the shops believably.
            age += 37;
            let listing = NewListing::validate(
                ListingId::from_uuid(demo_uuid("listing", &format!("{}/{}", shop.slug, item.title))),
                shop_id,
                item.title,
                item.description,
                item.category,
                Money::new(item.price_cents, Currency::EUR),
                item.stock,
                now.plus_micros(-age * 60_000_000),
            )
            .map_err(|e| CoreError::invalid("demo listing", e))?;
            if store::insert_listing_if_absent(tx.conn(), &listing).await? {
                report.listings += 1;
                let seed = *listing.id.as_uuid().as_bytes();
                let image = souk_store::listings::ImageRow {
                    id: ImageId::from_uuid(demo_uuid("image", &listing.id.to_string())),
                    listing: listing.id,
                    position: 0,
                    media_type: "image/png".into(),
                    width: 480,
                    height: 360,
                    alt_text: item.title.to_owned(),
                };
                let full = pictures::picture(&seed, 480, 360);
                let thumb = pictures::picture(&seed, 240, 180);
                souk_store::listings::insert_image(tx.conn(), &image, &full, &thumb, now).await?;
            }
        }
    }
    report.orders = load_orders(souk, tx.conn(), now).await?;
    if report.is_empty() {
        // Nothing changed: the transaction rolls back on drop.
        return Ok(report);
    }
    let event = crate::audit::Event {
        actor: crate::audit::Actor::system(),
        action: "demo.load",
        target_kind: "marketplace",
        target_id: String::new(),
        outcome: crate::audit::Outcome::Success,
        request_id: String::new(),
        detail: serde_json::json!({
            "accounts": report.accounts, "shops": report.shops, "listings": report.listings,
            "orders": report.orders
        }),
    };
    tx.record(&[event]).await?;
    tx.commit().await?;
    tracing::info!(?report, "demo marketplace loaded");
    Ok(report)
}

/// Each buyer bought from two shops; the orders completed and were reviewed. Returns how
/// many orders were new.
async fn load_orders(
    souk: &Souk,
    tx: &mut sqlx::AnyConnection,
    now: souk_domain::Timestamp,
) -> Result<u32, CoreError> {
    let mut added = 0;
    let shops = catalogue::SHOPS;
    for (i, (handle, name, _, address)) in catalogue::BUYERS.iter().enumerate() {
        let buyer = AccountId::from_uuid(demo_uuid("account", handle));
        for (j, offset) in [0usize, 3].into_iter().enumerate() {
            let Some(shop) = shops.get((i + offset) % shops.len()) else { continue };
            let Some(item) = shop.listings.get(i % shop.listings.len().max(1)) else { continue };
            let id = ListingId::from_uuid(demo_uuid("listing", &format!("{}/{}", shop.slug, item.title)));
            let Some(listing) = souk_store::listings::by_id(tx, id).await? else { continue };
            let Some(variant) = souk_store::listings::variants(tx, id, false).await?.into_iter().next()
            else {
                continue;
            };
            let purchase = orders::Purchase {
                buyer,
                buyer_handle: handle,
                buyer_name: name,
                address,
                listing,
                variant,
                days_ago: i64::try_from(30 + i * 7 + j * 3).unwrap_or(30),
                review: i + j,
            };
            if orders::purchase(souk, tx, &purchase, now).await? {
                added += 1;
            }
        }
    }
    Ok(added)
}

/// Whether the catalog is empty (a fresh install), in which case `serve` loads the demo.
pub async fn catalog_is_empty(souk: &Souk) -> Result<bool, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::listing_count(&mut conn).await? == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_ids_are_stable_and_distinct() {
        assert_eq!(demo_uuid("shop", "a"), demo_uuid("shop", "a"));
        assert_ne!(demo_uuid("shop", "a"), demo_uuid("listing", "a"));
        assert_eq!(demo_uuid("shop", "a").get_version_num(), 8);
    }

    #[test]
    fn every_demo_listing_is_valid() {
        for shop in catalogue::SHOPS {
            assert!(Slug::parse(shop.slug).is_ok(), "{}", shop.slug);
            assert!(!shop.listings.is_empty());
            for item in shop.listings {
                assert!(item.price_cents > 0 && item.title.len() >= 3, "{}", item.title);
            }
        }
    }
}
