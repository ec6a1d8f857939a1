//! Payout batches: every shop with a payable balance is paid through the bank, except
//! shops on hold (not verified, when the market holds unverified shops' payouts, newer
//! than the hold for new shops, without a bank account, or whose bank account changed
//! recently). A shop's owner sets its bank account after a fresh sign-in (step-up); the
//! holder and IBAN are sealed under the owner's key. Each payout moves the balance to "in transit" and the
//! bank's answer settles it or returns it, in one transaction with its audit entry; the
//! batch is recorded last. A payout never exceeds the shop's payable balance.

use souk_access::{Action, Resource};
use souk_crypto::FieldContext;
use souk_domain::Money;
use souk_domain::Timestamp;
use souk_domain::ids::ShopId;
use souk_domain::shop::ShopStatus;
use souk_payments::bank::Iban;
use souk_payments::ledger::rules;
use souk_store::ledger::{self as store, PayoutAccount, PayoutBatch};

use super::{raced, refused};
use crate::audit::{Actor, AuditedTx, Event, Outcome};
use crate::identity::{Client, Principal};
use crate::market::load_shop;
use crate::{CoreError, Souk};

/// A shop younger than this has its payouts held (a new seller's first sales stay on the
/// platform until it has a track record).
pub const NEW_SHOP_PAYOUT_HOLD: std::time::Duration = std::time::Duration::from_hours(14 * 24);

/// After a shop's bank account changes, its payouts wait this long (a hijacked session
/// cannot redirect the next payout at once; the owner is mailed about the change).
pub const BANK_CHANGE_PAYOUT_HOLD: std::time::Duration = std::time::Duration::from_hours(7 * 24);

/// A bank-account change the risk step sent to review or blocked holds payouts this long
/// (the first account too), time for trust & safety to look.
pub const RISK_PAYOUT_HOLD: std::time::Duration = std::time::Duration::from_hours(30 * 24);

/// The bank that receives payouts.
pub trait Bank: Send + Sync {
    /// Sends `amount` to `iban`, held by `holder`, for the shop; true if the bank accepted it.
    fn send(&self, shop: ShopId, holder: &str, iban: &Iban, amount: Money) -> bool;
}

/// The built-in bank: accepts every payout at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulatedBank;

impl Bank for SimulatedBank {
    fn send(&self, _shop: ShopId, _holder: &str, _iban: &Iban, _amount: Money) -> bool {
        true
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct BankDetails {
    holder: String,
    iban: String,
}

fn details_ctx(shop: &str) -> FieldContext<'_> {
    FieldContext { table: "payout_accounts", column: "details_sealed", row_id: shop }
}

/// What anyone may see of a shop's bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankAccountView {
    pub iban_last4: String,
    pub changed_at: Timestamp,
    /// Payouts wait until then after a change.
    pub hold_until: Timestamp,
}

