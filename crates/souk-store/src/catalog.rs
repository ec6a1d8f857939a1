//! Catalog persistence: shops, listings and the accounts behind them.

use souk_domain::catalog::{Category, Listing, ListingStatus, NewListing, Shop, Slug};
use souk_domain::ids::{AccountId, ListingId, ShopId};
use souk_domain::page::{Cursor, Page, PageSize};
use souk_domain::{Currency, Money, Timestamp};
use sqlx::AnyConnection;
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::StoreError;
use crate::sql::{Param, Sql};

/// An account's role in the marketplace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Buyer,
    Seller,
    Staff,
}

impl Role {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Seller => "seller",
            Self::Staff => "staff",
        }
    }
}

/// A shop to create, validated by the caller.
#[derive(Debug, Clone)]
pub struct NewShop {
    pub id: ShopId,
    pub owner: AccountId,
    pub slug: Slug,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub created_at: Timestamp,
}

/// Which active listings to read.
#[derive(Debug, Clone, Default)]
pub struct ListingFilter {
    pub category: Option<Category>,
    pub shop: Option<ShopId>,
}

/// A shop with the number of listings it has on sale.
#[derive(Debug, Clone)]
pub struct ShopSummary {
    pub shop: Shop,
    pub active_listings: i64,
}

