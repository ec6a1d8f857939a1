//! The buyer's cart and checkout, and orders for buyers and shops. Checkout requires an
//! `Idempotency-Key`: a retry with the same key and body replays the first answer (with
//! `Idempotent-Replayed: true`), another body with the key is refused with 422.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use souk_core::idempotency::{self, Begun};
use souk_core::market::checkout::{self, CheckoutInput, Idempotency, Placed};
use souk_core::market::{cart, orders};
use souk_domain::checkout::{SHIPPING_OPTIONS, ShippingAddress};
use souk_domain::ids::{OrderId, ShopId, VariantId};
use souk_domain::{Currency, Money, Timestamp};
use souk_store::orders::{OrderLine, OrderRow};
use utoipa::{IntoParams, ToSchema};

use super::auth::Body;
use super::dto::{PriceDto, ProblemDoc};
use crate::middleware::auth::{Caller, ClientInfo, Session};
use crate::{AppState, Problem};

fn money(minor: i64, currency: &str) -> PriceDto {
    Money::new(minor, Currency::from_code(currency).unwrap_or(Currency::EUR)).into()
}

/// One line of the cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartLineDto {
    variant_id: String,
    listing_id: String,
    title: String,
    variant_name: String,
    sku: String,
    quantity: i64,
    unit_price: PriceDto,
    line_total: PriceDto,
    /// Units left now.
    stock: i64,
    /// Why the line cannot be bought as it is (sold out, fewer left, no longer for sale).
    problem: Option<String>,
}

/// One shop's part of the cart (it becomes one order).
#[derive(Debug, Serialize, ToSchema)]
pub struct CartShopDto {
    shop_id: String,
    shop_name: String,
    shop_slug: String,
    lines: Vec<CartLineDto>,
    items_total: PriceDto,
}

/// The cart, with today's prices and stock.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartDto {
    shops: Vec<CartShopDto>,
    items_total: PriceDto,
    /// Whether every line can be bought as it is.
    ready: bool,
}

pub(crate) fn cart_dto(v: cart::CartView) -> CartDto {
    CartDto {
        shops: v
            .groups
            .into_iter()
            .map(|g| CartShopDto {
                shop_id: g.shop.to_string(),
                shop_name: g.shop_name,
                shop_slug: g.shop_slug,
                items_total: g.items_total.into(),
                lines: g
                    .lines
                    .into_iter()
                    .map(|l| CartLineDto {
                        variant_id: l.line.variant.to_string(),
                        listing_id: l.line.listing.to_string(),
                        title: l.line.title,
                        variant_name: l.line.variant_name,
                        sku: l.line.sku,
                        quantity: l.line.quantity,
                        unit_price: l.unit_price.into(),
                        line_total: l.line_total.into(),
                        stock: l.line.stock,
                        problem: l.problem,
                    })
                    .collect(),
            })
            .collect(),
        items_total: v.items_total.into(),
        ready: v.ready,
    }
}

/// Your cart.
#[utoipa::path(
    get, path = "/api/v1/cart", tag = "orders",
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 200, description = "The cart", body = CartDto)),
    security(("session" = []))
)]
pub async fn get_cart(State(state): State<AppState>, Session(s): Session) -> Result<Json<CartDto>, Problem> {
    Ok(Json(cart_dto(cart::view(state.souk(), &s.principal).await?)))
}

/// How many of a variant to hold.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityRequest {
    /// 1 to 100; 0 removes the line.
    quantity: i64,
}

fn variant_id(raw: &str) -> Result<VariantId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such variant."))
}

/// Put a variant in the cart (or change its quantity). Only what is on sale, from shops
/// that are not your own, within the stock left.
#[utoipa::path(
    put, path = "/api/v1/cart/lines/{variant}", tag = "orders", request_body = QuantityRequest,
    params(("variant" = String, Path, description = "The variant id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The cart", body = CartDto),
        (status = 400, description = "Quantity out of range", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "Not on sale", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not enough stock, own shop, or a full cart", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn set_line(
    State(state): State<AppState>,
    Session(s): Session,
    Path(variant): Path<String>,
    Body(req): Body<QuantityRequest>,
) -> Result<Json<CartDto>, Problem> {
    let view = cart::set(state.souk(), &s.principal, variant_id(&variant)?, req.quantity).await?;
    Ok(Json(cart_dto(view)))
}

/// Remove a line from the cart.
#[utoipa::path(
    delete, path = "/api/v1/cart/lines/{variant}", tag = "orders",
    params(("variant" = String, Path, description = "The variant id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 200, description = "The cart", body = CartDto)),
    security(("session" = []))
)]
pub async fn remove_line(
    State(state): State<AppState>,
    Session(s): Session,
    Path(variant): Path<String>,
) -> Result<Json<CartDto>, Problem> {
    Ok(Json(cart_dto(cart::set(state.souk(), &s.principal, variant_id(&variant)?, 0).await?)))
}

/// A shipping option a buyer can pick per shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOptionDto {
    code: String,
    label: String,
    price: PriceDto,
    days: String,
}

