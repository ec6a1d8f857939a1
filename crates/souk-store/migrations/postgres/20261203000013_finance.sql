-- Money you can see and operate: each payout as its own row (the bank's idempotency key is
-- its id; "in_transit" until the bank's answer is posted, so a crash in between is found
-- and reconciled by asking the bank with that key), why a batch held a shop, each refund
-- with its reason (the ledger holds the amounts; this says who and why), and the result of
-- each `souk ledger check` for the staff console. A checkout counts its payment attempts: a
-- processing error ends an attempt, and the next one authorizes under a key of its own; a
-- payment whose answer timed out is marked, and a background task asks the vault about it.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE payouts (
    id           TEXT PRIMARY KEY,
    batch_id     TEXT NOT NULL,
    shop_id      TEXT NOT NULL REFERENCES shops (id),
    amount_minor BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    settled_at   BIGINT,
    CONSTRAINT payouts_status CHECK (status IN ('in_transit', 'sent', 'returned')),
    CONSTRAINT payouts_amount CHECK (amount_minor > 0)
);
CREATE INDEX payouts_by_shop ON payouts (shop_id, created_at);
CREATE INDEX payouts_in_transit ON payouts (status, created_at);

CREATE TABLE payout_holds (
    batch_id    TEXT NOT NULL,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    reason      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (batch_id, shop_id)
);
CREATE INDEX payout_holds_by_shop ON payout_holds (shop_id, created_at);

CREATE TABLE order_refunds (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES orders (id),
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    clawback      BIGINT NOT NULL,
    -- "seller" or "staff", and the account.
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    reason        TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX order_refunds_by_order ON order_refunds (order_id, created_at);

CREATE TABLE ledger_checks (
    id            TEXT PRIMARY KEY,
    ran_at        BIGINT NOT NULL,
    transactions  BIGINT NOT NULL,
    postings      BIGINT NOT NULL,
    violations    BIGINT NOT NULL,
    -- The first violation's description, empty when every invariant held.
    first_violation TEXT NOT NULL
);
CREATE INDEX ledger_checks_by_time ON ledger_checks (ran_at);

ALTER TABLE checkouts ADD COLUMN payment_attempt BIGINT NOT NULL DEFAULT 0;
ALTER TABLE checkouts ADD COLUMN payment_unknown_since BIGINT;
CREATE INDEX checkouts_payment_unknown ON checkouts (payment_unknown_since);
