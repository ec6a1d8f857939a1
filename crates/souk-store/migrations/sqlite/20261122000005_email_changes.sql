-- A change of email address waits for the new address to confirm it. The new address is
-- sealed under the account's key; the link's token is stored only as its hash.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.
CREATE TABLE email_changes (
    token_hash       BLOB PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    new_email_sealed BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER
);
CREATE INDEX email_changes_by_account ON email_changes (account_id);
