//! `souk audit …`: verify the whole log against its signed checkpoints, prove one entry's
//! inclusion, sign a checkpoint now, and export or re-check checkpoints for outside parties.

use std::io::BufRead as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use souk_audit::checkpoint::{self, Checkpoint};
use souk_audit::hex;
use souk_core::Souk;
use souk_core::audit;

/// `souk audit verify`. Exits non-zero (through the error) when anything was found.
pub async fn verify(souk: &Souk) -> anyhow::Result<()> {
    let bar = crate::progress::bar(0, "verifying audit log [{bar:40}] {pos}/{len} entries ({eta} left)");
    let report = audit::verify(souk, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    if report.is_clean() {
        println!(
            "audit log intact: {} entries, {} signed checkpoints verified",
            report.entries, report.checkpoints_verified
        );
        return Ok(());
    }
    println!("AUDIT LOG TAMPERED WITH ({} findings; first first):", report.findings.len());
    for f in report.findings.iter().take(50) {
        println!("  - {f}");
    }
    let first = report.findings.first().map(ToString::to_string).unwrap_or_default();
    bail!("audit log verification failed: {first}")
}

/// `souk audit prove SEQ`: a JSON inclusion proof, checked before it is printed.
pub async fn prove(souk: &Souk, seq: u64) -> anyhow::Result<()> {
    let proof = audit::prove(souk, seq).await?;
    if !proof.verifies() {
        bail!("the proof for entry {seq} does not verify: run `souk audit verify`");
    }
    let doc = serde_json::json!({
        "seq": proof.seq,
        "leaf_hash": hex(&proof.leaf_hash),
        "path": proof.path.iter().map(|h| hex(h)).collect::<Vec<_>>(),
        "checkpoint": export_json(&proof.public_key, &proof.checkpoint),
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

fn export_json(public_key: &[u8], cp: &Checkpoint) -> serde_json::Value {
    serde_json::json!({
        "public_key": STANDARD.encode(public_key),
        "tree_size": cp.tree_size,
        "root": STANDARD.encode(cp.root),
        "signed_at": cp.signed_at,
        "key_version": cp.key_version,
        "signature": STANDARD.encode(&cp.signature),
        "signed_text": checkpoint::signed_text(public_key, cp.tree_size, &cp.root, cp.signed_at),
    })
}

/// `souk audit checkpoint`: sign one now if the log grew.
pub async fn checkpoint_now(souk: &Souk) -> anyhow::Result<()> {
    match audit::checkpoint(souk).await? {
        Some(cp) => println!("signed checkpoint at size {} (root {})", cp.tree_size, hex(&cp.root)),
        None => println!("the newest checkpoint already covers the whole log"),
    }
    Ok(())
}

/// `souk audit export-checkpoints`: JSON lines an auditor keeps.
pub async fn export(souk: &Souk) -> anyhow::Result<()> {
    let key = audit::public_key(souk);
    for cp in audit::checkpoints(souk).await? {
        println!("{}", export_json(&key, &cp));
    }
    Ok(())
}

fn parse_export(line: &str) -> anyhow::Result<(Vec<u8>, Checkpoint)> {
    let v: serde_json::Value = serde_json::from_str(line).context("not JSON")?;
    let b64 = |k: &str| -> anyhow::Result<Vec<u8>> {
        STANDARD
            .decode(v.get(k).and_then(serde_json::Value::as_str).with_context(|| format!("missing {k}"))?)
            .with_context(|| format!("{k} is not base64"))
    };
    let root: [u8; 32] = b64("root")?.try_into().map_err(|_| anyhow::anyhow!("root is not 32 bytes"))?;
    Ok((
        b64("public_key")?,
        Checkpoint {
            tree_size: v.get("tree_size").and_then(serde_json::Value::as_u64).context("missing tree_size")?,
            root,
            signed_at: v.get("signed_at").and_then(serde_json::Value::as_i64).context("missing signed_at")?,
            key_version: u32::try_from(v.get("key_version").and_then(serde_json::Value::as_u64).unwrap_or(1))
                .unwrap_or(1),
            signature: b64("signature")?,
        },
    ))
}

/// `souk audit check-checkpoints FILE`: checks that the log today still contains, unchanged,
/// every tree an auditor was shown before (it was only ever appended to).
pub async fn check_exported(souk: &Souk, file: &Path) -> anyhow::Result<()> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
    let ours = audit::public_key(souk);
    let mut failures = 0;
    let mut checked = 0;
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (key, cp) = parse_export(&line).with_context(|| format!("line {}", n + 1))?;
        checked += 1;
        if key != ours {
            println!("line {}: signed by another log's key", n + 1);
            failures += 1;
        } else if !checkpoint::verify(&key, &cp) {
            println!("line {}: the signature does not verify", n + 1);
            failures += 1;
        } else if audit::root_at(souk, cp.tree_size).await? != Some(cp.root) {
            println!("line {}: the log's first {} entries no longer hash to this root", n + 1, cp.tree_size);
            failures += 1;
        }
    }
    if failures > 0 {
        bail!("{failures} of {checked} exported checkpoints are not consistent with the log");
    }
    println!("all {checked} exported checkpoints are consistent with the log (append-only)");
    Ok(())
}
