//! An in-memory ledger: applies balanced transactions, refuses a repeated key or sequence
//! like the database does, and answers balances and an order's or shop's funds. The rules'
//! property tests run on it; it is also the reference the stored ledger must agree with.

use std::collections::{HashMap, HashSet};

use souk_domain::ids::ShopId;
use souk_domain::{Currency, Money};

use super::rules::{OrderFunds, ShopFunds};
use super::{Account, LedgerError, Transaction};

/// Balances, keys and sequences of the transactions applied so far.
#[derive(Debug, Clone, Default)]
pub struct Book {
    balances: HashMap<(Account, Currency), i64>,
    keys: HashSet<String>,
    movements: HashMap<String, u32>,
    transactions: Vec<Transaction>,
}

impl Book {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Posts `tx`; refused if its key or its (reference, seq) was posted already, or if
    /// its seq is not the next for its reference.
    pub fn apply(&mut self, tx: Transaction) -> Result<(), LedgerError> {
        let seen = self.movements.get(tx.reference()).copied().unwrap_or(0);
        if self.keys.contains(tx.key()) || Some(tx.seq()) != seen.checked_add(1) {
            return Err(LedgerError::Refused(format!("transaction {} is posted already", tx.key())));
        }
        let mut next = self.balances.clone();
        for p in tx.postings() {
            let b = next.entry((p.account.clone(), p.amount.currency)).or_insert(0);
            *b = b.checked_add(p.amount.minor).ok_or(LedgerError::Overflow)?;
        }
        self.balances = next;
        self.keys.insert(tx.key().to_owned());
        self.movements.insert(tx.reference().to_owned(), tx.seq());
        self.transactions.push(tx);
        Ok(())
    }

    #[must_use]
    pub fn balance(&self, account: &Account, currency: Currency) -> Money {
        Money::new(self.balances.get(&(account.clone(), currency)).copied().unwrap_or(0), currency)
    }

    /// Every transaction, in the order applied.
    #[must_use]
    pub fn transactions(&self) -> &[Transaction] {
        &self.transactions
    }

    /// The sum of every balance in `currency` (zero, if every transaction balanced).
    #[must_use]
    pub fn total(&self, currency: Currency) -> i128 {
        self.balances.iter().filter(|((_, c), _)| *c == currency).map(|(_, v)| i128::from(*v)).sum()
    }

    /// An order's funds, with its total and fee.
    #[must_use]
    pub fn order_funds(&self, order: &str, shop: ShopId, total: Money, fee: Money) -> OrderFunds {
        let c = total.currency;
        OrderFunds {
            order: order.to_owned(),
            shop,
            total,
            fee,
            charged: self.keys.contains(&format!("charge:{order}")),
            released: self.keys.contains(&format!("release:{order}")),
            escrow: self.balance(&Account::escrow(order), c),
            refunded: self.balance(&Account::refunds(order), c),
            charged_back: self.balance(&Account::chargebacks(order), c),
            movements: self.movements.get(order).copied().unwrap_or(0),
        }
    }

    /// A shop's funds in `currency`.
    #[must_use]
    pub fn shop_funds(&self, shop: ShopId, currency: Currency) -> ShopFunds {
        ShopFunds {
            shop,
            payable: self.balance(&Account::seller_payable(shop), currency),
            in_transit: self.balance(&Account::in_transit(shop), currency),
            movements: self.movements.get(&shop.to_string()).copied().unwrap_or(0),
        }
    }
}
