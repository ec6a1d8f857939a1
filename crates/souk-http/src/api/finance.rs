//! Money over the API: refunds of an order (its shop, or finance staff), a shop's balances,
//! payouts and payout bank account (its owner; finance staff read), and the platform's
//! money and payout runs for finance staff. Every call that moves money or redirects it
//! requires an `Idempotency-Key`: the same key and body replay the first answer (with
//! `Idempotent-Replayed: true`), another body with the key is refused with 422.

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use souk_core::idempotency::{self, Begun};
use souk_core::payments::escrow::{self, RefundKey, Refunded};
use souk_core::payments::{finance, payouts};
use souk_domain::ids::{OrderId, ShopId};
use souk_domain::{Currency, Money};
use utoipa::ToSchema;

use super::dto::{PriceDto, ProblemDoc};
use crate::middleware::auth::{Caller, ClientInfo, Session};
use crate::{AppState, Problem};

fn money(minor: i64, currency: &str) -> PriceDto {
    Money::new(minor, Currency::from_code(currency).unwrap_or(Currency::EUR)).into()
}

fn shop_id(raw: &str) -> Result<ShopId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such shop."))
}

fn order_id(raw: &str) -> Result<OrderId, Problem> {
    raw.parse().map_err(|_| Problem::of("not_found").with_detail("No such order."))
}

fn json_response(status: u16, body: Vec<u8>, replayed: bool) -> Response {
    let mut res = (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    res
}

/// A request that moves money: its `Idempotency-Key` and body.
struct Keyed {
    key: String,
    bytes: Vec<u8>,
}

async fn keyed(state: &AppState, headers: &HeaderMap, body: RawBody) -> Result<Keyed, Problem> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Problem::of("invalid_parameter")
                .with_detail("Send an Idempotency-Key header (a UUID per attempt).")
        })?
        .to_owned();
    let bytes = axum::body::to_bytes(body, state.config().body_limit_bytes)
        .await
        .map_err(|_| Problem::of("payload_too_large"))?;
    Ok(Keyed { key, bytes: bytes.to_vec() })
}

/// Claims the key; `Some(answer)` when the request must not run (a replay or a refusal).
async fn claim(state: &AppState, scope: &str, k: &Keyed) -> Result<Option<Response>, Problem> {
    match idempotency::begin(state.souk(), scope, &k.key, &k.bytes).await? {
        Begun::Fresh => Ok(None),
        Begun::Replay { status, body } => Ok(Some(json_response(status, body, true))),
        Begun::Mismatch => Err(Problem::of("idempotency_key_reused")
            .with_detail("This Idempotency-Key was used for a different request body; use a new key.")),
        Begun::InProgress => Err(Problem::of("idempotency_in_progress").retry_after(1)),
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| Problem::of("malformed_json").with_detail(e.to_string()))
}

/// A refund to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// In the order's currency's minor units; at most what was paid and not yet given back.
    amount_minor: i64,
    /// Why (shown to the buyer and recorded), up to 500 characters.
    #[serde(default)]
    reason: String,
}

/// What a refund did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundDto {
    amount: PriceDto,
    /// Taken back from the shop's balance after the order's money was released to it.
    clawback: bool,
    /// What may still be refunded.
    refundable: PriceDto,
    /// The order's status after the refund.
    status: String,
}

fn refund_dto(r: &Refunded) -> RefundDto {
    RefundDto {
        amount: r.amount.into(),
        clawback: r.clawback,
        refundable: r.refundable.into(),
        status: r.status.as_str().to_owned(),
    }
}

/// Refund all or part of an order to its buyer: the order's shop (owner, managers and
/// fulfilment staff) or finance staff; never more than was paid. `orders:write` for API
/// keys. Requires an `Idempotency-Key` header: a retry never refunds twice.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/refunds", tag = "orders", operation_id = "refund_order",
    request_body = RefundRequest,
    params(("id" = String, Path, description = "The order id"),
        ("Idempotency-Key" = String, Header, description = "A unique key per refund (a UUID); retries reuse it")),
    responses(
        (status = 201, description = "Refunded (replayed: `Idempotent-Replayed: true`)", body = RefundDto),
        (status = 400, description = "Missing key, or a field is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not yours to refund", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "Another movement of the order's money won a race, or the key's first request is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "More than can be refunded (`amount_refused`), or the key was used with another body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn refund_order(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Problem> {
    let order = order_id(&id)?.to_string();
    let k = keyed(&state, &headers, body).await?;
    let req: RefundRequest = parse(&k.bytes)?;
    let scope = format!("refund:{}:{order}", principal.account);
    if let Some(answer) = claim(&state, &scope, &k).await? {
        return Ok(answer);
    }
    let respond = |r: &Refunded| (201, serde_json::to_vec(&refund_dto(r)).unwrap_or_default());
    let key = RefundKey { scope: &scope, key: &k.key, respond: &respond };
    let souk = state.souk();
    match escrow::refund_keyed(souk, &principal, &client, &order, req.amount_minor, &req.reason, Some(&key))
        .await
    {
        Ok(r) => {
            let (status, body) = respond(&r);
            Ok(json_response(status, body, false))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &k.key).await?;
            Err(e.into())
        }
    }
}

/// One refund of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundRecordDto {
    id: String,
    amount: PriceDto,
    clawback: bool,
    /// `seller` or `staff`.
    by: String,
    reason: String,
    at: String,
}

/// An order's refunds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundsDto {
    items: Vec<RefundRecordDto>,
    /// What may still be refunded.
    refundable: PriceDto,
}

