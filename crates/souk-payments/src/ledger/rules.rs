//! The postings of each business event: charge to escrow, release (minus the platform's
//! commission), refund from escrow or clawback from the seller's balance, chargeback, and
//! payouts. Each rule takes what the ledger says now and refuses what would overdraw it.

use souk_domain::Money;
use souk_domain::ids::ShopId;

use super::{Account, LedgerError, Transaction, TxKind};

/// An order's money as the ledger shows it, with the order's own figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFunds {
    pub order: String,
    pub shop: ShopId,
    /// What the buyer paid for the order (its total).
    pub total: Money,
    /// The platform's commission on the whole order (the order's platform fee).
    pub fee: Money,
    /// Whether the charge is posted.
    pub charged: bool,
    /// Whether the escrow was released to the seller.
    pub released: bool,
    /// The escrow's balance.
    pub escrow: Money,
    /// Refunded to the buyer so far (from escrow and clawed back).
    pub refunded: Money,
    /// Lost to chargebacks so far.
    pub charged_back: Money,
    /// How many transactions are posted about the order; the next one is `movements + 1`.
    pub movements: u32,
}

impl OrderFunds {
    /// What may still go back to the buyer: the total, less refunds and chargebacks.
    pub fn refundable(&self) -> Result<Money, LedgerError> {
        let gone = self.refunded.minor.checked_add(self.charged_back.minor).ok_or(LedgerError::Overflow)?;
        let left = self.total.minor.checked_sub(gone).ok_or(LedgerError::Overflow)?;
        Ok(Money::new(left.max(0), self.total.currency))
    }

    fn next(&self) -> Result<u32, LedgerError> {
        self.movements.checked_add(1).ok_or(LedgerError::Overflow)
    }
}

/// A shop's balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopFunds {
    pub shop: ShopId,
    pub payable: Money,
    pub in_transit: Money,
    /// How many transactions are posted about the shop; the next one is `movements + 1`.
    pub movements: u32,
}

/// `part / whole` of `amount`, rounded down (so pro-rata shares never sum to more than the
/// amount they split).
pub fn pro_rata(amount: Money, part: i64, whole: i64) -> Result<Money, LedgerError> {
    if whole <= 0 || part < 0 || part > whole {
        return Err(LedgerError::Refused("a share must be between none and all".into()));
    }
    let share = i128::from(amount.minor) * i128::from(part) / i128::from(whole);
    Ok(Money::new(i64::try_from(share).map_err(|_| LedgerError::Overflow)?, amount.currency))
}

/// The platform's commission on `amount` at `fee_bps` basis points, rounded down.
pub fn commission(amount: Money, fee_bps: u32) -> Result<Money, LedgerError> {
    if fee_bps > 10_000 || amount.minor < 0 {
        return Err(LedgerError::Refused("a commission is between 0 and 100 % of a positive amount".into()));
    }
    pro_rata(amount, i64::from(fee_bps), 10_000)
}

fn positive(amount: Money) -> Result<(), LedgerError> {
    if amount.minor > 0 { Ok(()) } else { Err(LedgerError::NotPositive) }
}

fn same_currency(a: Money, b: Money) -> Result<(), LedgerError> {
    if a.currency == b.currency {
        Ok(())
    } else {
        Err(LedgerError::Refused(format!("{} is not in {}", a, b.currency)))
    }
}

/// The buyer's payment for an order goes into the order's escrow.
pub fn charge(funds: &OrderFunds) -> Result<Transaction, LedgerError> {
    positive(funds.total)?;
    if funds.charged {
        return Err(LedgerError::Refused("the order is charged already".into()));
    }
    Transaction::builder(TxKind::Charge, &funds.order, funds.next()?)
        .transfer(Account::clearing(), Account::escrow(&funds.order), funds.total)
        .build()
}

