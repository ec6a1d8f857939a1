//! The ledger as stored: balanced transactions written postings first, header last (the
//! database checks the balance: a trigger on SQLite, deferred constraint triggers on
//! PostgreSQL), balances summed from postings, an order's and a shop's funds for the rules,
//! and the stored transactions in order for `souk ledger check`. Nothing is updated.

use souk_domain::ids::ShopId;
use souk_domain::{Currency, Money, Timestamp};
use souk_payments::ledger::check::{RawPosting, RawTransaction};
use souk_payments::ledger::rules::{OrderFunds, ShopFunds};
use souk_payments::ledger::{Account, AccountKind, Transaction};
use sqlx::AnyConnection;
use sqlx::Row as _;

use crate::StoreError;

/// Writes a balanced transaction; returns its id. A second charge or release of an order,
/// or a transaction whose (reference, seq) is taken (a concurrent movement won), is refused
/// with `Conflict`.
pub async fn post(conn: &mut AnyConnection, tx: &Transaction, now: Timestamp) -> Result<i64, StoreError> {
    // The id is taken first so the postings can be written before their header: SQLite
    // checks the balance when the header arrives; the write lock (BEGIN IMMEDIATE) makes
    // MAX + 1 safe there, and PostgreSQL hands out the next value of the identity.
    let next = if conn.backend_name() == "PostgreSQL" {
        "SELECT nextval(pg_get_serial_sequence('ledger_transactions', 'id')) AS id"
    } else {
        "SELECT COALESCE(MAX(id), 0) + 1 AS id FROM ledger_transactions"
    };
    let id: i64 = sqlx::query(next).fetch_one(&mut *conn).await?.try_get("id")?;
    for (p, line_no) in tx.postings().iter().zip(1i64..) {
        sqlx::query(
            "INSERT INTO ledger_postings (transaction_id, line_no, account_kind, account_owner, currency, amount) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(line_no)
        .bind(p.account.kind().as_str())
        .bind(p.account.owner().key())
        .bind(p.amount.currency.code())
        .bind(p.amount.minor)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO ledger_transactions (id, kind, reference, seq, idem_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(tx.kind().as_str())
    .bind(tx.reference())
    .bind(i64::from(tx.seq()))
    .bind(tx.key())
    .bind(now.as_micros())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// An account's balance in `currency`.
pub async fn balance(
    conn: &mut AnyConnection,
    account: &Account,
    currency: Currency,
) -> Result<Money, StoreError> {
    let sum: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM ledger_postings \
         WHERE account_kind = $1 AND account_owner = $2 AND currency = $3",
    )
    .bind(account.kind().as_str())
    .bind(account.owner().key())
    .bind(currency.code())
    .fetch_one(conn)
    .await?
    .try_get("total")?;
    Ok(Money::new(sum, currency))
}

async fn movements(conn: &mut AnyConnection, reference: &str) -> Result<u32, StoreError> {
    let n: i64 = sqlx::query(
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS n FROM ledger_transactions WHERE reference = $1",
    )
    .bind(reference)
    .fetch_one(conn)
    .await?
    .try_get("n")?;
    u32::try_from(n).map_err(|_| StoreError::corrupt(format!("ledger sequence {n}")))
}

async fn has_key(conn: &mut AnyConnection, key: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 AS one FROM ledger_transactions WHERE idem_key = $1")
        .bind(key)
        .fetch_optional(conn)
        .await?
        .is_some())
}

/// An order's funds: what its escrow holds, what went back, whether it was charged and
/// released, with the order's own total and fee.
pub async fn order_funds(
    conn: &mut AnyConnection,
    order: &str,
    shop: ShopId,
    total: Money,
    fee: Money,
) -> Result<OrderFunds, StoreError> {
    let c = total.currency;
    // INVARIANT: the movement count is read FIRST. A movement posts with sequence number
    // `movements + 1` under a unique (reference, seq) constraint, so a concurrent movement
    // that commits after this read collides with ours and one of the two fails; had the
    // count been read last (READ COMMITTED sees each statement's own snapshot), a movement
    // committed between the balance reads and the count would be missed, and ours would act
    // on stale balances (a refund beyond what escrow holds).
    let movements = movements(conn, order).await?;
    Ok(OrderFunds {
        order: order.to_owned(),
        shop,
        total,
        fee,
        charged: has_key(conn, &format!("charge:{order}")).await?,
        released: has_key(conn, &format!("release:{order}")).await?,
        escrow: balance(conn, &Account::escrow(order), c).await?,
        refunded: balance(conn, &Account::refunds(order), c).await?,
        charged_back: balance(conn, &Account::chargebacks(order), c).await?,
        movements,
    })
}

/// A shop's payable and in-transit balances in `currency`.
pub async fn shop_funds(
    conn: &mut AnyConnection,
    shop: ShopId,
    currency: Currency,
) -> Result<ShopFunds, StoreError> {
    // Read the movement count first, for the reason given in `order_funds`.
    let movements = movements(conn, &shop.to_string()).await?;
    Ok(ShopFunds {
        shop,
        payable: balance(conn, &Account::seller_payable(shop), currency).await?,
        in_transit: balance(conn, &Account::in_transit(shop), currency).await?,
        movements,
    })
}

/// Shops whose payable balance in `currency` is above zero, with that balance.
pub async fn payable_shops(
    conn: &mut AnyConnection,
    currency: Currency,
) -> Result<Vec<(ShopId, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT account_owner, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_postings \
         WHERE account_kind = $1 AND currency = $2 GROUP BY account_owner HAVING SUM(amount) > 0 \
         ORDER BY account_owner",
    )
    .bind(AccountKind::SellerPayable.as_str())
    .bind(currency.code())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let owner: String = r.try_get("account_owner")?;
            let shop = owner.parse().map_err(|_| StoreError::corrupt(format!("payable owner {owner:?}")))?;
            Ok((shop, r.try_get("total")?))
        })
        .collect()
}