/// The marketplace's shipping options.
#[utoipa::path(
    get, path = "/api/v1/shipping-options", tag = "orders",
    responses((status = 200, description = "Every option", body = [ShippingOptionDto]))
)]
pub async fn shipping_options(State(state): State<AppState>) -> Json<Vec<ShippingOptionDto>> {
    let currency = state.souk().market.currency;
    Json(
        SHIPPING_OPTIONS
            .iter()
            .map(|o| ShippingOptionDto {
                code: o.code.into(),
                label: o.label.into(),
                price: Money::new(o.price_minor, currency).into(),
                days: o.days.into(),
            })
            .collect(),
    )
}

/// Where to ship.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    name: String,
    line1: String,
    #[serde(default)]
    line2: String,
    postal_code: String,
    city: String,
    /// ISO 3166-1 alpha-2.
    country: String,
}

/// A checkout of the whole cart.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    shipping_address: AddressDto,
    /// A shipping option code for each shop id in the cart.
    shipping: BTreeMap<String, String>,
    /// The total you were shown, in minor units; the checkout stops if it changed.
    #[serde(default)]
    expected_total_minor: Option<i64>,
}

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLineDto {
    listing_id: String,
    variant_id: String,
    title: String,
    variant_name: String,
    sku: String,
    unit_price: PriceDto,
    quantity: i64,
    total: PriceDto,
}

/// An order: one shop's part of a checkout.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDto {
    id: String,
    number: String,
    checkout_id: String,
    shop_id: String,
    shop_name: String,
    /// placed, paid, shipped, delivered, completed, cancelled, refunded or disputed.
    status: String,
    items: PriceDto,
    shipping: PriceDto,
    total: PriceDto,
    /// The platform's fee on this order: shown to the shop's people only.
    #[serde(skip_serializing_if = "Option::is_none")]
    platform_fee: Option<PriceDto>,
    shipping_option: String,
    carrier: Option<String>,
    tracking_number: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lines: Option<Vec<OrderLineDto>>,
}

fn order_dto(o: OrderRow, lines: Option<&[OrderLine]>, show_fee: bool) -> OrderDto {
    let c = o.currency.clone();
    OrderDto {
        lines: lines.map(|ls| {
            ls.iter()
                .map(|l| OrderLineDto {
                    listing_id: l.listing.to_string(),
                    variant_id: l.variant.to_string(),
                    title: l.title.clone(),
                    variant_name: l.variant_name.clone(),
                    sku: l.sku.clone(),
                    unit_price: money(l.unit_price_minor, &c),
                    quantity: l.quantity,
                    total: money(l.total_minor, &c),
                })
                .collect()
        }),
        id: o.id,
        number: o.number,
        checkout_id: o.checkout,
        shop_id: o.shop.to_string(),
        shop_name: o.shop_name,
        status: o.status,
        items: money(o.items_minor, &c),
        shipping: money(o.shipping_minor, &c),
        total: money(o.total_minor, &c),
        platform_fee: show_fee.then(|| money(o.platform_fee_minor, &c)),
        shipping_option: o.shipping_option,
        carrier: o.carrier,
        tracking_number: o.tracking_number,
        created_at: o.created_at.to_rfc3339(),
        updated_at: o.updated_at.to_rfc3339(),
    }
}

/// A placed checkout.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutDto {
    id: String,
    /// awaiting_payment until a payment settles it; unpaid checkouts expire.
    payment_state: String,
    /// When an unpaid checkout's orders are cancelled and their stock released.
    expires_at: String,
    items: PriceDto,
    shipping: PriceDto,
    total: PriceDto,
    orders: Vec<OrderDto>,
}

fn checkout_dto(p: &Placed) -> CheckoutDto {
    let c = &p.checkout.currency;
    CheckoutDto {
        id: p.checkout.id.clone(),
        payment_state: p.payment.as_str().to_owned(),
        expires_at: p.checkout.expires_at.to_rfc3339(),
        items: money(p.checkout.items_minor, c),
        shipping: money(p.checkout.shipping_minor, c),
        total: money(p.checkout.total_minor, c),
        orders: p.orders.iter().map(|(o, l)| order_dto(o.clone(), Some(l), false)).collect(),
    }
}

