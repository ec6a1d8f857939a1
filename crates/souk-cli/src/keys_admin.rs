//! `souk keys …`: master key status, rotation (online, resumable, with progress), retirement
//! of unused versions, and generation of keys for the environment provider.

use anyhow::{Context as _, bail};
use secrecy::ExposeSecret as _;
use souk_core::Souk;
use souk_core::audit::{self, Actor, Event, Outcome};
use souk_crypto::provider::EnvKeyProvider;
use souk_store::keys as store;

/// Rewrapped per database round trip.
const BATCH: u32 = 500;

fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = crate::progress::bar(total, "{msg} [{bar:40}] {pos}/{len} ({eta} left)");
    bar.set_message(what.to_owned());
    bar
}

/// `souk keys status`.
pub async fn status(souk: &Souk) -> anyhow::Result<()> {
    let mut conn = souk.store.conn().await?;
    let (live, destroyed) = store::data_key_census(&mut conn).await?;
    let system = store::system_keys(&mut conn).await?;
    let versions = souk.keys.versions();
    let current = versions.last().copied().unwrap_or(0);
    println!("Master keys: {}", souk.keys.provider().describe());
    for v in &versions {
        let data = live.iter().find(|(k, _)| k == v).map_or(0, |(_, n)| *n);
        let sys = system.iter().filter(|k| k.kek_version == *v).count();
        let age = souk
            .keys
            .provider()
            .created_at(*v)
            .map(|at| format!("created {}, ", at.to_rfc3339()))
            .unwrap_or_default();
        let mark = if *v == current { "  (current)" } else { "" };
        println!("  v{v}: {age}wraps {data} data keys and {sys} system keys{mark}");
    }
    let orphans: Vec<u32> = live.iter().map(|(k, _)| *k).filter(|k| !versions.contains(k)).collect();
    if !orphans.is_empty() {
        println!("  WARNING: data keys are wrapped by versions not loaded here: {orphans:?}");
    }
    println!("Destroyed data keys (erased subjects): {destroyed}");
    let pending: u64 = live.iter().filter(|(k, _)| *k < current).map(|(_, n)| n).sum();
    if pending > 0 {
        println!(
            "Rotation incomplete: {pending} data keys still use older versions; run `souk keys rotate --resume`"
        );
    }
    Ok(())
}

/// `souk keys rotate [--resume]`.
pub async fn rotate(souk: &Souk, resume: bool, operator: &str) -> anyhow::Result<()> {
    let new_version = if resume {
        None
    } else {
        Some(
            souk.keys
                .provider()
                .create_version(souk.entropy.as_ref())
                .context("cannot create a new master key")?,
        )
    };
    souk.keys.reload()?;
    let current = souk.keys.versions().last().copied().unwrap_or(0);
    let mut conn = souk.store.conn().await?;
    let (live, _) = store::data_key_census(&mut conn).await?;
    drop(conn);
    let total: u64 = live.iter().filter(|(k, _)| *k < current).map(|(_, n)| n).sum();
    let bar = progress_bar(total, &format!("rewrapping data keys under master key v{current}"));
    let mut rewrapped = 0u64;
    loop {
        let n = souk.keys.rewrap_batch(&souk.store, BATCH).await?;
        if n == 0 {
            break;
        }
        rewrapped += n;
        bar.inc(n);
    }
    bar.finish_and_clear();
    let detail = serde_json::json!({ "new_version": new_version, "rewrapped": rewrapped, "resumed": resume });
    record_key_event(souk, operator, "keys.rotate", current, detail).await?;
    audit::checkpoint(souk).await?;
    println!("master key v{current} is current; {rewrapped} keys rewrapped");
    println!(
        "Older versions stay until nothing uses them: check `souk keys status`, then `souk keys retire VERSION`."
    );
    Ok(())
}

/// `souk keys retire VERSION`.
pub async fn retire(souk: &Souk, version: u32, operator: &str) -> anyhow::Result<()> {
    let versions = souk.keys.versions();
    if versions.last() == Some(&version) {
        bail!("v{version} is the current master key; rotate first");
    }
    if !versions.contains(&version) {
        bail!("there is no master key v{version} (loaded: {versions:?})");
    }
    let mut conn = souk.store.conn().await?;
    let (live, _) = store::data_key_census(&mut conn).await?;
    let data = live.iter().find(|(k, _)| *k == version).map_or(0, |(_, n)| *n);
    let system = store::system_keys(&mut conn).await?.iter().filter(|k| k.kek_version == version).count();
    drop(conn);
    if data > 0 || system > 0 {
        bail!(
            "v{version} still wraps {data} data keys and {system} system keys; run `souk keys rotate --resume` first"
        );
    }
    souk.keys.provider().retire(version)?;
    record_key_event(souk, operator, "keys.retire", version, serde_json::json!({})).await?;
    println!("master key v{version} retired");
    Ok(())
}

/// Records an operator's master-key operation in the audit log.
async fn record_key_event(
    souk: &Souk,
    operator: &str,
    action: &'static str,
    version: u32,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    let mut tx = audit::AuditedTx::begin(souk).await?;
    let event = Event {
        actor: Actor::operator(operator),
        action,
        target_kind: "master_key",
        target_id: format!("v{version}"),
        outcome: Outcome::Success,
        request_id: String::new(),
        detail,
    };
    tx.record(&[event]).await?;
    tx.commit().await?;
    Ok(())
}

/// `souk keys generate --version N`: a key entry for `SOUK_KEYS_MASTER_KEYS`.
pub fn generate(version: u32) {
    let entry = EnvKeyProvider::generate_entry(version, &souk_domain::OsEntropy::new());
    println!("{}", entry.expose_secret());
}
