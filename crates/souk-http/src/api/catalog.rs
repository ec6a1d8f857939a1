//! Catalog operations: public, read-only views of the storefront.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use souk_core::catalog::{self, Browse};
use souk_domain::catalog::Category;
use souk_domain::ids::ListingId;
use utoipa::IntoParams;

use super::dto::{
    CategoryDto, ImageDto, ListingDto, ListingPage, ProblemDoc, ShopDetailDto, ShopDto, VariantDto,
};
use crate::{AppState, Problem};

/// Paging and filtering of listing lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListingsQuery {
    /// Only listings in this category (a slug from `/api/v1/categories`).
    category: Option<String>,
    /// Full-text search: every word must match (as a prefix) the title or description;
    /// results come best match first instead of newest first.
    q: Option<String>,
    /// Page size, 1 to 100 (default 24).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Paging of a shop's listings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 100 (default 24).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List listings on sale, newest first.
#[utoipa::path(
    get, path = "/api/v1/listings", tag = "catalog", params(ListingsQuery),
    responses(
        (status = 200, description = "A page of listings", body = ListingPage),
        (status = 400, description = "A parameter is invalid", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn list_listings(
    State(state): State<AppState>,
    Query(q): Query<ListingsQuery>,
) -> Result<Json<ListingPage>, Problem> {
    let category = catalog::category(q.category.as_deref())?;
    if let Some(text) = q.q.as_deref().filter(|t| !t.trim().is_empty()) {
        // Search results are ranked, so their cursor is a position: `s<offset>`.
        let offset = match q.cursor.as_deref() {
            None => 0,
            Some(c) => {
                c.strip_prefix('s').and_then(|n| n.parse::<u32>().ok()).filter(|n| *n <= 1_000).ok_or_else(
                    || Problem::of("invalid_parameter").with_detail("cursor: not a cursor of this search"),
                )?
            }
        };
        let (size, _) = catalog::paging(q.limit, None)?;
        let (items, more) = catalog::search(state.souk(), text, category, offset, size).await?;
        let next_cursor = more.then(|| format!("s{}", offset + u32::from(size.get())));
        return Ok(Json(ListingPage { data: items.into_iter().map(Into::into).collect(), next_cursor }));
    }
    let (size, after) = catalog::paging(q.limit, q.cursor.as_deref())?;
    let page = catalog::browse(state.souk(), &Browse { category, size, after }).await?;
    Ok(Json(page.into()))
}

/// Get one listing that is on sale.
#[utoipa::path(
    get, path = "/api/v1/listings/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The listing's id (a UUID)")),
    responses(
        (status = 200, description = "The listing", body = ListingDto),
        (status = 404, description = "No such listing on sale", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn get_listing(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ListingDto>, Problem> {
    let id: ListingId = id.parse().map_err(|_| souk_core::CoreError::NotFound("listing"))?;
    let page = catalog::listing_page(state.souk(), id).await?;
    let mut dto = ListingDto::from(page.listing);
    dto.variants = Some(page.variants.iter().map(VariantDto::new).collect());
    dto.images = Some(page.images.iter().map(ImageDto::new).collect());
    Ok(Json(dto))
}

/// List shops with their number of listings on sale.
#[utoipa::path(
    get, path = "/api/v1/shops", tag = "catalog",
    responses((status = 200, description = "Every shop", body = Vec<ShopDto>))
)]
pub async fn list_shops(State(state): State<AppState>) -> Result<Json<Vec<ShopDto>>, Problem> {
    let shops = catalog::shops(state.souk()).await?;
    Ok(Json(shops.into_iter().map(|s| ShopDto::new(s.shop, Some(s.active_listings))).collect()))
}

/// Get a shop and a page of its listings.
#[utoipa::path(
    get, path = "/api/v1/shops/{slug}", tag = "catalog",
    params(("slug" = String, Path, description = "The shop's slug"), PageQuery),
    responses(
        (status = 200, description = "The shop and its listings", body = ShopDetailDto),
        (status = 404, description = "No such shop", body = ProblemDoc, content_type = "application/problem+json"),
    )
)]
pub async fn get_shop(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<ShopDetailDto>, Problem> {
    let (size, after) = catalog::paging(q.limit, q.cursor.as_deref())?;
    let (shop, page) = catalog::shop(state.souk(), &slug, size, after).await?;
    Ok(Json(ShopDetailDto { shop: ShopDto::new(shop, None), listings: page.into() }))
}

/// List the storefront's categories.
#[utoipa::path(
    get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, description = "Every category", body = Vec<CategoryDto>))
)]
pub async fn list_categories() -> Json<Vec<CategoryDto>> {
    Json(Category::ALL.into_iter().map(Into::into).collect())
}
