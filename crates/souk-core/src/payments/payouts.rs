//! Payout batches: every shop with a payable balance is paid through the bank, except
//! shops on hold (not verified, when the market holds unverified shops' payouts, newer
//! than the hold for new shops, without a bank account, or whose bank account changed
//! recently, or was set first while the shop was owed money). A shop's owner sets its bank
//! account after a fresh sign-in (step-up); the holder and IBAN are sealed under the
//! owner's key. Each payout moves the balance to "in transit" under its own id, the bank
//! is asked under that id (its idempotency key), and its answer settles or returns it, in
//! one transaction with its audit entry; payouts a crash left in transit are reconciled by
//! asking the bank with their ids (ADR 0022). The batch and its holds are recorded last. A
//! payout never exceeds the shop's payable balance.

use souk_access::{Action, Resource};
use souk_crypto::FieldContext;
use souk_domain::Money;
use souk_domain::Timestamp;
use souk_domain::ids::ShopId;
use souk_domain::shop::ShopStatus;
use souk_payments::bank::Iban;
use souk_payments::ledger::{Account, rules};
use souk_store::finance::{self as records, HoldRow, PayoutRow};
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

/// A payout the bank has not answered for within this long is taken as never received by
/// reconciliation (the bank does not know its key), and its amount is payable again. A
/// younger one may belong to a batch still running: it is left for the next round.
pub const UNKNOWN_PAYOUT_GRACE: std::time::Duration = std::time::Duration::from_mins(15);

/// The bank that receives payouts. Idempotent by key: each payout is sent under its own id,
/// and a second `send` with a key the bank has seen answers the first outcome and moves no
/// money, so a retry after a crash can never pay twice.
pub trait Bank: Send + Sync + std::fmt::Debug {
    /// Sends `amount` to `iban`, held by `holder`, for the shop, under `key` (the payout's
    /// id); true if the bank accepted it.
    fn send(&self, key: &str, shop: ShopId, holder: &str, iban: &Iban, amount: Money) -> bool;
    /// What became of the payout sent under `key`: accepted (`Some(true)`), returned
    /// (`Some(false)`), or never received (`None`).
    fn status(&self, key: &str) -> Option<bool>;
}

/// The built-in bank: accepts every payout at once, and remembers each key for the life of
/// the process (a real bank remembers them durably).
#[derive(Debug, Default)]
pub struct SimulatedBank {
    answers: std::sync::Mutex<std::collections::HashMap<String, bool>>,
    transfers: std::sync::atomic::AtomicU64,
}

