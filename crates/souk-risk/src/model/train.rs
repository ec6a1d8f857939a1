//! Training: gradient boosting of depth-limited trees on the logistic loss, with histogram
//! splits (each feature's values cut into at most 255 quantile bins, missing values in a bin
//! of their own that goes left), the sibling-subtraction trick, row subsampling from a
//! seeded generator (runs are reproducible), and early stopping on a validation set.

use super::{Dataset, LEAF, Model, Node};

/// How a model is trained.
#[derive(Debug, Clone)]
pub struct TrainParams {
    pub trees: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    /// Smallest sum of hessians (≈ rows, weighted by uncertainty) a leaf may hold.
    pub min_child_weight: f64,
    /// L2 penalty on leaf values.
    pub lambda: f64,
    /// Share of rows each tree sees.
    pub subsample: f64,
    pub seed: u64,
    /// Stop when the validation loss has not improved for this many trees.
    pub early_stopping: usize,
    pub max_bins: usize,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            trees: 300,
            learning_rate: 0.1,
            max_depth: 6,
            min_child_weight: 1.0,
            lambda: 1.0,
            subsample: 0.8,
            seed: 0x5EED,
            early_stopping: 30,
            max_bins: 255,
        }
    }
}

/// Told after each tree: trees done, trees planned, and the validation loss if any.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize, Option<f64>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrainError {
    #[error("training needs rows of both labels (fraud and not fraud); this set has {positives} of {rows}")]
    OneClass { rows: usize, positives: usize },
    #[error("the validation set's columns differ from the training set's")]
    Columns,
}

/// SplitMix64: a small seeded generator for subsampling (not for anything secret).
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }
}

/// Cut points per feature: rows with `value <= cuts[t]` fall in bins `1..=t+1`.
fn cuts(data: &Dataset, max_bins: usize) -> Vec<Vec<f32>> {
    let n = data.names.len();
    let step = (data.rows() / 200_000).max(1);
    (0..n)
        .map(|f| {
            let mut v: Vec<f32> = (0..data.rows())
                .step_by(step)
                .filter_map(|r| data.row(r).get(f).copied())
                .filter(|v| !v.is_nan())
                .collect();
            v.sort_by(f32::total_cmp);
            v.dedup();
            let limit = max_bins.clamp(2, 255) - 1;
            if v.len() <= limit + 1 {
                v.pop();
                v
            } else {
                let mut c: Vec<f32> =
                    (1..=limit).filter_map(|i| v.get(i * v.len() / (limit + 1)).copied()).collect();
                c.dedup();
                c
            }
        })
        .collect()
}

fn bin(cuts: &[f32], v: f32) -> u8 {
    if v.is_nan() { 0 } else { u8::try_from(1 + cuts.partition_point(|c| *c < v)).unwrap_or(u8::MAX) }
}

fn sigmoid(m: f32) -> f32 {
    1.0 / (1.0 + (-m).exp())
}

fn log_loss(margins: &[f32], labels: &[bool]) -> f64 {
    let mut sum = 0.0;
    for (m, y) in margins.iter().zip(labels) {
        let p = f64::from(sigmoid(*m)).clamp(1e-12, 1.0 - 1e-12);
        sum -= if *y { p.ln() } else { (1.0 - p).ln() };
    }
    #[allow(clippy::cast_precision_loss)]
    let n = labels.len().max(1) as f64;
    sum / n
}

/// Gradient and hessian sums per (feature, bin).
type Histogram = Vec<[f64; 2]>;

const BINS: usize = 256;

struct Grower<'a> {
    binned: &'a [u8],
    features: usize,
    cuts: &'a [Vec<f32>],
    grad: &'a [f32],
    hess: &'a [f32],
    params: &'a TrainParams,
}

struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

