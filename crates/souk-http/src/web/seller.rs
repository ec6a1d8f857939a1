//! The seller hub's pages (`/seller/*`): open a shop, its dashboard, listings with variants
//! and photos, verification, the shop's staff, orders and reviews. Each handler parses the
//! form and calls the same use case as the JSON API; authorization stays in the use case.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::idempotency::{self, Begun};
use souk_core::identity::sessions::Authenticated;
use souk_core::identity::{Client, Principal};
use souk_core::market::listings::{self, ListingInput};
use souk_core::market::shops::{self, ShopInput, ShopView};
use souk_core::market::{members, orders, reviews, verification};
use souk_core::payments::escrow;
use souk_domain::catalog::Category;
use souk_domain::ids::{AccountId, ImageId, ListingId};
use souk_domain::listing::VariantInput;
use souk_domain::order::{Carrier, OrderStatus, Transition};
use souk_domain::{Currency, Money, Timestamp};
use souk_identity::session::SameSite;

use super::forms::{CsrfField, SignedInForm, check_csrf, csrf_field, require};
use super::seller_views::{
    AcceptPage, Dashboard, EventView, ImageView, InvitationLine, ItemView, ListingFormPage, ListingLine,
    MemberLine, OpenShopFields, OrderLineView, ReviewView, SellerHomePage, SellerListingsPage,
    SellerOrderPage, SellerOrdersPage, SellerReviewsPage, ShopStaffPage, VariantField, VerificationPage,
};
use super::views::Layout;
use super::{page_with_status, render};
use crate::api::auth::append_cookie;
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

/// How many variant rows the listing form offers beyond the existing ones.
const BLANK_VARIANTS: usize = 2;

/// How many recent orders the dashboard counts.
const DASHBOARD_ORDERS_U16: u16 = 200;
const DASHBOARD_ORDERS: usize = DASHBOARD_ORDERS_U16 as usize;

/// The largest price a seller may type, in major units.
const MAX_PRICE_MAJOR: u64 = 1_000_000;

/// The session, or the redirect to sign in and come back to `$back`.
macro_rules! signed_in {
    ($session:expr, $back:expr) => {
        match require($session, $back) {
            Ok(s) => s,
            Err(redirect) => return Ok(redirect.into_response()),
        }
    };
}
pub(crate) use signed_in;

/// A form error shown next to the form, with its status; anything else is the error page.
pub(crate) fn inline(e: CoreError) -> Result<(StatusCode, String), Problem> {
    match e {
        CoreError::Invalid { field, reason } => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{}: {reason}.", capitalize(&field.replace('_', " "))),
        )),
        CoreError::Conflict(reason) => Ok((StatusCode::CONFLICT, capitalize(&reason))),
        CoreError::Refused(reason) => Ok((StatusCode::UNPROCESSABLE_ENTITY, capitalize(&reason))),
        CoreError::MfaRequired => Ok((
            StatusCode::FORBIDDEN,
            "Selling needs a passkey or an authenticator app on your account: add one in Account first."
                .into(),
        )),
        other => Err(other.into()),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

pub(crate) fn day(t: Timestamp) -> String {
    t.to_rfc3339().chars().take(16).collect::<String>().replace('T', " ")
}

fn money(minor: i64, currency: &str) -> String {
    Currency::from_code(currency)
        .map_or_else(|_| format!("{minor} {currency}"), |c| Money::new(minor, c).to_string())
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The shop the seller hub works on: the one the person owns, else the first they work for.
async fn current_shop(
    state: &AppState,
    principal: &Principal,
) -> Result<Option<(ShopView, String)>, Problem> {
    let mut mine = shops::mine(state.souk(), principal).await?;
    mine.sort_by_key(|(_, role)| role != "owner");
    Ok(mine.into_iter().next())
}

/// The shop, or a 404 page for someone without one (pages below `/seller` need a shop).
pub(crate) async fn shop_of(state: &AppState, principal: &Principal) -> Result<(ShopView, String), Problem> {
    current_shop(state, principal)
        .await?
        .ok_or_else(|| Problem::of("not_found").with_detail("You have no shop yet: open one at /seller."))
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) done: Option<String>,
}

fn notice_of(done: Option<&str>) -> &'static str {
    match done {
        Some("opened") => {
            "Your shop is open. Add listings, then submit it for verification to lift the limits."
        }
        Some("seller") => "You can now sell on Souk. Open your shop below.",
        Some("created") => "The listing was created.",
        Some("saved") => "The listing was saved.",
        Some("photo") => "The photo was added.",
        Some("photo-removed") => "The photo was removed.",
        Some("submitted") => "Your shop was submitted for verification. Trust & safety will review it.",
        Some("invited") => "The invitation was sent.",
        Some("removed") => "The member was removed.",
        Some("joined") => "You joined the shop's staff.",
        Some("shipped") => "The order is marked shipped; the buyer was told.",
        Some("cancelled") => "The order was cancelled.",
        Some("refunded") => "The refund was made; the buyer was told.",
        Some("replied") => "Your reply was published.",
        _ => "",
    }
}

