//! What the ledger's sums do not say by themselves: each payout as a row (its id is the
//! bank's idempotency key; its status says whether the bank's answer was posted), why a
//! batch held a shop, who refunded an order and why, the results of ledger checks, and the
//! platform's totals per account kind for the staff console.

use souk_domain::Timestamp;
use souk_domain::ids::ShopId;
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// One payout of one shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    pub id: String,
    pub batch: String,
    pub shop: ShopId,
    pub amount_minor: i64,
    pub currency: String,
    /// `in_transit`, `sent` or `returned`.
    pub status: String,
    pub created_at: Timestamp,
    pub settled_at: Option<Timestamp>,
}

fn payout_row(r: &sqlx::any::AnyRow) -> Result<PayoutRow, StoreError> {
    let shop: String = r.try_get("shop_id")?;
    Ok(PayoutRow {
        id: r.try_get("id")?,
        batch: r.try_get("batch_id")?,
        shop: shop.parse().map_err(|_| StoreError::corrupt(format!("payout shop {shop:?}")))?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        status: r.try_get("status")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
        settled_at: r.try_get::<Option<i64>, _>("settled_at")?.map(Timestamp::from_micros),
    })
}

/// Records a payout in transit, in the transaction that posts it.
pub async fn insert_payout(conn: &mut AnyConnection, p: &PayoutRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payouts (id, batch_id, shop_id, amount_minor, currency, status, created_at, settled_at) \
         VALUES ($1, $2, $3, $4, $5, 'in_transit', $6, NULL)",
    )
    .bind(p.id.as_str())
    .bind(p.batch.as_str())
    .bind(p.shop.to_string())
    .bind(p.amount_minor)
    .bind(p.currency.as_str())
    .bind(p.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks a payout in transit as `sent` or `returned`; false if it was settled already (by a
/// reconciliation or the batch that sent it), so its outcome must not be posted again.
pub async fn settle_payout(
    conn: &mut AnyConnection,
    id: &str,
    sent: bool,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE payouts SET status = $1, settled_at = $2 WHERE id = $3 AND status = 'in_transit'",
    )
    .bind(if sent { "sent" } else { "returned" })
    .bind(at.as_micros())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Payouts still in transit, oldest first.
pub async fn payouts_in_transit(conn: &mut AnyConnection, limit: u16) -> Result<Vec<PayoutRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, batch_id, shop_id, amount_minor, currency, status, created_at, settled_at FROM payouts \
         WHERE status = 'in_transit' ORDER BY created_at, id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(payout_row).collect()
}

/// A shop's payouts, newest first.
pub async fn shop_payouts(
    conn: &mut AnyConnection,
    shop: ShopId,
    limit: u16,
) -> Result<Vec<PayoutRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, batch_id, shop_id, amount_minor, currency, status, created_at, settled_at FROM payouts \
         WHERE shop_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(shop.to_string())
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(payout_row).collect()
}

/// Why a batch did not pay a shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub batch: String,
    pub shop: ShopId,
    pub reason: String,
    pub created_at: Timestamp,
}

pub async fn insert_hold(conn: &mut AnyConnection, h: &HoldRow) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO payout_holds (batch_id, shop_id, reason, created_at) VALUES ($1, $2, $3, $4)")
        .bind(h.batch.as_str())
        .bind(h.shop.to_string())
        .bind(h.reason.as_str())
        .bind(h.created_at.as_micros())
        .execute(conn)
        .await?;
    Ok(())
}

fn hold_row(r: &sqlx::any::AnyRow) -> Result<HoldRow, StoreError> {
    let shop: String = r.try_get("shop_id")?;
    Ok(HoldRow {
        batch: r.try_get("batch_id")?,
        shop: shop.parse().map_err(|_| StoreError::corrupt(format!("hold shop {shop:?}")))?,
        reason: r.try_get("reason")?,
        created_at: Timestamp::from_micros(r.try_get("created_at")?),
    })
}

/// A shop's holds (or every shop's, with `None`), newest first.
pub async fn holds(
    conn: &mut AnyConnection,
    shop: Option<ShopId>,
    limit: u16,
) -> Result<Vec<HoldRow>, StoreError> {
    let rows = match shop {
        Some(shop) => {
            sqlx::query(
                "SELECT batch_id, shop_id, reason, created_at FROM payout_holds WHERE shop_id = $1 \
                 ORDER BY created_at DESC, batch_id DESC LIMIT $2",
            )
            .bind(shop.to_string())
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT batch_id, shop_id, reason, created_at FROM payout_holds \
                 ORDER BY created_at DESC, batch_id DESC, shop_id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(conn)
            .await?
        }
    };
    rows.iter().map(hold_row).collect()
}

/// One payout batch as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub id: String,
    pub created_at: Timestamp,
    pub run_by: String,
    pub payouts: i64,
    pub held: i64,
    pub total_minor: i64,
    pub currency: String,
}

/// The latest payout batches, newest first.
pub async fn recent_batches(conn: &mut AnyConnection, limit: u16) -> Result<Vec<BatchRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, created_at, run_by, payouts, held, total_minor, currency FROM payout_batches \
         ORDER BY created_at DESC, id DESC LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(BatchRow {
                id: r.try_get("id")?,
                created_at: Timestamp::from_micros(r.try_get("created_at")?),
                run_by: r.try_get("run_by")?,
                payouts: r.try_get("payouts")?,
                held: r.try_get("held")?,
                total_minor: r.try_get("total_minor")?,
                currency: r.try_get("currency")?,
            })
        })
        .collect()
}

/// One refund of an order: the amounts are in the ledger; this says who and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    pub id: String,
    pub order: String,
    pub amount_minor: i64,
    pub currency: String,
    pub clawback: bool,
    pub actor_kind: String,
    pub actor_id: String,
    pub reason: String,
    pub created_at: Timestamp,
}

