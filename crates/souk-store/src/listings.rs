//! Listing persistence as sellers manage it: listings in every status, their variants
//! (matched by SKU on edit; a removed variant is archived, never deleted, so orders keep
//! pointing at it), their images, and the summaries (`price_minor`, `stock`) the storefront
//! reads, recomputed in the same transaction as every change.

use souk_domain::Timestamp;
use souk_domain::ids::{ImageId, ListingId, ShopId, VariantId};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::StoreError;

fn typed<T: std::str::FromStr>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(column)?;
    raw.parse::<T>().map_err(|_| StoreError::corrupt(format!("{column}: {raw:?}")))
}

/// A listing as stored, in any status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRow {
    pub id: ListingId,
    pub shop: ShopId,
    pub title: String,
    pub description: String,
    pub category: String,
    pub status: String,
    pub takedown_reason: String,
    /// The lowest active variant's price.
    pub price_minor: i64,
    pub currency: String,
    /// All active variants' stock.
    pub stock: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const LISTING_COLUMNS: &str = "id, shop_id, title, description, category, status, takedown_reason, price_minor, \
     currency, stock, created_at, updated_at";

fn listing_of(r: &AnyRow) -> Result<ListingRow, StoreError> {
    Ok(ListingRow {
        id: typed(r, "id")?,
        shop: typed(r, "shop_id")?,
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        category: r.try_get("category")?,
        status: r.try_get("status")?,
        takedown_reason: r.try_get("takedown_reason")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        stock: r.try_get("stock")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        updated_at: Timestamp::from_micros(r.try_get("updated_at")?),
    })
}

/// A variant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantRow {
    pub id: VariantId,
    pub listing: ListingId,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: i64,
    pub position: i64,
    pub archived: bool,
}

const VARIANT_COLUMNS: &str =
    "id, listing_id, sku, name, price_minor, currency, stock, position, archived_at";

fn variant_of(r: &AnyRow) -> Result<VariantRow, StoreError> {
    Ok(VariantRow {
        id: typed(r, "id")?,
        listing: typed(r, "listing_id")?,
        sku: r.try_get("sku")?,
        name: r.try_get("name")?,
        price_minor: r.try_get("price_minor")?,
        currency: r.try_get("currency")?,
        stock: r.try_get("stock")?,
        position: r.try_get("position")?,
        archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
    })
}

/// A new listing with its variants.
pub async fn insert(
    conn: &mut AnyConnection,
    l: &ListingRow,
    variants: &[VariantRow],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO listings (id, shop_id, title, description, category, price_minor, currency, stock, status, \
         created_at, updated_at, takedown_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '')",
    )
    .bind(l.id.to_string())
    .bind(l.shop.to_string())
    .bind(l.title.as_str())
    .bind(l.description.as_str())
    .bind(l.category.as_str())
    .bind(l.price_minor)
    .bind(l.currency.as_str())
    .bind(l.stock)
    .bind(l.status.as_str())
    .bind(l.created_at.as_micros())
    .bind(l.updated_at.as_micros())
    .execute(&mut *conn)
    .await?;
    for v in variants {
        insert_variant(conn, l.shop, v).await?;
    }
    Ok(())
}