// ---- home: open a shop, or the dashboard -------------------------------------------------

pub(crate) async fn home(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller");
    let notice = notice_of(q.done.as_deref()).to_owned();
    home_page(&state, &client, &s, String::new(), notice, OpenShopFields::default())
        .await
        .and_then(|p| Ok(render(&p)?.into_response()))
}

async fn home_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
    form: OpenShopFields,
) -> Result<SellerHomePage, Problem> {
    let souk = state.souk();
    let shop = match current_shop(state, &s.principal).await? {
        None => None,
        Some((view, role)) => {
            let d = shops::detail(souk, &s.principal, client, view.id).await?;
            let recent =
                orders::of_shop(souk, &s.principal, client, view.id, None, None, DASHBOARD_ORDERS_U16)
                    .await?;
            let paid = recent.iter().filter(|o| o.status == OrderStatus::Paid.as_str()).count();
            let currency = souk.market.currency;
            Some(Dashboard {
                name: view.name,
                slug: view.slug,
                status: view.status.as_str().to_owned(),
                status_reason: view.status_reason,
                role,
                active_listings: d.active_listings,
                listing_limit: d.listing_limit.map(|n| n.to_string()).unwrap_or_default(),
                order_limit: d
                    .order_limit_minor
                    .map(|m| Money::new(m, currency).to_string())
                    .unwrap_or_default(),
                payouts_held: d.payouts_held,
                orders: if recent.len() >= DASHBOARD_ORDERS {
                    format!("{DASHBOARD_ORDERS}+")
                } else {
                    recent.len().to_string()
                },
                awaiting_shipment: paid,
                members: d.members.len(),
            })
        }
    };
    Ok(SellerHomePage {
        layout: Layout::new("Seller hub"),
        error,
        notice,
        csrf: s.csrf.clone(),
        is_seller: s.principal.role == "seller",
        form,
        shop,
    })
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
pub(crate) struct OpenShopForm {
    csrf: String,
    slug: String,
    name: String,
    #[serde(default)]
    description: String,
    contact: String,
    #[serde(default)]
    return_policy: String,
    seller_kind: String,
}

#[derive(Deserialize)]
pub(crate) struct ReasonForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
pub(crate) struct InviteForm {
    csrf: String,
    email: String,
    role: String,
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    csrf: String,
    token: String,
}

#[derive(Deserialize)]
pub(crate) struct ShipForm {
    csrf: String,
    carrier: String,
    tracking_number: String,
}

#[derive(Deserialize)]
pub(crate) struct ReplyForm {
    csrf: String,
    reply: String,
}

csrf_field!(CsrfOnly, OpenShopForm, ReasonForm, InviteForm, TokenForm, ShipForm, ReplyForm);

/// Becoming a seller: the role changes, so the session is issued again.
pub(crate) async fn become_seller(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    let session = souk_core::identity::seller::become_seller(state.souk(), &s.principal, &client).await;
    match session {
        Ok(issued) => {
            let mut res = see_other("/seller?done=seller");
            append_cookie(&mut res, &issued.token.set_cookie(SameSite::Lax, 7 * 86_400));
            Ok(res)
        }
        Err(e) => {
            let (status, error) = inline(e)?;
            let page =
                home_page(&state, &client, &s, error, String::new(), OpenShopFields::default()).await?;
            page_with_status(status, &page)
        }
    }
}

pub(crate) async fn open_shop(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<OpenShopForm>,
) -> Result<Response, Problem> {
    let input = ShopInput {
        name: f.name.clone(),
        tagline: String::new(),
        description: f.description.clone(),
        location: String::new(),
        return_policy: f.return_policy.clone(),
        contact: f.contact.clone(),
        seller_kind: f.seller_kind.clone(),
    };
    match shops::open(state.souk(), &s.principal, &client, f.slug.trim(), &input).await {
        Ok(_) => Ok(see_other("/seller?done=opened")),
        Err(e) => {
            let (status, error) = inline(e)?;
            let form = OpenShopFields {
                slug: f.slug,
                name: f.name,
                description: f.description,
                contact: f.contact,
                return_policy: f.return_policy,
                seller_kind: f.seller_kind,
            };
            let page = home_page(&state, &client, &s, error, String::new(), form).await?;
            page_with_status(status, &page)
        }
    }
}

// ---- listings ----------------------------------------------------------------------------

pub(crate) async fn listings_page(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/listings");
    let (shop, _) = shop_of(&state, &s.principal).await?;
    let rows = listings::of_shop(state.souk(), &s.principal, &client, shop.id, None, None, 200).await?;
    Ok(render(&SellerListingsPage {
        layout: Layout::new("Your listings"),
        notice: notice_of(q.done.as_deref()).to_owned(),
        shop_name: shop.name,
        listings: rows
            .into_iter()
            .map(|l| ListingLine {
                id: l.id.to_string(),
                price: money(l.price_minor, &l.currency),
                title: l.title,
                status: l.status,
                stock: l.stock,
                takedown_reason: l.takedown_reason,
            })
            .collect(),
    })?
    .into_response())
}

/// The listing form as posted: repeated variant fields (`sku`, `variant_name`, `price`,
/// `stock`, one of each per row) are kept in order, so the form is a list of pairs.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct ListingForm(Vec<(String, String)>);

impl ListingForm {
    fn one(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }

    fn variant_fields(&self) -> Vec<VariantField> {
        let (skus, names, prices, stocks) =
            (self.all("sku"), self.all("variant_name"), self.all("price"), self.all("stock"));
        let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
        (0..skus.len().max(prices.len()))
            .map(|i| VariantField {
                sku: at(&skus, i),
                name: at(&names, i),
                price: at(&prices, i),
                stock: at(&stocks, i),
            })
            .collect()
    }
}

impl CsrfField for ListingForm {
    fn csrf(&self) -> &str {
        self.0.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str())
    }
}