/// Releases what is in escrow: the platform's fee (its share of the order's fee, in
/// proportion to what is left of the order) to the platform, the rest to the shop's
/// payable balance. `None` when there is nothing left to release (fully refunded).
pub fn release(funds: &OrderFunds) -> Result<Option<Transaction>, LedgerError> {
    if !funds.charged {
        return Err(LedgerError::Refused("the order is not charged".into()));
    }
    if funds.released {
        return Err(LedgerError::Refused("the escrow is released already".into()));
    }
    same_currency(funds.escrow, funds.total)?;
    same_currency(funds.fee, funds.total)?;
    if funds.escrow.minor < 0 {
        return Err(LedgerError::Refused("the escrow is overdrawn".into()));
    }
    if funds.escrow.minor == 0 {
        return Ok(None);
    }
    let fee = pro_rata(funds.fee, funds.escrow.minor, funds.total.minor)?;
    let seller =
        Money::new(funds.escrow.minor.checked_sub(fee.minor).ok_or(LedgerError::Overflow)?, fee.currency);
    let mut b = Transaction::builder(TxKind::Release, &funds.order, funds.next()?)
        .post(Account::escrow(&funds.order), Money::new(-funds.escrow.minor, fee.currency));
    if seller.minor != 0 {
        b = b.post(Account::seller_payable(funds.shop), seller);
    }
    if fee.minor != 0 {
        b = b.post(Account::platform_fees(), fee);
    }
    b.build().map(Some)
}

/// Gives `amount` back to the buyer: from escrow before release (a refund); after release
/// from the seller's balance and the platform's fee in proportion (a clawback; the seller's
/// balance may go below zero and is then owed by the shop). Never more than was paid.
pub fn refund(funds: &OrderFunds, amount: Money) -> Result<Transaction, LedgerError> {
    take_back(funds, amount, TxKind::Refund, Account::refunds(&funds.order))
}

/// The card network pulls `amount` of the order's payment back: from escrow before release,
/// from the seller's balance and the fee after, like a refund.
pub fn chargeback(funds: &OrderFunds, amount: Money) -> Result<Transaction, LedgerError> {
    take_back(funds, amount, TxKind::Chargeback, Account::chargebacks(&funds.order))
}

fn take_back(
    funds: &OrderFunds,
    amount: Money,
    kind: TxKind,
    to: Account,
) -> Result<Transaction, LedgerError> {
    positive(amount)?;
    same_currency(amount, funds.total)?;
    if !funds.charged {
        return Err(LedgerError::Refused("the order is not paid".into()));
    }
    let refundable = funds.refundable()?;
    if amount.minor > refundable.minor {
        return Err(LedgerError::Refused(format!("at most {refundable} can still go back to the buyer")));
    }
    if !funds.released {
        if amount.minor > funds.escrow.minor {
            return Err(LedgerError::Refused(format!("the escrow holds {}", funds.escrow)));
        }
        return Transaction::builder(kind, &funds.order, funds.next()?)
            .transfer(Account::escrow(&funds.order), to, amount)
            .build();
    }
    let kind = if kind == TxKind::Refund { TxKind::Clawback } else { kind };
    let fee = pro_rata(funds.fee, amount.minor, funds.total.minor)?;
    let seller = amount.minor.checked_sub(fee.minor).ok_or(LedgerError::Overflow)?;
    let mut b = Transaction::builder(kind, &funds.order, funds.next()?).post(to, amount);
    if seller != 0 {
        b = b.post(Account::seller_payable(funds.shop), Money::new(-seller, amount.currency));
    }
    if fee.minor != 0 {
        b = b.post(Account::platform_fees(), Money::new(-fee.minor, amount.currency));
    }
    b.build()
}

/// Sends `amount` of the shop's payable balance to its bank; never more than it holds.
pub fn payout(funds: &ShopFunds, amount: Money) -> Result<Transaction, LedgerError> {
    positive(amount)?;
    same_currency(amount, funds.payable)?;
    if amount.minor > funds.payable.minor {
        return Err(LedgerError::Refused(format!("the shop's payable balance is {}", funds.payable)));
    }
    Transaction::builder(
        TxKind::Payout,
        &funds.shop.to_string(),
        funds.movements.checked_add(1).ok_or(LedgerError::Overflow)?,
    )
    .transfer(Account::seller_payable(funds.shop), Account::in_transit(funds.shop), amount)
    .build()
}

