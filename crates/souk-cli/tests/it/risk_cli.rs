//! `souk risk train` and `souk risk evaluate` on labelled CSV files: a model learns a pattern
//! from an operator's history and is measured on later rows; bad files and bad models are
//! refused with a message naming the problem and a non-zero exit.

use std::fmt::Write as _;
use std::process::Command;

fn souk() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_souk"));
    cmd.env_remove("SOUK_TEST_DATABASE_URL").env("SOUK_LOG_LEVEL", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Rows where fraud is many cards on one IP with a high amount; the id column is noise the
/// model must not see; rows are written out of time order.
fn history(rows: u64, seed: u64) -> String {
    let mut s = seed;
    let mut next = move |m: u64| {
        s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (s >> 33) % m
    };
    let mut csv = String::from("order_id,created_at,cards_per_ip_24h,amount,account_age_days,is_fraud\n");
    for i in 0..rows {
        let cards = next(10);
        let amount = next(50_000);
        let age = next(400);
        let fraud = u8::from(cards >= 6 && amount > 25_000);
        let day = (i * 7919) % rows;
        writeln!(csv, "A{i},2026-01-01T00:00:{day:08},{cards},{amount},{age},{fraud}").unwrap();
    }
    csv
}

fn figure(out: &str, name: &str) -> f64 {
    let line =
        out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name} in {out}"));
    line.split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn trains_on_history_and_evaluates_on_later_rows() {
    let dir = tempfile::tempdir().unwrap();
    let train_csv = dir.path().join("history.csv");
    let test_csv = dir.path().join("later.csv");
    let model = dir.path().join("model.bin");
    std::fs::write(&train_csv, history(4_000, 1)).unwrap();
    std::fs::write(&test_csv, history(2_000, 2)).unwrap();
    let (code, out, err) = run(souk()
        .args(["risk", "train", "--csv"])
        .arg(&train_csv)
        .args(["--label", "is_fraud", "--time", "created_at", "--drop", "order_id", "--trees", "80", "--out"])
        .arg(&model));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("on 3200 rows and 3 features"), "{out}");
    assert!(figure(&out, "AUC-ROC") > 0.98, "{out}");
    let (code, out, err) = run(souk()
        .args(["risk", "evaluate", "--csv"])
        .arg(&test_csv)
        .args(["--label", "is_fraud", "--model"])
        .arg(&model));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2000 rows"), "{out}");
    assert!(figure(&out, "AUC-ROC") > 0.98, "{out}");
    assert!(figure(&out, "recall at 1 % FPR") > 0.8, "{out}");
}

#[test]
fn bad_files_and_bad_models_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("h.csv");
    std::fs::write(&csv, "amount,is_fraud\n10,0\nten,1\n").unwrap();
    let out_model = dir.path().join("m.bin");
    let train = |label: &str| {
        run(souk()
            .args(["risk", "train", "--csv"])
            .arg(&csv)
            .args(["--label", label, "--out"])
            .arg(&out_model))
    };
    let (code, _, err) = train("fraud");
    assert_eq!(code, 1);
    assert!(err.contains("no column named \"fraud\""), "{err}");
    let (code, _, err) = train("is_fraud");
    assert_eq!(code, 1);
    assert!(err.contains("line 3, column \"amount\": \"ten\" is not a number"), "{err}");
    assert!(!out_model.exists(), "nothing written on failure");
    std::fs::write(&out_model, b"SOUKGBT1 but not really a model, the checksum will not match").unwrap();
    std::fs::write(&csv, "amount,is_fraud\n10,0\n20,1\n").unwrap();
    let (code, _, err) = run(souk()
        .args(["risk", "evaluate", "--csv"])
        .arg(&csv)
        .args(["--label", "is_fraud", "--model"])
        .arg(&out_model));
    assert_eq!(code, 1);
    assert!(err.contains("is not a usable model") && err.contains("checksum"), "{err}");
    let (code, _, err) =
        run(souk().args(["risk", "train", "--csv", "/nonexistent.csv", "--label", "x", "--out", "/tmp/x"]));
    assert_eq!(code, 1);
    assert!(err.contains("cannot open /nonexistent.csv"), "{err}");
}
