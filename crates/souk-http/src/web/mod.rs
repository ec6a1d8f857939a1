//! The storefront's server-rendered pages: askama templates (HTML escaping on), one shared
//! layout, no inline script or style, so the strict CSP holds on every page.

mod art;
mod pages;
pub(crate) mod views;

use askama::Template;
use axum::Router;
use axum::response::Html;
use axum::routing::get;

use crate::{AppState, Problem};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/c/{category}", get(pages::category))
        .route("/listings/{id}", get(pages::listing))
        .route("/shops", get(pages::shops))
        .route("/shops/{slug}", get(pages::shop))
        .route("/media/listings/{id}/art.svg", get(art::listing_art))
        .route("/static/{name}", get(crate::assets::serve))
        .route("/favicon.ico", get(crate::assets::favicon))
        .route("/.well-known/security.txt", get(pages::security_txt))
        .route("/robots.txt", get(pages::robots_txt))
}

/// Renders a template, turning a template failure into a logged 500.
pub(crate) fn render<T: Template>(page: &T) -> Result<Html<String>, Problem> {
    page.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "template failed to render");
        Problem::of("internal")
    })
}

/// The HTML page for an error, used by the error middleware.
pub(crate) fn error_page(problem: &Problem, request_id: &str) -> String {
    let page = views::ErrorPage {
        layout: views::Layout::new(problem.title),
        status: problem.status.as_u16(),
        title: problem.title,
        detail: problem.detail.clone().unwrap_or_default(),
        request_id: request_id.to_owned(),
    };
    page.render()
        .unwrap_or_else(|_| format!("<!doctype html><title>{0}</title><h1>{0}</h1>", problem.status.as_u16()))
}