/// Sets or replaces the shop's bank account for payouts: its owner only, from a browser
/// session that signed in recently (step-up). A replacement holds payouts for
/// `BANK_CHANGE_PAYOUT_HOLD`, and the owner is mailed.
pub async fn set_bank_account(
    souk: &Souk,
    principal: &Principal,
    client: &Client,
    shop: ShopId,
    holder: &str,
    iban: &str,
) -> Result<BankAccountView, CoreError> {
    crate::market::require_shop_session(souk, principal).await?;
    let holder = souk_domain::catalog::display_text("holder", holder, 2, 140)
        .map_err(|e| CoreError::invalid("holder", e))?;
    let iban = Iban::parse(iban).map_err(|e| CoreError::invalid("iban", e))?;
    let mut conn = souk.store.conn().await?;
    let loaded = load_shop(&mut conn, shop).await?;
    drop(conn);
    match crate::authz::check(souk, principal, Action::PayoutView, &Resource::Shop(&loaded.facts), client)
        .await
    {
        Ok(()) => {}
        Err(CoreError::Forbidden) => return Err(CoreError::NotFound("shop")),
        Err(e) => return Err(e),
    }
    // Finance staff may see payouts, but only the owner says where they go.
    if loaded.record.owner != principal.account {
        return Err(CoreError::Forbidden);
    }
    crate::identity::sessions::require_recent(souk, principal)?;
    let now = souk.clock.now();
    let owner = loaded.record.owner.to_string();
    let shop_key = shop.to_string();
    let mut tx = AuditedTx::begin_write(souk).await?;
    let before = store::payout_account(tx.conn(), shop).await?;
    let json = serde_json::to_vec(&BankDetails { holder, iban: iban.as_str().to_owned() })
        .map_err(|e| CoreError::Internal(Box::new(e)))?;
    let sealed = souk
        .keys
        .seal(tx.conn(), crate::market::owner_subject(&owner), &details_ctx(&shop_key), &json, now)
        .await?;
    // The risk step: a change it sends to review (or blocks) holds payouts for longer.
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::PayoutChange);
    signals.subject = Some(shop_key.clone());
    let signals = crate::risk::facts::of_account(souk, tx.conn(), principal.account, client, signals).await?;
    let risk = crate::risk::observe(souk, tx.conn(), &signals, true, &[("payout_change", 0)]).await?;
    let risky = matches!(risk.action, souk_risk::Action::Review | souk_risk::Action::Block);
    let hold = if risky { RISK_PAYOUT_HOLD } else { BANK_CHANGE_PAYOUT_HOLD };
    let hold = i64::try_from(hold.as_micros()).unwrap_or(i64::MAX);
    let account = PayoutAccount {
        shop,
        details_sealed: sealed.as_bytes().to_vec(),
        iban_last4: iban.last4().to_owned(),
        changed_at: now,
        hold_until: if before.is_some() || risky { now.plus_micros(hold) } else { now },
    };
    store::set_payout_account(tx.conn(), &account).await?;
    tx.record(&[Event {
        actor: principal.actor(client.ip),
        action: "payout.bank_account",
        target_kind: "shop",
        target_id: shop_key,
        outcome: Outcome::Success,
        request_id: client.request_id.clone(),
        detail: serde_json::json!({
            "iban_last4": account.iban_last4, "replaced": before.as_ref().map(|b| b.iban_last4.clone()),
            "hold_until": account.hold_until.as_micros(),
        }),
    }])
    .await?;
    tx.commit().await?;
    // The owner hears of every change, the first account included: an intruder who sets the
    // first account of an established shop is as dangerous as one who replaces it.
    let (subject, body) = match &before {
        Some(b) => (
            "Your payout bank account changed",
            format!(
                "The bank account for {}'s payouts changed from one ending in {} to one ending in {}. \
                 Payouts are held for 7 days. If this was not you, contact Souk at once.",
                loaded.record.name, b.iban_last4, account.iban_last4
            ),
        ),
        None => (
            "A payout bank account was added",
            format!(
                "Payouts for {} will go to the bank account ending in {}. If this was not you, \
                 contact Souk at once.",
                loaded.record.name, account.iban_last4
            ),
        ),
    };
    crate::market::notify(souk, loaded.record.owner, subject, &body).await;
    Ok(BankAccountView { iban_last4: account.iban_last4, changed_at: now, hold_until: account.hold_until })
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
    for (shop, _) in due {
        let mut conn = souk.store.conn().await?;
        let loaded = load_shop(&mut conn, shop).await?;
        drop(conn);
        let (holder, iban) = match payable_to(souk, &loaded, now).await? {
            Ok(to) => to,
            Err(why) => {
                run.held.push((shop, why));
                continue;
            }
        };
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
        let Some((accepted, amount)) = pay_shop(souk, bank, by, &batch, shop, &holder, &iban).await? else {
            continue;
        };
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

/// Pays one shop its payable balance: in transit (committed), then the bank, then the
/// outcome. `None` when nothing is payable any more (another batch got there first).
async fn pay_shop(
    souk: &Souk,
    bank: &dyn Bank,
    by: RunBy<'_>,
    batch: &str,
    shop: ShopId,
    holder: &str,
    iban: &Iban,
) -> Result<Option<(bool, Money)>, CoreError> {
    let now = souk.clock.now();
    let currency = souk.market.currency;
    let mut tx = AuditedTx::begin_write(souk).await?;
    store::lock_shop(tx.conn(), shop).await?;
    let funds = store::shop_funds(tx.conn(), shop, currency).await?;
    if funds.payable.minor <= 0 {
        return Ok(None);
    }
    let amount = funds.payable;
    let payout = rules::payout(&funds, amount).map_err(refused)?;
    store::post(tx.conn(), &payout, now).await.map_err(raced)?;
    tx.record(&[Event {
        actor: actor_of(by),
        action: "payout.initiated",
        target_kind: "shop",
        target_id: shop.to_string(),
        outcome: Outcome::Success,
        request_id: request_id(by),
        detail: serde_json::json!({ "batch": batch, "amount_minor": amount.minor, "currency": currency.code() }),
    }])
    .await?;
    // INVARIANT: the money is in transit in the ledger, committed, BEFORE the bank is
    // asked to send it. Had the bank been called inside the transaction, a failed commit
    // (or a crash) after the bank accepted would leave the amount payable, and the next
    // batch would pay it again. Now a crash leaves it in transit, visible, never resent.
    tx.commit().await?;
    let accepted = bank.send(shop, holder, iban, amount);
    let mut tx = AuditedTx::begin_write(souk).await?;
    store::lock_shop(tx.conn(), shop).await?;
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
    Ok(Some((accepted, amount)))
}

/// Where a shop's payout goes (holder, IBAN), or why it is held.
async fn payable_to(
    souk: &Souk,
    loaded: &crate::market::LoadedShop,
    now: Timestamp,
) -> Result<Result<(String, Iban), &'static str>, CoreError> {
    if loaded.status != ShopStatus::Verified && souk.market.unverified_payouts_held {
        return Ok(Err("not verified"));
    }
    let new_hold = i64::try_from(NEW_SHOP_PAYOUT_HOLD.as_micros()).unwrap_or(i64::MAX);
    if loaded.record.created_at.as_micros() > now.as_micros().saturating_sub(new_hold) {
        return Ok(Err("new shop"));
    }
    let mut conn = souk.store.conn().await?;
    let Some(bank_account) = store::payout_account(&mut conn, loaded.record.id).await? else {
        return Ok(Err("no bank account"));
    };
    if bank_account.hold_until > now {
        return Ok(Err("bank account changed recently"));
    }
    let owner = loaded.record.owner.to_string();
    let revealed = souk
        .keys
        .reveal(
            &mut conn,
            crate::market::owner_subject(&owner),
            &details_ctx(&loaded.record.id.to_string()),
            &souk_crypto::Sealed::from_stored(bank_account.details_sealed),
        )
        .await?;
    let details = match revealed {
        crate::keys::Revealed::Text(t) => serde_json::from_str::<BankDetails>(&t).ok(),
        crate::keys::Revealed::Erased => None,
    };
    Ok(details.and_then(|d| Some((d.holder, Iban::parse(&d.iban).ok()?))).ok_or("bank account unreadable"))
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
