//! Tests of the model: it learns a known pattern and generalizes to held-out rows, its file
//! format round-trips and refuses every damaged byte, and its reasons add up to its margin.

use super::*;

/// SplitMix64, for reproducible synthetic rows.
fn unit(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    #[allow(clippy::cast_precision_loss)]
    let u = (z >> 40) as f32 / (1u64 << 24) as f32;
    u
}

/// Fraud when many cards share the IP and the amount is high, or the account is brand new
/// with a mismatched country; a noise column and missing values mixed in; 3 % label noise.
fn synthetic(rows: usize, seed: u64) -> Dataset {
    let mut s = seed;
    let names = ["cards_per_ip", "amount", "account_age_days", "country_mismatch", "noise"].map(String::from);
    let data: Vec<(Vec<f32>, bool)> = (0..rows)
        .map(|_| {
            let cards = (unit(&mut s) * 10.0).floor();
            let amount = unit(&mut s) * 500.0;
            let age = if unit(&mut s) < 0.1 { f32::NAN } else { unit(&mut s) * 365.0 };
            let mismatched = unit(&mut s) < 0.2;
            let mismatch = if mismatched { 1.0 } else { 0.0 };
            let noise = unit(&mut s);
            let fraud = (cards >= 6.0 && amount > 250.0) || (age < 7.0 && mismatched);
            let flipped = unit(&mut s) < 0.03;
            (vec![cards, amount, age, mismatch, noise], fraud != flipped)
        })
        .collect();
    Dataset::from_rows(names.to_vec(), &data)
}

fn trained() -> (Model, Dataset) {
    let data = synthetic(6_000, 1);
    let (train_set, valid) = data.split(0.8);
    let params = TrainParams { trees: 120, ..TrainParams::default() };
    let mut calls = 0;
    let model = train(&train_set, Some(&valid), &params, &mut |_, _, loss| {
        calls += 1;
        assert!(loss.is_some());
    })
    .unwrap();
    assert!(calls >= model.trees() && model.trees() > 0);
    (model, synthetic(3_000, 2))
}

#[test]
fn learns_the_pattern_and_generalizes() {
    let (model, test) = trained();
    let scores: Vec<f32> = (0..test.rows()).map(|r| model.probability(test.row(r))).collect();
    let m = evaluate(&scores, &test.labels);
    // 3 % of labels are flipped, which caps what any model can reach.
    assert!(m.auc_roc > 0.93, "{m:?}");
    assert!(m.auprc > 0.75, "{m:?}");
    let fraud = [8.0, 400.0, 100.0, 0.0, 0.5];
    let good = [1.0, 400.0, 100.0, 0.0, 0.5];
    assert!(
        model.score(&fraud) > 80 && model.score(&good) < 20,
        "{} {}",
        model.score(&fraud),
        model.score(&good)
    );
    // A missing value is handled, not a panic or NaN.
    assert!(model.probability(&[f32::NAN; 5]).is_finite());
}

#[test]
fn reasons_name_what_drove_the_score_and_add_up() {
    let (model, _) = trained();
    let row = [8.0, 400.0, 100.0, 0.0, 0.5];
    let reasons = model.reasons(&row, 5);
    let top: Vec<&str> = reasons.iter().take(2).map(|r| r.feature.as_str()).collect();
    assert!(top.contains(&"cards_per_ip") && top.contains(&"amount"), "{reasons:?}");
    // Margin = base + each tree's root value + every contribution along the paths.
    let roots: f32 = model.trees.iter().filter_map(|t| t.first()).map(|n| n.value).sum();
    let all: f32 = model.reasons(&row, usize::MAX).iter().map(|r| r.contribution).sum();
    assert!((model.base + roots + all - model.margin(&row)).abs() < 1e-3);
}