/// Inserts an account unless one with the same id exists. Returns whether it was inserted.
pub async fn insert_account_if_absent(
    conn: &mut AnyConnection,
    id: AccountId,
    handle: &str,
    role: Role,
    created_at: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO accounts (id, handle, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(handle)
    .bind(role.as_str())
    .bind(created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a verified shop (the demo's) unless one with the same id exists. Returns whether
/// it was inserted.
pub async fn insert_shop_if_absent(conn: &mut AnyConnection, shop: &NewShop) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO shops (id, slug, owner_id, name, tagline, description, location, created_at, \
         status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'verified', $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(shop.id.to_string())
    .bind(shop.slug.as_str())
    .bind(shop.owner.to_string())
    .bind(shop.name.as_str())
    .bind(shop.tagline.as_str())
    .bind(shop.description.as_str())
    .bind(shop.location.as_str())
    .bind(shop.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a listing unless one with the same id exists. Returns whether it was inserted.
pub async fn insert_listing_if_absent(
    conn: &mut AnyConnection,
    listing: &NewListing,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO listings \
         (id, shop_id, title, description, category, price_minor, currency, stock, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (id) DO NOTHING",
    )
    .bind(listing.id.to_string())
    .bind(listing.shop_id.to_string())
    .bind(listing.title.as_str())
    .bind(listing.description.as_str())
    .bind(listing.category.slug())
    .bind(listing.price.minor)
    .bind(listing.price.currency.code())
    .bind(i64::from(listing.stock))
    .bind(listing.status.as_str())
    .bind(listing.created_at.as_micros())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // The listing's one variant carries its price and stock (as migration 7 did for
    // listings that existed before variants).
    sqlx::query(
        "INSERT INTO listing_variants (id, listing_id, shop_id, sku, name, price_minor, currency, stock, position) \
         VALUES ($1, $1, $2, $3, 'Standard', $4, $5, $6, 0)",
    )
    .bind(listing.id.to_string())
    .bind(listing.shop_id.to_string())
    .bind(format!("SKU-{}", listing.id))
    .bind(listing.price.minor)
    .bind(listing.price.currency.code())
    .bind(i64::from(listing.stock))
    .execute(conn)
    .await?;
    Ok(true)
}

macro_rules! listing_select {
    () => {
        "SELECT l.id, l.shop_id, s.slug AS shop_slug, s.name AS shop_name, \
         l.title, l.description, l.category, l.price_minor, l.currency, l.stock, l.status, l.created_at, \
         (SELECT i.id FROM listing_images i WHERE i.listing_id = l.id ORDER BY i.position, i.id LIMIT 1) AS cover_image"
    };
}
const LISTING_COLUMNS: &str = concat!(listing_select!(), " FROM listings l JOIN shops s ON s.id = l.shop_id");
const SEARCH_SQLITE: &str = concat!(
    listing_select!(),
    " FROM listing_search f JOIN listings l ON l.rowid = f.rowid JOIN shops s ON s.id = l.shop_id \
     WHERE listing_search MATCH "
);
const SEARCH_POSTGRES: &str = concat!(
    listing_select!(),
    " FROM listings l JOIN shops s ON s.id = l.shop_id WHERE l.search @@ to_tsquery('simple', "
);

/// The words of a search, cleaned for the engines' query languages: letters and digits
/// only (so nothing a user types can become query syntax), lower case, at most 8 words of
/// at most 40 characters.
#[must_use]
pub fn search_terms(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(40).collect::<String>().to_lowercase())
        .take(8)
        .collect()
}

/// Active listings matching every word (as a prefix), best matches first: title words
/// weigh more than description words. `offset` pages through at most 1,000 results.
pub async fn search(
    conn: &mut AnyConnection,
    backend: crate::Backend,
    terms: &[String],
    category: Option<Category>,
    offset: u32,
    limit: u16,
) -> Result<(Vec<Listing>, bool), StoreError> {
    if terms.is_empty() {
        return Ok((Vec::new(), false));
    }
    let mut sql;
    match backend {
        crate::Backend::Sqlite => {
            let query = terms.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" ");
            sql = Sql::new(SEARCH_SQLITE);
            sql.bind(Param::Text(query));
        }
        crate::Backend::Postgres => {
            let query = terms.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ");
            sql = Sql::new(SEARCH_POSTGRES);
            sql.bind(Param::Text(query)).push(")");
        }
    }
    sql.push(" AND l.status = 'active' AND s.status <> 'suspended'");
    if let Some(category) = category {
        sql.push(" AND l.category = ").bind(Param::Text(category.slug().to_owned()));
    }
    match backend {
        crate::Backend::Sqlite => sql.push(" ORDER BY bm25(listing_search, 10.0, 1.0), l.id"),
        crate::Backend::Postgres => {
            sql.push(" ORDER BY ts_rank(l.search, to_tsquery('simple', $1)) DESC, l.id")
        }
    };
    sql.push(" LIMIT ").bind(Param::Int(i64::from(limit) + 1));
    sql.push(" OFFSET ").bind(Param::Int(i64::from(offset.min(1_000))));
    let rows = sql.query().fetch_all(conn).await?;
    let mut items = rows.iter().map(listing_from_row).collect::<Result<Vec<_>, _>>()?;
    let more = items.len() > usize::from(limit) && offset + u32::from(limit) < 1_000;
    items.truncate(usize::from(limit));
    Ok((items, more))
}

/// One page of active listings, newest first.
pub async fn active_listings(
    conn: &mut AnyConnection,
    filter: &ListingFilter,
    size: PageSize,
    after: Option<Cursor>,
) -> Result<Page<Listing>, StoreError> {
    let mut sql = Sql::new(LISTING_COLUMNS);
    sql.push(" WHERE l.status = ").bind(Param::Text(ListingStatus::Active.as_str().to_owned()));
    sql.push(" AND s.status <> 'suspended'");
    if let Some(category) = filter.category {
        sql.push(" AND l.category = ").bind(Param::Text(category.slug().to_owned()));
    }
    if let Some(shop) = filter.shop {
        sql.push(" AND l.shop_id = ").bind(Param::Text(shop.to_string()));
    }
    if let Some(cursor) = after {
        sql.push(" AND (l.created_at < ").bind(Param::Int(cursor.created_at.as_micros()));
        sql.push(" OR (l.created_at = ").bind(Param::Int(cursor.created_at.as_micros()));
        sql.push(" AND l.id < ").bind(Param::Text(cursor.id.hyphenated().to_string()));
        sql.push("))");
    }
    // One row more than asked tells whether another page follows.
    sql.push(" ORDER BY l.created_at DESC, l.id DESC LIMIT ").bind(Param::Int(i64::from(size.get()) + 1));
    let rows = sql.query().fetch_all(conn).await?;
    let mut items = rows.iter().map(listing_from_row).collect::<Result<Vec<_>, _>>()?;
    let next = if items.len() > usize::from(size.get()) {
        items.truncate(usize::from(size.get()));
        items.last().map(|l| Cursor { created_at: l.created_at, id: *l.id.as_uuid() })
    } else {
        None
    };
    Ok(Page { items, next })
}

/// A listing on sale: active, in a shop that is not suspended.
pub async fn listing_on_sale(conn: &mut AnyConnection, id: ListingId) -> Result<Option<Listing>, StoreError> {
    let mut sql = Sql::new(LISTING_COLUMNS);
    sql.push(" WHERE l.id = ").bind(Param::Text(id.to_string()));
    sql.push(" AND l.status = 'active' AND s.status <> 'suspended'");
    let row = sql.query().fetch_optional(conn).await?;
    row.as_ref().map(listing_from_row).transpose()
}

/// A listing by id, whatever its status.
pub async fn listing(conn: &mut AnyConnection, id: ListingId) -> Result<Option<Listing>, StoreError> {
    let mut sql = Sql::new(LISTING_COLUMNS);
    sql.push(" WHERE l.id = ").bind(Param::Text(id.to_string()));
    let row = sql.query().fetch_optional(conn).await?;
    row.as_ref().map(listing_from_row).transpose()
}

/// A shop on the storefront by its slug (suspended shops are not).
pub async fn shop_by_slug(conn: &mut AnyConnection, slug: &Slug) -> Result<Option<Shop>, StoreError> {
    let row = sqlx::query(
        "SELECT id, slug, name, tagline, description, location, created_at FROM shops \
         WHERE slug = $1 AND status <> 'suspended'",
    )
    .bind(slug.as_str())
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(shop_from_row).transpose()
}

/// Every shop on the storefront with its count of active listings, by name.
pub async fn shops(conn: &mut AnyConnection) -> Result<Vec<ShopSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.id, s.slug, s.name, s.tagline, s.description, s.location, s.created_at, \
         (SELECT COUNT(*) FROM listings l WHERE l.shop_id = s.id AND l.status = 'active') AS active_listings \
         FROM shops s WHERE s.status <> 'suspended' ORDER BY s.name, s.id",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ShopSummary { shop: shop_from_row(row)?, active_listings: row.try_get("active_listings")? })
        })
        .collect()
}

/// How many listings exist, in any status.
pub async fn listing_count(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM listings").fetch_one(conn).await?.try_get("n")?)
}

fn uuid_col(row: &AnyRow, col: &str) -> Result<Uuid, StoreError> {
    let text: String = row.try_get(col)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::corrupt(format!("{col}: {e}")))
}