/// An order's refunds, for its buyer, its shop's people and finance staff
/// (`orders:read` for API keys).
#[utoipa::path(
    get, path = "/api/v1/orders/{id}/refunds", tag = "orders", operation_id = "list_order_refunds",
    params(("id" = String, Path, description = "The order id")),
    responses(
        (status = 200, description = "The refunds, oldest first", body = RefundsDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []), ("api_key" = []))
)]
pub async fn list_refunds(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<RefundsDto>, Problem> {
    let order = order_id(&id)?.to_string();
    let (rows, refundable) = escrow::refunds_of(state.souk(), &principal, &client, &order).await?;
    Ok(Json(RefundsDto {
        items: rows
            .into_iter()
            .map(|r| RefundRecordDto {
                id: r.id,
                amount: money(r.amount_minor, &r.currency),
                clawback: r.clawback,
                by: r.actor_kind,
                reason: r.reason,
                at: r.created_at.to_rfc3339(),
            })
            .collect(),
        refundable: refundable.into(),
    }))
}

/// A shop's balances in one currency.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CurrencyBalanceDto {
    currency: String,
    /// Paid by buyers, held until their orders complete.
    escrow_minor: i64,
    /// Released to the shop, not yet paid out (below zero: the shop owes it).
    payable_minor: i64,
    /// Sent to the bank, not yet confirmed.
    in_transit_minor: i64,
    /// Paid out, all time.
    paid_out_minor: i64,
}

/// A shop's balances, per currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopBalanceDto {
    balances: Vec<CurrencyBalanceDto>,
}

fn per_currency(rows: &[finance::Balance]) -> Vec<CurrencyBalanceDto> {
    let mut out: Vec<CurrencyBalanceDto> = Vec::new();
    for b in rows {
        let i = match out.iter().position(|c| c.currency == b.currency) {
            Some(i) => i,
            None => {
                out.push(CurrencyBalanceDto {
                    currency: b.currency.clone(),
                    ..CurrencyBalanceDto::default()
                });
                out.len() - 1
            }
        };
        let Some(c) = out.get_mut(i) else { continue };
        match b.kind.as_str() {
            "escrow" => c.escrow_minor = b.minor,
            "seller_payable" => c.payable_minor = b.minor,
            "payouts_in_transit" => c.in_transit_minor = b.minor,
            "paid_out" => c.paid_out_minor = b.minor,
            _ => {}
        }
    }
    out
}

/// A shop's balances: escrow, payable, in transit and paid out, per currency (its owner
/// and finance staff).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/balance", tag = "seller", operation_id = "shop_balance",
    params(("id" = String, Path, description = "The shop id")),
    responses(
        (status = 200, description = "The balances", body = ShopBalanceDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn shop_balance(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<ShopBalanceDto>, Problem> {
    let m = finance::shop_money(state.souk(), &s.principal, &client, shop_id(&id)?).await?;
    Ok(Json(ShopBalanceDto { balances: per_currency(&m.balances) }))
}

/// One payout.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutDto {
    id: String,
    batch: String,
    amount: PriceDto,
    /// `in_transit`, `sent` or `returned`.
    status: String,
    created_at: String,
    settled_at: Option<String>,
}

/// Why a payout run did not pay the shop.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldDto {
    batch: String,
    shop_id: String,
    reason: String,
    at: String,
}

/// A shop's payouts and holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutHistoryDto {
    /// Newest first.
    payouts: Vec<PayoutDto>,
    /// The runs that held the shop's payout, and why; newest first.
    holds: Vec<HoldDto>,
}

fn payout_dto(p: souk_store::finance::PayoutRow) -> PayoutDto {
    PayoutDto {
        amount: money(p.amount_minor, &p.currency),
        id: p.id,
        batch: p.batch,
        status: p.status,
        created_at: p.created_at.to_rfc3339(),
        settled_at: p.settled_at.map(souk_domain::Timestamp::to_rfc3339),
    }
}