impl SimulatedBank {
    /// How many transfers actually left the bank (a retried key is not counted again).
    #[must_use]
    pub fn transfers(&self) -> u64 {
        self.transfers.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Bank for SimulatedBank {
    fn send(&self, key: &str, _shop: ShopId, _holder: &str, _iban: &Iban, _amount: Money) -> bool {
        let mut answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(seen) = answers.get(key) {
            return *seen;
        }
        answers.insert(key.to_owned(), true);
        self.transfers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        true
    }

    fn status(&self, key: &str) -> Option<bool> {
        self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).copied()
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
    // A replacement always holds payouts. So does a first account set while the shop is
    // owed money: an intruder who adds the first account of a shop with sales would
    // otherwise be paid by the next batch, before the owner reads the mail about it. The
    // risk step: a change it sends to review (or blocks) holds payouts for longer.
    let mut signals = crate::risk::Signals::new(crate::risk::EventKind::PayoutChange);
    signals.subject = Some(shop_key.clone());
    let signals = crate::risk::facts::of_account(souk, tx.conn(), principal.account, client, signals).await?;
    let risk = crate::risk::observe(souk, tx.conn(), &signals, true, &[("payout_change", 0)]).await?;
    let risky = matches!(risk.action, souk_risk::Action::Review | souk_risk::Action::Block);
    let hold = if risky {
        RISK_PAYOUT_HOLD
    } else if before.is_some() {
        BANK_CHANGE_PAYOUT_HOLD
    } else if store::balance(tx.conn(), &Account::seller_payable(shop), souk.market.currency).await?.minor > 0
    {
        souk.market.first_bank_account_hold
    } else {
        std::time::Duration::ZERO
    };
    let account = PayoutAccount {
        shop,
        details_sealed: sealed.as_bytes().to_vec(),
        iban_last4: iban.last4().to_owned(),
        changed_at: now,
        hold_until: now.plus_micros(i64::try_from(hold.as_micros()).unwrap_or(i64::MAX)),
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
        None if account.hold_until > now => (
            "A payout bank account was added",
            format!(
                "Payouts for {} will go to the bank account ending in {}, from {} (they are held \
                 until then because the shop is owed money). If this was not you, contact Souk at once.",
                loaded.record.name,
                account.iban_last4,
                account.hold_until.to_rfc3339()
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
    /// Payouts left in transit by an earlier run, settled first.
    pub reconciled: Reconciled,
}

/// What a reconciliation settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// The bank had sent these.
    pub sent: Vec<(ShopId, Money)>,
    /// The bank had returned these, or never received them: payable again.
    pub returned: Vec<(ShopId, Money)>,
    /// Still in transit: too recent to call unknown (a batch may still be sending them).
    pub pending: usize,
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
    if let RunBy::Staff(principal, client) = by {
        crate::authz::require_staff_session(souk, principal)?;
        crate::authz::check(souk, principal, Action::PayoutRun, &Resource::Ledger, client).await?;
    }
    // Payouts a crash left in transit are settled first, by asking the bank with their keys.
    let reconciled = reconcile(souk, bank, by).await?;
    let now = souk.clock.now();
    let currency = souk.market.currency;
    let batch = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let mut run = PayoutRun { batch: batch.clone(), reconciled, ..PayoutRun::default() };
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
    for (shop, why) in &run.held {
        let hold = HoldRow { batch: batch.clone(), shop: *shop, reason: (*why).to_owned(), created_at: now };
        records::insert_hold(tx.conn(), &hold).await?;
    }
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

/// Pays one shop its payable balance: in transit (committed, with the payout's row), then
/// the bank under the payout's id, then the outcome. `None` when nothing is payable any
/// more (another batch got there first).
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
    let id = souk_domain::ids::new_uuid_v7(now, souk.entropy.as_ref()).to_string();
    let row = PayoutRow {
        id: id.clone(),
        batch: batch.to_owned(),
        shop,
        amount_minor: amount.minor,
        currency: currency.code().to_owned(),
        status: "in_transit".into(),
        created_at: now,
        settled_at: None,
    };
    records::insert_payout(tx.conn(), &row).await?;
    tx.record(&[Event {
        actor: actor_of(by),
        action: "payout.initiated",
        target_kind: "shop",
        target_id: shop.to_string(),
        outcome: Outcome::Success,
        request_id: request_id(by),
        detail: serde_json::json!({ "batch": batch, "payout": id, "amount_minor": amount.minor, "currency": currency.code() }),
    }])
    .await?;
    // INVARIANT: the money is in transit in the ledger, committed, BEFORE the bank is
    // asked to send it. Had the bank been called inside the transaction, a failed commit
    // (or a crash) after the bank accepted would leave the amount payable, and the next
    // batch would pay it again. Now a crash leaves it in transit, with the payout's id, and
    // `reconcile` asks the bank what became of that id.
    tx.commit().await?;
    let accepted = bank.send(&id, shop, holder, iban, amount);
    settle(souk, by, &row, accepted, "payout").await?;
    Ok(Some((accepted, amount)))
}

/// Posts the bank's answer for a payout in transit (`sent`: paid out; otherwise payable
/// again) with its audit entry; false if it was settled already (a reconciliation and the
/// batch that sent it may both get here: the payout's status lets only one post).
async fn settle(
    souk: &Souk,
    by: RunBy<'_>,
    payout: &PayoutRow,
    sent: bool,
    why: &str,
) -> Result<bool, CoreError> {
    let now = souk.clock.now();
    let currency = super::currency_of(&payout.currency)?;
    let amount = Money::new(payout.amount_minor, currency);
    let mut tx = AuditedTx::begin_write(souk).await?;
    store::lock_shop(tx.conn(), payout.shop).await?;
    if !records::settle_payout(tx.conn(), &payout.id, sent, now).await? {
        return Ok(false);
    }
    let funds = store::shop_funds(tx.conn(), payout.shop, currency).await?;
    let outcome = rules::payout_outcome(&funds, amount, sent).map_err(refused)?;
    store::post(tx.conn(), &outcome, now).await.map_err(raced)?;
    if sent {
        crate::webhooks::outbox::emit_in(
            tx.conn(),
            souk.entropy.as_ref(),
            now,
            payout.shop,
            crate::webhooks::EventType::PayoutSent,
            serde_json::json!({ "payout": {
                "id": payout.id, "shop": payout.shop.to_string(), "batch": payout.batch,
                "amount_minor": amount.minor, "currency": currency.code(),
            } }),
        )
        .await?;
    }
    tx.record(&[Event {
        actor: actor_of(by),
        action: if sent { "payout.sent" } else { "payout.returned" },
        target_kind: "shop",
        target_id: payout.shop.to_string(),
        outcome: Outcome::Success,
        request_id: request_id(by),
        detail: serde_json::json!({
            "batch": payout.batch, "payout": payout.id, "amount_minor": amount.minor,
            "currency": currency.code(), "by": why,
        }),
    }])
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Settles payouts left in transit (a crash between committing a payout and posting the
/// bank's answer): the bank is asked with each payout's key; one it sent is paid out, one it
/// returned or never received (after `UNKNOWN_PAYOUT_GRACE`) is payable again. Run at the
/// start of every batch and by `souk ledger payouts --reconcile`. Never sends anything.
pub async fn reconcile(souk: &Souk, bank: &dyn Bank, by: RunBy<'_>) -> Result<Reconciled, CoreError> {
    let mut done = Reconciled::default();
    let now = souk.clock.now();
    let grace = i64::try_from(UNKNOWN_PAYOUT_GRACE.as_micros()).unwrap_or(i64::MAX);
    let mut conn = souk.store.conn().await?;
    let open = records::payouts_in_transit(&mut conn, 1_000).await?;
    drop(conn);
    for payout in open {
        let sent = match bank.status(&payout.id) {
            Some(sent) => sent,
            None if payout.created_at.as_micros() <= now.as_micros().saturating_sub(grace) => false,
            None => {
                done.pending += 1;
                continue;
            }
        };
        if settle(souk, by, &payout, sent, "reconciliation").await? {
            let amount = Money::new(payout.amount_minor, super::currency_of(&payout.currency)?);
            if sent {
                done.sent.push((payout.shop, amount));
            } else {
                done.returned.push((payout.shop, amount));
            }
        }
    }
    Ok(done)
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
