//! The storefront's server-rendered pages: askama templates (HTML escaping on), one shared
//! layout, no inline script or style, so the strict CSP holds on every page.

mod account;
mod account_views;
mod art;
mod buyer;
mod buyer_views;
mod finance;
mod finance_views;
mod forms;
mod inbox;
pub(crate) mod nav;
mod pages;
mod seller;
mod seller_views;
mod seller_webhooks;
mod staff;
mod vault;
pub(crate) mod views;

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::{AppState, Problem};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/c/{category}", get(pages::category))
        .route("/listings/{id}", get(pages::listing))
        .route("/shops", get(pages::shops))
        .route("/shops/{slug}", get(pages::shop))
        .route("/media/listings/{id}/art.svg", get(art::listing_art))
        .route("/media/images/{id}/{size}", get(art::listing_image))
        .route("/static/{name}", get(crate::assets::serve))
        .route("/favicon.ico", get(crate::assets::favicon))
        .route("/.well-known/security.txt", get(pages::security_txt))
        .route("/robots.txt", get(pages::robots_txt))
        .route("/signup", get(account::signup_form).post(account::signup))
        .route("/verify-email", get(account::verify_email_page).post(account::verify_email))
        .route("/login", get(account::login_form).post(account::login))
        .route("/login/second-factor", get(account::second_factor_form).post(account::second_factor))
        .route("/logout", post(account::logout))
        .route("/reset", get(account::reset_form).post(account::reset))
        .route("/reset/confirm", get(account::reset_confirm_page).post(account::reset_confirm))
        .route("/account/security", get(account::security))
        .route("/account/phrase", post(account::set_phrase))
        .route("/account/password", post(account::change_password))
        .route("/account/reauth", get(account::reauth_form).post(account::reauth))
        .route("/account/sessions", get(account::sessions_page))
        .route("/account/sessions/{id}/revoke", post(account::revoke_session))
        .route("/account/sessions/revoke-others", post(account::revoke_others))
        .route("/account/passkeys/{id}/remove", post(account::remove_passkey))
        .route("/account/totp/start", post(account::totp_start))
        .route("/account/totp/confirm", post(account::totp_confirm))
        .route("/account/totp/disable", post(account::totp_disable))
        .route("/account/recovery-codes", post(account::recovery_codes))
        .route("/account/api-keys", get(account::api_keys).post(account::create_api_key))
        .route("/account/api-keys/{id}/revoke", post(account::revoke_api_key))
        .route("/setup", get(account::setup_page).post(account::setup))
        .route("/account/email", post(account::change_email))
        .route("/confirm-email", get(account::confirm_email_page).post(account::confirm_email))
        .route("/dev/mail", get(account::dev_mail))
        // The buyer's pages (web/buyer.rs, web/inbox.rs).
        .route("/search", get(buyer::search))
        .route("/cart", get(buyer::cart))
        .route("/cart/lines", post(buyer::add_line))
        .route("/cart/lines/{variant}", post(buyer::set_line))
        .route("/cart/lines/{variant}/remove", post(buyer::remove_line))
        .route("/checkout", get(buyer::checkout_form).post(buyer::place))
        .route("/checkout/{id}", get(buyer::placed))
        .route("/checkout/{id}/pay", post(buyer::pay))
        .route("/checkout/{id}/challenge", post(buyer::challenge))
        // The card vault's endpoint: cards go here, never to a marketplace route.
        .route(
            "/vault/v1/cards",
            post(vault::tokenize).layer(axum::extract::DefaultBodyLimit::max(vault::BODY_LIMIT_BYTES)),
        )
        .route("/orders", get(buyer::my_orders))
        .route("/orders/{id}", get(buyer::order))
        .route("/orders/{id}/cancel", post(buyer::cancel))
        .route("/orders/{id}/confirm-delivery", post(buyer::confirm_delivery))
        .route("/orders/{id}/review", post(buyer::review))
        .route("/messages", get(inbox::inbox))
        .route("/messages/new", post(inbox::start))
        .route("/messages/{id}", get(inbox::conversation).post(inbox::reply))
        .route("/messages/{id}/report/{message}", post(inbox::report))
        .merge(seller_routes())
}