impl Grower<'_> {
    fn histogram(&self, rows: &[u32]) -> Histogram {
        let mut hist = vec![[0.0; 2]; self.features * BINS];
        for &r in rows {
            let r = r as usize;
            let (g, h) = (
                f64::from(self.grad.get(r).copied().unwrap_or(0.0)),
                f64::from(self.hess.get(r).copied().unwrap_or(0.0)),
            );
            let row = self.binned.get(r * self.features..(r + 1) * self.features).unwrap_or_default();
            for (cells, &b) in hist.chunks_exact_mut(BINS).zip(row) {
                if let Some(cell) = cells.get_mut(usize::from(b)) {
                    cell[0] += g;
                    cell[1] += h;
                }
            }
        }
        hist
    }

    fn weight(&self, g: f64, h: f64) -> f64 {
        -g / (h + self.params.lambda)
    }

    fn score(&self, g: f64, h: f64) -> f64 {
        g * g / (h + self.params.lambda)
    }

    fn best_split(&self, hist: &Histogram, g: f64, h: f64) -> Option<Split> {
        let parent = self.score(g, h);
        let mut best: Option<Split> = None;
        for (feature, cells) in hist.chunks_exact(BINS).enumerate() {
            let bins = self.cuts.get(feature).map_or(0, Vec::len) + 1;
            let (mut gl, mut hl) = (0.0, 0.0);
            for (bin, cell) in cells.iter().enumerate().take(bins) {
                gl += cell[0];
                hl += cell[1];
                let (gr, hr) = (g - gl, h - hl);
                if hl < self.params.min_child_weight || hr < self.params.min_child_weight {
                    continue;
                }
                let gain = self.score(gl, hl) + self.score(gr, hr) - parent;
                if gain > 1e-9 && best.as_ref().is_none_or(|b| gain > b.gain) {
                    best = Some(Split { feature, bin, gain });
                }
            }
        }
        best
    }

    #[allow(clippy::cast_possible_truncation)]
    fn grow(&self, rows: Vec<u32>) -> Vec<Node> {
        let lr = f64::from(self.params.learning_rate);
        let leaf = |value: f64| Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: (value * lr) as f32,
        };
        let root_hist = self.histogram(&rows);
        let (g, h) = sums(&root_hist, self.features);
        let mut nodes = vec![leaf(self.weight(g, h))];
        // (node index, its rows, its histogram, depth)
        let mut open = vec![(0usize, rows, root_hist, 0usize)];
        while let Some((at, rows, hist, depth)) = open.pop() {
            let (g, h) = sums(&hist, self.features);
            if depth >= self.params.max_depth {
                continue;
            }
            let Some(split) = self.best_split(&hist, g, h) else { continue };
            let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows.iter().partition(|&&r| {
                let b = self.binned.get(r as usize * self.features + split.feature).copied().unwrap_or(0);
                usize::from(b) <= split.bin
            });
            // Build the smaller child's histogram; the larger one is the parent's minus it.
            let small_is_left = left_rows.len() <= right_rows.len();
            let small_hist = self.histogram(if small_is_left { &left_rows } else { &right_rows });
            let large_hist: Histogram =
                hist.iter().zip(&small_hist).map(|(p, s)| [p[0] - s[0], p[1] - s[1]]).collect();
            let (left_hist, right_hist) =
                if small_is_left { (small_hist, large_hist) } else { (large_hist, small_hist) };
            let (lg, lh) = sums(&left_hist, self.features);
            let (rg, rh) = sums(&right_hist, self.features);
            let left = nodes.len();
            nodes.push(leaf(self.weight(lg, lh)));
            nodes.push(leaf(self.weight(rg, rh)));
            let threshold = if split.bin == 0 {
                f32::NEG_INFINITY
            } else {
                self.cuts
                    .get(split.feature)
                    .and_then(|c| c.get(split.bin - 1))
                    .copied()
                    .unwrap_or(f32::INFINITY)
            };
            if let Some(n) = nodes.get_mut(at) {
                n.feature = split.feature as u32;
                n.threshold = threshold;
                n.left = left as u32;
                n.right = left as u32 + 1;
            }
            open.push((left, left_rows, left_hist, depth + 1));
            open.push((left + 1, right_rows, right_hist, depth + 1));
        }
        nodes
    }
}

/// The node's totals, read off the first feature's bins (every row is in exactly one bin
/// of every feature).
fn sums(hist: &Histogram, features: usize) -> (f64, f64) {
    if features == 0 {
        return (0.0, 0.0);
    }
    hist.iter().take(BINS).fold((0.0, 0.0), |(g, h), c| (g + c[0], h + c[1]))
}

/// Trains a model on `train`, stopping early on `valid` when given.
pub fn train(
    train: &Dataset,
    valid: Option<&Dataset>,
    params: &TrainParams,
    progress: Progress<'_>,
) -> Result<Model, TrainError> {
    let positives = train.labels.iter().filter(|y| **y).count();
    if positives == 0 || positives == train.rows() {
        return Err(TrainError::OneClass { rows: train.rows(), positives });
    }
    if valid.is_some_and(|v| v.names != train.names) {
        return Err(TrainError::Columns);
    }
    let features = train.names.len();
    let cuts = cuts(train, params.max_bins);
    let mut binned = Vec::with_capacity(train.rows() * features);
    for r in 0..train.rows() {
        binned.extend(train.row(r).iter().zip(&cuts).map(|(v, c)| bin(c, *v)));
    }
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let base = {
        let p = positives as f64 / train.rows() as f64;
        (p / (1.0 - p)).ln() as f32
    };
    let mut model = Model { features: train.names.clone(), base, trees: Vec::new() };
    let mut margins = vec![base; train.rows()];
    let mut valid_margins = valid.map(|v| vec![base; v.rows()]);
    let (mut grad, mut hess) = (vec![0.0_f32; train.rows()], vec![0.0_f32; train.rows()]);
    let mut rng = Rng(params.seed);
    let mut best: Option<(f64, usize)> = None;
    for t in 0..params.trees {
        for (i, (m, y)) in margins.iter().zip(&train.labels).enumerate() {
            let p = sigmoid(*m);
            if let (Some(g), Some(h)) = (grad.get_mut(i), hess.get_mut(i)) {
                *g = p - if *y { 1.0 } else { 0.0 };
                *h = (p * (1.0 - p)).max(1e-6);
            }
        }
        #[allow(clippy::cast_possible_truncation)]
        let rows: Vec<u32> = (0..train.rows() as u32)
            .filter(|_| params.subsample >= 1.0 || rng.next_f64() < params.subsample)
            .collect();
        let grower = Grower { binned: &binned, features, cuts: &cuts, grad: &grad, hess: &hess, params };
        let tree = grower.grow(rows);
        let one = Model { features: Vec::new(), base: 0.0, trees: vec![tree] };
        for (i, m) in margins.iter_mut().enumerate() {
            *m += one.margin(train.row(i));
        }
        let mut loss = None;
        if let (Some(v), Some(vm)) = (valid, valid_margins.as_mut()) {
            for (i, m) in vm.iter_mut().enumerate() {
                *m += one.margin(v.row(i));
            }
            let l = log_loss(vm, &v.labels);
            loss = Some(l);
            if best.is_none_or(|(b, _)| l < b - 1e-7) {
                best = Some((l, t + 1));
            }
        }
        model.trees.extend(one.trees);
        progress(t + 1, params.trees, loss);
        if let Some((_, at)) = best
            && t + 1 - at >= params.early_stopping
        {
            break;
        }
    }
    if let Some((_, at)) = best {
        model.trees.truncate(at);
    }
    Ok(model)
}
