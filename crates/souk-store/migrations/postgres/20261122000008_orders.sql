-- Carts, checkouts and orders. A checkout turns one buyer's cart into one order per shop;
-- stock is reserved in the same transaction (a conditional decrement of the variant), so
-- concurrent checkouts can never sell the same unit twice. Order lines copy the title,
-- SKU and price at the time of sale. Every status change of an order is an event. The
-- shipping address is sealed under the buyer's key. Idempotency keys make a retried
-- checkout return the first answer.
-- Paired with ../sqlite/ (same version, same tables); edit neither once released.

CREATE TABLE cart_lines (
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    variant_id  TEXT NOT NULL REFERENCES listing_variants (id),
    quantity    BIGINT NOT NULL,
    added_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, variant_id),
    CONSTRAINT cart_lines_quantity_range CHECK (quantity BETWEEN 1 AND 100)
);

CREATE TABLE checkouts (
    id                       TEXT PRIMARY KEY,
    buyer_id                 TEXT NOT NULL REFERENCES accounts (id),
    currency                 TEXT NOT NULL,
    items_minor              BIGINT NOT NULL,
    shipping_minor           BIGINT NOT NULL,
    total_minor              BIGINT NOT NULL,
    shipping_address_sealed  BYTEA NOT NULL,
    -- What the payment step answered: awaiting_payment until a payment connector settles it.
    payment_state            TEXT NOT NULL,
    risk_decision            TEXT NOT NULL,
    created_at               BIGINT NOT NULL,
    -- Unpaid checkouts release their stock after this time.
    expires_at               BIGINT NOT NULL,
    CONSTRAINT checkouts_amounts CHECK (items_minor > 0 AND shipping_minor >= 0 AND total_minor = items_minor + shipping_minor)
);
CREATE INDEX checkouts_by_buyer ON checkouts (buyer_id, created_at);
CREATE INDEX checkouts_expiring ON checkouts (payment_state, expires_at);

CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,
    number              TEXT NOT NULL,
    checkout_id         TEXT NOT NULL REFERENCES checkouts (id),
    shop_id             TEXT NOT NULL REFERENCES shops (id),
    buyer_id            TEXT NOT NULL REFERENCES accounts (id),
    status              TEXT NOT NULL,
    currency            TEXT NOT NULL,
    items_minor         BIGINT NOT NULL,
    shipping_minor      BIGINT NOT NULL,
    total_minor         BIGINT NOT NULL,
    platform_fee_minor  BIGINT NOT NULL,
    shipping_option     TEXT NOT NULL,
    carrier             TEXT,
    tracking_number     TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT orders_number_key UNIQUE (number),
    CONSTRAINT orders_amounts CHECK (items_minor > 0 AND shipping_minor >= 0 AND total_minor = items_minor + shipping_minor
        AND platform_fee_minor >= 0 AND platform_fee_minor <= items_minor),
    CONSTRAINT orders_status_check CHECK (status IN
        ('placed', 'paid', 'shipped', 'delivered', 'completed', 'cancelled', 'refunded', 'disputed'))
);
CREATE INDEX orders_by_buyer ON orders (buyer_id, created_at DESC, id DESC);
CREATE INDEX orders_by_shop ON orders (shop_id, created_at DESC, id DESC);
CREATE INDEX orders_by_checkout ON orders (checkout_id);

CREATE TABLE order_lines (
    order_id          TEXT NOT NULL REFERENCES orders (id),
    line_no           BIGINT NOT NULL,
    listing_id        TEXT NOT NULL REFERENCES listings (id),
    variant_id        TEXT NOT NULL REFERENCES listing_variants (id),
    title             TEXT NOT NULL,
    variant_name      TEXT NOT NULL,
    sku               TEXT NOT NULL,
    unit_price_minor  BIGINT NOT NULL,
    quantity          BIGINT NOT NULL,
    total_minor       BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_lines_amounts CHECK (unit_price_minor > 0 AND quantity BETWEEN 1 AND 100
        AND total_minor = unit_price_minor * quantity)
);

CREATE TABLE order_events (
    order_id     TEXT NOT NULL REFERENCES orders (id),
    seq          BIGINT NOT NULL,
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    transition   TEXT NOT NULL,
    actor_kind   TEXT NOT NULL,
    actor_id     TEXT NOT NULL,
    note         TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    request_hash  BYTEA NOT NULL,
    -- NULL while the first request is still being answered.
    status        BIGINT,
    response      BYTEA,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