/// Parses a price typed as a decimal ("12.50", "12", "12.5") into minor units of
/// `currency`: digits and at most one point, no more decimals than the currency has, not
/// negative, at most [`MAX_PRICE_MAJOR`].
pub(crate) fn parse_price(raw: &str, currency: Currency) -> Result<i64, String> {
    let raw = raw.trim();
    let exp = usize::from(currency.exponent());
    let example = if exp == 0 { "1250".to_owned() } else { format!("12.{:0<exp$}", 5) };
    if raw.is_empty() {
        return Err("enter a price".into());
    }
    if raw.starts_with('-') {
        return Err("a price cannot be negative".into());
    }
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (raw.contains('.') && frac.is_empty()) {
        return Err(format!("write the price with digits and one decimal point, like {example}"));
    }
    if frac.len() > exp {
        return Err(if exp == 0 {
            format!("{} has no decimals: write a whole number", currency.code())
        } else {
            format!("at most {exp} decimals in {} (like {example})", currency.code())
        });
    }
    let whole: u64 = whole.parse().map_err(|_| format!("at most {MAX_PRICE_MAJOR}"))?;
    if whole > MAX_PRICE_MAJOR {
        return Err(format!("at most {MAX_PRICE_MAJOR} {}", currency.code()));
    }
    let unit = 10u64.pow(u32::from(currency.exponent()));
    let frac_minor: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<exp$}").parse().unwrap_or(0) };
    i64::try_from(whole * unit + frac_minor).map_err(|_| format!("at most {MAX_PRICE_MAJOR}"))
}

/// Parses a stock count: a whole number from 0.
fn parse_stock(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) || raw.len() > 7 {
        return Err("write the stock as a whole number from 0 to 9999999".into());
    }
    raw.parse().map_err(|_| "not a number".into())
}

/// The listing input from the form, or the message to show next to it. Rows with neither
/// a SKU nor a price are the form's spare rows and are skipped.
fn listing_input(f: &ListingForm, currency: Currency) -> Result<ListingInput, String> {
    let mut variants = Vec::new();
    for (i, v) in f.variant_fields().into_iter().enumerate() {
        if v.sku.trim().is_empty() && v.price.trim().is_empty() {
            continue;
        }
        let n = i + 1;
        let price_minor = parse_price(&v.price, currency).map_err(|e| format!("Variant {n} price: {e}."))?;
        let stock = parse_stock(&v.stock).map_err(|e| format!("Variant {n} stock: {e}."))?;
        variants.push(VariantInput {
            sku: v.sku.trim().to_owned(),
            name: v.name,
            price_minor,
            currency: currency.code().to_owned(),
            stock,
        });
    }
    if variants.is_empty() {
        return Err("Add at least one variant with a SKU, a price and a stock.".into());
    }
    Ok(ListingInput {
        title: f.one("title"),
        description: f.one("description"),
        category: f.one("category"),
        status: f.one("status"),
        variants,
    })
}

fn with_blanks(mut variants: Vec<VariantField>) -> Vec<VariantField> {
    let keep = variants.iter().filter(|v| !v.sku.is_empty() || !v.price.is_empty()).count();
    variants.truncate(keep.max(1));
    variants.extend(std::iter::repeat_n(VariantField::default(), BLANK_VARIANTS));
    variants
}

struct FormState {
    title: String,
    description: String,
    category: String,
    status: String,
    variants: Vec<VariantField>,
}