fn hold_dto(h: souk_store::finance::HoldRow) -> HoldDto {
    HoldDto { batch: h.batch, shop_id: h.shop.to_string(), reason: h.reason, at: h.created_at.to_rfc3339() }
}

/// A shop's payouts, with the reasons runs held it (its owner and finance staff).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/payouts", tag = "seller", operation_id = "shop_payouts",
    params(("id" = String, Path, description = "The shop id")),
    responses(
        (status = 200, description = "Payouts and holds", body = PayoutHistoryDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn shop_payouts(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<PayoutHistoryDto>, Problem> {
    let m = finance::shop_money(state.souk(), &s.principal, &client, shop_id(&id)?).await?;
    Ok(Json(PayoutHistoryDto {
        payouts: m.payouts.into_iter().map(payout_dto).collect(),
        holds: m.holds.into_iter().map(hold_dto).collect(),
    }))
}

/// Where payouts go.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankAccountRequest {
    /// The account holder's name, 2 to 140 characters.
    holder: String,
    /// The IBAN, spaces allowed (checked: country, length, ISO 13616 check digits).
    iban: String,
}

/// A payout bank account as anyone sees it: masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct BankAccountDto {
    /// e.g. `•••• 0189`: only the last four characters are ever shown.
    iban_masked: String,
    changed_at: String,
    /// Payouts wait until then after a change (or a first account set while money is owed).
    hold_until: String,
}

fn bank_dto(v: &payouts::BankAccountView) -> BankAccountDto {
    BankAccountDto {
        iban_masked: format!("•••• {}", v.iban_last4),
        changed_at: v.changed_at.to_rfc3339(),
        hold_until: v.hold_until.to_rfc3339(),
    }
}

/// Set or replace the shop's payout bank account: its owner only, from a browser session
/// that confirmed it is them recently (step-up). A replacement, or a first account while
/// the shop is owed money, holds payouts; the owner is mailed. Requires an
/// `Idempotency-Key` header.
#[utoipa::path(
    put, path = "/api/v1/seller/shops/{id}/bank-account", tag = "seller", operation_id = "set_shop_bank_account",
    request_body = BankAccountRequest,
    params(("id" = String, Path, description = "The shop id"),
        ("Idempotency-Key" = String, Header, description = "A unique key per change (a UUID); retries reuse it")),
    responses(
        (status = 200, description = "Set (masked; replayed: `Idempotent-Replayed: true`)", body = BankAccountDto),
        (status = 400, description = "Missing key, or the holder or IBAN is not acceptable", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not the owner, or step-up required (`step_up_required`)", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, or not yours", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn set_bank_account(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Problem> {
    let shop = shop_id(&id)?;
    let k = keyed(&state, &headers, body).await?;
    let req: BankAccountRequest = parse(&k.bytes)?;
    let scope = format!("bank-account:{}:{shop}", s.principal.account);
    if let Some(answer) = claim(&state, &scope, &k).await? {
        return Ok(answer);
    }
    let souk = state.souk();
    match payouts::set_bank_account(souk, &s.principal, &client, shop, &req.holder, &req.iban).await {
        Ok(view) => {
            let body = serde_json::to_vec(&bank_dto(&view)).map_err(|_| Problem::of("internal"))?;
            idempotency::complete(souk, &scope, &k.key, 200, &body).await?;
            Ok(json_response(200, body, false))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &k.key).await?;
            Err(e.into())
        }
    }
}

/// The shop's payout bank account, masked (its owner and finance staff).
#[utoipa::path(
    get, path = "/api/v1/seller/shops/{id}/bank-account", tag = "seller", operation_id = "get_shop_bank_account",
    params(("id" = String, Path, description = "The shop id")),
    responses(
        (status = 200, description = "The account, masked", body = BankAccountDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 404, description = "No such shop, not yours, or no bank account yet", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn get_bank_account(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    Path(id): Path<String>,
) -> Result<Json<BankAccountDto>, Problem> {
    let m = finance::shop_money(state.souk(), &s.principal, &client, shop_id(&id)?).await?;
    let view = m
        .bank_account
        .ok_or_else(|| Problem::of("not_found").with_detail("No bank account is set for this shop yet."))?;
    Ok(Json(bank_dto(&view)))
}

/// One account kind's platform-wide total.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalDto {
    /// clearing, escrow, seller_payable, payouts_in_transit, paid_out, platform_fees,
    /// refunds or chargebacks.
    kind: String,
    amount: PriceDto,
}

/// One payout run.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchDto {
    id: String,
    at: String,
    /// `system` or the staff account that ran it.
    run_by: String,
    payouts: i64,
    held: i64,
    total: PriceDto,
}

/// The last `souk ledger check`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerCheckDto {
    at: String,
    transactions: i64,
    postings: i64,
    violations: i64,
    /// The first violation found; empty when every invariant held.
    first_violation: String,
}

/// The platform's money.
#[derive(Debug, Serialize, ToSchema)]
pub struct FinanceDto {
    totals: Vec<TotalDto>,
    /// Newest first.
    batches: Vec<BatchDto>,
    holds: Vec<HoldDto>,
    in_transit: Vec<PayoutDto>,
    last_check: Option<LedgerCheckDto>,
}

/// The platform's money: totals per account kind and currency (clearing, escrow, payable,
/// in transit, paid out, fees, refunds, chargebacks), recent payout runs and holds,
/// payouts in transit and the last ledger check (finance staff and admins).
#[utoipa::path(
    get, path = "/api/v1/staff/finance", tag = "staff", operation_id = "staff_finance",
    responses(
        (status = 200, description = "The platform's money", body = FinanceDto),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn staff_finance(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
) -> Result<Json<FinanceDto>, Problem> {
    let o = finance::overview(state.souk(), &s.principal, &client).await?;
    Ok(Json(FinanceDto {
        totals: o
            .totals
            .into_iter()
            .map(|b| TotalDto { amount: money(b.minor, &b.currency), kind: b.kind })
            .collect(),
        batches: o
            .batches
            .into_iter()
            .map(|b| BatchDto {
                total: money(b.total_minor, &b.currency),
                id: b.id,
                at: b.created_at.to_rfc3339(),
                run_by: b.run_by,
                payouts: b.payouts,
                held: b.held,
            })
            .collect(),
        holds: o.holds.into_iter().map(hold_dto).collect(),
        in_transit: o.in_transit.into_iter().map(payout_dto).collect(),
        last_check: o.last_check.map(|c| LedgerCheckDto {
            at: c.ran_at.to_rfc3339(),
            transactions: c.transactions,
            postings: c.postings,
            violations: c.violations,
            first_violation: c.first_violation,
        }),
    }))
}

/// One shop's part of a payout run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunLineDto {
    shop_id: String,
    amount: Option<PriceDto>,
    /// For held shops: why.
    reason: Option<String>,
}

/// What a payout run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutRunDto {
    batch: String,
    paid: Vec<RunLineDto>,
    returned: Vec<RunLineDto>,
    held: Vec<RunLineDto>,
    /// Payouts an earlier run left in transit, settled first (sent, or payable again).
    reconciled_sent: Vec<RunLineDto>,
    reconciled_returned: Vec<RunLineDto>,
}

fn lines(v: &[(ShopId, Money)]) -> Vec<RunLineDto> {
    v.iter()
        .map(|(s, m)| RunLineDto { shop_id: s.to_string(), amount: Some((*m).into()), reason: None })
        .collect()
}

/// Run a payout batch now (finance staff): payouts left in transit are reconciled first,
/// then every shop not on hold is paid its payable balance. Requires an `Idempotency-Key`
/// header (the body may be empty).
#[utoipa::path(
    post, path = "/api/v1/staff/payouts/runs", tag = "staff", operation_id = "run_payouts",
    params(("Idempotency-Key" = String, Header, description = "A unique key per run (a UUID); retries reuse it")),
    responses(
        (status = 201, description = "The run (replayed: `Idempotent-Replayed: true`)", body = PayoutRunDto),
        (status = 400, description = "Missing key", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 403, description = "Not permitted", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 409, description = "The key's first request is still running", body = ProblemDoc, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body", body = ProblemDoc, content_type = "application/problem+json"),
    ),
    security(("session" = []))
)]
pub async fn run_payouts(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    Session(s): Session,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, Problem> {
    let k = keyed(&state, &headers, body).await?;
    let scope = format!("payout-run:{}", s.principal.account);
    if let Some(answer) = claim(&state, &scope, &k).await? {
        return Ok(answer);
    }
    let souk = state.souk();
    let by = payouts::RunBy::Staff(&s.principal, &client);
    match payouts::run_batch(souk, souk.bank.as_ref(), by).await {
        Ok(run) => {
            let dto = PayoutRunDto {
                batch: run.batch,
                paid: lines(&run.paid),
                returned: lines(&run.returned),
                held: run
                    .held
                    .iter()
                    .map(|(shop, why)| RunLineDto {
                        shop_id: shop.to_string(),
                        amount: None,
                        reason: Some((*why).to_owned()),
                    })
                    .collect(),
                reconciled_sent: lines(&run.reconciled.sent),
                reconciled_returned: lines(&run.reconciled.returned),
            };
            let body = serde_json::to_vec(&dto).map_err(|_| Problem::of("internal"))?;
            idempotency::complete(souk, &scope, &k.key, 201, &body).await?;
            Ok(json_response(201, body, false))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &k.key).await?;
            Err(e.into())
        }
    }
}
