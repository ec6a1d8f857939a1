//! `souk ledger …`: check every invariant of the double-entry ledger (exit 1 naming each
//! violation), run a payout batch through the simulated bank, and settle payouts a crash
//! left in transit.

use anyhow::bail;
use souk_core::Souk;
use souk_core::payments;

/// `souk ledger check`. Exits non-zero (through the error) when anything was found.
pub async fn check(souk: &Souk) -> anyhow::Result<()> {
    let bar = crate::progress::bar(0, "checking ledger [{bar:40}] {pos}/{len} transactions ({eta} left)");
    let report = payments::check(souk, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    if report.violations.is_empty() {
        println!(
            "ledger balanced: {} transactions, {} postings; every invariant holds",
            report.transactions, report.postings
        );
        return Ok(());
    }
    println!("LEDGER INVARIANTS BROKEN ({} violations; first first):", report.violations.len());
    for v in report.violations.iter().take(100) {
        println!("  - {v}");
    }
    let first = report.violations.first().map(ToString::to_string).unwrap_or_default();
    bail!("ledger check failed: {first}")
}

/// `souk ledger payouts`: pays every shop's payable balance through the simulated bank,
/// except shops on hold.
pub async fn payouts(souk: &Souk) -> anyhow::Result<()> {
    let run =
        payments::payouts::run_batch(souk, souk.bank.as_ref(), payments::payouts::RunBy::System).await?;
    print_reconciled(&run.reconciled);
    println!(
        "payout batch {}: {} paid, {} returned, {} held",
        run.batch,
        run.paid.len(),
        run.returned.len(),
        run.held.len()
    );
    for (shop, amount) in &run.paid {
        println!("  paid     {shop}  {amount}");
    }
    for (shop, amount) in &run.returned {
        println!("  returned {shop}  {amount}");
    }
    for (shop, why) in &run.held {
        println!("  held     {shop}  ({why})");
    }
    Ok(())
}

/// `souk ledger payouts --reconcile`: settles payouts left in transit by asking the bank
/// with each payout's key; sends nothing.
pub async fn reconcile(souk: &Souk) -> anyhow::Result<()> {
    let done =
        payments::payouts::reconcile(souk, souk.bank.as_ref(), payments::payouts::RunBy::System).await?;
    print_reconciled(&done);
    println!(
        "reconciled: {} sent, {} payable again, {} still in transit",
        done.sent.len(),
        done.returned.len(),
        done.pending
    );
    Ok(())
}

fn print_reconciled(done: &payments::payouts::Reconciled) {
    for (shop, amount) in &done.sent {
        println!("  settled  {shop}  {amount} (the bank had sent it)");
    }
    for (shop, amount) in &done.returned {
        println!("  reopened {shop}  {amount} (the bank returned it or never received it)");
    }
}