fn listing_form_page(
    state: &AppState,
    s: &Authenticated,
    can_edit: bool,
    listing: Option<&listings::SellerListing>,
    form: FormState,
    error: String,
    notice: String,
) -> ListingFormPage {
    let (heading, action, listing_id, takedown_reason, images) = match listing {
        Some(l) => {
            let id = l.listing.id.to_string();
            let images = l
                .images
                .iter()
                .map(|i| ImageView {
                    id: i.id.to_string(),
                    thumb: format!("/api/v1/seller/listings/{id}/images/{}/thumb", i.id),
                    alt: i.alt_text.clone(),
                })
                .collect();
            (
                format!("Edit “{}”", l.listing.title),
                format!("/seller/listings/{id}/edit"),
                id,
                l.listing.takedown_reason.clone(),
                images,
            )
        }
        None => (
            "New listing".to_owned(),
            "/seller/listings/new".to_owned(),
            String::new(),
            String::new(),
            vec![],
        ),
    };
    ListingFormPage {
        layout: Layout::new(heading.clone()),
        error,
        notice,
        csrf: s.csrf.clone(),
        heading,
        action,
        listing_id,
        title: form.title,
        description: form.description,
        category: form.category,
        status: form.status,
        takedown_reason,
        currency: state.souk().market.currency.code().to_owned(),
        categories: Category::ALL.iter().map(|c| (c.slug(), c.label())).collect(),
        variants: with_blanks(form.variants),
        images,
        can_edit,
    }
}

fn form_state_of(f: &ListingForm) -> FormState {
    FormState {
        title: f.one("title"),
        description: f.one("description"),
        category: f.one("category"),
        status: f.one("status"),
        variants: f.variant_fields(),
    }
}

pub(crate) async fn new_listing_form(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/listings/new");
    let (_, role) = shop_of(&state, &s.principal).await?;
    let form = FormState {
        title: String::new(),
        description: String::new(),
        category: String::new(),
        status: "draft".into(),
        variants: vec![],
    };
    Ok(render(&listing_form_page(
        &state,
        &s,
        role != "fulfilment",
        None,
        form,
        String::new(),
        String::new(),
    ))?
    .into_response())
}

pub(crate) async fn create_listing(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<ListingForm>,
) -> Result<Response, Problem> {
    let (shop, _) = shop_of(&state, &s.principal).await?;
    let result = match listing_input(&f, state.souk().market.currency) {
        Ok(input) => match listings::create(state.souk(), &s.principal, &client, shop.id, &input).await {
            Ok(id) => Ok(id),
            Err(e) => Err(inline(e)?),
        },
        Err(message) => Err((StatusCode::UNPROCESSABLE_ENTITY, message)),
    };
    match result {
        Ok(id) => Ok(see_other(&format!("/seller/listings/{id}/edit?done=created"))),
        Err((status, error)) => {
            let page = listing_form_page(&state, &s, true, None, form_state_of(&f), error, String::new());
            page_with_status(status, &page)
        }
    }
}

fn listing_id(raw: &str) -> Result<ListingId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such listing."))
}

fn form_state_from(l: &listings::SellerListing) -> FormState {
    FormState {
        title: l.listing.title.clone(),
        description: l.listing.description.clone(),
        category: l.listing.category.clone(),
        status: l.listing.status.clone(),
        variants: l
            .variants
            .iter()
            .filter(|v| !v.archived)
            .map(|v| VariantField {
                sku: v.sku.clone(),
                name: v.name.clone(),
                price: Currency::from_code(&v.currency)
                    .map_or_else(|_| v.price_minor.to_string(), |c| Money::new(v.price_minor, c).decimal()),
                stock: v.stock.to_string(),
            })
            .collect(),
    }
}

pub(crate) async fn edit_listing_form(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/listings");
    let l = listings::seller_view(state.souk(), &s.principal, &client, listing_id(&id)?).await?;
    let notice = notice_of(q.done.as_deref()).to_owned();
    let can_edit = current_shop(&state, &s.principal)
        .await?
        .is_some_and(|(shop, role)| shop.id != l.listing.shop || role != "fulfilment");
    Ok(render(&listing_form_page(
        &state,
        &s,
        can_edit,
        Some(&l),
        form_state_from(&l),
        String::new(),
        notice,
    ))?
    .into_response())
}

pub(crate) async fn update_listing(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ListingForm>,
) -> Result<Response, Problem> {
    let id = listing_id(&id)?;
    let souk = state.souk();
    // Outsiders get the use case's 404 before anything is parsed.
    let current = listings::seller_view(souk, &s.principal, &client, id).await?;
    let outcome = match listing_input(&f, souk.market.currency) {
        Ok(input) => match listings::update(souk, &s.principal, &client, id, &input).await {
            Ok(()) => Ok(()),
            Err(e) => Err(inline(e)?),
        },
        Err(message) => Err((StatusCode::UNPROCESSABLE_ENTITY, message)),
    };
    match outcome {
        Ok(()) => Ok(see_other(&format!("/seller/listings/{id}/edit?done=saved"))),
        Err((status, error)) => {
            let page =
                listing_form_page(&state, &s, true, Some(&current), form_state_of(&f), error, String::new());
            page_with_status(status, &page)
        }
    }
}

/// A multipart form's text fields and its one file.
struct Upload {
    fields: Vec<(String, String)>,
    file: Vec<u8>,
}

