//! The API's wire types. Domain values are mapped here, so the wire format can stay stable
//! while the domain evolves.

use serde::Serialize;
use souk_domain::Money;
use souk_domain::catalog::{Category, Listing, Shop};
use souk_domain::page::Page;
use utoipa::ToSchema;

/// An RFC 9457 problem document, as every API error is returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// A reference to the problem type's documentation.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A stable machine-readable code, listed on the API docs page.
    pub code: String,
    pub detail: Option<String>,
    pub instance: String,
    /// Quote this to support; it finds the server's log lines for the request.
    pub request_id: String,
}

/// An amount of money.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceDto {
    /// In the currency's minor units (cents for EUR).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// For display, e.g. `€12.50`.
    pub formatted: String,
}

impl From<Money> for PriceDto {
    fn from(m: Money) -> Self {
        Self { amount_minor: m.minor, currency: m.currency.code().to_owned(), formatted: m.to_string() }
    }
}

/// The shop a listing belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopRefDto {
    pub slug: String,
    pub name: String,
    pub url: String,
}

/// An item for sale.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingDto {
    pub id: String,
    pub title: String,
    pub description: String,
    /// A category slug from `GET /api/v1/categories`.
    pub category: String,
    pub price: PriceDto,
    pub stock: u32,
    pub shop: ShopRefDto,
    /// The listing's page on the storefront.
    pub url: String,
    pub image_url: String,
    /// RFC 3339.
    pub created_at: String,
    /// What can be bought (on the listing itself, not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<VariantDto>>,
    /// Its photos (on the listing itself, not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<ImageDto>>,
}

/// One buyable variant of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariantDto {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price: PriceDto,
    pub stock: i64,
}

impl VariantDto {
    pub fn new(v: &souk_store::listings::VariantRow) -> Self {
        let currency = souk_domain::Currency::from_code(&v.currency).unwrap_or(souk_domain::Currency::EUR);
        Self {
            id: v.id.to_string(),
            sku: v.sku.clone(),
            name: v.name.clone(),
            price: Money::new(v.price_minor, currency).into(),
            stock: v.stock,
        }
    }
}

/// A photo of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageDto {
    pub id: String,
    pub url: String,
    pub thumbnail_url: String,
    pub width: i64,
    pub height: i64,
    pub alt_text: String,
}

impl ImageDto {
    pub fn new(i: &souk_store::listings::ImageRow) -> Self {
        Self {
            id: i.id.to_string(),
            url: format!("/media/images/{}/full", i.id),
            thumbnail_url: format!("/media/images/{}/thumb", i.id),
            width: i.width,
            height: i.height,
            alt_text: i.alt_text.clone(),
        }
    }
}

/// The card image of a listing: its first photo's thumbnail, or its generated artwork.
pub(crate) fn cover_url(l: &Listing) -> String {
    match l.cover_image {
        Some(image) => format!("/media/images/{image}/thumb"),
        None => format!("/media/listings/{}/art.svg", l.id),
    }
}

impl From<Listing> for ListingDto {
    fn from(l: Listing) -> Self {
        Self {
            url: format!("/listings/{}", l.id),
            image_url: cover_url(&l),
            id: l.id.to_string(),
            title: l.title,
            description: l.description,
            category: l.category.slug().to_owned(),
            price: l.price.into(),
            stock: l.stock,
            shop: ShopRefDto {
                url: format!("/shops/{}", l.shop_slug),
                slug: l.shop_slug.to_string(),
                name: l.shop_name,
            },
            created_at: l.created_at.to_rfc3339(),
            variants: None,
            images: None,
        }
    }
}

/// One page of listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListingPage {
    pub data: Vec<ListingDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<Listing>> for ListingPage {
    fn from(p: Page<Listing>) -> Self {
        Self { data: p.items.into_iter().map(Into::into).collect(), next_cursor: p.next.map(|c| c.encode()) }
    }
}

/// A shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopDto {
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub location: String,
    pub url: String,
    /// RFC 3339.
    pub created_at: String,
    /// How many listings it has on sale (in lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_listings: Option<i64>,
}

impl ShopDto {
    pub fn new(s: Shop, active_listings: Option<i64>) -> Self {
        Self {
            url: format!("/shops/{}", s.slug),
            slug: s.slug.to_string(),
            name: s.name,
            tagline: s.tagline,
            description: s.description,
            location: s.location,
            created_at: s.created_at.to_rfc3339(),
            active_listings,
        }
    }
}

/// A shop and a page of its listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopDetailDto {
    pub shop: ShopDto,
    pub listings: ListingPage,
}

/// A storefront category.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryDto {
    pub slug: String,
    pub label: String,
}

impl From<Category> for CategoryDto {
    fn from(c: Category) -> Self {
        Self { slug: c.slug().to_owned(), label: c.label().to_owned() }
    }
}
