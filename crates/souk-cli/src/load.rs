//! `souk load checkouts`: a load generator of whole checkouts against a running Souk. A
//! population of buyers is signed up first; then a number of tasks each take the next buyer,
//! who fills the cart, checks out, types a card into the vault endpoint and pays, a few
//! times (as many as the default risk rules let a person); the figure is completed, paid checkouts per second and the
//! latency of the whole sequence (four requests), as BENCHMARKS.md records it.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::future::try_join_all;

use crate::drive::{Actor, Market, Offer, Refused};

/// What `souk load checkouts` was asked.
#[derive(Debug, Clone)]
pub struct LoadArgs {
    pub url: String,
    pub ca: PathBuf,
    /// Where the URL's host is reached, instead of DNS.
    pub connect: Option<std::net::SocketAddr>,
    /// The population: buyers signed up before the run.
    pub buyers: usize,
    /// Buyers shopping at once (each in its own task).
    pub concurrency: usize,
    /// Checkouts each buyer makes before the next buyer takes over (the default risk rules
    /// block a sixth checkout within ten minutes, as a person does not shop faster).
    pub per_buyer: usize,
    pub sellers: usize,
    pub seconds: u64,
    pub card: String,
    /// Tokenize once per buyer and pay every checkout with that saved card.
    pub saved_card: bool,
}

/// One task's tally.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
    not_paid: BTreeMap<String, u64>,
}

/// Runs the load and prints the figures.
pub async fn checkouts(args: &LoadArgs) -> anyhow::Result<()> {
    if [args.buyers, args.concurrency, args.per_buyer, args.sellers].contains(&0) || args.seconds == 0 {
        bail!("--buyers, --concurrency, --per-buyer, --sellers and --seconds must be at least 1");
    }
    let ca =
        std::fs::read(&args.ca).with_context(|| format!("cannot read the CA file {}", args.ca.display()))?;
    let mut market = Market::new(&args.url, &ca)?;
    if let Some(addr) = args.connect {
        market = market.at(addr);
    }
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
    // Sign-ups hash passwords (argon2) and wait out the anti-enumeration floor: sixteen at a
    // time overlaps the waits without queueing too long behind the hashing.
    for chunk in (0..args.buyers).collect::<Vec<_>>().chunks(16) {
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
        "setup: {} sellers, {} buyers in {:.1} s; then at most {} s, {} buyers at once, {} checkouts each, against {}",
        args.sellers,
        args.buyers,
        started.elapsed().as_secs_f64(),
        args.seconds,
        args.concurrency,
        args.per_buyer,
        args.url
    );

    let queue: Arc<Mutex<VecDeque<(usize, Actor, Offer)>>> = Arc::new(Mutex::new(
        buyers
            .into_iter()
            .zip(offers.iter().cycle().cloned())
            .enumerate()
            .map(|(i, (b, o))| (i, b, o))
            .collect(),
    ));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let began = Instant::now();
    let tallies = try_join_all((0..args.concurrency).map(|_| {
        let queue = queue.clone();
        let args = args.clone();
        let run = run.clone();
        tokio::spawn(async move { work(&queue, &args, &run, deadline).await })
    }))
    .await
    .context("a buyer task failed")?;
    report(tallies, began.elapsed().as_secs_f64(), args)
}

/// Prints the figures of a run.
fn report(tallies: Vec<Tally>, elapsed: f64, args: &LoadArgs) -> anyhow::Result<()> {
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
    println!("paid checkouts: {n} in {elapsed:.1} s = {rate:.1}/s ({} buyers at once)", args.concurrency);
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

/// One task: takes the next buyer and makes its checkouts, until the buyers or the time
/// run out.
async fn work(
    queue: &Mutex<VecDeque<(usize, Actor, Offer)>>,
    args: &LoadArgs,
    run: &str,
    deadline: Instant,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let next = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop_front();
        let Some((i, buyer, offer)) = next else { return tally };
        let mut saved: Option<String> = None;
        for n in 0..args.per_buyer {
            if Instant::now() >= deadline {
                return tally;
            }
            let start = Instant::now();
            let result = async {
                buyer.add_to_cart(&offer, 1).await?;
                let checkout = buyer.checkout(&offer.shop, &format!("load-{run}-{i}-{n}")).await?;
                let token = match (&saved, args.saved_card) {
                    (Some(t), true) => t.clone(),
                    _ => {
                        let t = buyer.tokenize(&args.card).await?;
                        saved = Some(t.clone());
                        t
                    }
                };
                buyer.pay(&checkout.id, &token, &format!("pay-{run}-{i}-{n}")).await
            }
            .await;
            match result {
                Ok(paid) if paid.status == "paid" => {
                    tally.latencies_us.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                Ok(paid) => *tally.not_paid.entry(paid.status).or_default() += 1,
                Err(e) => {
                    let key =
                        e.downcast_ref::<Refused>().map_or_else(|| format!("{e:#}"), ToString::to_string);
                    *tally.errors.entry(key).or_default() += 1;
                    // Do not spin on a failing server.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
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