impl Upload {
    fn field(&self, name: &str) -> String {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
}

/// Reads a multipart form: text fields up to 4 KiB each, one file up to the upload limit.
async fn read_multipart(mut m: Multipart, file_field: &str) -> Result<Upload, Problem> {
    let bad = |_| Problem::of("bad_request").with_detail("The form could not be read; try again.");
    let mut out = Upload { fields: Vec::new(), file: Vec::new() };
    while let Some(field) = m.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == file_field {
            let bytes = field.bytes().await.map_err(|_| {
                Problem::of("payload_too_large").with_detail(format!(
                    "At most {} MiB per file.",
                    crate::api::shops::UPLOAD_LIMIT_BYTES / 1024 / 1024
                ))
            })?;
            out.file = bytes.to_vec();
        } else if out.fields.len() < 16 {
            let text = field.text().await.map_err(bad)?;
            out.fields.push((name, text.chars().take(4096).collect()));
        }
    }
    Ok(out)
}

pub(crate) async fn add_photo(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/listings");
    let id = listing_id(&id)?;
    let upload = read_multipart(multipart, "photo").await?;
    check_csrf(&state, &s, &upload.field("csrf"))?;
    let souk = state.souk();
    let current = listings::seller_view(souk, &s.principal, &client, id).await?;
    let error = if upload.file.is_empty() {
        (StatusCode::UNPROCESSABLE_ENTITY, "Photo: choose a JPEG, PNG or WebP file.".to_owned())
    } else {
        match listings::add_image(souk, &s.principal, &client, id, &upload.file, &upload.field("alt")).await {
            Ok(_) => return Ok(see_other(&format!("/seller/listings/{id}/edit?done=photo"))),
            Err(e) => inline(e)?,
        }
    };
    let page = listing_form_page(
        &state,
        &s,
        true,
        Some(&current),
        form_state_from(&current),
        error.1,
        String::new(),
    );
    page_with_status(error.0, &page)
}

pub(crate) async fn remove_photo(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path((id, image)): Path<(String, String)>,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    let id = listing_id(&id)?;
    let image: ImageId = image.parse().map_err(|_| Problem::of("not_found"))?;
    listings::remove_image(state.souk(), &s.principal, &client, id, image).await?;
    Ok(see_other(&format!("/seller/listings/{id}/edit?done=photo-removed")))
}

// ---- verification ------------------------------------------------------------------------

async fn verification_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
    typed: (String, String, String),
) -> Result<VerificationPage, Problem> {
    let (shop, role) = shop_of(state, &s.principal).await?;
    // Seeing the shop's private side is the permission to see its submission's state.
    shops::detail(state.souk(), &s.principal, client, shop.id).await?;
    let latest = verification::latest(state.souk(), shop.id).await?;
    let status = shop.status.as_str().to_owned();
    Ok(VerificationPage {
        layout: Layout::new("Verification"),
        error,
        notice,
        csrf: s.csrf.clone(),
        can_submit: role == "owner" && matches!(status.as_str(), "unverified" | "rejected"),
        status,
        status_reason: shop.status_reason,
        submitted_at: latest.as_ref().map(|v| day(v.submitted_at)).unwrap_or_default(),
        decision: latest.as_ref().and_then(|v| v.decision.clone()).unwrap_or_default(),
        decision_reason: latest.and_then(|v| v.reason).unwrap_or_default(),
        legal_name: typed.0,
        address: typed.1,
        registration_number: typed.2,
    })
}

pub(crate) async fn verification_form(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/verification");
    let notice = notice_of(q.done.as_deref()).to_owned();
    let page = verification_page(&state, &client, &s, String::new(), notice, Default::default()).await?;
    Ok(render(&page)?.into_response())
}

/// Submits the shop for verification: the document is uploaded through the same use case
/// as the API (checked by content), then the details are submitted with its id.
pub(crate) async fn submit_verification(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    multipart: Multipart,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/verification");
    let upload = read_multipart(multipart, "document").await?;
    check_csrf(&state, &s, &upload.field("csrf"))?;
    let souk = state.souk();
    let (shop, _) = shop_of(&state, &s.principal).await?;
    let typed = (upload.field("legal_name"), upload.field("address"), upload.field("registration_number"));
    let outcome = if upload.file.is_empty() {
        Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Document: choose a photo or a PDF of your identity document.".into(),
        ))
    } else {
        match verification::upload_document(souk, &s.principal, &client, shop.id, &upload.file).await {
            Err(e) => Err(inline(e)?),
            Ok(doc) => {
                let input = verification::Submission {
                    legal_name: typed.0.clone(),
                    address: typed.1.clone(),
                    registration_number: typed.2.clone(),
                    document: doc.to_string(),
                };
                match verification::submit(souk, &s.principal, &client, shop.id, &input).await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(inline(e)?),
                }
            }
        }
    };
    match outcome {
        Ok(()) => Ok(see_other("/seller/verification?done=submitted")),
        Err((status, error)) => {
            let page = verification_page(&state, &client, &s, error, String::new(), typed).await?;
            page_with_status(status, &page)
        }
    }
}

// ---- the shop's staff --------------------------------------------------------------------