async fn insert_variant(conn: &mut AnyConnection, shop: ShopId, v: &VariantRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO listing_variants (id, listing_id, shop_id, sku, name, price_minor, currency, stock, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(v.id.to_string())
    .bind(v.listing.to_string())
    .bind(shop.to_string())
    .bind(v.sku.as_str())
    .bind(v.name.as_str())
    .bind(v.price_minor)
    .bind(v.currency.as_str())
    .bind(v.stock)
    .bind(v.position)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn by_id(conn: &mut AnyConnection, id: ListingId) -> Result<Option<ListingRow>, StoreError> {
    let sql = format!("SELECT {LISTING_COLUMNS} FROM listings WHERE id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(listing_of).transpose()
}

/// A shop's listings in every status (or one), newest first, after `(created_at, id)`.
pub async fn of_shop(
    conn: &mut AnyConnection,
    shop: ShopId,
    status: Option<&str>,
    after: Option<(Timestamp, ListingId)>,
    limit: u16,
) -> Result<Vec<ListingRow>, StoreError> {
    let (at, id) = after.map_or((i64::MAX, String::from("~")), |(t, i)| (t.as_micros(), i.to_string()));
    let sql = format!(
        "SELECT {LISTING_COLUMNS} FROM listings WHERE shop_id = $1 AND ($2 = '' OR status = $2) \
         AND (created_at < $3 OR (created_at = $3 AND id < $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(shop.to_string())
        .bind(status.unwrap_or(""))
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(conn)
        .await?;
    rows.iter().map(listing_of).collect()
}

/// The listing's variants in display order (archived ones too when asked).
pub async fn variants(
    conn: &mut AnyConnection,
    listing: ListingId,
    archived: bool,
) -> Result<Vec<VariantRow>, StoreError> {
    let sql = format!(
        "SELECT {VARIANT_COLUMNS} FROM listing_variants WHERE listing_id = $1 AND ($2 = 1 OR archived_at IS NULL) \
         ORDER BY position, id"
    );
    // SAFETY of the SQL: built only from constants of this module.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(listing.to_string())
        .bind(i64::from(archived))
        .fetch_all(conn)
        .await?;
    rows.iter().map(variant_of).collect()
}

/// One variant by id, whatever its state.
pub async fn variant(conn: &mut AnyConnection, id: VariantId) -> Result<Option<VariantRow>, StoreError> {
    let sql = format!("SELECT {VARIANT_COLUMNS} FROM listing_variants WHERE id = $1");
    // SAFETY of the SQL: built only from constants of this module.
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(conn).await?;
    row.as_ref().map(variant_of).transpose()
}

/// The editable fields of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingUpdate<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub status: &'a str,
}

/// Rewrites a listing and its variants: variants are matched by SKU (kept ids, so carts
/// and orders stay valid), new SKUs are added with the ids given, missing ones archived.
pub async fn update(
    conn: &mut AnyConnection,
    row: &ListingRow,
    u: &ListingUpdate<'_>,
    variants: &[VariantRow],
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE listings SET title = $1, description = $2, category = $3, status = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(u.title)
    .bind(u.description)
    .bind(u.category)
    .bind(u.status)
    .bind(now.as_micros())
    .bind(row.id.to_string())
    .execute(&mut *conn)
    .await?;
    let existing = self::variants(conn, row.id, true).await?;
    for v in variants {
        match existing.iter().find(|e| e.sku == v.sku) {
            Some(e) => {
                sqlx::query(
                    "UPDATE listing_variants SET name = $1, price_minor = $2, stock = $3, position = $4, \
                     archived_at = NULL WHERE id = $5",
                )
                .bind(v.name.as_str())
                .bind(v.price_minor)
                .bind(v.stock)
                .bind(v.position)
                .bind(e.id.to_string())
                .execute(&mut *conn)
                .await?;
            }
            None => insert_variant(conn, row.shop, v).await?,
        }
    }
    for e in existing.iter().filter(|e| !e.archived && !variants.iter().any(|v| v.sku == e.sku)) {
        sqlx::query("UPDATE listing_variants SET archived_at = $1 WHERE id = $2")
            .bind(now.as_micros())
            .bind(e.id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    refresh_summary(conn, row.id).await
}

/// Recomputes the storefront's summary of a listing from its active variants.
pub async fn refresh_summary(conn: &mut AnyConnection, listing: ListingId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE listings SET \
         price_minor = COALESCE((SELECT MIN(v.price_minor) FROM listing_variants v WHERE v.listing_id = $1 AND v.archived_at IS NULL), price_minor), \
         stock = COALESCE((SELECT SUM(v.stock) FROM listing_variants v WHERE v.listing_id = $1 AND v.archived_at IS NULL), 0) \
         WHERE id = $1",
    )
    .bind(listing.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the status (and takedown reason); false if the listing was not in `from`.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: ListingId,
    from: &str,
    to: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE listings SET status = $1, takedown_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5",
    )
    .bind(to)
    .bind(reason)
    .bind(now.as_micros())
    .bind(id.to_string())
    .bind(from)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An image's description (its bytes are read separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub id: ImageId,
    pub listing: ListingId,
    pub position: i64,
    pub media_type: String,
    pub width: i64,
    pub height: i64,
    pub alt_text: String,
}

/// Adds an image after the listing's others.
pub async fn insert_image(
    conn: &mut AnyConnection,
    img: &ImageRow,
    content: &[u8],
    thumbnail: &[u8],
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO listing_images (id, listing_id, position, media_type, width, height, content, thumbnail, alt_text, created_at) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM listing_images WHERE listing_id = $2), $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(img.id.to_string())
    .bind(img.listing.to_string())
    .bind(img.media_type.as_str())
    .bind(img.width)
    .bind(img.height)
    .bind(content)
    .bind(thumbnail)
    .bind(img.alt_text.as_str())
    .bind(now.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn images(conn: &mut AnyConnection, listing: ListingId) -> Result<Vec<ImageRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, listing_id, position, media_type, width, height, alt_text FROM listing_images \
         WHERE listing_id = $1 ORDER BY position, id",
    )
    .bind(listing.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ImageRow {
                id: typed(r, "id")?,
                listing: typed(r, "listing_id")?,
                position: r.try_get("position")?,
                media_type: r.try_get("media_type")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
                alt_text: r.try_get("alt_text")?,
            })
        })
        .collect()
}

/// An image's bytes (or its thumbnail's) and type, if the listing is on sale in a shop
/// that is not suspended (`public`), or whatever its listing's state (for the seller).
pub async fn image_content(
    conn: &mut AnyConnection,
    id: ImageId,
    thumbnail: bool,
    public: bool,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let sql = if thumbnail {
        "SELECT i.media_type, i.thumbnail AS bytes FROM listing_images i JOIN listings l ON l.id = i.listing_id \
         JOIN shops s ON s.id = l.shop_id WHERE i.id = $1 AND ($2 = 0 OR (l.status = 'active' AND s.status <> 'suspended'))"
    } else {
        "SELECT i.media_type, i.content AS bytes FROM listing_images i JOIN listings l ON l.id = i.listing_id \
         JOIN shops s ON s.id = l.shop_id WHERE i.id = $1 AND ($2 = 0 OR (l.status = 'active' AND s.status <> 'suspended'))"
    };
    let row = sqlx::query(sql).bind(id.to_string()).bind(i64::from(public)).fetch_optional(conn).await?;
    row.map(|r| Ok((r.try_get("media_type")?, r.try_get("bytes")?))).transpose()
}

pub async fn delete_image(
    conn: &mut AnyConnection,
    listing: ListingId,
    id: ImageId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM listing_images WHERE id = $1 AND listing_id = $2")
        .bind(id.to_string())
        .bind(listing.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
