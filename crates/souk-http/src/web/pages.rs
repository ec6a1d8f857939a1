//! Page handlers: parse the request, call a catalog use case, fill a page model.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::catalog::{self, Browse};
use souk_domain::catalog::Category;
use souk_domain::ids::ListingId;

use super::render;
use super::views::{BrowsePage, Card, Layout, ListingPage, ShopPage, ShopsPage};
use crate::{AppState, Problem};

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
    Path(id): Path<String>,
) -> Result<Html<String>, Problem> {
    let id: ListingId = id.parse().map_err(|_| CoreError::NotFound("listing"))?;
    let listing = catalog::listing(state.souk(), id).await?;
    render(&ListingPage {
        layout: Layout::new(listing.title.clone()),
        image: crate::api::dto::cover_url(&listing),
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
    render(&ShopPage {
        layout: Layout::new(shop.name.clone()),
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