fn listing_from_row(row: &AnyRow) -> Result<Listing, StoreError> {
    let category: String = row.try_get("category")?;
    let status: String = row.try_get("status")?;
    let currency: String = row.try_get("currency")?;
    let stock: i64 = row.try_get("stock")?;
    Ok(Listing {
        id: ListingId::from_uuid(uuid_col(row, "id")?),
        shop_id: ShopId::from_uuid(uuid_col(row, "shop_id")?),
        shop_slug: Slug::parse(&row.try_get::<String, _>("shop_slug")?).map_err(StoreError::corrupt)?,
        shop_name: row.try_get("shop_name")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        category: Category::from_slug(&category)
            .ok_or_else(|| StoreError::corrupt(format!("category {category:?}")))?,
        price: Money::new(
            row.try_get("price_minor")?,
            Currency::from_code(&currency).map_err(StoreError::corrupt)?,
        ),
        stock: u32::try_from(stock).map_err(StoreError::corrupt)?,
        status: ListingStatus::parse(&status)
            .ok_or_else(|| StoreError::corrupt(format!("status {status:?}")))?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
        cover_image: row
            .try_get::<Option<String>, _>("cover_image")?
            .map(|s| s.parse().map_err(StoreError::corrupt))
            .transpose()?,
    })
}

fn shop_from_row(row: &AnyRow) -> Result<Shop, StoreError> {
    Ok(Shop {
        id: ShopId::from_uuid(uuid_col(row, "id")?),
        slug: Slug::parse(&row.try_get::<String, _>("slug")?).map_err(StoreError::corrupt)?,
        name: row.try_get("name")?,
        tagline: row.try_get("tagline")?,
        description: row.try_get("description")?,
        location: row.try_get("location")?,
        created_at: Timestamp::from_micros(row.try_get("created_at")?),
    })
}
