-- A change of email address waits for the new address to confirm it. The new address is
-- sealed under the account's key; the link's token is stored only as its hash.
-- Paired with ../sqlite/ (same version, same tables); edit neither once released.
CREATE TABLE email_changes (
    token_hash       BYTEA PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    new_email_sealed BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX email_changes_by_account ON email_changes (account_id);
