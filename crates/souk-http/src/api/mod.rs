//! The JSON API under `/api/v1`, and the probes. Each operation is documented in place with
//! `utoipa`, so the OpenAPI 3.1 document at `/api/openapi.json` is generated from the code.

pub(crate) mod auth;
mod catalog;
mod csp;
pub mod docs;
pub(crate) mod dto;
mod finance;
mod health;
mod listings;
mod messages;
mod orders;
mod risk;
pub(crate) mod shops;
mod staff;
mod webhooks;

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Souk API",
        description = "The JSON API of a Souk marketplace. Errors are RFC 9457 problem documents \
                       (`application/problem+json`) with a stable `code`; lists are cursor-paginated.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "catalog", description = "Shops, listings and categories on the storefront."),
        (name = "operations", description = "Health probes for load balancers and orchestrators."),
        (name = "security", description = "Security reporting endpoints."),
        (name = "staff", description = "The staff console's API: account look-up, staff roles, the audit log."),
        (name = "messages", description = "Conversations between buyers and shops, with safety warnings, and reports."),
        (name = "orders", description = "The buyer's cart, checkout and orders."),
        (name = "seller", description = "The seller hub: shops, verification, shop staff, webhook endpoints."),
        (name = "identity", description = "Sign-up, sign-in, second factors, sessions and the account's own security settings."),
    ),
    components(schemas(dto::ProblemDoc)),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

/// The two ways to authenticate: the session cookie set at sign-in (state-changing calls
/// also send `X-CSRF-Token`), and API keys as bearer tokens.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-souk_session",
                "Set by sign-in; send X-CSRF-Token with state-changing calls.",
            ))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key: souk_sk_…"))
                    .build(),
            ),
        );
    }
}

/// The API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    money_and_risk(marketplace())
}

/// Identity, catalog, shops, listings, orders and messages.
fn marketplace() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(catalog::list_listings))
        .routes(routes!(catalog::get_listing))
        .routes(routes!(catalog::list_shops))
        .routes(routes!(catalog::get_shop))
        .routes(routes!(catalog::list_categories))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(csp::report))
        .routes(routes!(auth::sign_up))
        .routes(routes!(auth::verify_email))
        .routes(routes!(auth::login))
        .routes(routes!(auth::second_factor))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::request_reset))
        .routes(routes!(auth::confirm_reset))
        .routes(routes!(auth::me))
        .routes(routes!(auth::list_sessions))
        .routes(routes!(auth::revoke_session))
        .routes(routes!(auth::revoke_others))
        .routes(routes!(auth::reauthenticate))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::set_phrase))
        .routes(routes!(auth::passkey_login_start))
        .routes(routes!(auth::passkey_login_finish))
        .routes(routes!(auth::passkey_register_start))
        .routes(routes!(auth::passkey_register_finish, auth::list_passkeys))
        .routes(routes!(auth::remove_passkey))
        .routes(routes!(auth::totp_start, auth::totp_disable))
        .routes(routes!(auth::totp_confirm))
        .routes(routes!(auth::recovery_codes))
        .routes(routes!(auth::whoami))
        .routes(routes!(auth::become_seller))
        .routes(routes!(auth::change_email))
        .routes(routes!(auth::confirm_email))
        .routes(routes!(auth::reauth_passkey_start))
        .routes(routes!(auth::reauth_passkey_finish))
        .routes(routes!(auth::create_api_key, auth::list_api_keys))
        .routes(routes!(auth::revoke_api_key))
        .routes(routes!(staff::view_account))
        .routes(routes!(staff::create_staff))
        .routes(routes!(staff::assign_roles))
        .routes(routes!(staff::read_audit))
        .routes(routes!(staff::export_audit))
        .routes(routes!(shops::open_shop, shops::my_shops))
        .routes(routes!(shops::shop_detail, shops::update_shop))
        .routes(routes!(shops::upload_document))
        .routes(routes!(shops::download_document))
        .routes(routes!(shops::submit_verification, shops::latest_verification))
        .routes(routes!(shops::invite, shops::list_invitations))
        .routes(routes!(shops::revoke_invitation))
        .routes(routes!(shops::remove_member))
        .routes(routes!(shops::accept_invitation))
        .routes(routes!(shops::verification_queue))
        .routes(routes!(shops::review))
        .routes(routes!(shops::decide))
        .routes(routes!(shops::suspend))
        .routes(routes!(shops::reinstate))
        .routes(routes!(listings::create_listing, listings::shop_listings))
        .routes(routes!(listings::get_seller_listing, listings::update_listing))
        .routes(routes!(listings::add_image))
        .routes(routes!(listings::remove_image))
        .routes(routes!(listings::seller_image))
        .routes(routes!(listings::takedown))
        .routes(routes!(orders::get_cart))
        .routes(routes!(orders::set_line, orders::remove_line))
        .routes(routes!(orders::shipping_options))
        .routes(routes!(orders::checkout))
        .routes(routes!(orders::pay_checkout))
        .routes(routes!(orders::complete_payment_challenge))
        .routes(routes!(orders::my_orders))
        .routes(routes!(orders::shop_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::order_action))
        .routes(routes!(messages::start, messages::list))
        .routes(routes!(messages::get))
        .routes(routes!(messages::send))
        .routes(routes!(messages::report))
        .routes(routes!(messages::reports))
        .routes(routes!(messages::resolve))
        .routes(routes!(messages::review))
        .routes(routes!(messages::reply))
        .routes(routes!(messages::remove_review))
        .routes(routes!(messages::shop_reviews))
}

/// Money (refunds, balances, payouts), webhooks and the risk engine's staff routes.
fn money_and_risk(router: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    router
        .routes(routes!(finance::refund_order, finance::list_refunds))
        .routes(routes!(finance::shop_balance))
        .routes(routes!(finance::shop_payouts))
        .routes(routes!(finance::set_bank_account, finance::get_bank_account))
        .routes(routes!(finance::staff_finance))
        .routes(routes!(finance::run_payouts))
        .routes(routes!(webhooks::create_webhook_endpoint, webhooks::list_webhook_endpoints))
        .routes(routes!(
            webhooks::get_webhook_endpoint,
            webhooks::update_webhook_endpoint,
            webhooks::delete_webhook_endpoint
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::list_webhook_deliveries))
        .routes(routes!(webhooks::redeliver_webhook))
        .routes(routes!(risk::read_rules, risk::save_rules))
        .routes(routes!(risk::view_decision))
        .routes(routes!(risk::replay_decision))
        .routes(routes!(risk::decide_review))
}

/// The OpenAPI document, serialized once at start-up.
pub fn openapi_json() -> Vec<u8> {
    let (_, doc) = router().split_for_parts();
    doc.to_pretty_json().unwrap_or_default().into_bytes()
}
