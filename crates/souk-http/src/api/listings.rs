//! The seller hub's API for listings: create and edit with variants, list a shop's
//! listings in every status, add and remove photos; and trust & safety's takedown.
//! Sessions and API keys (`listings:read`, `listings:write`) both work here.

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use souk_core::market::listings::{self, ListingInput, SellerListing};
use souk_domain::Timestamp;
use souk_domain::ids::{ImageId, ListingId, ShopId};
use souk_domain::listing::VariantInput;
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::{ImageDto, ProblemDoc, VariantDto};
use super::shops::read_upload;
use crate::middleware::auth::{Caller, ClientInfo, Session};
use crate::{AppState, Problem};

fn id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail(format!("No such {what}.")))
}

/// One variant as the seller sends it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantRequest {
    /// Unique within the shop: letters, digits, `-`, `_`, `.`.
    sku: String,
    /// e.g. "Blue, 30 cl"; "Standard" when empty.
    #[serde(default)]
    name: String,
    /// In minor units of the marketplace currency.
    price_minor: i64,
    /// Must be the marketplace currency.
    currency: String,
    stock: i64,
}

/// A listing as the seller sends it. The shop comes from the path (never the body), and
/// `removed` is not a status a seller can choose.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListingRequest {
    title: String,
    #[serde(default)]
    description: String,
    /// A slug from `GET /api/v1/categories`.
    category: String,
    /// draft, active or paused.
    status: String,
    /// 1 to 50 variants. On edit, variants are matched by SKU; missing ones are archived.
    variants: Vec<VariantRequest>,
}

impl ListingRequest {
    fn input(self) -> ListingInput {
        ListingInput {
            title: self.title,
            description: self.description,
            category: self.category,
            status: self.status,
            variants: self
                .variants
                .into_iter()
                .map(|v| VariantInput {
                    sku: v.sku,
                    name: v.name,
                    price_minor: v.price_minor,
                    currency: v.currency,
                    stock: v.stock,
                })
                .collect(),
        }
    }
}

/// A listing as its shop sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SellerListingDto {
    id: String,
    shop_id: String,
    title: String,
    description: String,
    category: String,
    /// draft, active, paused or removed.
    status: String,
    /// Why trust & safety took it down.
    takedown_reason: String,
    created_at: String,
    updated_at: String,
    /// The lowest variant price, in minor units.
    from_price_minor: i64,
    currency: String,
    stock: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    variants: Option<Vec<VariantDto>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    images: Option<Vec<ImageDto>>,
}

fn listing_dto(l: souk_store::listings::ListingRow) -> SellerListingDto {
    SellerListingDto {
        id: l.id.to_string(),
        shop_id: l.shop.to_string(),
        title: l.title,
        description: l.description,
        category: l.category,
        status: l.status,
        takedown_reason: l.takedown_reason,
        created_at: l.created_at.to_rfc3339(),
        updated_at: l.updated_at.to_rfc3339(),
        from_price_minor: l.price_minor,
        currency: l.currency,
        stock: l.stock,
        variants: None,
        images: None,
    }
}

fn full_dto(s: SellerListing) -> SellerListingDto {
    let variants = s.variants.iter().map(VariantDto::new).collect();
    let images = s.images.iter().map(ImageDto::new).collect();
    let mut dto = listing_dto(s.listing);
    dto.variants = Some(variants);
    dto.images = Some(images);
    dto
}

/// Create a listing in a shop (owner and managers; `listings:write`). An unverified shop
/// may have a limited number of active listings; prohibited items are refused.
#[utoipa::path(
    post, path = "/api/v1/seller/shops/{id}/listings", tag = "seller", request_body = ListingRequest,
    params(("id" = String, Path, description = "The shop id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Created", body = SellerListingDto),
        (status = 400, description = "A field is not acceptable, or the item is prohibited", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Over the unverified shop's limit, or a SKU is taken", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn create_listing(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(shop): Path<String>,
    Body(req): Body<ListingRequest>,
) -> Result<(StatusCode, Json<SellerListingDto>), Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let souk = state.souk();
    let listing = listings::create(souk, &principal, &client, shop, &req.input()).await?;
    let view = listings::seller_view(souk, &principal, &client, listing).await?;
    Ok((StatusCode::CREATED, Json(full_dto(view))))
}

/// Filters of a shop's listings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopListingsQuery {
    /// Only this status: draft, active, paused or removed.
    status: Option<String>,
    /// The `next` value of the previous page.
    after: Option<String>,
    /// 1–200, default 50.
    limit: Option<u16>,
}

/// A page of a shop's listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SellerListingPage {
    items: Vec<SellerListingDto>,
    next: Option<String>,
}

