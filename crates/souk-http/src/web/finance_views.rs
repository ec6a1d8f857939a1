//! The page models of money: the staff console's finance page and the seller hub's
//! balances, payouts and payout bank account page.

use askama::Template;

use super::views::Layout;

/// One balance line: an account kind in one currency.
pub(crate) struct BalanceLine {
    pub label: &'static str,
    pub amount: String,
}

/// One payout, or a run's hold of a shop.
pub(crate) struct PayoutLine {
    pub at: String,
    pub shop: String,
    pub amount: String,
    pub status: String,
}

pub(crate) struct BatchLine {
    pub at: String,
    pub run_by: String,
    pub payouts: i64,
    pub held: i64,
    pub total: String,
}

#[derive(Template)]
#[template(path = "staff_finance.html")]
pub(crate) struct StaffFinancePage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    /// A fresh idempotency key for the run button (a double click runs one batch).
    pub key: String,
    pub can_run: bool,
    pub totals: Vec<BalanceLine>,
    /// "every invariant holds", the first violation, or that no check ran yet.
    pub check: String,
    pub check_ok: bool,
    pub in_transit: Vec<PayoutLine>,
    pub batches: Vec<BatchLine>,
    pub holds: Vec<PayoutLine>,
}

#[derive(Template)]
#[template(path = "seller_money.html")]
pub(crate) struct SellerMoneyPage {
    pub layout: Layout,
    pub error: String,
    pub notice: String,
    pub csrf: String,
    pub key: String,
    pub shop_name: String,
    pub balances: Vec<BalanceLine>,
    pub payouts: Vec<PayoutLine>,
    pub holds: Vec<PayoutLine>,
    /// "•••• 0189", or empty when none is set.
    pub bank_account: String,
    pub hold_until: String,
    pub holder: String,
}
