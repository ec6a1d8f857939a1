//! Payout batches: every shop with a payable balance is paid through the bank, except
//! shops on hold (not verified, when the market holds unverified shops' payouts, or newer
//! than the hold for new shops). Each payout moves the balance to "in transit" and the
//! bank's answer settles it or returns it, in one transaction with its audit entry; the
//! batch is recorded last. A payout never exceeds the shop's payable balance.

use souk_access::{Action, Resource};
use souk_domain::Money;
use souk_domain::ids::ShopId;
use souk_domain::shop::ShopStatus;
use souk_payments::ledger::rules;
use souk_store::ledger::{self as store, PayoutBatch};

use super::{raced, refused};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// A shop younger than this has its payouts held (a new seller's first sales stay on the
/// platform until it has a track record).
pub const NEW_SHOP_PAYOUT_HOLD: std::time::Duration = std::time::Duration::from_hours(14 * 24);

/// The bank that receives payouts.
pub trait Bank: Send + Sync {
    /// Sends `amount` to the shop's bank account; true if the bank accepted it.
    fn send(&self, shop: ShopId, amount: Money) -> bool;
}

/// The built-in bank: accepts every payout at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedBank;

impl Bank for SimulatedBank {
    fn send(&self, _shop: ShopId, _amount: Money) -> bool {
        true
    }
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayoutRun {
    pub batch: String,
    /// Shops paid, with the amount.
    pub paid: Vec<(ShopId, Money)>,
    /// Shops the bank returned the payout of.
    pub returned: Vec<(ShopId, Money)>,
    /// Shops on hold, with why.
    pub held: Vec<(ShopId, &'static str)>,
}

/// Who runs a batch.
#[derive(Debug, Clone, Copy)]
pub enum RunBy<'a> {
    /// Housekeeping.
    System,
    /// Finance staff (Cedar's `payout.release` on each shop; a refusal skips the shop).
    Staff(&'a Principal, &'a Client),
}

/// Runs one payout batch through `bank`.
pub async fn run_batch(souk: &Souk, bank: &dyn Bank, by: RunBy<'_>) -> Result<PayoutRun, CoreError> {
    if let RunBy::Staff(principal, _) = by {
        crate::authz::require_staff_session(souk, principal)?;
    }
    let now = souk.clock.now();
    let currency = souk.market.currency;
    let batch = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let mut run = PayoutRun { batch: batch.clone(), ..PayoutRun::default() };
    let mut conn = souk.store.conn().await?;
    let due = store::payable_shops(&mut conn, currency).await?;
    drop(conn);
    let new_hold = i64::try_from(NEW_SHOP_PAYOUT_HOLD.as_micros()).unwrap_or(i64::MAX);
    for (shop, _) in due {
        let mut conn = souk.store.conn().await?;
        let loaded = load_shop(&mut conn, shop).await?;
        drop(conn);
        if loaded.status != ShopStatus::Verified && souk.market.unverified_payouts_held {
            run.held.push((shop, "not verified"));
            continue;
        }
        if loaded.record.created_at.as_micros() > now.as_micros().saturating_sub(new_hold) {
            run.held.push((shop, "new shop"));
            continue;
        }
        if let RunBy::Staff(principal, client) = by
            && crate::authz::check(
                souk,
                principal,
                Action::PayoutRelease,
                &Resource::Shop(&loaded.facts),
                client,
            )
            .await
            .is_err()
        {
            run.held.push((shop, "not permitted"));
            continue;
        }
        let mut tx = AuditedTx::begin_write(souk).await?;
        let funds = store::shop_funds(tx.conn(), shop, currency).await?;
        if funds.payable.minor <= 0 {
            continue;
        }
        let amount = funds.payable;
        let payout = rules::payout(&funds, amount).map_err(refused)?;
        store::post(tx.conn(), &payout, now).await.map_err(raced)?;
        let accepted = bank.send(shop, amount);
        let funds = store::shop_funds(tx.conn(), shop, currency).await?;
        let outcome = rules::payout_outcome(&funds, amount, accepted).map_err(refused)?;
        store::post(tx.conn(), &outcome, now).await.map_err(raced)?;
        tx.record(&[Event {
            actor: actor_of(by),
            action: if accepted { "payout.sent" } else { "payout.returned" },
            target_kind: "shop",
            target_id: shop.to_string(),
            outcome: Outcome::Success,
            request_id: request_id(by),
            detail: serde_json::json!({ "batch": batch, "amount_minor": amount.minor, "currency": currency.code() }),
        }])
        .await?;
        tx.commit().await?;
        if accepted { run.paid.push((shop, amount)) } else { run.returned.push((shop, amount)) }
    }
    let total = run.paid.iter().try_fold(0i64, |acc, (_, m)| acc.checked_add(m.minor));
    let mut tx = AuditedTx::begin_write(souk).await?;
    let record = PayoutBatch {
        id: batch.clone(),
        created_at: now,
        run_by: match by {
            RunBy::System => "system".into(),
            RunBy::Staff(p, _) => p.account.to_string(),
        },
        payouts: i64::try_from(run.paid.len()).unwrap_or(i64::MAX),
        held: i64::try_from(run.held.len()).unwrap_or(i64::MAX),
        total_minor: total.ok_or_else(|| CoreError::Internal("payout total out of range".into()))?,
        currency: currency.code().to_owned(),
    };
    store::insert_batch(tx.conn(), &record).await?;
    tx.record(&[Event {
        actor: actor_of(by),
        action: "payout.batch",
        target_kind: "payout_batch",
        target_id: batch,
        outcome: Outcome::Success,
        request_id: request_id(by),
        detail: serde_json::json!({
            "payouts": record.payouts, "held": record.held, "returned": run.returned.len(),
            "total_minor": record.total_minor, "currency": record.currency,
        }),
    }])
    .await?;
    tx.commit().await?;
    Ok(run)
}

fn actor_of(by: RunBy<'_>) -> Actor {
    match by {
        RunBy::System => Actor::system(),
        RunBy::Staff(p, c) => p.actor(c.ip),
    }
}

fn request_id(by: RunBy<'_>) -> String {
    match by {
        RunBy::System => String::new(),
        RunBy::Staff(_, c) => c.request_id.clone(),
    }
}