/// A shop's listings in every status, newest first (its people; `listings:read`).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/listings", tag = "seller", params(("id" = String, Path, description = "The shop id"), ShopListingsQuery),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "A page of listings", body = SellerListingPage),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn shop_listings(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(shop): Path<String>,
    Query(q): Query<ShopListingsQuery>,
) -> Result<Json<SellerListingPage>, Problem> {
    let shop: ShopId = id(&shop, "shop")?;
    let after = q
        .after
        .as_deref()
        .map(|raw| {
            let bad = || Problem::of("invalid_parameter").with_detail("after: not a cursor from this API");
            let (at, l) = raw.split_once('_').ok_or_else(bad)?;
            Ok::<_, Problem>((
                Timestamp::from_micros(at.parse().map_err(|_| bad())?),
                l.parse::<ListingId>().map_err(|_| bad())?,
            ))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows =
        listings::of_shop(state.souk(), &principal, &client, shop, q.status.as_deref(), after, limit).await?;
    let next = (rows.len() == usize::from(limit))
        .then(|| rows.last().map(|l| format!("{}_{}", l.created_at.as_micros(), l.id)))
        .flatten();
    Ok(Json(SellerListingPage { items: rows.into_iter().map(listing_dto).collect(), next }))
}

/// One listing of your shop, in any status, with variants and images.
#[utoipa::path(
    get, path = "/api/v1/seller/listings/{id}", tag = "seller", params(("id" = String, Path, description = "The listing id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The listing", body = SellerListingDto),
        (status = 404, description = "No such listing, or not your shop's", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn get_seller_listing(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(listing): Path<String>,
) -> Result<Json<SellerListingDto>, Problem> {
    let view = listings::seller_view(state.souk(), &principal, &client, id(&listing, "listing")?).await?;
    Ok(Json(full_dto(view)))
}

/// Edit a listing (owner and managers; `listings:write`). Taken-down listings stay down.
#[utoipa::path(
    put, path = "/api/v1/seller/listings/{id}", tag = "seller", request_body = ListingRequest,
    params(("id" = String, Path, description = "The listing id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The listing", body = SellerListingDto),
        (status = 400, description = "A field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Taken down, over the limit, or a SKU is taken", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn update_listing(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(listing): Path<String>,
    Body(req): Body<ListingRequest>,
) -> Result<Json<SellerListingDto>, Problem> {
    let listing: ListingId = id(&listing, "listing")?;
    let souk = state.souk();
    listings::update(souk, &principal, &client, listing, &req.input()).await?;
    Ok(Json(full_dto(listings::seller_view(souk, &principal, &client, listing).await?)))
}

/// The photo's description for screen readers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImageQuery {
    /// Alternative text (up to 200 characters).
    alt: Option<String>,
}

/// Add a photo (the raw file as the body): JPEG, PNG or WebP by content, re-encoded without
/// metadata, at most 10 per listing.
#[utoipa::path(
    post, path = "/api/v1/seller/listings/{id}/images", tag = "seller",
    params(("id" = String, Path, description = "The listing id"), ImageQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Added", body = ImageDto),
        (status = 400, description = "Not an accepted image", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already 10 images", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 413, description = "Too large", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn add_image(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(listing): Path<String>,
    Query(q): Query<ImageQuery>,
    body: RawBody,
) -> Result<(StatusCode, Json<ImageDto>), Problem> {
    let listing: ListingId = id(&listing, "listing")?;
    let bytes = read_upload(body).await?;
    let souk = state.souk();
    let image =
        listings::add_image(souk, &principal, &client, listing, &bytes, q.alt.as_deref().unwrap_or(""))
            .await?;
    let view = listings::seller_view(souk, &principal, &client, listing).await?;
    let row = view.images.iter().find(|i| i.id == image).ok_or(Problem::of("not_found"))?;
    Ok((StatusCode::CREATED, Json(ImageDto::new(row))))
}

/// Remove a photo.
#[utoipa::path(
    delete, path = "/api/v1/seller/listings/{id}/images/{image}", tag = "seller",
    params(("id" = String, Path, description = "The listing id"), ("image" = String, Path, description = "The image id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 204, description = "Removed"), (status = 404, description = "No such image", body = ProblemDoc, content_type = "application/problem+json")),
    security(("session" = []), ("api_key" = []))
)]
pub async fn remove_image(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path((listing, image)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let image: ImageId = id(&image, "image")?;
    listings::remove_image(state.souk(), &principal, &client, id(&listing, "listing")?, image).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Why a listing is taken down.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakedownRequest {
    /// Shown to the shop.
    reason: String,
}

/// Take a listing down (trust & safety; recorded; the shop is told why).
#[utoipa::path(
    post, path = "/api/v1/staff/listings/{id}/takedown", tag = "staff", request_body = TakedownRequest,
    params(("id" = String, Path, description = "The listing id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 204, description = "Taken down"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Already down", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn takedown(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(listing): Path<String>,
    Body(req): Body<TakedownRequest>,
) -> Result<StatusCode, Problem> {
    listings::takedown(state.souk(), &s.principal, &client, id(&listing, "listing")?, &req.reason).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A photo of one of your shop's listings, whatever its status (`size`: full or thumb).
#[utoipa::path(
    get, path = "/api/v1/seller/listings/{id}/images/{image}/{size}", tag = "seller",
    params(
        ("id" = String, Path, description = "The listing id"),
        ("image" = String, Path, description = "The image id"),
        ("size" = String, Path, description = "full or thumb"),
    ),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such image of your shop's", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn seller_image(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path((listing, image, size)): Path<(String, String, String)>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse as _;
    let thumbnail = match size.as_str() {
        "thumb" => true,
        "full" => false,
        _ => return Err(Problem::of("not_found")),
    };
    let (media_type, bytes) = listings::seller_image(
        state.souk(),
        &principal,
        &client,
        id(&listing, "listing")?,
        id(&image, "image")?,
        thumbnail,
    )
    .await?;
    let mut res = bytes.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&media_type) {
        res.headers_mut().insert(axum::http::header::CONTENT_TYPE, v);
    }
    res.headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("private, no-store"));
    Ok(res)
}
