-- The card vault's own database. No column holds a card number in clear or a security code.

-- The vault's data keys, wrapped by the vault's own master key (never the marketplace's).
-- purpose 'cards' seals card numbers; 'fingerprint' is the root of the fingerprint HMAC key.
CREATE TABLE vault_keys (
    purpose TEXT NOT NULL,
    version INTEGER NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (purpose, version)
) STRICT;

-- One row per tokenized card. pan_sealed is an AES-256-GCM envelope bound to this table,
-- column and token; fingerprint is HMAC-SHA256 of the card number under a vault key.
CREATE TABLE vault_cards (
    token TEXT PRIMARY KEY,
    pan_sealed BLOB NOT NULL,
    fingerprint BLOB NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    bin_country TEXT,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX vault_cards_fingerprint ON vault_cards (fingerprint);
