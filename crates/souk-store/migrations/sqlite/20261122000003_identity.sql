-- Identity: how people prove who they are (passwords, TOTP, recovery codes, passkeys,
-- API keys), the sessions that follow, and the state that protects sign-in from abuse.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.
-- Secrets are never stored: passwords as argon2id PHC strings, tokens and codes as hashes,
-- TOTP seeds and personal data sealed under the account's data key.

ALTER TABLE accounts ADD COLUMN email_verified_at INTEGER;
-- The anti-phishing phrase the user chose; every mail Souk sends them carries it.
ALTER TABLE accounts ADD COLUMN phrase_sealed BLOB;
-- Staff roles, comma-separated (support, trust_safety, finance, admin); empty for others.
ALTER TABLE accounts ADD COLUMN staff_roles TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN disabled_at INTEGER;

CREATE TABLE passwords (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    phc         TEXT NOT NULL,
    set_at      INTEGER NOT NULL,
    -- Set on evidence only (breach-list hit, incident): the next sign-in must change it.
    must_change INTEGER NOT NULL DEFAULT 0
);

-- Sessions are found by the SHA-256 of the browser's token; `id` is the public handle
-- shown in the sessions list and used to revoke one.
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    key_hash         BLOB NOT NULL,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    kind             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_seen_at     INTEGER NOT NULL,
    authenticated_at INTEGER NOT NULL,
    method           TEXT NOT NULL,
    device_sealed    BLOB,
    network_sealed   BLOB,
    revoked_at       INTEGER,
    CONSTRAINT sessions_key_hash_key UNIQUE (key_hash),
    CONSTRAINT sessions_kind_check CHECK (kind IN ('member', 'staff'))
);
CREATE INDEX sessions_by_account ON sessions (account_id, revoked_at);

-- Single-use links sent by mail (email verification, password reset) and the first-admin
-- setup link: stored as SHA-256 of the token.
CREATE TABLE one_time_tokens (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password', 'admin_setup'))
);
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id, purpose);

-- Graduated sign-in delays, keyed by a keyed hash of the email typed (whether or not an
-- account has it, so the throttle itself reveals nothing).
CREATE TABLE login_throttle (
    throttle_key    BLOB PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER,
    locked_until    INTEGER
);

-- Browsers an account has signed in from (hash of a long-lived device cookie), for
-- new-device alerts.
CREATE TABLE known_devices (
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    device_hash   BLOB NOT NULL,
    first_seen_at INTEGER NOT NULL,
    CONSTRAINT known_devices_pkey PRIMARY KEY (account_id, device_hash)
);

-- A password was right and a second factor is awaited. Completed or alerted on after
-- three minutes (the owner is told someone has their password).
CREATE TABLE pending_logins (
    token_hash   BLOB PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    completed_at INTEGER,
    alerted_at   INTEGER,
    failures     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX pending_logins_open ON pending_logins (completed_at, alerted_at, created_at);

CREATE TABLE totp_factors (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id),
    secret_sealed BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER,
    -- The last time step accepted: a code is accepted once.
    last_step     INTEGER,
    -- Failures within fail_step; three lock TOTP for the rest of that step.
    fail_step     INTEGER,
    fail_count    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    credential_id BLOB NOT NULL,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    CONSTRAINT passkeys_credential_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- WebAuthn ceremony state between its two requests; single use, short-lived.
CREATE TABLE webauthn_ceremonies (
    token_hash BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    key_hash     BLOB NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);
