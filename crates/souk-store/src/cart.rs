//! Carts: a buyer's lines (a variant and a quantity), read back with what the storefront
//! says now (price, stock, whether the listing and its shop can still sell).

use souk_domain::Timestamp;
use souk_domain::ids::{AccountId, ListingId, ShopId, VariantId};
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// A cart line joined with its variant, listing and shop as they are now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub variant: VariantId,
    pub quantity: i64,
    pub added_at: Timestamp,
    pub sku: String,
    pub variant_name: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub variant_archived: bool,
    pub listing: ListingId,
    pub title: String,
    pub listing_status: String,
    pub shop: ShopId,
    pub shop_name: String,
    pub shop_slug: String,
    pub shop_status: String,
    pub shop_owner: AccountId,
}

/// Sets a line's quantity (adding the line if new).
pub async fn set_line(
    conn: &mut AnyConnection,
    account: AccountId,
    variant: VariantId,
    quantity: u32,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cart_lines (account_id, variant_id, quantity, added_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, variant_id) DO UPDATE SET quantity = excluded.quantity",
    )
    .bind(account.to_string())
    .bind(variant.to_string())
    .bind(i64::from(quantity))
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_line(
    conn: &mut AnyConnection,
    account: AccountId,
    variant: VariantId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM cart_lines WHERE account_id = $1 AND variant_id = $2")
        .bind(account.to_string())
        .bind(variant.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn clear(conn: &mut AnyConnection, account: AccountId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM cart_lines WHERE account_id = $1")
        .bind(account.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The buyer's lines, grouped by shop then in the order they were added.
pub async fn lines(conn: &mut AnyConnection, account: AccountId) -> Result<Vec<CartLine>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.variant_id, c.quantity, c.added_at, v.sku, v.name AS variant_name, v.price_minor, v.currency, \
         v.stock, v.archived_at, l.id AS listing_id, l.title, l.status AS listing_status, s.id AS shop_id, \
         s.name AS shop_name, s.slug AS shop_slug, s.status AS shop_status, s.owner_id \
         FROM cart_lines c JOIN listing_variants v ON v.id = c.variant_id JOIN listings l ON l.id = v.listing_id \
         JOIN shops s ON s.id = l.shop_id WHERE c.account_id = $1 ORDER BY s.name, s.id, c.added_at, c.variant_id",
    )
    .bind(account.to_string())
    .fetch_all(conn)
    .await?;
    let parse =
        |r: &sqlx::any::AnyRow, c: &str| -> Result<String, StoreError> { Ok(r.try_get::<String, _>(c)?) };
    rows.iter()
        .map(|r| {
            Ok(CartLine {
                variant: parse(r, "variant_id")?.parse().map_err(StoreError::corrupt)?,
                quantity: r.try_get("quantity")?,
                added_at: Timestamp::from_micros(r.try_get("added_at")?),
                sku: r.try_get("sku")?,
                variant_name: r.try_get("variant_name")?,
                price_minor: r.try_get("price_minor")?,
                currency: r.try_get("currency")?,
                stock: r.try_get("stock")?,
                variant_archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
                listing: parse(r, "listing_id")?.parse().map_err(StoreError::corrupt)?,
                title: r.try_get("title")?,
                listing_status: r.try_get("listing_status")?,
                shop: parse(r, "shop_id")?.parse().map_err(StoreError::corrupt)?,
                shop_name: r.try_get("shop_name")?,
                shop_slug: r.try_get("shop_slug")?,
                shop_status: r.try_get("shop_status")?,
                shop_owner: parse(r, "owner_id")?.parse().map_err(StoreError::corrupt)?,
            })
        })
        .collect()
}
