//! The page models handed to templates. Templates only read these; they never reach for
//! data themselves.

use askama::Template;
use souk_domain::catalog::{Category, Listing, Shop};
use souk_store::catalog::ShopSummary;

use crate::assets;

/// What the shared layout needs on every page.
pub(crate) struct Layout {
    pub title: String,
    pub css: String,
    pub logo: String,
    pub favicon: String,
    pub categories: Vec<(&'static str, &'static str)>,
    /// Shows the buyer's links (cart, orders, messages).
    pub signed_in: bool,
    /// Shows the staff console's link (the viewer is staff).
    pub staff: bool,
}

impl Layout {
    pub(crate) fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            css: assets::url("souk.css"),
            logo: assets::url("logo.svg"),
            favicon: assets::url("favicon.svg"),
            categories: Category::ALL.iter().map(|c| (c.slug(), c.label())).collect(),
            signed_in: super::nav::signed_in(),
            staff: super::nav::staff(),
        }
    }

    /// The layout of a staff console page (with the console's link).
    pub(crate) fn staff(mut self) -> Self {
        self.staff = true;
        self
    }
}

/// A listing as a card in a grid.
pub(crate) struct Card {
    pub url: String,
    pub image: String,
    pub title: String,
    pub price: String,
    pub shop_name: String,
    pub shop_url: String,
    pub low_stock: bool,
}

impl From<&Listing> for Card {
    fn from(l: &Listing) -> Self {
        Self {
            url: format!("/listings/{}", l.id),
            image: crate::api::dto::cover_url(l),
            title: l.title.clone(),
            price: l.price.to_string(),
            shop_name: l.shop_name.clone(),
            shop_url: format!("/shops/{}", l.shop_slug),
            low_stock: l.stock > 0 && l.stock <= 5,
        }
    }
}

#[derive(Template)]
#[template(path = "browse.html")]
pub(crate) struct BrowsePage {
    pub layout: Layout,
    pub heading: String,
    pub intro: String,
    pub show_hero: bool,
    pub active_category: String,
    pub cards: Vec<Card>,
    pub next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "listing.html")]
pub(crate) struct ListingPage {
    pub layout: Layout,
    pub listing: Listing,
    pub image: String,
    pub price: String,
    pub shop_url: String,
    pub category_url: String,
    pub category_label: &'static str,
    pub paragraphs: Vec<String>,
    /// Every photo: (thumbnail, full size, alternative text).
    pub photos: Vec<(String, String, String)>,
    pub variants: Vec<super::buyer_views::VariantOption>,
    /// The session's CSRF token for the cart and message forms (empty when signed out).
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "shop.html")]
pub(crate) struct ShopPage {
    pub layout: Layout,
    pub shop: Shop,
    pub since: String,
    pub cards: Vec<Card>,
    pub next_url: Option<String>,
    pub return_policy: String,
    pub reputation: ReputationView,
    pub reviews: Vec<ReviewView>,
}

/// A shop's reputation as its page shows it.
pub(crate) struct ReputationView {
    pub count: i64,
    /// The average rating, e.g. "4.6", empty without reviews.
    pub average: String,
    /// (stars, how many) from 5 down to 1.
    pub by_rating: Vec<(usize, i64)>,
    pub completed_orders: i64,
}

/// A review that stands, with the shop's reply.
pub(crate) struct ReviewView {
    pub stars: String,
    pub rating: i64,
    pub by: String,
    pub at: String,
    pub body: String,
    pub reply: Option<String>,
}

#[derive(Template)]
#[template(path = "shops.html")]
pub(crate) struct ShopsPage {
    pub layout: Layout,
    pub shops: Vec<ShopSummary>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub layout: Layout,
    pub status: u16,
    pub title: &'static str,
    pub detail: String,
    pub request_id: String,
}
