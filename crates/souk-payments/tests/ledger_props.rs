//! Property tests of the ledger rules: random sequences of charges, refunds, releases,
//! chargebacks, payouts and their outcomes never unbalance the ledger, overdraw an escrow,
//! pay out more than a shop's payable balance or give back more than an order was paid;
//! the checker, replaying the same transactions, finds nothing to report.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use proptest::prelude::*;
use souk_domain::ids::ShopId;
use souk_domain::{Currency, Money};
use souk_payments::ledger::book::Book;
use souk_payments::ledger::check::{Checker, RawTransaction};
use souk_payments::ledger::{Account, rules};

#[derive(Debug, Clone)]
enum Op {
    Charge(usize),
    Release(usize),
    Refund(usize, i64),
    Chargeback(usize, i64),
    Payout(usize, i64),
    Settle(usize, i64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize).prop_map(Op::Charge),
        (0..6usize).prop_map(Op::Release),
        (0..6usize, 1..30_000i64).prop_map(|(o, a)| Op::Refund(o, a)),
        (0..6usize, 1..30_000i64).prop_map(|(o, a)| Op::Chargeback(o, a)),
        (0..2usize, 1..60_000i64).prop_map(|(s, a)| Op::Payout(s, a)),
        (0..2usize, 1..60_000i64, any::<bool>()).prop_map(|(s, a, ok)| Op::Settle(s, a, ok)),
    ]
}

fn shops() -> [ShopId; 2] {
    [
        "0190f5c8-6d1e-7000-8000-000000000001".parse().unwrap(),
        "0190f5c8-6d1e-7000-8000-000000000002".parse().unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_sequences_keep_every_invariant(
        totals in proptest::collection::vec((100..25_000i64, 0..=2_000u32), 6),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let eur = |m: i64| Money::new(m, Currency::EUR);
        let shops = shops();
        let orders: Vec<(String, ShopId, Money, Money)> = totals
            .iter()
            .enumerate()
            .map(|(i, (total, bps))| {
                let total = eur(*total);
                (format!("order-{i}"), shops[i % 2], total, rules::commission(total, *bps).unwrap())
            })
            .collect();
        let mut book = Book::new();
        for op in ops {
            let funds = |i: usize| {
                let (id, shop, total, fee) = &orders[i];
                book.order_funds(id, *shop, *total, *fee)
            };
            let tx = match op {
                Op::Charge(i) => rules::charge(&funds(i)),
                Op::Release(i) => match rules::release(&funds(i)) {
                    Ok(Some(tx)) => Ok(tx),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
                Op::Refund(i, a) => rules::refund(&funds(i), eur(a)),
                Op::Chargeback(i, a) => rules::chargeback(&funds(i), eur(a)),
                Op::Payout(s, a) => rules::payout(&book.shop_funds(shops[s], Currency::EUR), eur(a)),
                Op::Settle(s, a, ok) => rules::payout_outcome(&book.shop_funds(shops[s], Currency::EUR), eur(a), ok),
            };
            // A refused operation is fine; an accepted one must apply.
            if let Ok(tx) = tx {
                book.apply(tx).unwrap();
            }
            prop_assert_eq!(book.total(Currency::EUR), 0);
            for (id, _, total, _) in &orders {
                let escrow = book.balance(&Account::escrow(id), Currency::EUR).minor;
                prop_assert!(escrow >= 0 && escrow <= total.minor, "escrow of {} is {}", id, escrow);
            }
            for shop in shops {
                prop_assert!(book.balance(&Account::in_transit(shop), Currency::EUR).minor >= 0);
            }
            prop_assert!(book.balance(&Account::platform_fees(), Currency::EUR).minor >= 0);
        }
        let mut checker = Checker::new();
        for (id, tx) in (1..).zip(book.transactions()) {
            checker.feed(&RawTransaction::of(id, tx));
        }
        let report = checker.finish();
        prop_assert!(report.violations.is_empty(), "{:?}", report.violations);
    }
}

#[test]
fn the_checker_names_what_is_wrong() {
    let eur = |m: i64| Money::new(m, Currency::EUR);
    let shop = shops()[0];
    let mut book = Book::new();
    let f = book.order_funds("o1", shop, eur(1000), eur(100));
    book.apply(rules::charge(&f).unwrap()).unwrap();
    let mut txs: Vec<RawTransaction> =
        book.transactions().iter().zip(1..).map(|(t, id)| RawTransaction::of(id, t)).collect();
    // Tamper: the escrow posting grows by one cent; then a refund of more than the escrow.
    txs[0].postings[1].amount += 1;
    let mut refund = txs[0].clone();
    refund.id = 2;
    refund.kind = "refund".into();
    refund.postings[0].account_kind = "escrow".into();
    refund.postings[0].account_owner = "o1".into();
    refund.postings[0].amount = -2000;
    refund.postings[1].account_kind = "refunds".into();
    refund.postings[1].amount = 2000;
    txs.push(refund);
    let mut checker = Checker::new();
    for t in &txs {
        checker.feed(t);
    }
    let shown: Vec<String> = checker.finish().violations.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(shown[0].contains("transaction 1 does not balance"), "{shown:?}");
    assert!(shown[1].contains("escrow of order o1 is negative"), "{shown:?}");
    assert!(shown[2].contains("gave back 2000"), "{shown:?}");
}
