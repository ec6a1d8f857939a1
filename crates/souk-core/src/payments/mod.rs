//! Money use cases over the double-entry ledger (souk-payments' rules, souk-store's
//! postings): an order's payment goes to its escrow, completion releases it to the seller
//! less the platform's fee, refunds and chargebacks take it back, payout batches pay shops
//! through the bank, and `souk ledger check` replays it all. Each change is one write
//! transaction with its audit entry.

pub mod escrow;
pub mod finance;
pub mod pay;
pub mod payouts;
pub mod vault;

use souk_access::{Action, Resource};
use souk_domain::ids::ShopId;
use souk_domain::{Currency, Money};
use souk_payments::ledger::check::{Checker, Report};
use souk_payments::ledger::{Account, LedgerError};
use souk_store::ledger as store;

use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// A rule refused the movement: the caller asked for something the balances do not allow.
fn refused(e: LedgerError) -> CoreError {
    match e {
        LedgerError::Refused(why) => CoreError::Refused(why),
        LedgerError::NotPositive => CoreError::invalid("amount", "an amount must be above zero"),
        other => CoreError::Internal(Box::new(other)),
    }
}

/// A lost race (another movement of the same order or shop posted first) or a repeat.
fn raced(e: souk_store::StoreError) -> CoreError {
    match e {
        souk_store::StoreError::Conflict { .. } => {
            CoreError::Conflict("the order's money moved meanwhile; reload and try again".into())
        }
        other => other.into(),
    }
}

pub(crate) fn currency_of(code: &str) -> Result<Currency, CoreError> {
    Currency::from_code(code).map_err(|e| CoreError::Internal(Box::new(e)))
}

/// A shop's money, as its owner and finance staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopBalances {
    /// Paid by buyers, held until the orders complete.
    pub in_escrow: Money,
    /// Released to the shop, not yet paid out (below zero when refunds after release
    /// exceeded it: the shop owes that much).
    pub payable: Money,
    /// Sent to the bank, not yet confirmed.
    pub in_transit: Money,
    /// Paid out, all time.
    pub paid_out: Money,
}

/// The shop's balances, for its owner and finance staff (Cedar's `payout.view`).
pub async fn balances(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
) -> Result<ShopBalances, CoreError> {
    let mut conn = souk.store.conn().await?;
    let loaded = load_shop(&mut conn, shop).await?;
    drop(conn);
    match crate::authz::check(souk, principal, Action::PayoutView, &Resource::Shop(&loaded.facts), client)
        .await
    {
        Ok(()) => {}
        Err(CoreError::Forbidden) => return Err(CoreError::NotFound("shop")),
        Err(e) => return Err(e),
    }
    let c = souk.market.currency;
    let mut conn = souk.store.conn().await?;
    Ok(ShopBalances {
        in_escrow: store::shop_escrow(&mut conn, shop, c).await?,
        payable: store::balance(&mut conn, &Account::seller_payable(shop), c).await?,
        in_transit: store::balance(&mut conn, &Account::in_transit(shop), c).await?,
        paid_out: store::balance(&mut conn, &Account::paid_out(shop), c).await?,
    })
}

/// Replays the whole ledger and reports every broken invariant; `progress(done, total)`
/// is called after each page.
pub async fn check(souk: &Souk, mut progress: impl FnMut(u64, u64)) -> Result<Report, CoreError> {
    let mut conn = souk.store.conn().await?;
    let total = store::count(&mut conn).await?;
    let mut checker = Checker::new();
    let (mut after, mut done) = (0i64, 0u64);
    loop {
        let page = store::scan(&mut conn, after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for tx in &page {
            checker.feed(tx);
        }
        done += page.len() as u64;
        progress(done, total.max(done));
    }
    let report = checker.finish();
    // The staff console shows the latest result.
    let now = souk.clock.now();
    let record = souk_store::finance::CheckRow {
        id: souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string(),
        ran_at: now,
        transactions: i64::try_from(report.transactions).unwrap_or(i64::MAX),
        postings: i64::try_from(report.postings).unwrap_or(i64::MAX),
        violations: i64::try_from(report.violations.len()).unwrap_or(i64::MAX),
        first_violation: report.violations.first().map(ToString::to_string).unwrap_or_default(),
    };
    souk_store::finance::insert_check(&mut conn, &record).await?;
    Ok(report)
}

pub use pay::{PaymentResult, pay_checkout};
