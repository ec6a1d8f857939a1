//! Money pages: the staff console's finance page (`/staff/finance`: balances per account
//! kind and currency, the last ledger check, payouts in transit, recent runs and holds, and
//! the run-payouts button) and the seller hub's money page (`/seller/money`: the shop's
//! balances, payouts, holds and payout bank account, changed after a step-up). Forms carry
//! the CSRF token and a key minted by the page, so a double submit acts once.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use souk_core::CoreError;
use souk_core::idempotency::{self, Begun};
use souk_core::identity::Client;
use souk_core::identity::sessions::Authenticated;
use souk_core::market::shops;
use souk_core::payments::{finance, payouts};
use souk_domain::{Currency, Money};

use super::finance_views::{BalanceLine, BatchLine, PayoutLine, SellerMoneyPage, StaffFinancePage};
use super::forms::{SignedInForm, csrf_field, require};
use super::seller::{day, inline, signed_in};
use super::views::Layout;
use super::{page_with_status, render};
use crate::middleware::auth::{ClientInfo, MaybeSession};
use crate::{AppState, Problem};

fn money(minor: i64, currency: &str) -> String {
    Currency::from_code(currency)
        .map_or_else(|_| format!("{minor} {currency}"), |c| Money::new(minor, c).to_string())
}

fn label(kind: &str) -> &'static str {
    match kind {
        "clearing" => "Received from buyers (clearing)",
        "escrow" => "In escrow",
        "seller_payable" => "Payable to shops",
        "payouts_in_transit" => "Payouts in transit",
        "paid_out" => "Paid out",
        "platform_fees" => "Souk's fees",
        "refunds" => "Refunded",
        "chargebacks" => "Charged back",
        _ => "Other",
    }
}

fn lines(balances: &[finance::Balance]) -> Vec<BalanceLine> {
    balances
        .iter()
        .map(|b| BalanceLine { label: label(&b.kind), amount: money(b.minor, &b.currency) })
        .collect()
}

fn payout_line(p: &souk_store::finance::PayoutRow) -> PayoutLine {
    PayoutLine {
        at: day(p.created_at),
        shop: p.shop.to_string(),
        amount: money(p.amount_minor, &p.currency),
        status: p.status.replace('_', " "),
    }
}

fn hold_line(h: &souk_store::finance::HoldRow) -> PayoutLine {
    PayoutLine {
        at: day(h.created_at),
        shop: h.shop.to_string(),
        amount: String::new(),
        status: h.reason.clone(),
    }
}

fn fresh_key(state: &AppState) -> String {
    let souk = state.souk();
    souk_domain::ids::new_uuid_v7(souk.clock.now(), souk.entropy.as_ref()).to_string()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    done: Option<String>,
}

async fn staff_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
) -> Result<StaffFinancePage, Problem> {
    // Outside finance and admins, the page does not exist (the use case decides).
    let o = match finance::overview(state.souk(), &s.principal, client).await {
        Err(CoreError::Forbidden) if !s.principal.is_staff() => return Err(Problem::of("not_found")),
        other => other?,
    };
    let (check, check_ok) = match &o.last_check {
        None => ("No ledger check has run yet.".to_owned(), false),
        Some(c) if c.violations == 0 => (
            format!(
                "Checked {}: {} transactions, {} postings; every invariant holds.",
                day(c.ran_at),
                c.transactions,
                c.postings
            ),
            true,
        ),
        Some(c) => (
            format!("Checked {}: {} violations, first: {}", day(c.ran_at), c.violations, c.first_violation),
            false,
        ),
    };
    Ok(StaffFinancePage {
        layout: Layout::new("Finance").staff(),
        error,
        notice,
        csrf: s.csrf.clone(),
        key: fresh_key(state),
        can_run: s.principal.staff_roles.iter().any(|r| r.as_str() == "finance"),
        totals: lines(&o.totals),
        check,
        check_ok,
        in_transit: o.in_transit.iter().map(payout_line).collect(),
        batches: o
            .batches
            .iter()
            .map(|b| BatchLine {
                at: day(b.created_at),
                run_by: b.run_by.clone(),
                payouts: b.payouts,
                held: b.held,
                total: money(b.total_minor, &b.currency),
            })
            .collect(),
        holds: o.holds.iter().map(hold_line).collect(),
    })
}

