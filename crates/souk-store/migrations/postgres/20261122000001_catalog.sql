-- The catalog: shops, their listings, and the accounts that buy and sell.
-- Paired with ../sqlite/ (same version, same tables); edit neither once released.
-- Times are microseconds since the Unix epoch (UTC); money is integer minor units.

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    handle      TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT accounts_handle_key UNIQUE (handle),
    CONSTRAINT accounts_role_check CHECK (role IN ('buyer', 'seller', 'staff'))
);

CREATE TABLE shops (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL,
    owner_id    TEXT NOT NULL REFERENCES accounts (id),
    name        TEXT NOT NULL,
    tagline     TEXT NOT NULL,
    description TEXT NOT NULL,
    location    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT shops_slug_key UNIQUE (slug)
);

CREATE TABLE listings (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL,
    price_minor BIGINT NOT NULL,
    currency    TEXT NOT NULL,
    stock       BIGINT NOT NULL,
    status      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT listings_price_positive CHECK (price_minor > 0),
    CONSTRAINT listings_currency_iso CHECK (length(currency) = 3),
    CONSTRAINT listings_stock_nonnegative CHECK (stock >= 0),
    CONSTRAINT listings_status_check CHECK (status IN ('draft', 'active', 'paused', 'removed'))
);

-- The storefront reads active listings newest first, by (created_at, id) cursor.
CREATE INDEX listings_storefront ON listings (status, created_at DESC, id DESC);
CREATE INDEX listings_by_category ON listings (category, status, created_at DESC, id DESC);
CREATE INDEX listings_by_shop ON listings (shop_id, status, created_at DESC, id DESC);
