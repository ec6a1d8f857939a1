//! Real-time risk decisions in the running marketplace: for each event (sign-up, sign-in,
//! checkout payment, payout-details change, listing, message, refund request) the features
//! are computed from the event's facts and the velocity counters every server process
//! shares, the loaded model scores them, the active rule set decides allow / step_up /
//! review / block, and the decision is stored with everything needed to replay it.
//! souk-risk owns the language and the model; this module owns the data and the wiring.

pub mod decide;
pub mod defaults;
pub mod facts;
pub mod payment;
pub mod replay;
pub mod reviews;
pub mod rules;
pub mod schema;
pub mod signals;

use sha2::{Digest as _, Sha256};
use souk_risk::model::Model;

pub use decide::{Decision, decide, observe, record_events};
pub use signals::{EventKind, Signals};

/// The model every decision is scored with, loaded at start (`[risk] model`), and its
/// file's SHA-256, stored with each decision so a replay uses the same model.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub model: Option<Model>,
    pub model_sha: Option<String>,
}

impl Engine {
    /// No model: `:risk_score:` is absent and rules on it do not match.
    pub fn without_model() -> Self {
        Self::default()
    }

    /// Loads a model file (checksummed `SOUKGBT1`); refuses a damaged or hostile one.
    pub fn from_model_file(bytes: &[u8]) -> Result<Self, crate::CoreError> {
        let model = Model::from_bytes(bytes).map_err(|e| crate::CoreError::Internal(Box::new(e)))?;
        let sha = Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut out, b| {
            use std::fmt::Write as _;
            let _ = write!(out, "{b:02x}");
            out
        });
        Ok(Self { model: Some(model), model_sha: Some(sha) })
    }
}