#[test]
fn training_is_reproducible_and_needs_both_labels() {
    let data = synthetic(1_000, 3);
    let params = TrainParams { trees: 10, ..TrainParams::default() };
    let a = train(&data, None, &params, &mut |_, _, _| {}).unwrap();
    let b = train(&data, None, &params, &mut |_, _, _| {}).unwrap();
    assert_eq!(a, b);
    let one_class = Dataset::from_rows(vec!["x".into()], &[(vec![1.0], false), (vec![2.0], false)]);
    assert!(matches!(train(&one_class, None, &params, &mut |_, _, _| {}), Err(TrainError::OneClass { .. })));
}

#[test]
fn the_file_round_trips_and_every_damaged_byte_is_refused() {
    let data = synthetic(800, 4);
    let model = train(
        &data,
        None,
        &TrainParams { trees: 3, max_depth: 2, ..TrainParams::default() },
        &mut |_, _, _| {},
    )
    .unwrap();
    let bytes = model.to_bytes();
    assert_eq!(Model::from_bytes(&bytes).unwrap(), model);
    for cut in 0..bytes.len() {
        assert!(Model::from_bytes(bytes.get(..cut).unwrap()).is_err(), "truncated at {cut}");
    }
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        assert!(Model::from_bytes(&bad).is_err(), "byte {i} flipped");
    }
    assert_eq!(Model::from_bytes(b"not a model at all, just text............"), Err(FormatError::Magic));
}

#[test]
fn a_well_checksummed_but_hostile_tree_is_refused() {
    let looping = Model {
        features: vec!["x".into()],
        base: 0.0,
        trees: vec![vec![
            Node { feature: 0, threshold: 1.0, left: 0, right: 1, value: 0.0 },
            Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, value: 1.0 },
        ]],
    };
    assert!(matches!(Model::from_bytes(&looping.to_bytes()), Err(FormatError::Malformed(_))));
    let bad_feature = Model {
        features: vec!["x".into()],
        base: 0.0,
        trees: vec![vec![
            Node { feature: 7, threshold: 1.0, left: 1, right: 2, value: 0.0 },
            Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, value: 1.0 },
            Node { feature: LEAF, threshold: 0.0, left: 0, right: 0, value: 1.0 },
        ]],
    };
    assert!(matches!(Model::from_bytes(&bad_feature.to_bytes()), Err(FormatError::Malformed(_))));
}

#[test]
fn csv_files_are_read_in_time_order_with_clear_errors() {
    let csv = "id,when,amount,label,cards\n1,2026-03-02,10.5,0,1\n2,2026-03-01,,1,7\n3,2026-03-03,99,true,\n";
    let d = Dataset::from_csv(
        csv.as_bytes(),
        "label",
        Some("when"),
        Columns::AllBut(&["id".into()]),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(d.names, ["amount", "cards"]);
    assert_eq!(d.labels, [true, false, true], "sorted by time");
    assert!(d.row(0)[0].is_nan() && (d.row(0)[1] - 7.0).abs() < f32::EPSILON);
    assert!(d.row(2)[1].is_nan());
    let p = d.project(&["cards".into(), "amount".into()]).unwrap();
    assert_eq!(p.row(1), [1.0, 10.5]);
    assert!(d.project(&["nope".into()]).is_err());
    let only = ["cards".to_owned()];
    let o = Dataset::from_csv(csv.as_bytes(), "label", None, Columns::Only(&only), &mut |_| {}).unwrap();
    assert_eq!((o.names.as_slice(), o.rows()), (only.as_slice(), 3), "the id and date columns are ignored");
    let err = |text: &str| {
        Dataset::from_csv(text.as_bytes(), "label", None, Columns::AllBut(&[]), &mut |_| {})
            .unwrap_err()
            .to_string()
    };
    assert!(err("a,b\n1,2\n").contains("no column named \"label\""));
    assert!(err("a,label\n1,0\nx,1\n").contains("line 3, column \"a\": \"x\" is not a number"));
    assert!(err("a,label\n1,maybe\n").contains("line 2: the label \"maybe\""));
    assert!(err("a,label\n1,0,9\n").contains("line 2: 3 fields where the header has 2"));
    assert!(err("a,label\n").contains("no data rows"));
}