async fn staff_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
    typed: (String, String),
) -> Result<ShopStaffPage, Problem> {
    let souk = state.souk();
    let (shop, role) = shop_of(state, &s.principal).await?;
    let d = shops::detail(souk, &s.principal, client, shop.id).await?;
    let is_owner = role == "owner";
    let now = souk.clock.now();
    let invitations = if is_owner {
        members::invitations(souk, &s.principal, client, shop.id)
            .await?
            .into_iter()
            .map(|i| InvitationLine {
                state: if i.accepted_at.is_some() {
                    "accepted"
                } else if i.revoked_at.is_some() {
                    "revoked"
                } else if i.expires_at <= now {
                    "expired"
                } else {
                    "open"
                }
                .to_owned(),
                role: i.role,
                expires_at: day(i.expires_at),
            })
            .collect()
    } else {
        vec![]
    };
    Ok(ShopStaffPage {
        layout: Layout::new("Shop staff"),
        error,
        notice,
        csrf: s.csrf.clone(),
        is_owner,
        members: d
            .members
            .into_iter()
            .map(|m| MemberLine {
                account: m.account.to_string(),
                handle: m.handle,
                role: m.role,
                added_at: day(m.added_at),
            })
            .collect(),
        invitations,
        email: typed.0,
        role: typed.1,
    })
}

pub(crate) async fn staff_list(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/staff");
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&staff_page(&state, &client, &s, String::new(), notice, Default::default()).await?)?
        .into_response())
}

pub(crate) async fn invite(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<InviteForm>,
) -> Result<Response, Problem> {
    let (shop, _) = shop_of(&state, &s.principal).await?;
    match members::invite(state.souk(), &s.principal, &client, shop.id, f.email.trim(), &f.role).await {
        Ok(_) => Ok(see_other("/seller/staff?done=invited")),
        Err(e) => {
            let (status, error) = inline(e)?;
            let page = staff_page(&state, &client, &s, error, String::new(), (f.email, f.role)).await?;
            page_with_status(status, &page)
        }
    }
}

pub(crate) async fn remove_member(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(account): Path<String>,
    SignedInForm(s, _): SignedInForm<CsrfOnly>,
) -> Result<Response, Problem> {
    let (shop, _) = shop_of(&state, &s.principal).await?;
    let member: AccountId = account.parse().map_err(|_| Problem::of("not_found"))?;
    members::remove(state.souk(), &s.principal, &client, shop.id, member).await?;
    Ok(see_other("/seller/staff?done=removed"))
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// Percent-encodes a query value (for `next=` links that carry their own query).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) async fn accept_form(
    MaybeSession(session): MaybeSession,
    Query(q): Query<TokenQuery>,
) -> Result<Response, Problem> {
    let token = q.token.unwrap_or_default();
    let Some(s) = session else {
        let back = format!("/seller/invitations/accept?token={}", encode(&token));
        return Ok(see_other(&format!("/login?next={}", encode(&back))));
    };
    Ok(render(&AcceptPage {
        layout: Layout::new("Join a shop"),
        error: String::new(),
        notice: String::new(),
        csrf: s.csrf.clone(),
        token,
    })?
    .into_response())
}

pub(crate) async fn accept(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<TokenForm>,
) -> Result<Response, Problem> {
    match members::accept(state.souk(), &s.principal, &client, f.token.trim()).await {
        Ok(_) => Ok(see_other("/seller?done=joined")),
        Err(e) => {
            let (status, error) = inline(e)?;
            let page = AcceptPage {
                layout: Layout::new("Join a shop"),
                error,
                notice: String::new(),
                csrf: s.csrf.clone(),
                token: f.token,
            };
            page_with_status(status, &page)
        }
    }
}

// ---- orders ------------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct OrdersQuery {
    status: Option<String>,
}

pub(crate) async fn orders_page(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<OrdersQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/orders");
    let (shop, _) = shop_of(&state, &s.principal).await?;
    let status = q.status.filter(|st| OrderStatus::parse(st).is_some());
    let rows =
        orders::of_shop(state.souk(), &s.principal, &client, shop.id, status.as_deref(), None, 200).await?;
    Ok(render(&SellerOrdersPage {
        layout: Layout::new("Orders"),
        shop_name: shop.name,
        status: status.unwrap_or_default(),
        statuses: OrderStatus::ALL.iter().map(|s| s.as_str()).collect(),
        orders: rows
            .into_iter()
            .map(|o| OrderLineView {
                total: money(o.total_minor, &o.currency),
                id: o.id,
                number: o.number,
                created_at: day(o.created_at),
                status: o.status,
            })
            .collect(),
    })?
    .into_response())
}

fn order_id(raw: &str) -> Result<String, Problem> {
    let id: souk_domain::ids::OrderId = raw.parse().map_err(|_| Problem::of("not_found"))?;
    Ok(id.to_string())
}

