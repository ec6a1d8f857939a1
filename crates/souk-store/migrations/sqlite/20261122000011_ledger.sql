-- The double-entry ledger. Every movement of money is one transaction (a header) with two
-- or more postings whose amounts sum to zero in each currency; balances are sums of
-- postings and are never stored. Nothing here is ever updated or deleted.
--
-- The database checks the balance itself: postings are written first (their reference to
-- the header is deferred to commit), then the header, whose insert trigger refuses a
-- transaction with fewer than two postings or whose postings do not sum to zero per
-- currency. Once a header exists, no posting may be added to it; postings without a header
-- fail the deferred foreign key at commit. A charge or release is keyed by its order, so it
-- cannot post twice; every transaction about an order or shop carries the next number of
-- its (reference, seq), so two concurrent movements of one order cannot both post.
-- Payout batches record each run of payouts through the bank; payout accounts say where
-- a shop's payouts go.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE ledger_transactions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    idem_key    TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT ledger_transactions_key UNIQUE (idem_key),
    CONSTRAINT ledger_transactions_sequence UNIQUE (reference, seq),
    CONSTRAINT ledger_transactions_kind CHECK (kind IN ('charge', 'release', 'refund', 'clawback',
        'chargeback', 'payout', 'payout_settled', 'payout_returned')),
    CONSTRAINT ledger_transactions_seq CHECK (seq >= 1)
);

CREATE TABLE ledger_postings (
    transaction_id  INTEGER NOT NULL REFERENCES ledger_transactions (id) DEFERRABLE INITIALLY DEFERRED,
    line_no         INTEGER NOT NULL,
    account_kind    TEXT NOT NULL,
    -- The order or shop the account belongs to; empty for the platform's accounts.
    account_owner   TEXT NOT NULL,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, line_no),
    CONSTRAINT ledger_postings_amount CHECK (amount <> 0)
);
CREATE INDEX ledger_postings_by_account ON ledger_postings (account_kind, account_owner, currency);

CREATE TRIGGER ledger_transactions_balance BEFORE INSERT ON ledger_transactions
WHEN (SELECT COUNT(*) FROM ledger_postings WHERE transaction_id = new.id) < 2
  OR EXISTS (SELECT 1 FROM ledger_postings WHERE transaction_id = new.id GROUP BY currency HAVING SUM(amount) <> 0)
BEGIN
    SELECT RAISE(ABORT, 'ledger transaction does not balance');
END;

CREATE TRIGGER ledger_postings_closed BEFORE INSERT ON ledger_postings
WHEN EXISTS (SELECT 1 FROM ledger_transactions WHERE id = new.transaction_id)
BEGIN
    SELECT RAISE(ABORT, 'ledger transaction is closed: postings are append-only');
END;

CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
BEGIN
    SELECT RAISE(ABORT, 'ledger postings are append-only');
END;
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
BEGIN
    SELECT RAISE(ABORT, 'ledger postings are append-only');
END;
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'ledger transactions are append-only');
END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'ledger transactions are append-only');
END;

CREATE TABLE payout_batches (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    -- Who ran it: "system" or a staff account id.
    run_by      TEXT NOT NULL,
    payouts     INTEGER NOT NULL,
    held        INTEGER NOT NULL,
    total_minor INTEGER NOT NULL,
    currency    TEXT NOT NULL
);

-- Where a shop's payouts go: the holder's name and IBAN, sealed together under the shop
-- owner's key; only the IBAN's last four characters are kept in clear. A change starts a
-- hold: no payout until hold_until.
CREATE TABLE payout_accounts (
    shop_id         TEXT PRIMARY KEY REFERENCES shops (id),
    details_sealed  BLOB NOT NULL,
    iban_last4      TEXT NOT NULL,
    changed_at      INTEGER NOT NULL,
    hold_until      INTEGER NOT NULL
);
