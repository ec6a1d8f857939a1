//! The buyer's pages: search, the cart, checkout and orders. Each handler parses the form,
//! calls the same `souk_core` use case as the JSON API, and shows the answer; a form that
//! cannot be accepted is shown again with its reason and a 4xx status. Forms carry only
//! what the buyer chooses (variant, quantity, address, shipping): prices, shops and totals
//! are always read again by the use case, so extra fields change nothing.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::catalog::{self, Browse};
use souk_core::idempotency::{self, Begun};
use souk_core::identity::sessions::Authenticated;
use souk_core::identity::{Client, Principal};
use souk_core::market::checkout::{self, CheckoutInput, Idempotency, Placed};
use souk_core::market::{cart, orders, reviews};
use souk_core::payments::PaymentResult;
use souk_core::payments::pay;
use souk_domain::checkout::{SHIPPING_OPTIONS, ShippingAddress};
use souk_domain::ids::{OrderId, ShopId, VariantId};
use souk_domain::order::{Actor, Transition};
use souk_domain::{Currency, Money, Timestamp};
use souk_store::orders::OrderRow;

use super::buyer_views::{
    AddressFields, CartLineRow, CartPage, CartShop, ChallengeView, CheckoutPage, CheckoutPlacedPage,
    CheckoutShop, HistoryStep, OrderLineView, OrderPage, OrderRowView, OrdersPage, SearchPage, ShipChoice,
};
use super::forms::{SignedInForm, csrf_field, require};
use super::views::{Card, Layout};
use super::{page_with_status, render};
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

/// The message of a refusal the buyer can correct (shown on the form again), or the error
/// page for anything else.
pub(crate) fn correctable(e: CoreError) -> Result<String, Problem> {
    match e {
        CoreError::Invalid { field, reason } => {
            let field = field.replace('_', " ");
            let mut c = field.chars();
            let field: String = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
            Ok(format!("{field}: {reason}."))
        }
        CoreError::Conflict(reason) => {
            let mut c = reason.chars();
            Ok(c.next().map(|f| f.to_uppercase().chain(c).collect::<String>() + ".").unwrap_or_default())
        }
        other => Err(other.into()),
    }
}

/// A refusal of a field the buyer typed.
fn invalid(field: &'static str, reason: &str) -> CoreError {
    CoreError::Invalid { field, reason: reason.to_owned() }
}

fn money(minor: i64, currency: &str) -> String {
    Money::new(minor, Currency::from_code(currency).unwrap_or(Currency::EUR)).to_string()
}

fn when(t: Timestamp) -> String {
    t.to_rfc3339().chars().take(16).collect::<String>().replace('T', " ")
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

// ---------------------------------------------------------------------------------------
// Search

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(raw: &str) -> String {
    use std::fmt::Write as _;
    raw.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    cursor: Option<String>,
}

/// `/search?q=&category=&cursor=`: the catalog's full-text search (ranked, so the cursor is
/// a position, as in the API); without words, the newest listings.
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>, Problem> {
    let category = catalog::category(Some(q.category.as_str()).filter(|c| !c.is_empty()))?;
    let text = q.q.trim();
    let link = |cursor: String| {
        let category = category.map(|c| format!("&category={}", c.slug())).unwrap_or_default();
        format!("/search?q={}{category}&cursor={cursor}", encode(text))
    };
    let (cards, next_url) = if text.is_empty() {
        let (size, after) = catalog::paging(None, q.cursor.as_deref())?;
        let page = catalog::browse(state.souk(), &Browse { category, size, after }).await?;
        (page.items.iter().map(Card::from).collect(), page.next.map(|c| link(c.encode())))
    } else {
        let offset = match q.cursor.as_deref() {
            None => 0,
            Some(c) => c
                .strip_prefix('s')
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n <= 1_000)
                .ok_or_else(|| invalid("cursor", "not a cursor of this search"))?,
        };
        let (size, _) = catalog::paging(None, None)?;
        let (items, more) = catalog::search(state.souk(), text, category, offset, size).await?;
        let next = more.then(|| link(format!("s{}", offset + u32::from(size.get()))));
        (items.iter().map(Card::from).collect(), next)
    };
    render(&SearchPage {
        layout: Layout::new(if text.is_empty() { "Search".to_owned() } else { format!("Search: {text}") }),
        q: text.to_owned(),
        category: category.map(|c| c.slug().to_owned()).unwrap_or_default(),
        cards,
        next_url,
    })
}

