//! The ledger's invariants, checked by replaying its transactions as stored (raw text and
//! numbers, so a tampered row is named rather than refused at decoding): every transaction
//! balances per currency, no escrow goes below zero, a payout never takes more than the
//! shop's payable balance, no order gives back more than it was paid, in-transit payouts
//! and the platform's fees never go below zero. `souk ledger check` runs it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use souk_domain::Currency;

use super::{Account, AccountKind, Owner, Transaction, TxKind};

/// A stored posting, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPosting {
    pub account_kind: String,
    pub account_owner: String,
    pub currency: String,
    pub amount: i64,
}

/// A stored transaction with its postings, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTransaction {
    pub id: i64,
    pub kind: String,
    pub reference: String,
    pub postings: Vec<RawPosting>,
}

impl RawTransaction {
    /// The stored form of a transaction (for tests and the in-memory book).
    #[must_use]
    pub fn of(id: i64, tx: &Transaction) -> Self {
        Self {
            id,
            kind: tx.kind().as_str().to_owned(),
            reference: tx.reference().to_owned(),
            postings: tx
                .postings()
                .iter()
                .map(|p| RawPosting {
                    account_kind: p.account.kind().as_str().to_owned(),
                    account_owner: p.account.owner().key(),
                    currency: p.amount.currency.code().to_owned(),
                    amount: p.amount.minor,
                })
                .collect(),
        }
    }
}

/// A broken invariant, naming the transaction where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    Malformed { tx: i64, what: String },
    Unbalanced { tx: i64, currency: String, sum: i128 },
    NegativeEscrow { tx: i64, order: String, balance: i128 },
    PayoutExceedsPayable { tx: i64, shop: String, balance: i128 },
    NegativeInTransit { tx: i64, shop: String, balance: i128 },
    GivenBackMoreThanPaid { tx: i64, order: String, paid: i128, given_back: i128 },
    NegativePlatformFees { tx: i64, balance: i128 },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { tx, what } => write!(f, "transaction {tx}: malformed: {what}"),
            Self::Unbalanced { tx, currency, sum } => {
                write!(f, "transaction {tx} does not balance: its {currency} postings sum to {sum}")
            }
            Self::NegativeEscrow { tx, order, balance } => {
                write!(f, "transaction {tx}: the escrow of order {order} is negative ({balance})")
            }
            Self::PayoutExceedsPayable { tx, shop, balance } => write!(
                f,
                "transaction {tx}: a payout exceeds the payable balance of shop {shop} (left at {balance})"
            ),
            Self::NegativeInTransit { tx, shop, balance } => {
                write!(f, "transaction {tx}: payouts in transit of shop {shop} are negative ({balance})")
            }
            Self::GivenBackMoreThanPaid { tx, order, paid, given_back } => write!(
                f,
                "transaction {tx}: order {order} gave back {given_back} (refunds and chargebacks) of {paid} paid"
            ),
            Self::NegativePlatformFees { tx, balance } => {
                write!(f, "transaction {tx}: the platform's fees are negative ({balance})")
            }
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub transactions: u64,
    pub postings: u64,
    pub violations: Vec<Violation>,
}

/// Replays transactions in the order they were posted.
#[derive(Debug, Default)]
pub struct Checker {
    balances: HashMap<(AccountKind, String, String), i128>,
    paid: HashMap<(String, String), i128>,
    report: Report,
}

impl Checker {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn balance(&self, kind: AccountKind, owner: &str, currency: &str) -> i128 {
        self.balances.get(&(kind, owner.to_owned(), currency.to_owned())).copied().unwrap_or(0)
    }

    /// Checks one transaction and applies it.
    pub fn feed(&mut self, tx: &RawTransaction) {
        self.report.transactions += 1;
        self.report.postings += tx.postings.len() as u64;
        let violations = &mut self.report.violations;
        let kind = TxKind::parse(&tx.kind);
        if kind.is_none() {
            violations.push(Violation::Malformed { tx: tx.id, what: format!("unknown kind {:?}", tx.kind) });
        }
        if tx.postings.len() < 2 {
            violations.push(Violation::Malformed { tx: tx.id, what: "fewer than two postings".into() });
        }
        let mut sums: BTreeMap<&str, i128> = BTreeMap::new();
        let mut touched = Vec::new();
        for p in &tx.postings {
            let Some(account) = Account::parse(&p.account_kind, &p.account_owner) else {
                violations.push(Violation::Malformed {
                    tx: tx.id,
                    what: format!("unknown account {}:{}", p.account_kind, p.account_owner),
                });
                continue;
            };
            if Currency::from_code(&p.currency).is_err() {
                violations.push(Violation::Malformed {
                    tx: tx.id,
                    what: format!("unknown currency {:?}", p.currency),
                });
            }
            if p.amount == 0 {
                violations
                    .push(Violation::Malformed { tx: tx.id, what: format!("a zero posting to {account}") });
            }
            *sums.entry(&p.currency).or_insert(0) += i128::from(p.amount);
            let key = (account.kind(), account.owner().key(), p.currency.clone());
            *self.balances.entry(key.clone()).or_insert(0) += i128::from(p.amount);
            if kind == Some(TxKind::Charge) && account.kind() == AccountKind::Escrow && p.amount > 0 {
                *self.paid.entry((key.1.clone(), key.2.clone())).or_insert(0) += i128::from(p.amount);
            }
            touched.push(key);
        }
        for (currency, sum) in sums {
            if sum != 0 {
                violations.push(Violation::Unbalanced { tx: tx.id, currency: currency.to_owned(), sum });
            }
        }
        touched.sort();
        touched.dedup();
        for (account, owner, currency) in touched {
            let balance = self.balance(account, &owner, &currency);
            let v = match account {
                AccountKind::Escrow if balance < 0 => {
                    Some(Violation::NegativeEscrow { tx: tx.id, order: owner.clone(), balance })
                }
                AccountKind::SellerPayable if balance < 0 && kind == Some(TxKind::Payout) => {
                    Some(Violation::PayoutExceedsPayable { tx: tx.id, shop: owner.clone(), balance })
                }
                AccountKind::PayoutsInTransit if balance < 0 => {
                    Some(Violation::NegativeInTransit { tx: tx.id, shop: owner.clone(), balance })
                }
                AccountKind::PlatformFees if balance < 0 => {
                    Some(Violation::NegativePlatformFees { tx: tx.id, balance })
                }
                AccountKind::Refunds | AccountKind::Chargebacks => {
                    let given_back = self.balance(AccountKind::Refunds, &owner, &currency)
                        + self.balance(AccountKind::Chargebacks, &owner, &currency);
                    let paid = self.paid.get(&(owner.clone(), currency.clone())).copied().unwrap_or(0);
                    (given_back > paid).then(|| Violation::GivenBackMoreThanPaid {
                        tx: tx.id,
                        order: owner.clone(),
                        paid,
                        given_back,
                    })
                }
                _ => None,
            };
            self.report.violations.extend(v);
        }
    }

    /// The report of everything fed.
    #[must_use]
    pub fn finish(self) -> Report {
        self.report
    }
}

/// Whose account an owner key names, for messages.
#[must_use]
pub fn describe(owner: &Owner) -> String {
    match owner {
        Owner::Platform => "the platform".into(),
        Owner::Order(id) => format!("order {id}"),
        Owner::Shop(id) => format!("shop {id}"),
    }
}
