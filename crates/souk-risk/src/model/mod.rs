//! The risk model: gradient-boosted decision trees trained in Rust on the marketplace's own
//! labels (or an operator's labelled CSV), scored 0-100, with the reasons for each score
//! (the features that pushed it most, by their contribution along each tree's path), and
//! stored in our own compact, bounds-checked binary format.

mod dataset;
mod format;
pub mod metrics;
mod train;

pub use dataset::{Columns, Dataset, DatasetError};
pub use format::FormatError;
pub use metrics::{Metrics, evaluate};
pub use train::{Progress, TrainError, TrainParams, train};

/// One node of a tree, in a flat array: a split (`feature`, `threshold`, children) or a leaf.
/// `value` is the node's own prediction (already scaled by the learning rate): a leaf's is
/// what it adds to the margin; an inner node's is what explanations measure changes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Node {
    /// `LEAF` for a leaf.
    pub feature: u32,
    /// Rows with `value <= threshold`, or a missing value, go left.
    pub threshold: f32,
    pub left: u32,
    pub right: u32,
    pub value: f32,
}

pub(crate) const LEAF: u32 = u32::MAX;

/// A trained model: feature names in input order, the base margin, and the trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(crate) features: Vec<String>,
    pub(crate) base: f32,
    pub(crate) trees: Vec<Vec<Node>>,
}

/// One reason for a score: a feature and how much it moved the margin (log-odds).
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub feature: String,
    pub contribution: f32,
}

impl Model {
    pub fn features(&self) -> &[String] {
        &self.features
    }

    pub fn trees(&self) -> usize {
        self.trees.len()
    }

    /// The leaf each tree sends `row` to (missing values are NaN and go left).
    fn leaves<'a>(&'a self, row: &'a [f32]) -> impl Iterator<Item = &'a Node> + 'a {
        self.trees.iter().filter_map(move |tree| {
            let mut node = tree.first()?;
            while node.feature != LEAF {
                let v = row.get(node.feature as usize).copied().unwrap_or(f32::NAN);
                let next = if v.is_nan() || v <= node.threshold { node.left } else { node.right };
                node = tree.get(next as usize)?;
            }
            Some(node)
        })
    }

    /// The log-odds of fraud for one row of features (in the model's feature order).
    pub fn margin(&self, row: &[f32]) -> f32 {
        self.base + self.leaves(row).map(|n| n.value).sum::<f32>()
    }

    /// The probability of fraud.
    pub fn probability(&self, row: &[f32]) -> f32 {
        1.0 / (1.0 + (-self.margin(row)).exp())
    }

    /// The 0-100 risk score rules see as `:risk_score:`.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn score(&self, row: &[f32]) -> u8 {
        (self.probability(row) * 100.0).round().clamp(0.0, 100.0) as u8
    }

    /// The `k` features that moved this row's score most, largest effect first: each split
    /// on the path is charged with the change in the node value it caused (Saabas).
    pub fn reasons(&self, row: &[f32], k: usize) -> Vec<Reason> {
        let mut contributions = vec![0.0_f32; self.features.len()];
        for tree in &self.trees {
            let Some(mut node) = tree.first() else { continue };
            while node.feature != LEAF {
                let v = row.get(node.feature as usize).copied().unwrap_or(f32::NAN);
                let next = if v.is_nan() || v <= node.threshold { node.left } else { node.right };
                let Some(child) = tree.get(next as usize) else { break };
                if let Some(c) = contributions.get_mut(node.feature as usize) {
                    *c += child.value - node.value;
                }
                node = child;
            }
        }
        let mut reasons: Vec<Reason> = self
            .features
            .iter()
            .zip(contributions)
            .filter(|(_, c)| *c != 0.0)
            .map(|(f, c)| Reason { feature: f.clone(), contribution: c })
            .collect();
        reasons.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        reasons.truncate(k);
        reasons
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        format::decode(bytes)
    }
}

#[cfg(test)]
mod tests;