/// What the seller can do with an order in this status, in words.
fn explain(status: &str) -> &'static str {
    match OrderStatus::parse(status) {
        Some(OrderStatus::Placed) => {
            "Awaiting the buyer's payment: you can ship it once it is paid. Do not send anything before."
        }
        Some(OrderStatus::Paid) => "Paid: pack it and mark it shipped with the carrier's tracking number.",
        Some(OrderStatus::Shipped) => {
            "Shipped: it becomes delivered when the buyer confirms or after the delivery window."
        }
        Some(OrderStatus::Delivered) => "Delivered: it completes after the return window.",
        Some(OrderStatus::Completed) => "Completed: the sale is final.",
        Some(OrderStatus::Cancelled) => "Cancelled.",
        Some(OrderStatus::Refunded) => "Refunded.",
        Some(OrderStatus::Disputed) => "The buyer opened a dispute: Souk's staff will decide it.",
        None => "",
    }
}

async fn order_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    id: &str,
    error: String,
    notice: String,
    typed: (String, String),
) -> Result<SellerOrderPage, Problem> {
    let d = orders::view(state.souk(), &s.principal, client, id).await?;
    // The seller hub shows the shop's orders only; a buyer's own order is under /orders.
    if d.viewer != souk_domain::order::Actor::Seller {
        return Err(Problem::of("not_found").with_detail("No such order."));
    }
    let o = &d.order;
    let cur = o.currency.clone();
    Ok(SellerOrderPage {
        layout: Layout::new(format!("Order {}", o.number)),
        error,
        notice,
        csrf: s.csrf.clone(),
        id: o.id.clone(),
        number: o.number.clone(),
        currency: cur.clone(),
        status: o.status.clone(),
        explain: explain(&o.status).to_owned(),
        items: d
            .lines
            .iter()
            .map(|l| ItemView {
                title: l.title.clone(),
                variant: l.variant_name.clone(),
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor, &cur),
                total: money(l.total_minor, &cur),
            })
            .collect(),
        items_total: money(o.items_minor, &cur),
        shipping: money(o.shipping_minor, &cur),
        total: money(o.total_minor, &cur),
        fee: money(o.platform_fee_minor, &cur),
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
        carrier: o
            .carrier
            .as_deref()
            .map(|c| Carrier::parse(c).map_or(c.to_owned(), |k| k.label().to_owned()))
            .unwrap_or(typed.0),
        tracking_number: o.tracking_number.clone().unwrap_or(typed.1),
        can_ship: d.actions.contains(&Transition::Ship),
        can_cancel: d.actions.contains(&Transition::Cancel),
        // Paid orders, before or after release (a clawback); the use case decides the rest.
        can_refund: matches!(o.status.as_str(), "paid" | "shipped" | "delivered" | "completed" | "disputed"),
        refund_key: souk_domain::ids::new_uuid_v7(state.souk().clock.now(), state.souk().entropy.as_ref())
            .to_string(),
        carriers: Carrier::ALL.iter().map(|c| (c.as_str(), c.label())).collect(),
        history: d
            .events
            .iter()
            .map(|e| EventView {
                at: day(e.at),
                to: e.to.clone(),
                by: e.actor_kind.clone(),
                note: e.note.clone(),
            })
            .collect(),
    })
}

pub(crate) async fn order_detail(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/orders");
    let id = order_id(&id)?;
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&order_page(&state, &client, &s, &id, String::new(), notice, Default::default()).await?)?
        .into_response())
}

async fn act(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    id: &str,
    request: orders::Request,
    done: &str,
    typed: (String, String),
) -> Result<Response, Problem> {
    // Only the shop acts here: outsiders and the order's buyer get the 404 of the page.
    order_page(state, client, s, id, String::new(), String::new(), Default::default()).await?;
    match orders::act(state.souk(), &s.principal, client, id, &request).await {
        Ok(_) => Ok(see_other(&format!("/seller/orders/{id}?done={done}"))),
        Err(e) => {
            let (status, error) = match e {
                CoreError::Conflict(m) => (StatusCode::CONFLICT, capitalize(&m)),
                other => inline(other)?,
            };
            let page = order_page(state, client, s, id, error, String::new(), typed).await?;
            page_with_status(status, &page)
        }
    }
}

pub(crate) async fn ship(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ShipForm>,
) -> Result<Response, Problem> {
    let id = order_id(&id)?;
    let request =
        orders::Request::Ship { carrier: f.carrier.clone(), tracking_number: f.tracking_number.clone() };
    act(&state, &client, &s, &id, request, "shipped", (f.carrier, f.tracking_number)).await
}

#[derive(Deserialize)]
pub(crate) struct RefundForm {
    csrf: String,
    /// Minted by the page: a double submit refunds once.
    key: String,
    /// A decimal amount in the order's currency.
    amount: String,
    #[serde(default)]
    reason: String,
}

csrf_field!(RefundForm);