fn json_response(status: u16, body: Vec<u8>, replayed: bool) -> Response {
    let mut res = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// Check out the whole cart: one order per shop, stock reserved, awaiting payment.
/// Requires an `Idempotency-Key` header.
#[utoipa::path(
    post, path = "/api/v1/checkout", tag = "orders", request_body = CheckoutRequest,
    params(("Idempotency-Key" = String, Header, description = "A unique key per checkout attempt (a UUID); retries reuse it")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 201, description = "Placed (or replayed: `Idempotent-Replayed: true`)", body = CheckoutDto),
        (status = 400, description = "Missing key, empty cart, bad address or shipping", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Declined", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Sold out, prices changed, a shop's limit, or the first request with this key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn checkout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Problem> {
    let souk = state.souk();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::of("invalid_parameter")
                .with_detail("Send an Idempotency-Key header (a UUID per checkout attempt).")
        })?
        .to_owned();
    let bytes = axum::body::to_bytes(body, state.config().body_limit_bytes)
        .await
        .map_err(|_| Problem::of("payload_too_large"))?;
    let scope = format!("checkout:{}", s.principal.account);
    match idempotency::begin(souk, &scope, &key, &bytes).await? {
        Begun::Fresh => {}
        Begun::Replay { status, body } => return Ok(json_response(status, body, true)),
        Begun::Mismatch => {
            return Err(Problem::of("idempotency_key_reused")
                .with_detail("This Idempotency-Key was used for a different request body; use a new key."));
        }
        Begun::InProgress => {
            return Err(Problem::of("idempotency_in_progress").retry_after(1));
        }
    }
    let result = run_checkout(souk, &s.principal, &client, &bytes, &scope, &key).await;
    match result {
        Ok(placed) => {
            let body = serde_json::to_vec(&checkout_dto(&placed)).map_err(|_| Problem::of("internal"))?;
            Ok(json_response(201, body, false))
        }
        Err(problem) => {
            // Nothing changed: give the key back so a corrected request can use it.
            idempotency::release(souk, &scope, &key).await?;
            Err(problem)
        }
    }
}

async fn run_checkout(
    souk: &souk_core::Souk,
    principal: &souk_core::identity::Principal,
    client: &souk_core::identity::Client,
    bytes: &[u8],
    scope: &str,
    key: &str,
) -> Result<Placed, Problem> {
    let req: CheckoutRequest = serde_json::from_slice(bytes)
        .map_err(|e| Problem::of("malformed_json").with_detail(e.to_string()))?;
    let mut shipping = BTreeMap::new();
    for (shop, option) in req.shipping {
        let id: ShopId = shop
            .parse()
            .map_err(|_| Problem::of("invalid_parameter").with_detail("shipping: keys are shop ids"))?;
        shipping.insert(id, option);
    }
    let a = req.shipping_address;
    let input = CheckoutInput {
        address: ShippingAddress {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
        },
        shipping,
        expected_total_minor: req.expected_total_minor,
    };
    let respond = |p: &Placed| (201, serde_json::to_vec(&checkout_dto(p)).unwrap_or_default());
    let idem = Idempotency { scope, key, respond: &respond };
    Ok(checkout::place(souk, principal, client, &input, Some(&idem)).await?)
}

/// A card payment of a checkout: the token the vault gave for the card. Any amount sent
/// is ignored: the checkout's stored total is charged.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRequest {
    card_token: String,
}

/// Where a checkout's payment stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    /// `paid`, `declined`, `challenge_required` or `pending` (outcome unknown for now: the
    /// processor did not answer in time; it is reconciled, do not pay again).
    status: String,
    /// Shown to the buyer: never the issuer's reason for a decline.
    message: String,
    /// For `challenge_required`: the payment and challenge to answer.
    payment_id: Option<String>,
    challenge_id: Option<String>,
}

fn payment_dto(r: &souk_core::payments::PaymentResult) -> PaymentDto {
    use souk_core::payments::PaymentResult as R;
    let (status, message, ids) = match r {
        R::Paid => ("paid", "Paid. Thank you!", None),
        R::Declined => ("declined", souk_core::payments::pay::DECLINED, None),
        R::Challenge { payment, challenge } => (
            "challenge_required",
            "Your bank wants to confirm it is you.",
            Some((payment.as_str().to_owned(), challenge.as_str().to_owned())),
        ),
        R::Pending => ("pending", "The payment is being confirmed; do not pay again.", None),
    };
    let (payment_id, challenge_id) = ids.map_or((None, None), |(p, c)| (Some(p), Some(c)));
    PaymentDto { status: status.into(), message: message.into(), payment_id, challenge_id }
}

