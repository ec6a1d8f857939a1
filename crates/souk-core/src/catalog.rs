//! Browsing the catalog: the storefront's read use cases. Anyone may call them; only
//! active listings of existing shops are ever shown.

use souk_domain::catalog::{Category, Listing, Shop, Slug};
use souk_domain::ids::ListingId;
use souk_domain::page::{Cursor, Page, PageSize};
use souk_store::catalog::{self as store, ListingFilter, ShopSummary};

use crate::{CoreError, Souk};

/// What a storefront page asks for, already parsed.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    pub category: Option<Category>,
    pub size: PageSize,
    pub after: Option<Cursor>,
}

/// Active listings, newest first, one page at a time.
pub async fn browse(souk: &Souk, query: &Browse) -> Result<Page<Listing>, CoreError> {
    let mut conn = souk.store.conn().await?;
    let filter = ListingFilter { category: query.category, shop: None };
    Ok(store::active_listings(&mut conn, &filter, query.size, query.after).await?)
}

/// One listing, if it is on sale.
pub async fn listing(souk: &Souk, id: ListingId) -> Result<Listing, CoreError> {
    let mut conn = souk.store.conn().await?;
    // A listing that is not active is indistinguishable from one that never existed, so
    // drafts and takedowns cannot be probed for.
    store::listing_on_sale(&mut conn, id).await?.ok_or(CoreError::NotFound("listing"))
}

/// A shop and one page of its active listings.
pub async fn shop(
    souk: &Souk,
    slug: &str,
    size: PageSize,
    after: Option<Cursor>,
) -> Result<(Shop, Page<Listing>), CoreError> {
    let slug = Slug::parse(slug).map_err(|_| CoreError::NotFound("shop"))?;
    let mut conn = souk.store.conn().await?;
    let shop = store::shop_by_slug(&mut conn, &slug).await?.ok_or(CoreError::NotFound("shop"))?;
    let filter = ListingFilter { category: None, shop: Some(shop.id) };
    let page = store::active_listings(&mut conn, &filter, size, after).await?;
    Ok((shop, page))
}

/// Every shop with its number of active listings.
pub async fn shops(souk: &Souk) -> Result<Vec<ShopSummary>, CoreError> {
    let mut conn = souk.store.conn().await?;
    Ok(store::shops(&mut conn).await?)
}

/// Parses the paging parameters a client sent.
pub fn paging(limit: Option<u32>, cursor: Option<&str>) -> Result<(PageSize, Option<Cursor>), CoreError> {
    let size = limit.map(PageSize::new).transpose().map_err(|e| CoreError::invalid("limit", e))?;
    let after = cursor.map(Cursor::decode).transpose().map_err(|e| CoreError::invalid("cursor", e))?;
    Ok((size.unwrap_or_default(), after))
}

/// Parses a category slug a client sent.
pub fn category(slug: Option<&str>) -> Result<Option<Category>, CoreError> {
    slug.map(|s| Category::from_slug(s).ok_or_else(|| CoreError::invalid("category", "no such category")))
        .transpose()
}

/// A listing's page: the listing with its variants on sale and its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPage {
    pub listing: Listing,
    pub variants: Vec<souk_store::listings::VariantRow>,
    pub images: Vec<souk_store::listings::ImageRow>,
}

/// A listing on sale with its variants and images.
pub async fn listing_page(souk: &Souk, id: ListingId) -> Result<ListingPage, CoreError> {
    let mut conn = souk.store.conn().await?;
    let listing = store::listing_on_sale(&mut conn, id).await?.ok_or(CoreError::NotFound("listing"))?;
    let variants = souk_store::listings::variants(&mut conn, id, false).await?;
    let images = souk_store::listings::images(&mut conn, id).await?;
    Ok(ListingPage { listing, variants, images })
}

/// Full-text search of the listings on sale, best matches first. `offset` pages (at most
/// 1,000 results); the answer says whether more follow.
pub async fn search(
    souk: &Souk,
    q: &str,
    category: Option<Category>,
    offset: u32,
    size: PageSize,
) -> Result<(Vec<Listing>, bool), CoreError> {
    let terms = store::search_terms(q);
    let mut conn = souk.store.conn().await?;
    Ok(store::search(&mut conn, souk.store.backend(), &terms, category, offset, size.get()).await?)
}

/// An image of a listing on sale (or its thumbnail): its type and bytes.
pub async fn image(
    souk: &Souk,
    id: souk_domain::ids::ImageId,
    thumbnail: bool,
) -> Result<(String, Vec<u8>), CoreError> {
    let mut conn = souk.store.conn().await?;
    souk_store::listings::image_content(&mut conn, id, thumbnail, true)
        .await?
        .ok_or(CoreError::NotFound("image"))
}

/// A shop's return policy, as shown on its storefront page (suspended shops are not shown).
pub async fn return_policy(souk: &Souk, shop: souk_domain::ids::ShopId) -> Result<String, CoreError> {
    let mut conn = souk.store.conn().await?;
    souk_store::shops::by_id(&mut conn, shop)
        .await?
        .filter(|s| s.status != "suspended")
        .map(|s| s.return_policy)
        .ok_or(CoreError::NotFound("shop"))
}