/// `POST /seller/orders/{id}/refund`: all or part of a paid order back to its buyer.
pub(crate) async fn refund(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<RefundForm>,
) -> Result<Response, Problem> {
    let id = order_id(&id)?;
    // Only the shop refunds here: outsiders and the order's buyer get the 404 of the page.
    let page = order_page(&state, &client, &s, &id, String::new(), String::new(), Default::default()).await?;
    let (st, cl, ss, oid) = (&state, &client, &s, &id);
    let again = move |status: StatusCode, error: String| async move {
        let page = order_page(st, cl, ss, oid, error, String::new(), Default::default()).await?;
        page_with_status(status, &page)
    };
    let currency = Currency::from_code(&page.currency).map_err(|_| Problem::of("internal"))?;
    let amount = match parse_price(&f.amount, currency) {
        Ok(a) if a > 0 => a,
        Ok(_) => return again(StatusCode::UNPROCESSABLE_ENTITY, "Amount: more than zero.".into()).await,
        Err(e) => return again(StatusCode::UNPROCESSABLE_ENTITY, format!("Amount: {e}.")).await,
    };
    let souk = state.souk();
    let scope = format!("page-refund:{}:{id}", s.principal.account);
    let fingerprint = serde_json::to_vec(&(amount, &f.reason)).map_err(|_| Problem::of("internal"))?;
    match idempotency::begin(souk, &scope, &f.key, &fingerprint).await {
        Ok(Begun::Fresh) => {}
        Ok(Begun::Replay { .. } | Begun::InProgress) => {
            return Ok(see_other(&format!("/seller/orders/{id}?done=refunded")));
        }
        Ok(Begun::Mismatch) | Err(_) => {
            return again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "This form was already sent; reload the page.".into(),
            )
            .await;
        }
    }
    let respond = |_: &escrow::Refunded| (303, Vec::new());
    let key = escrow::RefundKey { scope: &scope, key: &f.key, respond: &respond };
    let done = escrow::refund_keyed(souk, &s.principal, &client, &id, amount, &f.reason, Some(&key)).await;
    match done {
        Ok(_) => Ok(see_other(&format!("/seller/orders/{id}?done=refunded"))),
        Err(e) => {
            idempotency::release(souk, &scope, &f.key).await?;
            let (status, error) = inline(e)?;
            again(status, error).await
        }
    }
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReasonForm>,
) -> Result<Response, Problem> {
    let id = order_id(&id)?;
    act(
        &state,
        &client,
        &s,
        &id,
        orders::Request::Cancel { reason: f.reason },
        "cancelled",
        Default::default(),
    )
    .await
}

// ---- reviews -----------------------------------------------------------------------------

async fn reviews_page(
    state: &AppState,
    s: &Authenticated,
    error: String,
    notice: String,
) -> Result<SellerReviewsPage, Problem> {
    let (shop, _) = shop_of(state, &s.principal).await?;
    let items = match reviews::of_shop(state.souk(), &shop.slug, None, 100).await {
        Ok((_, _, items)) => items,
        // A suspended shop's reviews are not public; nothing to reply to meanwhile.
        Err(CoreError::NotFound(_)) => vec![],
        Err(e) => return Err(e.into()),
    };
    Ok(SellerReviewsPage {
        layout: Layout::new("Reviews"),
        error,
        notice,
        csrf: s.csrf.clone(),
        reviews: items
            .into_iter()
            .map(|r| ReviewView {
                id: r.id,
                rating: r.rating,
                body: r.body,
                buyer: r.buyer_handle,
                created_at: day(r.created_at),
                reply: r.reply.unwrap_or_default(),
            })
            .collect(),
    })
}

pub(crate) async fn reviews_list(
    State(state): State<AppState>,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/reviews");
    let notice = notice_of(q.done.as_deref()).to_owned();
    Ok(render(&reviews_page(&state, &s, String::new(), notice).await?)?.into_response())
}

pub(crate) async fn reply(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Path(id): Path<String>,
    SignedInForm(s, f): SignedInForm<ReplyForm>,
) -> Result<Response, Problem> {
    match reviews::reply(state.souk(), &s.principal, &client, &id, &f.reply).await {
        Ok(()) => Ok(see_other("/seller/reviews?done=replied")),
        Err(e) => {
            let (status, error) = inline(e)?;
            page_with_status(status, &reviews_page(&state, &s, error, String::new()).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use souk_domain::Currency;

    use super::parse_price;

    #[test]
    fn prices_are_decimals_in_the_currency_s_minor_units() {
        let eur = Currency::EUR;
        assert_eq!(parse_price("12.50", eur), Ok(1250));
        assert_eq!(parse_price("12.5", eur), Ok(1250));
        assert_eq!(parse_price(" 12 ", eur), Ok(1200));
        assert_eq!(parse_price("0.99", eur), Ok(99));
        assert_eq!(parse_price("1000000", eur), Ok(100_000_000));
        for bad in ["12.345", "-1", "1e9", "abc", "", "12.", ".5", "1,5", "1000001", "99999999999999999999"] {
            let e = parse_price(bad, eur).expect_err(bad);
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(parse_price("12.345", eur).unwrap_err().contains("at most 2 decimals"));
        assert!(parse_price("-1", eur).unwrap_err().contains("negative"));
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(parse_price("1250", jpy), Ok(1250));
        assert!(parse_price("12.5", jpy).unwrap_err().contains("no decimals"));
    }
}
