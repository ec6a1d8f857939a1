//! `souk risk train|evaluate|replay`: learn a risk model from a labelled numeric CSV (an
//! operator's history from another platform, or the marketplace's own export), measure a
//! model on one, and replay a stored decision against the database.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use souk_risk::model::{Columns, Dataset, Metrics, Model, TrainParams, evaluate, train};

/// What `souk risk train` was asked for.
pub struct TrainArgs {
    pub csv: PathBuf,
    pub label: String,
    pub time: Option<String>,
    pub drop: Vec<String>,
    pub out: PathBuf,
    pub trees: usize,
    pub seed: u64,
}

fn load(csv: &Path, label: &str, time: Option<&str>, columns: Columns<'_>) -> anyhow::Result<Dataset> {
    let file = std::fs::File::open(csv).with_context(|| format!("cannot open {}", csv.display()))?;
    let reading = crate::progress::bar(0, "reading {pos} rows ({per_sec})");
    let data = Dataset::from_csv(std::io::BufReader::new(file), label, time, columns, &mut |n| {
        reading.set_position(n);
    })
    .with_context(|| format!("{} cannot be used", csv.display()))?;
    reading.finish_and_clear();
    Ok(data)
}

fn print_metrics(what: &str, m: &Metrics) {
    println!("{what}: {} rows, {} labelled fraud", m.rows, m.positives);
    println!("  AUC-ROC                 {:.4}", m.auc_roc);
    println!("  AUPRC                   {:.4}", m.auprc);
    println!("  recall at 1 % FPR       {:.4}", m.recall_at_1pct_fpr);
    println!("  recall at 0.1 % FPR     {:.4}", m.recall_at_0_1pct_fpr);
}

fn scores(model: &Model, data: &Dataset) -> Vec<f32> {
    (0..data.rows()).map(|r| model.probability(data.row(r))).collect()
}

/// `souk risk train`: the first 80 % of rows (in time order when a time column is given)
/// train, the last 20 % validate and stop training when it stops improving.
pub fn train_model(args: &TrainArgs) -> anyhow::Result<()> {
    let data = load(&args.csv, &args.label, args.time.as_deref(), Columns::AllBut(&args.drop))?;
    if data.rows() < 10 {
        bail!("{} has {} rows; training needs at least 10", args.csv.display(), data.rows());
    }
    let (train_set, valid) = data.split(0.8);
    let params = TrainParams { trees: args.trees, seed: args.seed, ..TrainParams::default() };
    let trees = crate::progress::bar(args.trees as u64, "training [{bar:40}] {pos}/{len} trees {msg}");
    let started = std::time::Instant::now();
    let model = train(&train_set, Some(&valid), &params, &mut |done, _, loss| {
        trees.set_position(done as u64);
        if let Some(l) = loss {
            trees.set_message(format!("validation log-loss {l:.5}"));
        }
    })
    .context("training failed")?;
    trees.finish_and_clear();
    println!(
        "trained {} trees on {} rows and {} features in {:.1} s",
        model.trees(),
        train_set.rows(),
        model.features().len(),
        started.elapsed().as_secs_f64()
    );
    print_metrics("validation (the latest 20 %)", &evaluate(&scores(&model, &valid), &valid.labels));
    std::fs::write(&args.out, model.to_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("model written to {}", args.out.display());
    Ok(())
}

/// `souk risk evaluate`: the model's figures on a labelled CSV holding its feature columns.
pub fn evaluate_model(csv: &Path, label: &str, model_path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(model_path).with_context(|| format!("cannot read {}", model_path.display()))?;
    let model = Model::from_bytes(&bytes)
        .with_context(|| format!("{} is not a usable model", model_path.display()))?;
    let data = load(csv, label, None, Columns::Only(model.features()))?;
    print_metrics(&format!("{}", csv.display()), &evaluate(&scores(&model, &data), &data.labels));
    Ok(())
}

/// `souk risk replay --decision ID`: the stored decision, what replaying it gave, and an
/// error (exit 1) if they differ.
pub async fn replay(souk: &souk_core::Souk, id: &str) -> anyhow::Result<()> {
    let mut conn = souk.store.conn().await?;
    let r = souk_core::risk::replay::replay_unchecked(souk, &mut conn, id).await?;
    drop(conn);
    let score = |s: Option<u8>| s.map_or_else(|| "-".to_owned(), |s| s.to_string());
    let d = &r.decision;
    println!("decision {} ({} at {})", d.id, d.event_kind, d.created_at.to_rfc3339());
    println!("  rule set version {}, model {}", d.rule_set_version, d.model_sha.as_deref().unwrap_or("none"));
    println!(
        "  stored:   {} score {} rules {:?} shadow {:?}",
        d.action,
        score(d.score),
        d.matched,
        d.shadow_matched
    );
    println!(
        "  replayed: {} score {} rules {:?} shadow {:?}",
        r.action,
        score(r.score),
        r.matched,
        r.shadow_matched
    );
    if r.same {
        println!("same answer");
        Ok(())
    } else {
        anyhow::bail!("the replay gave another answer than the stored decision")
    }
}
