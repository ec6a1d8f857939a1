-- Shops run by sellers: their public profile, identity verification with its document,
-- and the shop's own staff. Personal data (contact, legal name, address, registration
-- number, the document itself) is sealed under the owner's key; the registration number
-- also has a blind index so reviewers see when one number backs several shops.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

ALTER TABLE shops ADD COLUMN seller_kind TEXT NOT NULL DEFAULT 'business';
ALTER TABLE shops ADD COLUMN return_policy TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN contact_sealed BLOB;
-- unverified, submitted, verified, rejected, suspended
ALTER TABLE shops ADD COLUMN status TEXT NOT NULL DEFAULT 'unverified';
-- Why the shop was rejected or suspended, shown to its owner.
ALTER TABLE shops ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE shops ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;

-- One shop per owning account.
CREATE UNIQUE INDEX shops_one_per_owner ON shops (owner_id);
CREATE INDEX shops_by_status ON shops (status, updated_at);

CREATE TABLE shop_documents (
    id              TEXT PRIMARY KEY,
    shop_id         TEXT NOT NULL REFERENCES shops (id),
    media_type      TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    content_sealed  BLOB NOT NULL,
    uploaded_by     TEXT NOT NULL REFERENCES accounts (id),
    uploaded_at     INTEGER NOT NULL,
    CONSTRAINT shop_documents_type_check
        CHECK (media_type IN ('image/jpeg', 'image/png', 'image/webp', 'application/pdf'))
);
CREATE INDEX shop_documents_by_shop ON shop_documents (shop_id, uploaded_at);

CREATE TABLE shop_verifications (
    id                   TEXT PRIMARY KEY,
    shop_id              TEXT NOT NULL REFERENCES shops (id),
    legal_name_sealed    BLOB NOT NULL,
    address_sealed       BLOB NOT NULL,
    registration_sealed  BLOB NOT NULL,
    registration_index   BLOB NOT NULL,
    document_id          TEXT NOT NULL REFERENCES shop_documents (id),
    submitted_by         TEXT NOT NULL REFERENCES accounts (id),
    submitted_at         INTEGER NOT NULL,
    decision             TEXT,
    reason               TEXT,
    decided_by           TEXT REFERENCES accounts (id),
    decided_at           INTEGER,
    CONSTRAINT shop_verifications_decision_check CHECK (decision IN ('verified', 'rejected'))
);
CREATE INDEX shop_verifications_queue ON shop_verifications (decision, submitted_at);
CREATE INDEX shop_verifications_by_shop ON shop_verifications (shop_id, submitted_at);
CREATE INDEX shop_verifications_by_registration ON shop_verifications (registration_index);

CREATE TABLE shop_members (
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    account_id  TEXT NOT NULL REFERENCES accounts (id),
    role        TEXT NOT NULL,
    added_by    TEXT NOT NULL REFERENCES accounts (id),
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (shop_id, account_id),
    CONSTRAINT shop_members_role_check CHECK (role IN ('manager', 'fulfilment'))
);
CREATE INDEX shop_members_by_account ON shop_members (account_id);

-- An invitation is a link mailed to an address; only an account with that confirmed
-- address can accept it. The token is stored as its SHA-256, the address as a blind index.
CREATE TABLE shop_invitations (
    id           TEXT PRIMARY KEY,
    shop_id      TEXT NOT NULL REFERENCES shops (id),
    token_hash   BLOB NOT NULL,
    email_index  BLOB NOT NULL,
    role         TEXT NOT NULL,
    invited_by   TEXT NOT NULL REFERENCES accounts (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    accepted_at  INTEGER,
    accepted_by  TEXT REFERENCES accounts (id),
    revoked_at   INTEGER,
    CONSTRAINT shop_invitations_token_key UNIQUE (token_hash),
    CONSTRAINT shop_invitations_role_check CHECK (role IN ('manager', 'fulfilment'))
);
CREATE INDEX shop_invitations_by_shop ON shop_invitations (shop_id, created_at);
