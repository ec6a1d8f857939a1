//! The double-entry ledger's types: accounts, postings and balanced transactions.
//!
//! Every movement of money is a [`Transaction`] of two or more [`Posting`]s whose amounts sum
//! to zero in each currency; the only way to make one is [`TransactionBuilder::build`], which
//! refuses anything else. A posting's amount is signed: positive puts money into the account,
//! negative takes it out. Balances are sums of postings, never stored. [`rules`] computes the
//! postings of each business event; [`check`] replays a ledger and names every broken
//! invariant; [`book`] is an in-memory ledger for both. See docs/adr/0018-double-entry-ledger.md.

pub mod book;
pub mod check;
pub mod rules;

use std::collections::BTreeMap;
use std::fmt;

use souk_domain::ids::ShopId;
use souk_domain::{Currency, Money};

/// What an account holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountKind {
    /// Buyers' funds received from the payment processor (the platform's counterpart of every
    /// charge; its balance is negative: what came in).
    Clearing,
    /// One order's paid money, held until it is released to the seller or refunded.
    Escrow,
    /// What the platform owes a shop, not yet paid out.
    SellerPayable,
    /// The platform's commission.
    PlatformFees,
    /// What an order's buyer got back.
    Refunds,
    /// A shop's payouts sent to the bank, not yet confirmed.
    PayoutsInTransit,
    /// A shop's payouts the bank confirmed.
    PaidOut,
    /// What an order lost to chargebacks (pulled back by the card network).
    Chargebacks,
}

impl AccountKind {
    pub const ALL: [Self; 8] = [
        Self::Clearing,
        Self::Escrow,
        Self::SellerPayable,
        Self::PlatformFees,
        Self::Refunds,
        Self::PayoutsInTransit,
        Self::PaidOut,
        Self::Chargebacks,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Clearing => "clearing",
            Self::Escrow => "escrow",
            Self::SellerPayable => "seller_payable",
            Self::PlatformFees => "platform_fees",
            Self::Refunds => "refunds",
            Self::PayoutsInTransit => "payouts_in_transit",
            Self::PaidOut => "paid_out",
            Self::Chargebacks => "chargebacks",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whose accounts of this kind are: one per order, one per shop, or the platform's one.
    const fn owned_by(self) -> OwnerKind {
        match self {
            Self::Clearing | Self::PlatformFees => OwnerKind::Platform,
            Self::Escrow | Self::Refunds | Self::Chargebacks => OwnerKind::Order,
            Self::SellerPayable | Self::PayoutsInTransit | Self::PaidOut => OwnerKind::Shop,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerKind {
    Platform,
    Order,
    Shop,
}

/// Whose account it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    Platform,
    Order(String),
    Shop(ShopId),
}

impl Owner {
    /// The owner as stored: empty for the platform, else the order or shop id.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Platform => String::new(),
            Self::Order(id) => id.clone(),
            Self::Shop(id) => id.to_string(),
        }
    }
}

/// An account: a kind and its owner. Built only in pairs that make sense (an escrow belongs
/// to an order, a payable to a shop, the fees to the platform).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Account {
    kind: AccountKind,
    owner: Owner,
}

impl Account {
    #[must_use]
    pub const fn clearing() -> Self {
        Self { kind: AccountKind::Clearing, owner: Owner::Platform }
    }

    #[must_use]
    pub const fn platform_fees() -> Self {
        Self { kind: AccountKind::PlatformFees, owner: Owner::Platform }
    }

    #[must_use]
    pub fn of_order(kind: AccountKind, order: &str) -> Option<Self> {
        (kind.owned_by() == OwnerKind::Order && !order.is_empty())
            .then(|| Self { kind, owner: Owner::Order(order.to_owned()) })
    }

    #[must_use]
    pub fn of_shop(kind: AccountKind, shop: ShopId) -> Option<Self> {
        (kind.owned_by() == OwnerKind::Shop).then_some(Self { kind, owner: Owner::Shop(shop) })
    }

    #[must_use]
    pub fn escrow(order: &str) -> Self {
        Self { kind: AccountKind::Escrow, owner: Owner::Order(order.to_owned()) }
    }

    #[must_use]
    pub fn refunds(order: &str) -> Self {
        Self { kind: AccountKind::Refunds, owner: Owner::Order(order.to_owned()) }
    }

    #[must_use]
    pub fn chargebacks(order: &str) -> Self {
        Self { kind: AccountKind::Chargebacks, owner: Owner::Order(order.to_owned()) }
    }