/// `GET /staff/finance`.
pub(crate) async fn staff_finance(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/staff/finance");
    let notice = match q.done.as_deref() {
        Some("paid") => "The payout run is done.",
        _ => "",
    };
    Ok(render(&staff_page(&state, &client, &s, String::new(), notice.to_owned()).await?)?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct RunForm {
    csrf: String,
    key: String,
}

/// `POST /staff/finance/payouts`: one batch per page key.
pub(crate) async fn run_payouts(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<RunForm>,
) -> Result<Response, Problem> {
    let souk = state.souk();
    let scope = format!("page-payout-run:{}", s.principal.account);
    match idempotency::begin(souk, &scope, &f.key, b"run").await {
        Ok(Begun::Fresh) => {}
        Ok(_) => return Ok(see_other("/staff/finance?done=paid")),
        Err(e) => {
            let page = staff_page(&state, &client, &s, inline(e)?.1, String::new()).await?;
            return page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    }
    match payouts::run_batch(souk, souk.bank.as_ref(), payouts::RunBy::Staff(&s.principal, &client)).await {
        Ok(_) => {
            idempotency::complete(souk, &scope, &f.key, 303, b"").await?;
            Ok(see_other("/staff/finance?done=paid"))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &f.key).await?;
            Err(e.into())
        }
    }
}

async fn seller_page(
    state: &AppState,
    client: &Client,
    s: &Authenticated,
    error: String,
    notice: String,
    holder: String,
) -> Result<SellerMoneyPage, Problem> {
    let mut mine = shops::mine(state.souk(), &s.principal).await?;
    mine.sort_by_key(|(_, role)| role != "owner");
    let Some((shop, _)) = mine.into_iter().next() else {
        return Err(Problem::of("not_found").with_detail("You have no shop yet: open one at /seller."));
    };
    let m = finance::shop_money(state.souk(), &s.principal, client, shop.id).await?;
    let mut balances = lines(&m.balances);
    if balances.is_empty() {
        balances.push(BalanceLine {
            label: "Payable to you",
            amount: money(0, state.souk().market.currency.code()),
        });
    }
    let now = state.souk().clock.now();
    Ok(SellerMoneyPage {
        layout: Layout::new(format!("Money of {}", shop.name)),
        error,
        notice,
        csrf: s.csrf.clone(),
        key: fresh_key(state),
        shop_name: shop.name,
        balances,
        payouts: m.payouts.iter().map(payout_line).collect(),
        holds: m.holds.iter().map(hold_line).collect(),
        bank_account: m.bank_account.as_ref().map(|a| format!("•••• {}", a.iban_last4)).unwrap_or_default(),
        hold_until: m
            .bank_account
            .as_ref()
            .filter(|a| a.hold_until > now)
            .map(|a| day(a.hold_until))
            .unwrap_or_default(),
        holder,
    })
}

/// `GET /seller/money`: the current shop's money (its owner; finance staff use the API).
pub(crate) async fn seller_money(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    MaybeSession(session): MaybeSession,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, Problem> {
    let s = signed_in!(session, "/seller/money");
    let notice = match q.done.as_deref() {
        Some("bank-account") => "The bank account was saved; we mailed you about it.",
        _ => "",
    };
    Ok(render(&seller_page(&state, &client, &s, String::new(), notice.to_owned(), String::new()).await?)?
        .into_response())
}

#[derive(Deserialize)]
pub(crate) struct BankForm {
    csrf: String,
    key: String,
    holder: String,
    iban: String,
}

csrf_field!(RunForm, BankForm);

/// `POST /seller/money/bank-account`: after a step-up, once per page key.
pub(crate) async fn set_bank_account(
    State(state): State<AppState>,
    ClientInfo(client): ClientInfo,
    SignedInForm(s, f): SignedInForm<BankForm>,
) -> Result<Response, Problem> {
    let souk = state.souk();
    let mut mine = shops::mine(souk, &s.principal).await?;
    mine.sort_by_key(|(_, role)| role != "owner");
    let Some((shop, _)) = mine.into_iter().next() else { return Err(Problem::of("not_found")) };
    let scope = format!("page-bank-account:{}:{}", s.principal.account, shop.id);
    // The key stands for the account typed; the IBAN is hashed with it, never stored.
    let fingerprint = serde_json::to_vec(&(&f.holder, &f.iban)).map_err(|_| Problem::of("internal"))?;
    match idempotency::begin(souk, &scope, &f.key, &fingerprint).await {
        Ok(Begun::Fresh) => {}
        Ok(Begun::Replay { .. } | Begun::InProgress) => {
            return Ok(see_other("/seller/money?done=bank-account"));
        }
        Ok(Begun::Mismatch) | Err(_) => {
            let page = seller_page(
                &state,
                &client,
                &s,
                "This form was already sent; reload the page and try again.".into(),
                String::new(),
                f.holder,
            )
            .await?;
            return page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    }
    match payouts::set_bank_account(souk, &s.principal, &client, shop.id, &f.holder, &f.iban).await {
        Ok(_) => {
            idempotency::complete(souk, &scope, &f.key, 303, b"").await?;
            Ok(see_other("/seller/money?done=bank-account"))
        }
        Err(e) => {
            idempotency::release(souk, &scope, &f.key).await?;
            if matches!(e, CoreError::StepUpRequired) {
                // Confirm it is you, then back to this page to send the form again.
                return Ok(see_other("/account/reauth?next=/seller/money"));
            }
            let (status, error) = inline(e)?;
            page_with_status(status, &seller_page(&state, &client, &s, error, String::new(), f.holder).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn every_account_kind_has_a_label() {
        for kind in souk_payments::ledger::AccountKind::ALL {
            assert_ne!(label(kind.as_str()), "Other", "{kind:?}");
        }
    }
}