/// The bank confirmed (`settled`) or returned a payout of `amount`.
pub fn payout_outcome(funds: &ShopFunds, amount: Money, settled: bool) -> Result<Transaction, LedgerError> {
    positive(amount)?;
    same_currency(amount, funds.in_transit)?;
    if amount.minor > funds.in_transit.minor {
        return Err(LedgerError::Refused(format!("only {} is in transit", funds.in_transit)));
    }
    let (kind, to) = if settled {
        (TxKind::PayoutSettled, Account::paid_out(funds.shop))
    } else {
        (TxKind::PayoutReturned, Account::seller_payable(funds.shop))
    };
    Transaction::builder(
        kind,
        &funds.shop.to_string(),
        funds.movements.checked_add(1).ok_or(LedgerError::Overflow)?,
    )
    .transfer(Account::in_transit(funds.shop), to, amount)
    .build()
}

#[cfg(test)]
mod tests {
    use souk_domain::Currency;

    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    fn shop() -> ShopId {
        "0190f5c8-6d1e-7000-8000-000000000001".parse().unwrap()
    }

    fn funds() -> OrderFunds {
        OrderFunds {
            order: "o1".into(),
            shop: shop(),
            total: eur(10_490),
            fee: eur(1_000),
            charged: true,
            released: false,
            escrow: eur(10_490),
            refunded: eur(0),
            charged_back: eur(0),
            movements: 1,
        }
    }

    #[test]
    fn release_splits_fee_and_payable() {
        let t = release(&funds()).unwrap().unwrap();
        let amounts: Vec<_> = t.postings().iter().map(|p| (p.account.kind(), p.amount.minor)).collect();
        assert_eq!(
            amounts,
            [
                (super::super::AccountKind::Escrow, -10_490),
                (super::super::AccountKind::SellerPayable, 9_490),
                (super::super::AccountKind::PlatformFees, 1_000)
            ]
        );
        assert_eq!(t.key(), "release:o1");
        let half = OrderFunds { escrow: eur(5_245), refunded: eur(5_245), ..funds() };
        let t = release(&half).unwrap().unwrap();
        assert_eq!(t.postings()[2].amount.minor, 500);
        let none = OrderFunds { escrow: eur(0), refunded: eur(10_490), ..funds() };
        assert_eq!(release(&none).unwrap(), None);
        assert!(release(&OrderFunds { released: true, ..funds() }).is_err());
    }

    #[test]
    fn refunds_never_exceed_what_was_paid() {
        assert!(refund(&funds(), eur(10_491)).is_err());
        assert!(refund(&funds(), eur(0)).is_err());
        assert!(refund(&funds(), eur(-5)).is_err());
        let t = refund(&funds(), eur(10_490)).unwrap();
        assert_eq!(t.kind(), TxKind::Refund);
        let after = OrderFunds { released: true, escrow: eur(0), refunded: eur(490), ..funds() };
        let t = refund(&after, eur(10_000)).unwrap();
        assert_eq!(t.kind(), TxKind::Clawback);
        assert!(refund(&after, eur(10_001)).is_err());
        assert_eq!(commission(eur(10_000), 1_000).unwrap(), eur(1_000));
        assert!(commission(eur(1), 10_001).is_err());
    }

    #[test]
    fn payouts_never_exceed_the_payable_balance() {
        let f = ShopFunds { shop: shop(), payable: eur(100), in_transit: eur(0), movements: 0 };
        assert!(payout(&f, eur(101)).is_err());
        assert_eq!(payout(&f, eur(100)).unwrap().key(), format!("payout:{}:1", shop()));
        assert!(payout_outcome(&f, eur(1), true).is_err());
    }
}
