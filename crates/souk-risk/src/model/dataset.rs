//! Labelled rows for training and evaluation, read from a numeric CSV with a header: one
//! label column (0/1, true/false), an optional time column the rows are ordered by, columns
//! to drop, and every other column a numeric feature (empty means missing).

use std::io::Read;

/// Which columns are features.
#[derive(Debug, Clone, Copy)]
pub enum Columns<'a> {
    /// Every column except the label, the time and these.
    AllBut(&'a [String]),
    /// Exactly these, in this order (a model's features); other columns are ignored.
    Only(&'a [String]),
}

/// Rows of features (row-major, NaN for missing) with their labels, in time order when a
/// time column was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub names: Vec<String>,
    pub(crate) values: Vec<f32>,
    pub labels: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("the CSV has no column named {0:?} (columns: {1})")]
    MissingColumn(String, String),
    #[error("line {line}, column {column:?}: {value:?} is not a number")]
    NotANumber { line: u64, column: String, value: String },
    #[error("line {line}: the label {value:?} is not 0/1 or true/false")]
    BadLabel { line: u64, value: String },
    #[error("line {line}: {found} fields where the header has {expected}")]
    Width { line: u64, found: usize, expected: usize },
    #[error("the CSV has no data rows")]
    Empty,
    #[error("the CSV cannot be read: {0}")]
    Csv(String),
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        let n = self.names.len();
        self.values.get(i * n..(i + 1) * n).unwrap_or_default()
    }

    /// Builds a dataset from rows already in memory (for tests and the traffic generator).
    pub fn from_rows(names: Vec<String>, rows: &[(Vec<f32>, bool)]) -> Self {
        let mut values = Vec::with_capacity(rows.len() * names.len());
        let mut labels = Vec::with_capacity(rows.len());
        for (row, label) in rows {
            values.extend((0..names.len()).map(|i| row.get(i).copied().unwrap_or(f32::NAN)));
            labels.push(*label);
        }
        Self { names, values, labels }
    }

    /// Splits at a fraction of the rows: the first part for training, the rest (the latest,
    /// when rows are in time order) for validation.
    pub fn split(&self, train_fraction: f64) -> (Self, Self) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let cut = ((self.rows() as f64) * train_fraction.clamp(0.0, 1.0)) as usize;
        let n = self.names.len();
        let (a, b) = self.values.split_at((cut * n).min(self.values.len()));
        let (la, lb) = self.labels.split_at(cut.min(self.labels.len()));
        (
            Self { names: self.names.clone(), values: a.to_vec(), labels: la.to_vec() },
            Self { names: self.names.clone(), values: b.to_vec(), labels: lb.to_vec() },
        )
    }

    /// The same rows with columns in `order` (a model's feature order); names must exist.
    pub fn project(&self, order: &[String]) -> Result<Self, DatasetError> {
        let index: Vec<usize> = order
            .iter()
            .map(|name| {
                self.names
                    .iter()
                    .position(|n| n == name)
                    .ok_or_else(|| DatasetError::MissingColumn(name.clone(), self.names.join(", ")))
            })
            .collect::<Result<_, _>>()?;
        let mut values = Vec::with_capacity(self.rows() * order.len());
        for r in 0..self.rows() {
            let row = self.row(r);
            values.extend(index.iter().map(|&i| row.get(i).copied().unwrap_or(f32::NAN)));
        }
        Ok(Self { names: order.to_vec(), values, labels: self.labels.clone() })
    }

    /// Reads a CSV. `progress` is called with the number of rows read so far, every 10,000.
    pub fn from_csv(
        reader: impl Read,
        label: &str,
        time: Option<&str>,
        columns: Columns<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Self, DatasetError> {
        let mut csv = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(reader);
        let header: Vec<String> =
            csv.headers().map_err(|e| DatasetError::Csv(e.to_string()))?.iter().map(str::to_owned).collect();
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| DatasetError::MissingColumn(name.to_owned(), header.join(", ")))
        };
        let label_at = find(label)?;
        let time_at = time.map(find).transpose()?;
        let feature_at: Vec<usize> = match columns {
            Columns::AllBut(drop) => {
                for d in drop {
                    find(d)?;
                }
                (0..header.len())
                    .filter(|i| *i != label_at && Some(*i) != time_at)
                    .filter(|i| header.get(*i).is_none_or(|h| !drop.contains(h)))
                    .collect()
            }
            Columns::Only(names) => names.iter().map(|n| find(n)).collect::<Result<_, _>>()?,
        };
        let names: Vec<String> = feature_at.iter().filter_map(|i| header.get(*i).cloned()).collect();
        let mut rows: Vec<(Vec<f32>, bool, String)> = Vec::new();
        let mut record = csv::StringRecord::new();
        let mut line = 1u64;
        while csv.read_record(&mut record).map_err(|e| DatasetError::Csv(e.to_string()))? {
            line += 1;
            if record.len() != header.len() {
                return Err(DatasetError::Width { line, found: record.len(), expected: header.len() });
            }
            let field = |i: usize| record.get(i).unwrap_or("");
            let y = match field(label_at).to_ascii_lowercase().as_str() {
                "1" | "1.0" | "true" => true,
                "0" | "0.0" | "false" => false,
                other => return Err(DatasetError::BadLabel { line, value: other.to_owned() }),
            };
            let mut values = Vec::with_capacity(feature_at.len());
            for &i in &feature_at {
                let raw = field(i);
                let v = if raw.is_empty() {
                    f32::NAN
                } else {
                    raw.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                        DatasetError::NotANumber {
                            line,
                            column: header.get(i).cloned().unwrap_or_default(),
                            value: raw.chars().take(40).collect(),
                        }
                    })?
                };
                values.push(v);
            }
            rows.push((values, y, time_at.map(|t| field(t).to_owned()).unwrap_or_default()));
            if rows.len().is_multiple_of(10_000) {
                progress(rows.len() as u64);
            }
        }
        if rows.is_empty() {
            return Err(DatasetError::Empty);
        }
        if time_at.is_some() {
            // Numeric times (epoch seconds) order as numbers; anything else (ISO 8601) as text.
            let numeric = rows.iter().all(|(_, _, t)| t.parse::<f64>().is_ok());
            if numeric {
                rows.sort_by(|a, b| {
                    a.2.parse::<f64>().unwrap_or(0.0).total_cmp(&b.2.parse::<f64>().unwrap_or(0.0))
                });
            } else {
                rows.sort_by(|a, b| a.2.cmp(&b.2));
            }
        }
        progress(rows.len() as u64);
        let mut values = Vec::with_capacity(rows.len() * names.len());
        let mut labels = Vec::with_capacity(rows.len());
        for (v, y, _) in rows {
            values.extend(v);
            labels.push(y);
        }
        Ok(Self { names, values, labels })
    }
}
