//! Money as people look at it: a shop's balances per currency, its payouts and the holds
//! that stopped them (its owner, and finance staff through Cedar's `payout.view`), and the
//! platform's totals per account kind with recent payout runs, holds, payouts still in
//! transit and the last ledger check (finance staff and admins, Cedar's `ledger.view`).

use souk_access::{Action, Resource};
use souk_domain::ids::ShopId;
use souk_store::finance::{self as records, BatchRow, CheckRow, HoldRow, PayoutRow};
use souk_store::ledger as store;

use super::payouts::BankAccountView;
use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// One balance: an account kind's sum in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The ledger's account kind (`escrow`, `seller_payable`, `payouts_in_transit`, …).
    pub kind: String,
    pub currency: String,
    pub minor: i64,
}

fn balances(rows: Vec<(String, String, i64)>) -> Vec<Balance> {
    rows.into_iter().map(|(kind, currency, minor)| Balance { kind, currency, minor }).collect()
}

/// A shop's money: balances per currency, payouts (newest first) and holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopMoney {
    pub balances: Vec<Balance>,
    pub payouts: Vec<PayoutRow>,
    pub holds: Vec<HoldRow>,
    /// Where payouts go (masked), if set.
    pub bank_account: Option<BankAccountView>,
}

/// The shop's money for its owner and finance staff (Cedar's `payout.view`); a 404 for
/// anyone else, managers included.
pub async fn shop_money(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
) -> Result<ShopMoney, CoreError> {
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
    if principal.is_staff() {
        crate::authz::require_staff_session(souk, principal)?;
    }
    let mut conn = souk.store.conn().await?;
    let bank_account = store::payout_account(&mut conn, shop).await?.map(|a| BankAccountView {
        iban_last4: a.iban_last4,
        changed_at: a.changed_at,
        hold_until: a.hold_until,
    });
    Ok(ShopMoney {
        balances: balances(records::shop_totals(&mut conn, shop).await?),
        payouts: records::shop_payouts(&mut conn, shop, 100).await?,
        holds: records::holds(&mut conn, Some(shop), 50).await?,
        bank_account,
    })
}

/// The platform's money for finance staff and admins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Every account kind's total per currency (clearing is negative: what came in).
    pub totals: Vec<Balance>,
    pub batches: Vec<BatchRow>,
    pub holds: Vec<HoldRow>,
    pub in_transit: Vec<PayoutRow>,
    pub last_check: Option<CheckRow>,
}

/// The platform's balances, recent payout runs and holds, payouts in transit and the last
/// ledger check: finance staff and admins (Cedar's `ledger.view`), from a staff session.
pub async fn overview(souk: &Souk, principal: &Principal, client: &Client) -> Result<Overview, CoreError> {
    crate::authz::require_staff_session(souk, principal)?;
    crate::authz::check(souk, principal, Action::LedgerView, &Resource::Ledger, client).await?;
    let mut conn = souk.store.conn().await?;
    Ok(Overview {
        totals: balances(records::totals_by_kind(&mut conn).await?),
        batches: records::recent_batches(&mut conn, 20).await?,
        holds: records::holds(&mut conn, None, 50).await?,
        in_transit: records::payouts_in_transit(&mut conn, 100).await?,
        last_check: records::last_check(&mut conn).await?,
    })
}
