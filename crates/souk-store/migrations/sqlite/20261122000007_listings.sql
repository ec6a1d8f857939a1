-- Listings as sellers manage them: variants (what is bought and stocked, each with its SKU,
-- price and stock), images (re-encoded on upload, so they carry no metadata), the reason a
-- listing was taken down, and full-text search (FTS5 here, tsvector on PostgreSQL).
-- `listings.price_minor` and `listings.stock` become summaries of the variants (the lowest
-- price, the total stock), kept in step by the store in the same transaction.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

ALTER TABLE listings ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE listings ADD COLUMN takedown_reason TEXT NOT NULL DEFAULT '';

CREATE TABLE listing_variants (
    id           TEXT PRIMARY KEY,
    listing_id   TEXT NOT NULL REFERENCES listings (id),
    shop_id      TEXT NOT NULL REFERENCES shops (id),
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    price_minor  INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    stock        INTEGER NOT NULL,
    position     INTEGER NOT NULL,
    archived_at  INTEGER,
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
    position    INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    content     BLOB NOT NULL,
    thumbnail   BLOB NOT NULL,
    alt_text    TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    CONSTRAINT listing_images_type_check CHECK (media_type IN ('image/jpeg', 'image/png', 'image/webp'))
);
CREATE INDEX listing_images_by_listing ON listing_images (listing_id, position);

-- Full-text search over title and description, keyed by the listing's rowid. Accents are
-- folded ("céramique" finds "ceramique").
CREATE VIRTUAL TABLE listing_search USING fts5 (title, description, tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO listing_search (rowid, title, description) SELECT rowid, title, description FROM listings;
CREATE TRIGGER listings_search_insert AFTER INSERT ON listings BEGIN
    INSERT INTO listing_search (rowid, title, description) VALUES (new.rowid, new.title, new.description);
END;
CREATE TRIGGER listings_search_update AFTER UPDATE OF title, description ON listings BEGIN
    DELETE FROM listing_search WHERE rowid = old.rowid;
    INSERT INTO listing_search (rowid, title, description) VALUES (new.rowid, new.title, new.description);
END;
CREATE TRIGGER listings_search_delete AFTER DELETE ON listings BEGIN
    DELETE FROM listing_search WHERE rowid = old.rowid;
END;