/// How many transactions are stored.
pub async fn count(conn: &mut AnyConnection) -> Result<u64, StoreError> {
    let n: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM ledger_transactions").fetch_one(conn).await?.try_get("n")?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Up to `limit` stored transactions after id `after`, in order, with their postings.
/// Postings whose header is missing are not seen here (the database refuses them).
pub async fn scan(
    conn: &mut AnyConnection,
    after: i64,
    limit: u16,
) -> Result<Vec<RawTransaction>, StoreError> {
    let headers =
        sqlx::query("SELECT id, kind, reference FROM ledger_transactions WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
    let (Some(first), Some(last)) = (headers.first(), headers.last()) else { return Ok(Vec::new()) };
    let (first, last): (i64, i64) = (first.try_get("id")?, last.try_get("id")?);
    let postings = sqlx::query(
        "SELECT transaction_id, account_kind, account_owner, currency, amount FROM ledger_postings \
         WHERE transaction_id BETWEEN $1 AND $2 ORDER BY transaction_id, line_no",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<RawTransaction> = headers
        .iter()
        .map(|h| {
            Ok(RawTransaction {
                id: h.try_get("id")?,
                kind: h.try_get("kind")?,
                reference: h.try_get("reference")?,
                postings: Vec::new(),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    for p in &postings {
        let tx: i64 = p.try_get("transaction_id")?;
        if let Some(t) = out.iter_mut().find(|t| t.id == tx) {
            t.postings.push(RawPosting {
                account_kind: p.try_get("account_kind")?,
                account_owner: p.try_get("account_owner")?,
                currency: p.try_get("currency")?,
                amount: p.try_get("amount")?,
            });
        }
    }
    Ok(out)
}

/// One run of payouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutBatch {
    pub id: String,
    pub created_at: Timestamp,
    pub run_by: String,
    pub payouts: i64,
    pub held: i64,
    pub total_minor: i64,
    pub currency: String,
}

pub async fn insert_batch(conn: &mut AnyConnection, b: &PayoutBatch) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payout_batches (id, created_at, run_by, payouts, held, total_minor, currency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(b.id.as_str())
    .bind(b.created_at.as_micros())
    .bind(b.run_by.as_str())
    .bind(b.payouts)
    .bind(b.held)
    .bind(b.total_minor)
    .bind(b.currency.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// What the escrows of a shop's orders hold in `currency` (paid, not yet released).
pub async fn shop_escrow(
    conn: &mut AnyConnection,
    shop: ShopId,
    currency: Currency,
) -> Result<Money, StoreError> {
    let sum: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(p.amount), 0) AS BIGINT) AS total FROM ledger_postings p \
         JOIN orders o ON o.id = p.account_owner WHERE p.account_kind = $1 AND o.shop_id = $2 AND p.currency = $3",
    )
    .bind(AccountKind::Escrow.as_str())
    .bind(shop.to_string())
    .bind(currency.code())
    .fetch_one(conn)
    .await?
    .try_get("total")?;
    Ok(Money::new(sum, currency))
}

/// Where a shop's payouts go (sealed) and until when they are held after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutAccount {
    pub shop: ShopId,
    pub details_sealed: Vec<u8>,
    pub iban_last4: String,
    pub changed_at: Timestamp,
    pub hold_until: Timestamp,
}

pub async fn payout_account(
    conn: &mut AnyConnection,
    shop: ShopId,
) -> Result<Option<PayoutAccount>, StoreError> {
    let row = sqlx::query(
        "SELECT details_sealed, iban_last4, changed_at, hold_until FROM payout_accounts WHERE shop_id = $1",
    )
    .bind(shop.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(PayoutAccount {
            shop,
            details_sealed: r.try_get("details_sealed")?,
            iban_last4: r.try_get("iban_last4")?,
            changed_at: Timestamp::from_micros(r.try_get("changed_at")?),
            hold_until: Timestamp::from_micros(r.try_get("hold_until")?),
        })
    })
    .transpose()
}

/// Sets (or replaces) a shop's payout account.
pub async fn set_payout_account(conn: &mut AnyConnection, a: &PayoutAccount) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO payout_accounts (shop_id, details_sealed, iban_last4, changed_at, hold_until) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (shop_id) DO UPDATE SET details_sealed = excluded.details_sealed, \
         iban_last4 = excluded.iban_last4, changed_at = excluded.changed_at, hold_until = excluded.hold_until",
    )
    .bind(a.shop.to_string())
    .bind(a.details_sealed.as_slice())
    .bind(a.iban_last4.as_str())
    .bind(a.changed_at.as_micros())
    .bind(a.hold_until.as_micros())
    .execute(conn)
    .await?;
    Ok(())
}

/// Serializes, until the end of the caller's transaction, the movements of one shop's
/// balance that read it before writing (payouts, clawbacks, chargebacks after release):
/// a transaction-scoped advisory lock on PostgreSQL; on SQLite the write transaction
/// (`BEGIN IMMEDIATE`) already serializes every writer.
pub async fn lock_shop(conn: &mut AnyConnection, shop: ShopId) -> Result<(), StoreError> {
    if conn.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("souk-ledger-shop:{shop}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}
