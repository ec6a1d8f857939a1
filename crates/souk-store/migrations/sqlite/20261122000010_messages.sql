-- Buyer–shop conversations about a listing or an order. Every message is scanned when sent:
-- card numbers are masked before storage, and the flags (requests to pay off the platform,
-- contact details, look-alike links) are kept with it and shown to the recipient. Bodies
-- are sealed under the buyer's key. Reports go to trust & safety's queue.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE conversations (
    id               TEXT PRIMARY KEY,
    buyer_id         TEXT NOT NULL REFERENCES accounts (id),
    shop_id          TEXT NOT NULL REFERENCES shops (id),
    listing_id       TEXT REFERENCES listings (id),
    order_id         TEXT REFERENCES orders (id),
    created_at       INTEGER NOT NULL,
    last_message_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX conversations_topic ON conversations (buyer_id, shop_id, COALESCE(listing_id, ''), COALESCE(order_id, ''));
CREATE INDEX conversations_by_buyer ON conversations (buyer_id, last_message_at DESC);
CREATE INDEX conversations_by_shop ON conversations (shop_id, last_message_at DESC);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    conversation_id  TEXT NOT NULL REFERENCES conversations (id),
    sender_id        TEXT NOT NULL REFERENCES accounts (id),
    sender_side      TEXT NOT NULL,
    body_sealed      BLOB NOT NULL,
    -- The scan's flags as JSON (codes and details such as the look-alike domain).
    flags            TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    CONSTRAINT messages_side_check CHECK (sender_side IN ('buyer', 'shop'))
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at, id);
CREATE INDEX messages_by_sender ON messages (sender_id, created_at);

CREATE TABLE message_reports (
    id           TEXT PRIMARY KEY,
    message_id   TEXT NOT NULL REFERENCES messages (id),
    reporter_id  TEXT NOT NULL REFERENCES accounts (id),
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    resolved_at  INTEGER,
    resolved_by  TEXT REFERENCES accounts (id),
    resolution   TEXT,
    CONSTRAINT message_reports_once UNIQUE (message_id, reporter_id)
);
CREATE INDEX message_reports_queue ON message_reports (resolved_at, created_at);
