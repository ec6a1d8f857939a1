//! The checkout's two seams: the risk step, asked before anything is reserved, and the
//! payment step, asked once the orders exist. The payments and fraud work plug their
//! implementations in here; until then the defaults are real but simple: velocity rules
//! that block bursts of checkouts, and a payment step that leaves the checkout awaiting
//! payment (its stock reserved until it expires), never pretending it was paid.

use std::future::Future;
use std::pin::Pin;

use souk_domain::Money;
use souk_domain::ids::AccountId;
use souk_store::orders::{self as store, CheckoutRow};
use sqlx::AnyConnection;

use crate::{CoreError, Souk};

/// A boxed future borrowing its arguments (the steps are trait objects).
pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CoreError>> + Send + 'a>>;

/// What the risk step is told about a checkout about to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskInput {
    pub buyer: AccountId,
    pub total: Money,
    pub lines: usize,
    pub shops: usize,
}

/// The risk step's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskDecision {
    Allow,
    /// Refused, with the reason kept for staff (the buyer sees a neutral message).
    Block(String),
}

impl RiskDecision {
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block(_) => "block",
        }
    }
}

/// Decides whether a checkout may go ahead.
pub trait RiskStep: Send + Sync + std::fmt::Debug {
    fn assess<'a>(
        &'a self,
        souk: &'a Souk,
        conn: &'a mut AnyConnection,
        input: &'a RiskInput,
    ) -> StepFuture<'a, RiskDecision>;
}

/// Velocity rules: a buyer placing checkouts faster than a person shops is a card-testing
/// or scripted-abuse pattern; so is one checkout of an absurd size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VelocityRules {
    pub max_per_10_minutes: i64,
    pub max_per_day: i64,
    /// The largest checkout total accepted, in minor units.
    pub max_total_minor: i64,
}

impl Default for VelocityRules {
    fn default() -> Self {
        Self { max_per_10_minutes: 5, max_per_day: 30, max_total_minor: 1_000_000 }
    }
}

impl RiskStep for VelocityRules {
    fn assess<'a>(
        &'a self,
        souk: &'a Souk,
        conn: &'a mut AnyConnection,
        input: &'a RiskInput,
    ) -> StepFuture<'a, RiskDecision> {
        Box::pin(async move {
            if input.total.minor > self.max_total_minor {
                return Ok(RiskDecision::Block(format!(
                    "total {} over the {} limit",
                    input.total.minor, self.max_total_minor
                )));
            }
            let now = souk.clock.now();
            let recent = store::checkouts_since(conn, input.buyer, now.plus_micros(-600_000_000)).await?;
            if recent >= self.max_per_10_minutes {
                return Ok(RiskDecision::Block(format!("{recent} checkouts in 10 minutes")));
            }
            let today = store::checkouts_since(conn, input.buyer, now.plus_micros(-86_400_000_000)).await?;
            if today >= self.max_per_day {
                return Ok(RiskDecision::Block(format!("{today} checkouts in a day")));
            }
            Ok(RiskDecision::Allow)
        })
    }
}

/// Where a checkout's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    /// No payment yet: the stock stays reserved until the checkout expires.
    AwaitingPayment,
    /// A connector confirmed the charge.
    Paid,
    /// The payment failed; the orders are cancelled and the stock released.
    Failed,
}

impl PaymentState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Paid => "paid",
            Self::Failed => "failed",
        }
    }
}

/// Starts the payment of a checkout whose orders were just written (same transaction).
pub trait PaymentStep: Send + Sync + std::fmt::Debug {
    fn start<'a>(
        &'a self,
        souk: &'a Souk,
        conn: &'a mut AnyConnection,
        checkout: &'a CheckoutRow,
    ) -> StepFuture<'a, PaymentState>;
}

/// The payment step before a payment connector is configured: the checkout waits for
/// payment, and the housekeeping job cancels it (releasing its stock) when it expires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwaitPayment;

impl PaymentStep for AwaitPayment {
    fn start<'a>(
        &'a self,
        _souk: &'a Souk,
        _conn: &'a mut AnyConnection,
        _checkout: &'a CheckoutRow,
    ) -> StepFuture<'a, PaymentState> {
        Box::pin(async { Ok(PaymentState::AwaitingPayment) })
    }
}
