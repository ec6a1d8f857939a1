//! The cost of a risk decision without I/O: 100 rules over 30 attributes plus a 300-tree
//! model (targets: p50 ≤ 0.3 ms for features + rules + model; model inference ≤ 20 µs/row).
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing, reason = "benchmark")]

use std::collections::{HashMap, HashSet};

use criterion::{Criterion, criterion_group, criterion_main};
use souk_risk::model::{Dataset, TrainParams, train};
use souk_risk::{AttributeType, Mode, Rule, RuleSet, Schema, Value};

const FEATURES: usize = 30;

fn unit(state: &mut u64) -> f32 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    #[allow(clippy::cast_precision_loss)]
    let u = (*state >> 40) as f32 / (1u64 << 24) as f32;
    u
}

fn decision(c: &mut Criterion) {
    let names: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    let mut s = 7;
    let rows: Vec<(Vec<f32>, bool)> = (0..20_000)
        .map(|_| {
            let row: Vec<f32> = (0..FEATURES).map(|_| unit(&mut s) * 100.0).collect();
            let fraud = (row[0] > 80.0 && row[1] > 50.0) || row[2] < 3.0 || unit(&mut s) < 0.02;
            (row, fraud)
        })
        .collect();
    let data = Dataset::from_rows(names.clone(), &rows);
    let params = TrainParams { trees: 300, early_stopping: usize::MAX, ..TrainParams::default() };
    let model = train(&data, None, &params, &mut |_, _, _| {}).unwrap();
    assert_eq!(model.trees(), 300);
    let row = rows[17].0.clone();
    c.bench_function("model score, 300 trees depth 6, 30 features", |b| {
        b.iter(|| model.score(std::hint::black_box(&row)));
    });
    c.bench_function("model score + top 3 reasons", |b| {
        b.iter(|| (model.score(std::hint::black_box(&row)), model.reasons(&row, 3)));
    });

    let mut schema =
        Schema::new().attribute("risk_score", AttributeType::Number).attribute("email", AttributeType::Text);
    for n in &names {
        schema = schema.attribute(n, AttributeType::Number);
    }
    schema = schema.attribute("new_device", AttributeType::Bool).list("blocked_emails");
    let rules: Vec<Rule> = (0..100)
        .map(|i| {
            let text = match i % 4 {
                0 => format!("block if :risk_score: > {} and :f{}: > 90", 70 + i % 30, i % FEATURES),
                1 => {
                    format!("review if :f{}: >= :f{}: and not :new_device:", i % FEATURES, (i + 1) % FEATURES)
                }
                2 => "review if :email: in @blocked_emails or :email: in ('a@x.io', 'b@y.io')".to_owned(),
                _ => format!(
                    "step_up if (:f{}: < 5 or :f{}: > 95) and :risk_score: > 40",
                    i % FEATURES,
                    (i + 3) % FEATURES
                ),
            };
            Rule::parse(&format!("r{i}"), &text, Mode::Active, &schema).unwrap()
        })
        .collect();
    let set = RuleSet::new(rules);
    let lists: HashMap<String, HashSet<String>> = HashMap::from([(
        "blocked_emails".to_owned(),
        (0..1000).map(|i| format!("bad{i}@example.com")).collect(),
    )]);
    c.bench_function("decision: features + model + 100 rules", |b| {
        b.iter(|| {
            let mut f = schema.features();
            let score = model.score(std::hint::black_box(&row));
            f.set_slot(0, Value::Number(f64::from(score)));
            f.set_slot(1, Value::Text("someone@example.com".to_owned()));
            for (i, v) in row.iter().enumerate() {
                f.set_slot(2 + i, Value::Number(f64::from(*v)));
            }
            f.set_slot(2 + FEATURES, Value::Bool(false));
            let reasons = model.reasons(&row, 3);
            (set.evaluate(&f, &lists), reasons)
        });
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