    #[must_use]
    pub const fn seller_payable(shop: ShopId) -> Self {
        Self { kind: AccountKind::SellerPayable, owner: Owner::Shop(shop) }
    }

    #[must_use]
    pub const fn in_transit(shop: ShopId) -> Self {
        Self { kind: AccountKind::PayoutsInTransit, owner: Owner::Shop(shop) }
    }

    #[must_use]
    pub const fn paid_out(shop: ShopId) -> Self {
        Self { kind: AccountKind::PaidOut, owner: Owner::Shop(shop) }
    }

    /// Decodes a stored account (kind and owner key); `None` if the pair is not one the
    /// ledger makes.
    #[must_use]
    pub fn parse(kind: &str, owner: &str) -> Option<Self> {
        let kind = AccountKind::parse(kind)?;
        match kind.owned_by() {
            OwnerKind::Platform => owner.is_empty().then_some(Self { kind, owner: Owner::Platform }),
            OwnerKind::Order => Self::of_order(kind, owner),
            OwnerKind::Shop => Self::of_shop(kind, owner.parse().ok()?),
        }
    }

    #[must_use]
    pub const fn kind(&self) -> AccountKind {
        self.kind
    }

    #[must_use]
    pub const fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.owner {
            Owner::Platform => f.write_str(self.kind.as_str()),
            Owner::Order(id) => write!(f, "{}:order:{id}", self.kind.as_str()),
            Owner::Shop(id) => write!(f, "{}:shop:{id}", self.kind.as_str()),
        }
    }
}

/// One line of a transaction: money into (positive) or out of (negative) an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount: Money,
}

/// What a transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// A paid order's money goes into its escrow.
    Charge,
    /// Escrow goes to the seller's payable balance and the platform's fee.
    Release,
    /// Money back to the buyer from escrow (before release).
    Refund,
    /// Money back to the buyer from the seller's balance and the fee (after release).
    Clawback,
    /// The card network pulled a payment back.
    Chargeback,
    /// A shop's payable balance sent to its bank.
    Payout,
    /// The bank confirmed a payout.
    PayoutSettled,
    /// The bank returned a payout; the money is payable again.
    PayoutReturned,
}

impl TxKind {
    pub const ALL: [Self; 8] = [
        Self::Charge,
        Self::Release,
        Self::Refund,
        Self::Clawback,
        Self::Chargeback,
        Self::Payout,
        Self::PayoutSettled,
        Self::PayoutReturned,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Release => "release",
            Self::Refund => "refund",
            Self::Clawback => "clawback",
            Self::Chargeback => "chargeback",
            Self::Payout => "payout",
            Self::PayoutSettled => "payout_settled",
            Self::PayoutReturned => "payout_returned",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why the ledger refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("a transaction needs at least two postings")]
    TooFewPostings,
    #[error("a posting of zero to {0} moves nothing")]
    ZeroPosting(String),
    #[error("the postings in {0} do not sum to zero")]
    Unbalanced(Currency),
    #[error("amount out of range")]
    Overflow,
    #[error("an amount must be positive")]
    NotPositive,
    #[error("{0}")]
    Refused(String),
}

/// A balanced, immutable set of postings. Fields are private: the builder is the only way in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    kind: TxKind,
    reference: String,
    seq: u32,
    key: String,
    postings: Vec<Posting>,
}

impl Transaction {
    /// Starts a transaction of `kind` about `reference` (an order or a shop), the `seq`-th
    /// about it. The database refuses a second transaction with the same reference and seq
    /// (so two concurrent movements of one order cannot both read the same balance and
    /// post), and a second with the same key: a charge or a release is keyed by its order
    /// alone, so it can never post twice.
    #[must_use]
    pub fn builder(kind: TxKind, reference: &str, seq: u32) -> TransactionBuilder {
        let key = match kind {
            TxKind::Charge | TxKind::Release => format!("{}:{reference}", kind.as_str()),
            _ => format!("{}:{reference}:{seq}", kind.as_str()),
        };
        TransactionBuilder {
            tx: Self { kind, reference: reference.to_owned(), seq, key, postings: Vec::new() },
            overflow: false,
        }
    }

    #[must_use]
    pub const fn seq(&self) -> u32 {
        self.seq
    }

    #[must_use]
    pub const fn kind(&self) -> TxKind {
        self.kind
    }

    #[must_use]
    pub fn reference(&self) -> &str {
        &self.reference
    }

    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    #[must_use]
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }
}

/// Collects postings; [`Self::build`] checks them.
#[derive(Debug, Clone)]
pub struct TransactionBuilder {
    tx: Transaction,
    overflow: bool,
}