/// The seller hub and the staff console. Uploads (multipart forms) take the upload limit.
fn seller_routes() -> Router<AppState> {
    let upload_limit =
        axum::extract::DefaultBodyLimit::max(crate::api::shops::UPLOAD_LIMIT_BYTES + 64 * 1024);
    Router::new()
        .route("/seller", get(seller::home))
        .route("/seller/become", post(seller::become_seller))
        .route("/seller/shops", post(seller::open_shop))
        .route("/seller/listings", get(seller::listings_page))
        .route("/seller/listings/new", get(seller::new_listing_form).post(seller::create_listing))
        .route("/seller/listings/{id}/edit", get(seller::edit_listing_form).post(seller::update_listing))
        .route("/seller/listings/{id}/images", post(seller::add_photo).layer(upload_limit))
        .route("/seller/listings/{id}/images/{image}/remove", post(seller::remove_photo))
        .route("/seller/verification", get(seller::verification_form))
        .route("/seller/verification/documents", post(seller::submit_verification).layer(upload_limit))
        .route("/seller/staff", get(seller::staff_list))
        .route("/seller/staff/invite", post(seller::invite))
        .route("/seller/staff/{account}/remove", post(seller::remove_member))
        .route("/seller/invitations/accept", get(seller::accept_form).post(seller::accept))
        .route("/seller/orders", get(seller::orders_page))
        .route("/seller/orders/{id}", get(seller::order_detail))
        .route("/seller/orders/{id}/ship", post(seller::ship))
        .route("/seller/orders/{id}/cancel", post(seller::cancel))
        .route("/seller/orders/{id}/refund", post(seller::refund))
        .route("/seller/money", get(finance::seller_money))
        .route("/seller/money/bank-account", post(finance::set_bank_account))
        .route("/seller/reviews", get(seller::reviews_list))
        .route("/seller/reviews/{id}/reply", post(seller::reply))
        .route("/seller/webhooks", get(seller_webhooks::webhooks_page))
        .route(
            "/seller/webhooks/{endpoint}/deliveries/{delivery}/redeliver",
            post(seller_webhooks::redeliver),
        )
        .route("/staff", get(staff::index))
        .route("/staff/verifications", get(staff::queue))
        .route("/staff/verifications/{id}", get(staff::review))
        .route("/staff/verifications/{id}/decision", post(staff::decide))
        .route("/staff/shops/{id}/suspend", post(staff::suspend))
        .route("/staff/listings/{id}/takedown", get(staff::takedown_form).post(staff::takedown))
        .route("/staff/reports", get(staff::reports))
        .route("/staff/finance", get(finance::staff_finance))
        .route("/staff/finance/payouts", post(finance::run_payouts))
        .route("/staff/reports/{id}/resolve", post(staff::resolve))
        .route("/staff/reviews/{id}/remove", get(staff::review_removal_form).post(staff::remove_review))
}

/// Renders a template, turning a template failure into a logged 500.
pub(crate) fn render<T: Template>(page: &T) -> Result<Html<String>, Problem> {
    page.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "template failed to render");
        Problem::of("internal")
    })
}

/// Marks a response whose error status comes with a page written for it (a form shown again
/// with its message), so the error middleware leaves it alone.
#[derive(Clone, Copy)]
pub(crate) struct RenderedPage;

/// Renders a page answered with an error status (422 for a form to correct, 409, 401 ...).
pub(crate) fn page_with_status<T: Template>(status: StatusCode, page: &T) -> Result<Response, Problem> {
    let mut res = (status, render(page)?).into_response();
    res.extensions_mut().insert(RenderedPage);
    Ok(res)
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
