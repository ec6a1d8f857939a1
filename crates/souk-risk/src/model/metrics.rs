//! How good a model's scores are against known labels: AUC-ROC, AUPRC (average precision),
//! and recall at a fixed false-positive rate, the figure that matters when every false
//! positive is a good customer turned away.

use serde::Serialize;

/// Evaluation figures over one labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    pub rows: usize,
    pub positives: usize,
    pub auc_roc: f64,
    pub auprc: f64,
    /// The share of positives caught while flagging at most 1 % of negatives.
    pub recall_at_1pct_fpr: f64,
    /// The same at 0.1 %.
    pub recall_at_0_1pct_fpr: f64,
}

/// Scores with their labels, grouped by equal score from the highest down; each group is
/// (positives, negatives). Ties are one threshold: no order inside a group is invented.
fn groups(scores: &[f32], labels: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (scores.get(a).copied().unwrap_or(0.0), scores.get(b).copied().unwrap_or(0.0));
        y.total_cmp(&x)
    });
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut last: Option<f32> = None;
    for i in order {
        let score = scores.get(i).copied().unwrap_or(0.0);
        let positive = labels.get(i).copied().unwrap_or(false);
        if last != Some(score) || out.is_empty() {
            out.push((0, 0));
            last = Some(score);
        }
        if let Some(g) = out.last_mut() {
            if positive {
                g.0 += 1;
            } else {
                g.1 += 1;
            }
        }
    }
    out
}

#[allow(clippy::cast_precision_loss)]
pub fn evaluate(scores: &[f32], labels: &[bool]) -> Metrics {
    let groups = groups(scores, labels);
    let positives: usize = groups.iter().map(|g| g.0).sum();
    let negatives: usize = groups.iter().map(|g| g.1).sum();
    let (p, n) = (positives as f64, negatives as f64);
    // AUC-ROC: the trapezoid area under the ROC curve, which counts a tie as half.
    let mut auc = 0.0;
    // Average precision: precision at each group's threshold, weighted by the recall gained.
    let mut ap = 0.0;
    let (mut tp, mut fp) = (0.0_f64, 0.0_f64);
    let (mut best_1, mut best_01) = (0.0_f64, 0.0_f64);
    for &(gp, gn) in &groups {
        let (gp, gn) = (gp as f64, gn as f64);
        auc += gn * (tp + gp / 2.0);
        tp += gp;
        fp += gn;
        if gp > 0.0 {
            ap += (tp / (tp + fp)) * (gp / p.max(1.0));
        }
        let fpr = if n > 0.0 { fp / n } else { 0.0 };
        let recall = if p > 0.0 { tp / p } else { 0.0 };
        if fpr <= 0.01 {
            best_1 = best_1.max(recall);
        }
        if fpr <= 0.001 {
            best_01 = best_01.max(recall);
        }
    }
    let auc_roc = if p > 0.0 && n > 0.0 { auc / (p * n) } else { f64::NAN };
    Metrics {
        rows: positives + negatives,
        positives,
        auc_roc,
        auprc: if p > 0.0 { ap } else { f64::NAN },
        recall_at_1pct_fpr: best_1,
        recall_at_0_1pct_fpr: best_01,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfect_reversed_and_tied_rankings() {
        let labels = [true, true, false, false, false];
        let perfect = evaluate(&[0.9, 0.8, 0.3, 0.2, 0.1], &labels);
        assert!(close(perfect.auc_roc, 1.0) && close(perfect.auprc, 1.0));
        assert!(close(perfect.recall_at_1pct_fpr, 1.0));
        let reversed = evaluate(&[0.1, 0.2, 0.3, 0.8, 0.9], &labels);
        assert!(close(reversed.auc_roc, 0.0));
        assert!(close(reversed.recall_at_1pct_fpr, 0.0));
        let tied = evaluate(&[0.5; 5], &labels);
        assert!(close(tied.auc_roc, 0.5));
        assert!(close(tied.auprc, 0.4), "precision of the single threshold");
    }

    #[test]
    fn known_answer() {
        // Ranking: P N P N N. AUC = (3 + 2) / 6 pairs won; AP = (1/1 + 2/3) / 2.
        let m = evaluate(&[0.9, 0.8, 0.7, 0.6, 0.5], &[true, false, true, false, false]);
        assert!(close(m.auc_roc, 5.0 / 6.0), "{m:?}");
        assert!(close(m.auprc, f64::midpoint(1.0, 2.0 / 3.0)), "{m:?}");
        assert!(close(m.recall_at_1pct_fpr, 0.5), "{m:?}");
        assert_eq!((m.rows, m.positives), (5, 2));
    }
}