/// Pay a checkout with a card token from the vault (`POST /vault/v1/cards`). Only the
/// checkout's buyer may; the charged amount is the checkout's total. Requires an
/// `Idempotency-Key` header; the payment itself is idempotent per checkout, so a retry
/// never charges twice.
#[utoipa::path(
    post, path = "/api/v1/checkouts/{id}/payment", tag = "orders", operation_id = "pay_checkout",
    request_body = PaymentRequest,
    params(("id" = String, Path, description = "The checkout"),
        ("Idempotency-Key" = String, Header, description = "A unique key per payment attempt (a UUID); retries reuse it")),
    responses(
        (status = 200, description = "The payment's status (replayed: `Idempotent-Replayed: true`)", body = PaymentDto),
        (status = 400, description = "Missing key or unusable card token", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such checkout of yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Expired, or the first request with this key is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn pay_checkout(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Problem> {
    let souk = state.souk();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::of("invalid_parameter")
                .with_detail("Send an Idempotency-Key header (a UUID per payment attempt).")
        })?
        .to_owned();
    let bytes = axum::body::to_bytes(body, state.config().body_limit_bytes)
        .await
        .map_err(|_| Problem::of("payload_too_large"))?;
    let req: PaymentRequest = serde_json::from_slice(&bytes)
        .map_err(|e| Problem::of("malformed_json").with_detail(e.to_string()))?;
    let scope = format!("payment:{}:{id}", s.principal.account);
    match idempotency::begin(souk, &scope, &key, &bytes).await? {
        Begun::Fresh => {}
        Begun::Replay { status, body } => return Ok(json_response(status, body, true)),
        Begun::Mismatch => {
            return Err(Problem::of("idempotency_key_reused")
                .with_detail("This Idempotency-Key was used for a different request body; use a new key."));
        }
        Begun::InProgress => return Err(Problem::of("idempotency_in_progress").retry_after(1)),
    }
    match souk_core::payments::pay_checkout(souk, &s.principal, &client, &id, &req.card_token).await {
        Ok(result) => {
            let body = serde_json::to_vec(&payment_dto(&result)).map_err(|_| Problem::of("internal"))?;
            idempotency::complete(souk, &scope, &key, 200, &body).await?;
            Ok(json_response(200, body, false))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &key).await?;
            Err(e.into())
        }
    }
}

/// The code the buyer's bank asked for (3-D Secure).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChallengeAnswer {
    payment_id: String,
    challenge_id: String,
    response: String,
}

/// Answer a checkout payment's 3-D Secure challenge.
#[utoipa::path(
    post, path = "/api/v1/checkouts/{id}/payment/challenge", tag = "orders",
    operation_id = "complete_checkout_payment_challenge", request_body = ChallengeAnswer,
    params(("id" = String, Path, description = "The checkout")),
    responses(
        (status = 200, description = "The payment's status", body = PaymentDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such checkout of yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn complete_payment_challenge(
    State(state): State<AppState>,
    Session(s): Session,
    Path(id): Path<String>,
    Body(req): Body<ChallengeAnswer>,
) -> Result<Json<PaymentDto>, Problem> {
    let result = souk_core::payments::pay::complete_challenge(
        state.souk(),
        &s.principal,
        &id,
        &req.payment_id,
        &req.challenge_id,
        &req.response,
    )
    .await?;
    Ok(Json(payment_dto(&result)))
}

/// Filters and paging of order lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Only this status.
    status: Option<String>,
    /// The `next` value of the previous page.
    after: Option<String>,
    /// 1–200, default 50.
    limit: Option<u16>,
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    items: Vec<OrderDto>,
    next: Option<String>,
}

fn parse_after(raw: Option<&str>) -> Result<Option<(Timestamp, String)>, Problem> {
    raw.map(|r| {
        let bad = || Problem::of("invalid_parameter").with_detail("after: not a cursor from this API");
        let (at, id) = r.split_once('_').ok_or_else(bad)?;
        let id: OrderId = id.parse().map_err(|_| bad())?;
        Ok((Timestamp::from_micros(at.parse().map_err(|_| bad())?), id.to_string()))
    })
    .transpose()
}

fn page(rows: Vec<OrderRow>, limit: u16, show_fee: bool) -> OrderPage {
    let next = (rows.len() == usize::from(limit))
        .then(|| rows.last().map(|o| format!("{}_{}", o.created_at.as_micros(), o.id)))
        .flatten();
    OrderPage { items: rows.into_iter().map(|o| order_dto(o, None, show_fee)).collect(), next }
}

/// Your orders as a buyer, newest first (`orders:read` for API keys).
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "orders", params(OrdersQuery),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), (status = 200, description = "A page of orders", body = OrderPage)),
    security(("session" = []), ("api_key" = []))
)]
pub async fn my_orders(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<OrderPage>, Problem> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows =
        orders::mine(state.souk(), &principal, q.status.as_deref(), parse_after(q.after.as_deref())?, limit)
            .await?;
    Ok(Json(page(rows, limit, false)))
}

