-- Listings as sellers manage them: variants (what is bought and stocked, each with its SKU,
-- price and stock), images (re-encoded on upload, so they carry no metadata), the reason a
-- listing was taken down, and full-text search (tsvector here, FTS5 on SQLite).
-- `listings.price_minor` and `listings.stock` become summaries of the variants (the lowest
-- price, the total stock), kept in step by the store in the same transaction.
-- Paired with ../sqlite/ (same version, same tables); edit neither once released.

ALTER TABLE listings ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE listings ADD COLUMN takedown_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE listing_variants (
    id           TEXT PRIMARY KEY,
    listing_id   TEXT NOT NULL REFERENCES listings (id),
    shop_id      TEXT NOT NULL REFERENCES shops (id),
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    price_minor  BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    stock        BIGINT NOT NULL,
    position     BIGINT NOT NULL,
    archived_at  BIGINT,
    CONSTRAINT listing_variants_sku_key UNIQUE (shop_id, sku),
    CONSTRAINT listing_variants_price_positive CHECK (price_minor > 0),
    CONSTRAINT listing_variants_currency_iso CHECK (length(currency) = 3),
    CONSTRAINT listing_variants_stock_nonnegative CHECK (stock >= 0)
);
CREATE INDEX listing_variants_by_listing ON listing_variants (listing_id, position);

-- Every existing listing gets one variant carrying its price and stock.
INSERT INTO listing_variants (id, listing_id, shop_id, sku, name, price_minor, currency, stock, position)
SELECT l.id, l.id, l.shop_id, 'SKU-' || l.id, 'Standard', l.price_minor, l.currency, l.stock, 0 FROM listings l;

CREATE TABLE listing_images (
    id          TEXT PRIMARY KEY,
    listing_id  TEXT NOT NULL REFERENCES listings (id),
    position    BIGINT NOT NULL,
    media_type  TEXT NOT NULL,
    width       BIGINT NOT NULL,
    height      BIGINT NOT NULL,
    content     BYTEA NOT NULL,
    thumbnail   BYTEA NOT NULL,
    alt_text    TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    CONSTRAINT listing_images_type_check CHECK (media_type IN ('image/jpeg', 'image/png', 'image/webp'))
);
CREATE INDEX listing_images_by_listing ON listing_images (listing_id, position);

-- Full-text search over title (weighted higher) and description. The 'simple'
-- configuration neither stems nor folds accents (unaccent is not immutable, so it cannot
-- feed a generated column); SQLite's index folds accents.
ALTER TABLE listings ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', description), 'B')
) STORED;
CREATE INDEX listings_search ON listings USING GIN (search);