impl TransactionBuilder {
    /// Adds a posting of `amount` (signed) to `account`.
    #[must_use]
    pub fn post(mut self, account: Account, amount: Money) -> Self {
        self.tx.postings.push(Posting { account, amount });
        self
    }

    /// Takes `amount` out of `from` and puts it into `to`.
    #[must_use]
    pub fn transfer(self, from: Account, to: Account, amount: Money) -> Self {
        match amount.minor.checked_neg() {
            Some(neg) => self.post(from, Money::new(neg, amount.currency)).post(to, amount),
            None => Self { overflow: true, ..self },
        }
    }

    /// The transaction, if it has two or more non-zero postings that sum to zero in every
    /// currency.
    pub fn build(self) -> Result<Transaction, LedgerError> {
        if self.overflow {
            return Err(LedgerError::Overflow);
        }
        balance_of(&self.tx.postings)?;
        Ok(self.tx)
    }
}

/// Checks that postings form a balanced transaction.
pub fn balance_of(postings: &[Posting]) -> Result<(), LedgerError> {
    if postings.len() < 2 {
        return Err(LedgerError::TooFewPostings);
    }
    let mut sums: BTreeMap<&str, (Currency, i64)> = BTreeMap::new();
    for p in postings {
        if p.amount.minor == 0 {
            return Err(LedgerError::ZeroPosting(p.account.to_string()));
        }
        let entry = sums.entry(p.amount.currency.code()).or_insert((p.amount.currency, 0));
        entry.1 = entry.1.checked_add(p.amount.minor).ok_or(LedgerError::Overflow)?;
    }
    match sums.into_values().find(|(_, sum)| *sum != 0) {
        Some((currency, _)) => Err(LedgerError::Unbalanced(currency)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::EUR)
    }

    #[test]
    fn only_balanced_transactions_build() {
        let t = Transaction::builder(TxKind::Charge, "o1", 1)
            .transfer(Account::clearing(), Account::escrow("o1"), eur(1000))
            .build()
            .unwrap();
        assert_eq!(t.postings().len(), 2);
        let unbalanced = Transaction::builder(TxKind::Charge, "o1", 1)
            .post(Account::clearing(), eur(-1000))
            .post(Account::escrow("o1"), eur(999))
            .build();
        assert_eq!(unbalanced, Err(LedgerError::Unbalanced(Currency::EUR)));
        let usd = Currency::from_code("USD").unwrap();
        let mixed = Transaction::builder(TxKind::Charge, "o1", 1)
            .post(Account::clearing(), eur(-1000))
            .post(Account::escrow("o1"), Money::new(1000, usd))
            .build();
        assert!(matches!(mixed, Err(LedgerError::Unbalanced(_))));
        let single = Transaction::builder(TxKind::Charge, "o1", 1).post(Account::clearing(), eur(0)).build();
        assert_eq!(single, Err(LedgerError::TooFewPostings));
        let zero = Transaction::builder(TxKind::Charge, "o1", 1)
            .transfer(Account::clearing(), Account::escrow("o1"), eur(0))
            .build();
        assert!(matches!(zero, Err(LedgerError::ZeroPosting(_))));
        let overflow = Transaction::builder(TxKind::Charge, "o1", 1)
            .post(Account::clearing(), eur(i64::MAX))
            .post(Account::escrow("o1"), eur(i64::MAX))
            .post(Account::escrow("o2"), eur(2))
            .build();
        assert_eq!(overflow, Err(LedgerError::Overflow));
        let min = Transaction::builder(TxKind::Charge, "o1", 1)
            .transfer(Account::clearing(), Account::escrow("o1"), eur(i64::MIN))
            .build();
        assert_eq!(min, Err(LedgerError::Overflow));
    }

    #[test]
    fn accounts_round_trip_and_refuse_wrong_owners() {
        let shop: ShopId = "0190f5c8-6d1e-7000-8000-000000000001".parse().unwrap();
        for a in [
            Account::clearing(),
            Account::escrow("o1"),
            Account::seller_payable(shop),
            Account::paid_out(shop),
        ] {
            assert_eq!(Account::parse(a.kind().as_str(), &a.owner().key()), Some(a));
        }
        assert_eq!(Account::parse("escrow", ""), None);
        assert_eq!(Account::parse("clearing", "o1"), None);
        assert_eq!(Account::parse("seller_payable", "not-a-shop"), None);
        assert_eq!(Account::parse("nonsense", ""), None);
    }
}
