//! Page handlers: parse the request, call a catalog use case, fill a page model.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::catalog::{self, Browse};
use souk_core::market::reviews;
use souk_domain::catalog::Category;
use souk_domain::ids::ListingId;

use super::buyer_views::VariantOption;
use super::render;
use super::views::{BrowsePage, Card, Layout, ListingPage, ReputationView, ReviewView, ShopPage, ShopsPage};
use crate::middleware::auth::MaybeSession;
use crate::{AppState, Problem};

/// A date as shown on pages: `2026-12-03`.
pub(crate) fn day(t: souk_domain::Timestamp) -> String {
    t.to_rfc3339().chars().take(10).collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct Paging {
    cursor: Option<String>,
}

pub(crate) async fn home(
    State(state): State<AppState>,
    Query(p): Query<Paging>,
) -> Result<Html<String>, Problem> {
    browse(&state, None, p.cursor.as_deref()).await
}

pub(crate) async fn category(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Html<String>, Problem> {
    let category = Category::from_slug(&slug).ok_or(CoreError::NotFound("category"))?;
    browse(&state, Some(category), p.cursor.as_deref()).await
}

async fn browse(
    state: &AppState,
    category: Option<Category>,
    cursor: Option<&str>,
) -> Result<Html<String>, Problem> {
    let (size, after) = catalog::paging(None, cursor)?;
    let page = catalog::browse(state.souk(), &Browse { category, size, after }).await?;
    let base = category.map_or_else(|| "/".to_owned(), |c| format!("/c/{}", c.slug()));
    let (heading, intro) = match category {
        Some(c) => (c.label().to_owned(), format!("Independent shops selling {}.", c.label().to_lowercase())),
        None => ("Fresh from the workshops".to_owned(), String::new()),
    };
    render(&BrowsePage {
        layout: Layout::new(category.map_or("Handmade and independent", Category::label)),
        heading,
        intro,
        show_hero: category.is_none() && after.is_none(),
        active_category: category.map(|c| c.slug().to_owned()).unwrap_or_default(),
        cards: page.items.iter().map(Card::from).collect(),
        next_url: page.next.map(|c| format!("{base}?cursor={}", c.encode())),
    })
}

pub(crate) async fn listing(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
) -> Result<Html<String>, Problem> {
    let id: ListingId = id.parse().map_err(|_| CoreError::NotFound("listing"))?;
    let catalog::ListingPage { listing, variants, images } = catalog::listing_page(state.souk(), id).await?;
    let money = |minor: i64, code: &str| {
        souk_domain::Money::new(
            minor,
            souk_domain::Currency::from_code(code).unwrap_or(listing.price.currency),
        )
        .to_string()
    };
    render(&ListingPage {
        layout: Layout::new(listing.title.clone()),
        // The first photo at full size; the drawn placeholder for listings without one.
        image: images
            .first()
            .map_or_else(|| crate::api::dto::cover_url(&listing), |i| format!("/media/images/{}/full", i.id)),
        price: listing.price.to_string(),
        shop_url: format!("/shops/{}", listing.shop_slug),
        category_url: format!("/c/{}", listing.category.slug()),
        category_label: listing.category.label(),
        paragraphs: listing
            .description
            .split('\n')
            .filter(|p| !p.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        photos: images
            .iter()
            .map(|i| {
                (
                    format!("/media/images/{}/thumb", i.id),
                    format!("/media/images/{}/full", i.id),
                    i.alt_text.clone(),
                )
            })
            .collect(),
        variants: variants
            .iter()
            .filter(|v| !v.archived)
            .map(|v| VariantOption {
                id: v.id.to_string(),
                name: v.name.clone(),
                price: money(v.price_minor, &v.currency),
                stock: v.stock,
            })
            .collect(),
        csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
        listing,
    })
}

pub(crate) async fn shops(State(state): State<AppState>) -> Result<Html<String>, Problem> {
    let shops = catalog::shops(state.souk()).await?;
    render(&ShopsPage { layout: Layout::new("Shops"), shops })
}

pub(crate) async fn shop(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(p): Query<Paging>,
) -> Result<Html<String>, Problem> {
    let (size, after) = catalog::paging(None, p.cursor.as_deref())?;
    let (shop, page) = catalog::shop(state.souk(), &slug, size, after).await?;
    let since =
        shop.created_at.to_datetime().map(|d| format!("{} {}", d.month(), d.year())).unwrap_or_default();
    let return_policy = catalog::return_policy(state.souk(), shop.id).await?;
    let (_, rep, reviews) = reviews::of_shop(state.souk(), shop.slug.as_str(), None, 10).await?;
    render(&ShopPage {
        layout: Layout::new(shop.name.clone()),
        return_policy,
        reputation: ReputationView {
            count: rep.count,
            average: if rep.count > 0 {
                {
                    let tenths = (rep.average_centi + 5) / 10;
                    format!("{}.{}", tenths / 10, tenths % 10)
                }
            } else {
                String::new()
            },
            by_rating: (1..=5).rev().map(|n| (n, rep.by_rating.get(n - 1).copied().unwrap_or(0))).collect(),
            completed_orders: rep.completed_orders,
        },
        reviews: reviews
            .into_iter()
            .filter(|r| !r.removed)
            .map(|r| ReviewView {
                stars: "★".repeat(usize::try_from(r.rating.clamp(0, 5)).unwrap_or(0)),
                rating: r.rating,
                by: r.buyer_handle,
                at: day(r.created_at),
                body: r.body,
                reply: r.reply,
            })
            .collect(),
        next_url: page.next.map(|c| format!("/shops/{}?cursor={}", shop.slug, c.encode())),
        cards: page.items.iter().map(Card::from).collect(),
        since,
        shop,
    })
}

/// RFC 9116: where to report a vulnerability. Expires a year from now, as the RFC asks.
pub(crate) async fn security_txt(State(state): State<AppState>) -> Response {
    let public = &state.config().public_url;
    let expires = state.souk().clock.now().plus_micros(365 * 86_400 * 1_000_000).to_rfc3339();
    let body = format!(
        "Contact: {}\nExpires: {expires}\nPreferred-Languages: en\nCanonical: {public}/.well-known/security.txt\n",
        state.config().security_contact
    );
    text(body)
}

pub(crate) async fn robots_txt() -> Response {
    text("User-agent: *\nDisallow: /api/\nAllow: /\n".to_owned())
}

fn text(body: String) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}