// ---------------------------------------------------------------------------------------
// Cart

fn cart_shops(v: &cart::CartView) -> Vec<CartShop> {
    v.groups
        .iter()
        .map(|g| CartShop {
            shop_id: g.shop.to_string(),
            shop_name: g.shop_name.clone(),
            shop_url: format!("/shops/{}", g.shop_slug),
            subtotal: g.items_total.to_string(),
            lines: g
                .lines
                .iter()
                .map(|l| CartLineRow {
                    variant: l.line.variant.to_string(),
                    listing_url: format!("/listings/{}", l.line.listing),
                    title: l.line.title.clone(),
                    variant_name: l.line.variant_name.clone(),
                    quantity: l.line.quantity,
                    unit_price: l.unit_price.to_string(),
                    line_total: l.line_total.to_string(),
                    problem: l.problem.clone().unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}

async fn cart_page(
    state: &AppState,
    s: &Authenticated,
    error: String,
    notice: String,
) -> Result<CartPage, Problem> {
    let v = cart::view(state.souk(), &s.principal).await?;
    Ok(CartPage {
        layout: Layout::new("Your cart"),
        csrf: s.csrf.clone(),
        error,
        notice,
        shops: cart_shops(&v),
        total: v.items_total.to_string(),
        ready: v.ready && !v.groups.is_empty(),
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

pub(crate) async fn cart(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/cart") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let notice = match q.done.as_deref() {
        Some("added") => "Added to your cart.",
        Some("updated") => "Your cart was updated.",
        Some("removed") => "The item was removed from your cart.",
        _ => "",
    };
    Ok(render(&cart_page(&state, &s, String::new(), notice.to_owned()).await?)?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct AddLineForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    variant: String,
    #[serde(default)]
    quantity: String,
}

#[derive(Deserialize)]
pub(crate) struct QuantityForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    quantity: String,
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

csrf_field!(AddLineForm, QuantityForm, CsrfOnly);

/// A quantity as typed: a whole number, or the reason it is not one.
fn quantity(raw: &str) -> Result<i64, CoreError> {
    raw.trim().parse::<i64>().map_err(|_| invalid("quantity", "type a whole number from 1 to 100"))
}

fn variant(raw: &str) -> Result<VariantId, Problem> {
    raw.trim().parse().map_err(|_| CoreError::NotFound("variant").into())
}

/// Shows the cart again with why the change was refused (422), or the error page.
async fn refused(state: &AppState, s: &Authenticated, e: CoreError) -> Result<Response, Problem> {
    let msg = correctable(e)?;
    page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &cart_page(state, s, msg, String::new()).await?)
}

/// `POST /cart/lines`: adds a quantity of a variant (on top of what the cart holds).
pub(crate) async fn add_line(
    State(state): State<AppState>,
    SignedInForm(s, f): SignedInForm<AddLineForm>,
) -> Result<Response, Problem> {
    let id = variant(&f.variant)?;
    let wanted = match quantity(&f.quantity) {
        Ok(q) if q >= 1 => q,
        Ok(_) => return refused(&state, &s, invalid("quantity", "from 1 to 100")).await,
        Err(e) => return refused(&state, &s, e).await,
    };
    let held = cart::view(state.souk(), &s.principal)
        .await?
        .groups
        .iter()
        .flat_map(|g| &g.lines)
        .find(|l| l.line.variant == id)
        .map_or(0, |l| l.line.quantity);
    match cart::set(state.souk(), &s.principal, id, held.saturating_add(wanted)).await {
        Ok(_) => Ok(see_other("/cart?done=added")),
        Err(e) => refused(&state, &s, e).await,
    }
}

/// `POST /cart/lines/{variant}`: sets the line's quantity (0 removes it).
pub(crate) async fn set_line(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    SignedInForm(s, f): SignedInForm<QuantityForm>,
) -> Result<Response, Problem> {
    let id = variant(&raw)?;
    let q = match quantity(&f.quantity) {
        Ok(q) if q >= 0 => q,
        Ok(_) => return refused(&state, &s, invalid("quantity", "from 1 to 100")).await,
        Err(e) => return refused(&state, &s, e).await,
    };
    match cart::set(state.souk(), &s.principal, id, q).await {
        Ok(_) => Ok(see_other(if q == 0 { "/cart?done=removed" } else { "/cart?done=updated" })),
        Err(e) => refused(&state, &s, e).await,
    }
}

/// `POST /cart/lines/{variant}/remove`.
pub(crate) async fn remove_line(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    cart::set(state.souk(), &s.principal, variant(&raw)?, 0).await?;
    Ok(see_other("/cart?done=removed"))
}

// ---------------------------------------------------------------------------------------
// Checkout

fn shipping_note(currency: Currency) -> String {
    SHIPPING_OPTIONS
        .iter()
        .map(|o| format!("{} {} ({})", o.label, Money::new(o.price_minor, currency), o.days))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn checkout_page(
    state: &AppState,
    s: &Authenticated,
    address: AddressFields,
    chosen: &BTreeMap<String, String>,
    error: String,
) -> Result<CheckoutPage, Problem> {
    let souk = state.souk();
    let v = cart::view(souk, &s.principal).await?;
    let currency = souk.market.currency;
    let key = souk_domain::ids::new_uuid_v7(souk.clock.now(), souk.entropy.as_ref()).to_string();
    let mut total = v.items_total.minor;
    let shops = v
        .groups
        .iter()
        .zip(cart_shops(&v))
        .map(|(g, shop)| {
            let picked = chosen.get(&shop.shop_id).map_or("standard", String::as_str);
            let options: Vec<ShipChoice> = SHIPPING_OPTIONS
                .iter()
                .map(|o| ShipChoice {
                    code: o.code,
                    label: format!(
                        "{} · {} · {} (order total {})",
                        o.label,
                        Money::new(o.price_minor, currency),
                        o.days,
                        Money::new(g.items_total.minor.saturating_add(o.price_minor), currency)
                    ),
                    selected: o.code == picked,
                })
                .collect();
            let shipping = SHIPPING_OPTIONS.iter().find(|o| o.code == picked).map_or(0, |o| o.price_minor);
            total = total.saturating_add(shipping);
            CheckoutShop { shop, options }
        })
        .collect();
    Ok(CheckoutPage {
        layout: Layout::new("Checkout"),
        csrf: s.csrf.clone(),
        error,
        notice: String::new(),
        idempotency_key: key,
        shops,
        address,
        items_total: v.items_total.to_string(),
        items_minor: v.items_total.minor,
        total: Money::new(total, currency).to_string(),
        shipping_note: shipping_note(currency),
        ready: v.ready && !v.groups.is_empty(),
    })
}

pub(crate) async fn checkout_form(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, Problem> {
    let s = match require(session, "/checkout") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let page = checkout_page(&state, &s, AddressFields::default(), &BTreeMap::new(), String::new()).await?;
    Ok(render(&page)?.into_response())
}

/// The checkout form. Shipping choices arrive as `ship_<shop id>`; anything else that is not
/// a field of the form (a price, a total, a shop) is ignored.
#[derive(Deserialize)]
pub(crate) struct CheckoutForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    line1: String,
    #[serde(default)]
    line2: String,
    #[serde(default)]
    postal_code: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    country: String,
    /// The items' total the page showed, in minor units.
    #[serde(default)]
    items_minor: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

csrf_field!(CheckoutForm);

/// The scope of checkout keys sent by the page (apart from the API's, whose answers differ).
fn page_scope(principal: &Principal) -> String {
    format!("checkout-page:{}", principal.account)
}

/// `POST /checkout`: one checkout of the whole cart, once per idempotency key (the form's
/// hidden field, minted when the page was shown): a double submit or a replay of the same
/// form lands on the same checkout.
pub(crate) async fn place(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<CheckoutForm>,
) -> Result<Response, Problem> {
    let souk = state.souk();
    let chosen: BTreeMap<String, String> = f
        .rest
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("ship_").map(|shop| (shop.to_owned(), v.clone())))
        .collect();
    let address = AddressFields {
        name: f.name,
        line1: f.line1,
        line2: f.line2,
        postal_code: f.postal_code,
        city: f.city,
        country: f.country,
    };
    let again = |error: String, address: AddressFields, chosen: BTreeMap<String, String>| {
        let state = state.clone();
        let s = s.clone();
        async move {
            let page = checkout_page(&state, &s, address, &chosen, error).await?;
            page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    };
    let parsed: Option<BTreeMap<ShopId, String>> =
        chosen.iter().map(|(shop, option)| Some((shop.parse::<ShopId>().ok()?, option.clone()))).collect();
    let Some(shipping) = parsed else {
        return again("Choose a shipping option for each shop.".into(), address, chosen).await;
    };
    let key = f.idempotency_key.trim().to_owned();
    if idempotency::valid_key(&key).is_err() {
        return again(
            "This form has expired; check the details and place the order again.".into(),
            address,
            chosen,
        )
        .await;
    }
    // The total the buyer saw: the items' total the page showed plus the shipping chosen.
    // If prices moved since, the checkout stops and the page shows the new totals.
    let shown_items = f.items_minor.trim().parse::<i64>().ok();
    let expected_total_minor = shown_items.and_then(|items| {
        chosen.values().try_fold(items, |sum, code| {
            SHIPPING_OPTIONS.iter().find(|o| o.code == code).map(|o| sum.saturating_add(o.price_minor))
        })
    });
    // What the key stands for: the buyer's choices, never the form's other fields.
    let fingerprint = serde_json::to_vec(&serde_json::json!({
        "items_minor": shown_items,
        "address": [&address.name, &address.line1, &address.line2, &address.postal_code, &address.city, &address.country],
        "shipping": &chosen,
    }))
    .map_err(|_| Problem::of("internal"))?;
    let scope = page_scope(&s.principal);
    let mut waited = 0;
    loop {
        match idempotency::begin(souk, &scope, &key, &fingerprint).await? {
            Begun::Fresh => break,
            Begun::Replay { body, .. } => {
                return Ok(see_other(&format!("/checkout/{}", String::from_utf8_lossy(&body))));
            }
            Begun::Mismatch => {
                return again(
                    "This checkout form was already sent with other details. Check them and place the order again."
                        .into(),
                    address,
                    chosen,
                )
                .await;
            }
            // A double click: the first submit is still placing the order; wait (up to 10 s)
            // for its answer.
            Begun::InProgress if waited < 40 => {
                waited += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Begun::InProgress => return Ok(see_other("/orders")),
        }
    }
    let input = CheckoutInput {
        address: ShippingAddress {
            name: address.name.clone(),
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            postal_code: address.postal_code.clone(),
            city: address.city.clone(),
            country: address.country.clone(),
        },
        shipping,
        expected_total_minor,
    };
    let respond = |p: &Placed| (303, p.checkout.id.clone().into_bytes());
    let idem = Idempotency { scope: &scope, key: &key, respond: &respond };
    match checkout::place(souk, &s.principal, &client, &input, Some(&idem)).await {
        Ok(placed) => Ok(see_other(&format!("/checkout/{}", placed.checkout.id))),
        Err(e) => {
            // Nothing changed: give the key back so the corrected form can use it.
            idempotency::release(souk, &scope, &key).await?;
            let msg = correctable(e)?;
            again(msg, address, chosen).await
        }
    }
}

/// `GET /checkout/{id}`: the orders of one checkout and where they stand, with the card
/// form while it awaits payment.
pub(crate) async fn placed(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let s = match require(session, "/orders") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    checkout_placed(&state, &s, &id, String::new(), None).await
}

/// Renders one checkout of the signed-in buyer (404 for anyone else's).
async fn checkout_placed(
    state: &AppState,
    s: &Authenticated,
    id: &str,
    message: String,
    challenge: Option<ChallengeView>,
) -> Result<Response, Problem> {
    let rows = orders::mine(state.souk(), &s.principal, None, None, 200).await?;
    let mine: Vec<OrderRow> = rows.into_iter().filter(|o| o.checkout == id).collect();
    if mine.is_empty() {
        return Err(CoreError::NotFound("checkout").into());
    }
    let awaiting = mine.iter().any(|o| o.status == "placed");
    let paid = !awaiting && mine.iter().any(|o| o.status == "paid");
    let total_minor: i64 = mine.iter().map(|o| o.total_minor).sum();
    let currency = mine.first().map(|o| o.currency.clone()).unwrap_or_default();
    let n = mine.len();
    Ok(render(&CheckoutPlacedPage {
        layout: Layout::new("Your checkout"),
        id: id.to_owned(),
        intro: format!(
            "This checkout made {n} order{}, one per shop. Each shop sees only its own order.",
            if n == 1 { "" } else { "s" }
        ),
        awaiting_payment: awaiting,
        paid,
        total: money(total_minor, &currency),
        message,
        challenge,
        csrf: s.csrf.clone(),
        script: crate::assets::url("card.js"),
        orders: mine.into_iter().map(order_row).collect(),
    })?
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    card_token: String,
}

#[derive(Deserialize)]
pub(crate) struct ChallengeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    payment_id: String,
    #[serde(default)]
    challenge_id: String,
    #[serde(default)]
    response: String,
}

csrf_field!(PayForm, ChallengeForm);

/// Shows where the payment stands: paid goes back to the checkout (a reload never pays
/// again), anything else renders the checkout with its message or challenge.
async fn payment_answer(
    state: &AppState,
    s: &Authenticated,
    id: &str,
    result: Result<PaymentResult, CoreError>,
) -> Result<Response, Problem> {
    match result {
        Ok(PaymentResult::Paid) => Ok(see_other(&format!("/checkout/{id}"))),
        Ok(PaymentResult::Declined) => checkout_placed(state, s, id, pay::DECLINED.to_owned(), None).await,
        Ok(PaymentResult::Challenge { payment, challenge }) => {
            let view = ChallengeView {
                payment_id: payment.as_str().to_owned(),
                challenge_id: challenge.as_str().to_owned(),
            };
            checkout_placed(state, s, id, String::new(), Some(view)).await
        }
        Ok(PaymentResult::Pending) => {
            let text = "Your bank has not answered yet. Do not pay again: this page shows the payment once it is confirmed.";
            checkout_placed(state, s, id, text.to_owned(), None).await
        }
        Err(CoreError::Invalid { reason, .. }) => checkout_placed(state, s, id, reason, None).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /checkout/{id}/pay`: pays with the token the vault gave the card form.
pub(crate) async fn pay(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<PayForm>,
) -> Result<Response, Problem> {
    let result = pay::pay_checkout(state.souk(), &s.principal, &client, &id, &f.card_token).await;
    payment_answer(&state, &s, &id, result).await
}

/// `POST /checkout/{id}/challenge`: the code the buyer's bank asked for.
pub(crate) async fn challenge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ChallengeForm>,
) -> Result<Response, Problem> {
    let result =
        pay::complete_challenge(state.souk(), &s.principal, &id, &f.payment_id, &f.challenge_id, &f.response)
            .await;
    payment_answer(&state, &s, &id, result).await
}

// ---------------------------------------------------------------------------------------
// Orders

fn status_label(status: &str) -> &'static str {
    match status {
        "placed" => "Placed, awaiting payment",
        "paid" => "Paid, being prepared",
        "shipped" => "Shipped",
        "delivered" => "Delivered",
        "completed" => "Completed",
        "cancelled" => "Cancelled",
        "refunded" => "Refunded",
        "disputed" => "In dispute",
        _ => "Unknown",
    }
}

fn order_row(o: OrderRow) -> OrderRowView {
    OrderRowView {
        url: format!("/orders/{}", o.id),
        total: money(o.total_minor, &o.currency),
        status_label: status_label(&o.status).to_owned(),
        status: o.status,
        number: o.number,
        shop_name: o.shop_name,
        placed_at: when(o.created_at),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrdersQuery {
    after: Option<String>,
}

const ORDERS_PER_PAGE: u16 = 20;

/// `GET /orders`: the buyer's orders, newest first.
pub(crate) async fn my_orders(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<OrdersQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/orders") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let after = q
        .after
        .as_deref()
        .map(|r| {
            let bad = || invalid("after", "not a cursor of this list");
            let (at, id) = r.split_once('_').ok_or_else(bad)?;
            let id: OrderId = id.parse().map_err(|_| bad())?;
            Ok::<_, CoreError>((Timestamp::from_micros(at.parse().map_err(|_| bad())?), id.to_string()))
        })
        .transpose()?;
    let rows = orders::mine(state.souk(), &s.principal, None, after, ORDERS_PER_PAGE).await?;
    let next_url = (rows.len() == usize::from(ORDERS_PER_PAGE))
        .then(|| rows.last().map(|o| format!("/orders?after={}_{}", o.created_at.as_micros(), o.id)))
        .flatten();
    let awaiting = rows.iter().any(|o| o.status == "placed");
    Ok(render(&OrdersPage {
        layout: Layout::new("Your orders"),
        heading: "Your orders".into(),
        intro: String::new(),
        awaiting_payment: awaiting,
        orders: rows.into_iter().map(order_row).collect(),
        next_url,
    })?
    .into_response())
}

fn order_id(raw: &str) -> Result<String, Problem> {
    raw.parse::<OrderId>().map(|id| id.to_string()).map_err(|_| CoreError::NotFound("order").into())
}

async fn order_page(
    state: &AppState,
    s: &Authenticated,
    client: &Client,
    id: &str,
    error: String,
    notice: String,
) -> Result<OrderPage, Problem> {
    let d = orders::view(state.souk(), &s.principal, client, id).await?;
    let o = &d.order;
    let buyer = d.viewer == Actor::Buyer;
    let review = if buyer && o.status == "completed" {
        reviews::of_order(state.souk(), &s.principal, &o.id).await?
    } else {
        None
    };
    let c = o.currency.as_str();
    Ok(OrderPage {
        layout: Layout::new(format!("Order {}", o.number)),
        csrf: s.csrf.clone(),
        error,
        notice,
        id: o.id.clone(),
        number: o.number.clone(),
        shop_name: o.shop_name.clone(),
        status: o.status.clone(),
        status_label: status_label(&o.status).to_owned(),
        viewer: d.viewer.as_str(),
        lines: d
            .lines
            .iter()
            .map(|l| OrderLineView {
                title: l.title.clone(),
                variant_name: l.variant_name.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor, c),
                total: money(l.total_minor, c),
            })
            .collect(),
        items: money(o.items_minor, c),
        shipping: money(o.shipping_minor, c),
        shipping_option: SHIPPING_OPTIONS
            .iter()
            .find(|opt| opt.code == o.shipping_option)
            .map_or_else(|| o.shipping_option.clone(), |opt| opt.label.to_owned()),
        total: money(o.total_minor, c),
        address: d
            .shipping_address
            .as_ref()
            .map(|a| {
                [&a.name, &a.line1, &a.line2, &format!("{} {}", a.postal_code, a.city), &a.country]
                    .into_iter()
                    .filter(|l| !l.trim().is_empty())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        tracking: o.carrier.clone().zip(o.tracking_number.clone()),
        history: d
            .events
            .iter()
            .map(|e| HistoryStep {
                at: when(e.at),
                label: status_label(&e.to).to_owned(),
                by: match e.actor_kind.as_str() {
                    "buyer" => "you".to_owned(),
                    "seller" => "the shop".to_owned(),
                    "system" => "Souk".to_owned(),
                    other => other.to_owned(),
                },
                note: e.note.clone(),
            })
            .collect(),
        can_cancel: buyer && d.actions.contains(&Transition::Cancel),
        can_confirm: buyer && d.actions.contains(&Transition::ConfirmDelivery),
        can_review: buyer && o.status == "completed" && review.is_none(),
        review: review.map(|r| {
            let stars = "★".repeat(usize::try_from(r.rating.clamp(0, 5)).unwrap_or(0));
            (stars, if r.removed { String::new() } else { r.body }, r.reply)
        }),
    })
}

/// `GET /orders/{id}`: one of the buyer's orders (anyone else's answers 404).
pub(crate) async fn order(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Path(raw): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, Problem> {
    let s = match require(session, "/orders") {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect.into_response()),
    };
    let notice = match q.done.as_deref() {
        Some("cancelled") => "The order is cancelled; its items are back on sale.",
        Some("confirmed") => "Thank you for confirming delivery.",
        Some("reviewed") => "Thank you: your review is published on the shop's page.",
        _ => "",
    };
    let page = order_page(&state, &s, &client, &order_id(&raw)?, String::new(), notice.to_owned()).await?;
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    rating: String,
    #[serde(default)]
    body: String,
}

csrf_field!(CancelForm, ReviewForm);

/// Shows the order again with why the action was refused.
async fn order_refused(
    state: &AppState,
    s: &Authenticated,
    client: &Client,
    id: &str,
    e: CoreError,
) -> Result<Response, Problem> {
    let status = if matches!(e, CoreError::Conflict(_)) {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let msg = correctable(e)?;
    page_with_status(status, &order_page(state, s, client, id, msg, String::new()).await?)
}

/// `POST /orders/{id}/cancel` (before shipping).
pub(crate) async fn cancel(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(raw): Path<String>,
    SignedInForm(s, f): SignedInForm<CancelForm>,
) -> Result<Response, Problem> {
    let id = order_id(&raw)?;
    let reason = if f.reason.trim().is_empty() { "Cancelled by the buyer".to_owned() } else { f.reason };
    match orders::act(state.souk(), &s.principal, &client, &id, &orders::Request::Cancel { reason }).await {
        Ok(_) => Ok(see_other(&format!("/orders/{id}?done=cancelled"))),
        Err(e) => order_refused(&state, &s, &client, &id, e).await,
    }
}

/// `POST /orders/{id}/confirm-delivery`.
pub(crate) async fn confirm_delivery(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(raw): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    let id = order_id(&raw)?;
    match orders::act(state.souk(), &s.principal, &client, &id, &orders::Request::ConfirmDelivery).await {
        Ok(_) => Ok(see_other(&format!("/orders/{id}?done=confirmed"))),
        Err(e) => order_refused(&state, &s, &client, &id, e).await,
    }
}

/// `POST /orders/{id}/review`: the buyer's one review of a completed order.
pub(crate) async fn review(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(raw): Path<String>,
    SignedInForm(s, f): SignedInForm<ReviewForm>,
) -> Result<Response, Problem> {
    let id = order_id(&raw)?;
    let Ok(rating) = f.rating.trim().parse::<i64>() else {
        return order_refused(&state, &s, &client, &id, invalid("rating", "from 1 to 5 stars")).await;
    };
    match reviews::create(state.souk(), &s.principal, &client, &id, rating, &f.body).await {
        Ok(_) => Ok(see_other(&format!("/orders/{id}?done=reviewed"))),
        Err(e) => order_refused(&state, &s, &client, &id, e).await,
    }
}