/// Records a refund, in the transaction that posts it.
pub async fn insert_refund(conn: &mut AnyConnection, r: &RefundRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_refunds (id, order_id, amount_minor, currency, clawback, actor_kind, actor_id, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.id.as_str())
    .bind(r.order.as_str())
    .bind(r.amount_minor)
    .bind(r.currency.as_str())
    .bind(i64::from(r.clawback))
    .bind(r.actor_kind.as_str())
    .bind(r.actor_id.as_str())
    .bind(r.reason.as_str())
    .bind(r.created_at.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// An order's refunds, oldest first.
pub async fn order_refunds(conn: &mut AnyConnection, order: &str) -> Result<Vec<RefundRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, order_id, amount_minor, currency, clawback, actor_kind, actor_id, reason, created_at \
         FROM order_refunds WHERE order_id = $1 ORDER BY created_at, id",
    )
    .bind(order)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RefundRow {
                id: r.try_get("id")?,
                order: r.try_get("order_id")?,
                amount_minor: r.try_get("amount_minor")?,
                currency: r.try_get("currency")?,
                clawback: r.try_get::<i64, _>("clawback")? != 0,
                actor_kind: r.try_get("actor_kind")?,
                actor_id: r.try_get("actor_id")?,
                reason: r.try_get("reason")?,
                created_at: Timestamp::from_micros(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// The result of one ledger check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub id: String,
    pub ran_at: Timestamp,
    pub transactions: i64,
    pub postings: i64,
    pub violations: i64,
    pub first_violation: String,
}

pub async fn insert_check(conn: &mut AnyConnection, c: &CheckRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO ledger_checks (id, ran_at, transactions, postings, violations, first_violation) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.id.as_str())
    .bind(c.ran_at.as_micros())
    .bind(c.transactions)
    .bind(c.postings)
    .bind(c.violations)
    .bind(c.first_violation.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// The latest ledger check, if any ran.
pub async fn last_check(conn: &mut AnyConnection) -> Result<Option<CheckRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, ran_at, transactions, postings, violations, first_violation FROM ledger_checks \
         ORDER BY ran_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(CheckRow {
            id: r.try_get("id")?,
            ran_at: Timestamp::from_micros(r.try_get("ran_at")?),
            transactions: r.try_get("transactions")?,
            postings: r.try_get("postings")?,
            violations: r.try_get("violations")?,
            first_violation: r.try_get("first_violation")?,
        })
    })
    .transpose()
}

/// The sum of every account of each kind, per currency: (kind, currency, minor units).
pub async fn totals_by_kind(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT account_kind, currency, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_postings \
         GROUP BY account_kind, currency ORDER BY account_kind, currency",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("account_kind")?, r.try_get("currency")?, r.try_get("total")?)))
        .collect()
}

/// A shop's balances per currency: (kind, currency, minor units) for its payable, in
/// transit and paid-out accounts, and its orders' escrows.
pub async fn shop_totals(
    conn: &mut AnyConnection,
    shop: ShopId,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    let shop = shop.to_string();
    let mut out: Vec<(String, String, i64)> = Vec::new();
    let own = sqlx::query(
        "SELECT account_kind, currency, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_postings \
         WHERE account_owner = $1 AND account_kind IN ('seller_payable', 'payouts_in_transit', 'paid_out') \
         GROUP BY account_kind, currency ORDER BY account_kind, currency",
    )
    .bind(shop.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let escrow = sqlx::query(
        "SELECT p.account_kind AS account_kind, p.currency AS currency, CAST(SUM(p.amount) AS BIGINT) AS total \
         FROM ledger_postings p JOIN orders o ON o.id = p.account_owner \
         WHERE p.account_kind = 'escrow' AND o.shop_id = $1 GROUP BY p.account_kind, p.currency ORDER BY p.currency",
    )
    .bind(shop.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for r in own.iter().chain(escrow.iter()) {
        out.push((r.try_get("account_kind")?, r.try_get("currency")?, r.try_get("total")?));
    }
    Ok(out)
}

/// The number of a checkout's current payment attempt (0 for the first).
pub async fn payment_attempt(conn: &mut AnyConnection, checkout: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT payment_attempt FROM checkouts WHERE id = $1")
        .bind(checkout)
        .fetch_optional(conn)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("payment_attempt")?,
        None => 0,
    })
}

/// Ends attempt `seen` of an unpaid checkout's payment (it failed for good), so the next
/// one is authorized under a key of its own; false if another request moved on first.
pub async fn next_payment_attempt(
    conn: &mut AnyConnection,
    checkout: &str,
    seen: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE checkouts SET payment_attempt = payment_attempt + 1 \
         WHERE id = $1 AND payment_attempt = $2 AND payment_state = 'awaiting_payment'",
    )
    .bind(checkout)
    .bind(seen)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks an unpaid checkout's payment as of unknown outcome (the processor's answer timed
/// out), for the reconciliation task; the first mark stays.
pub async fn mark_payment_unknown(
    conn: &mut AnyConnection,
    checkout: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE checkouts SET payment_unknown_since = $1 \
         WHERE id = $2 AND payment_state = 'awaiting_payment' AND payment_unknown_since IS NULL",
    )
    .bind(at.as_micros())
    .bind(checkout)
    .execute(conn)
    .await?;
    Ok(())
}

/// Unpaid checkouts whose payment's outcome is unknown, oldest first.
pub async fn unknown_payments(conn: &mut AnyConnection, limit: u16) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM checkouts WHERE payment_state = 'awaiting_payment' AND payment_unknown_since IS NOT NULL \
         ORDER BY payment_unknown_since, id LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}
