-- Reviews: one per completed order, by its buyer (a verified purchase), with one reply from
-- the shop; trust & safety may remove an abusive review with a reason (kept, not deleted,
-- so the decision can be reviewed). A shop's reputation is computed from the reviews
-- that are not removed.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE reviews (
    id              TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (id),
    shop_id         TEXT NOT NULL REFERENCES shops (id),
    buyer_id        TEXT NOT NULL REFERENCES accounts (id),
    rating          INTEGER NOT NULL,
    body            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    reply           TEXT,
    replied_by      TEXT REFERENCES accounts (id),
    replied_at      INTEGER,
    removed_at      INTEGER,
    removed_by      TEXT REFERENCES accounts (id),
    removal_reason  TEXT,
    CONSTRAINT reviews_order_key UNIQUE (order_id),
    CONSTRAINT reviews_rating_range CHECK (rating BETWEEN 1 AND 5)
);
CREATE INDEX reviews_by_shop ON reviews (shop_id, created_at DESC, id DESC);
