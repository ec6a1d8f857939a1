//! `souk load checkouts`: a load generator of whole checkouts against a running Souk. Each
//! buyer, in its own task, fills its cart, checks out, types a card into the vault endpoint
//! and pays, over and over; the figure is completed, paid checkouts per second and the
//! latency of the whole sequence (four requests), as BENCHMARKS.md records it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::future::try_join_all;

use crate::drive::{Actor, Market, Offer, Refused};

/// What `souk load checkouts` was asked.
#[derive(Debug, Clone)]
pub struct LoadArgs {
    pub url: String,
    pub ca: PathBuf,
    pub buyers: usize,
    pub sellers: usize,
    pub seconds: u64,
    pub card: String,
    /// Tokenize once per buyer and pay every checkout with that saved card.
    pub saved_card: bool,
}

/// One buyer's tally.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
    not_paid: BTreeMap<String, u64>,
}

/// Runs the load and prints the figures.
pub async fn checkouts(args: &LoadArgs) -> anyhow::Result<()> {
    if args.buyers == 0 || args.sellers == 0 || args.seconds == 0 {
        bail!("--buyers, --sellers and --seconds must be at least 1");
    }
    let ca =
        std::fs::read(&args.ca).with_context(|| format!("cannot read the CA file {}", args.ca.display()))?;
    let market = Market::new(&args.url, &ca)?;
    let run = run_id();
    let started = Instant::now();
    let sellers = try_join_all((0..args.sellers).map(|i| {
        let market = market.clone();
        let run = run.clone();
        async move {
            let slug = format!("load-{run}-{i}");
            market.seller(&format!("seller-{run}-{i}@load.example"), &slug, 1_000_000, 1500).await
        }
    }))
    .await
    .context("setting up the sellers")?;
    let offers: Vec<Offer> = sellers.into_iter().map(|(_, o)| o).collect();
    let mut buyers = Vec::with_capacity(args.buyers);
    // Sign-ups hash passwords (argon2): eight at a time keeps the setup from timing out.
    for chunk in (0..args.buyers).collect::<Vec<_>>().chunks(8) {
        let made = try_join_all(chunk.iter().map(|i| {
            let market = market.clone();
            let email = format!("buyer-{run}-{i}@load.example");
            async move { market.member(&email, "Load Buyer").await }
        }))
        .await
        .context("setting up the buyers")?;
        buyers.extend(made);
    }
    println!(
        "setup: {} sellers, {} buyers in {:.1} s; running {} s against {}",
        args.sellers,
        args.buyers,
        started.elapsed().as_secs_f64(),
        args.seconds,
        args.url
    );

    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let began = Instant::now();
    let tallies = try_join_all(buyers.into_iter().zip(offers.iter().cycle().cloned()).enumerate().map(
        |(i, (buyer, offer))| {
            let args = args.clone();
            let run = run.clone();
            tokio::spawn(async move { shop_until(&buyer, &offer, &args, &run, i, deadline).await })
        },
    ))
    .await
    .context("a buyer task failed")?;
    let elapsed = began.elapsed().as_secs_f64();

    let mut latencies: Vec<u32> = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut not_paid: BTreeMap<String, u64> = BTreeMap::new();
    for t in tallies {
        latencies.extend(t.latencies_us);
        for (k, n) in t.errors {
            *errors.entry(k).or_default() += n;
        }
        for (k, n) in t.not_paid {
            *not_paid.entry(k).or_default() += n;
        }
    }
    latencies.sort_unstable();
    let n = latencies.len();
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / elapsed;
    println!("paid checkouts: {n} in {elapsed:.1} s = {rate:.1}/s ({} concurrent buyers)", args.buyers);
    if n > 0 {
        println!(
            "latency of a whole checkout (cart, checkout, {}pay): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            if args.saved_card { "" } else { "card, " },
            ms(percentile(&latencies, 50.0)),
            ms(percentile(&latencies, 90.0)),
            ms(percentile(&latencies, 99.0)),
            ms(latencies.last().copied().unwrap_or(0)),
        );
    }
    for (status, count) in &not_paid {
        println!("not paid ({status}): {count}");
    }
    for (error, count) in &errors {
        println!("error: {error}: {count}");
    }
    if n == 0 {
        bail!("no checkout was paid");
    }
    Ok(())
}

/// One buyer's loop until `deadline`.
async fn shop_until(
    buyer: &Actor,
    offer: &Offer,
    args: &LoadArgs,
    run: &str,
    worker: usize,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut saved: Option<String> = None;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let start = Instant::now();
        let result = async {
            buyer.add_to_cart(offer, 1).await?;
            let checkout = buyer.checkout(&offer.shop, &format!("load-{run}-{worker}-{n}")).await?;
            let token = match (&saved, args.saved_card) {
                (Some(t), true) => t.clone(),
                _ => {
                    let t = buyer.tokenize(&args.card).await?;
                    saved = Some(t.clone());
                    t
                }
            };
            buyer.pay(&checkout.id, &token, &format!("pay-{run}-{worker}-{n}")).await
        }
        .await;
        match result {
            Ok(paid) if paid.status == "paid" => {
                tally.latencies_us.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
            }
            Ok(paid) => *tally.not_paid.entry(paid.status).or_default() += 1,
            Err(e) => {
                let key = e.downcast_ref::<Refused>().map_or_else(|| format!("{e:#}"), ToString::to_string);
                *tally.errors.entry(key).or_default() += 1;
                // Do not spin on a failing server.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    tally
}

/// A short tag that keeps this run's accounts and shops apart from earlier runs'.
fn run_id() -> String {
    use souk_domain::Entropy as _;
    let mut bytes = [0u8; 5];
    souk_domain::OsEntropy::new().fill(&mut bytes);
    u64::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], 0, 0, 0]).to_string()
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied().unwrap_or(0)
}

fn ms(us: u32) -> f64 {
    f64::from(us) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
    }
}