/// A shop's orders, newest first (its people; `orders:read` for API keys).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/orders", tag = "seller", params(("id" = String, Path, description = "The shop id"), OrdersQuery),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn shop_orders(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(shop): Path<String>,
    Query(q): Query<OrdersQuery>,
) -> Result<Json<OrderPage>, Problem> {
    let shop: ShopId = shop.parse().map_err(|_| Problem::of("not_found"))?;
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let rows = orders::of_shop(
        state.souk(),
        &principal,
        &client,
        shop,
        q.status.as_deref(),
        parse_after(q.after.as_deref())?,
        limit,
    )
    .await?;
    Ok(Json(page(rows, limit, true)))
}

/// One order with its lines, history and, for its buyer and shop, the shipping address.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetailDto {
    order: OrderDto,
    /// buyer, seller or staff.
    viewer: String,
    /// What the viewer may do now: cancel, ship, confirm_delivery.
    actions: Vec<String>,
    shipping_address: Option<AddressOutDto>,
    history: Vec<OrderEventDto>,
}

/// A shipping address as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddressOutDto {
    name: String,
    line1: String,
    line2: String,
    postal_code: String,
    city: String,
    country: String,
}

/// A step of an order's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderEventDto {
    from: String,
    to: String,
    transition: String,
    by: String,
    note: String,
    at: String,
}

/// One order (its buyer, its shop's people, support).
#[utoipa::path(
    get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = String, Path, description = "The order id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "The order", body = OrderDetailDto),
        (status = 404, description = "No such order, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id: OrderId = id.parse().map_err(|_| Problem::of("not_found"))?;
    let d = orders::view(state.souk(), &principal, &client, &id.to_string()).await?;
    let seller = d.viewer == souk_domain::order::Actor::Seller;
    let dto = OrderDetailDto {
        viewer: d.viewer.as_str().to_owned(),
        actions: d.actions.iter().map(|t| t.as_str().to_owned()).collect(),
        shipping_address: d.shipping_address.map(|a| AddressOutDto {
            name: a.name,
            line1: a.line1,
            line2: a.line2,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
        }),
        history: d
            .events
            .into_iter()
            .map(|e| OrderEventDto {
                from: e.from,
                to: e.to,
                transition: e.transition,
                by: e.actor_kind,
                note: e.note,
                at: e.at.to_rfc3339(),
            })
            .collect(),
        order: order_dto(d.order, Some(&d.lines), seller),
    };
    let mut res = Json(dto).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A change to an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderActionRequest {
    /// cancel, ship or confirm_delivery.
    action: String,
    /// For cancel: why (shown to the other party).
    #[serde(default)]
    reason: String,
    /// For ship: dhl, ups, fedex, usps, royal_mail, la_poste, postnl or other.
    #[serde(default)]
    carrier: String,
    /// For ship: 4 to 40 letters, digits and hyphens.
    #[serde(default)]
    tracking_number: String,
}

/// The order's status after the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderStatusDto {
    status: String,
}

/// Act on an order: the buyer cancels (before shipping) or confirms delivery; the shop
/// cancels or ships (with carrier and tracking number). `orders:write` for API keys.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/actions", tag = "orders", request_body = OrderActionRequest,
    params(("id" = String, Path, description = "The order id")),
    responses((status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"), 
        (status = 200, description = "Done", body = OrderStatusDto),
        (status = 403, description = "Not yours to do", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Not possible from the order's status", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn order_action(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
    Body(req): Body<OrderActionRequest>,
) -> Result<Json<OrderStatusDto>, Problem> {
    let id: OrderId = id.parse().map_err(|_| Problem::of("not_found"))?;
    let request = match req.action.as_str() {
        "cancel" => orders::Request::Cancel { reason: req.reason },
        "ship" => orders::Request::Ship { carrier: req.carrier, tracking_number: req.tracking_number },
        "confirm_delivery" => orders::Request::ConfirmDelivery,
        _ => {
            return Err(
                Problem::of("invalid_parameter").with_detail("action: use cancel, ship or confirm_delivery")
            );
        }
    };
    let status = orders::act(state.souk(), &principal, &client, &id.to_string(), &request).await?;
    Ok(Json(OrderStatusDto { status: status.as_str().to_owned() }))
}
