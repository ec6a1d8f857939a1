//! `souk ledger …`: check every invariant of the double-entry ledger (exit 1 naming each
//! violation), and run a payout batch through the simulated bank.

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
    let run = payments::payouts::run_batch(
        souk,
        &payments::payouts::SimulatedBank,
        payments::payouts::RunBy::System,
    )
    .await?;
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
