-- Identity: how people prove who they are (passwords, TOTP, recovery codes, passkeys,
-- API keys), the sessions that follow, and the state that protects sign-in from abuse.
-- Paired with ../sqlite/ (same version, same tables); edit neither once released.
-- Secrets are never stored: passwords as argon2id PHC strings, tokens and codes as hashes,
-- TOTP seeds and personal data sealed under the account's data key.

ALTER TABLE accounts ADD COLUMN email_verified_at BIGINT;
-- The anti-phishing phrase the user chose; every mail Souk sends them carries it.
ALTER TABLE accounts ADD COLUMN phrase_sealed BYTEA;
-- Staff roles, comma-separated (support, trust_safety, finance, admin); empty for others.
ALTER TABLE accounts ADD COLUMN staff_roles TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT;

CREATE TABLE passwords (
    account_id  TEXT PRIMARY KEY REFERENCES accounts (id),
    phc         TEXT NOT NULL,
    set_at      BIGINT NOT NULL,
    -- Set on evidence only (breach-list hit, incident): the next sign-in must change it.
    must_change BIGINT NOT NULL DEFAULT 0
);

-- Sessions are found by the SHA-256 of the browser's token; `id` is the public handle
-- shown in the sessions list and used to revoke one.
CREATE TABLE sessions (
    id               TEXT PRIMARY KEY,
    key_hash         BYTEA NOT NULL,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    kind             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL,
    authenticated_at BIGINT NOT NULL,
    method           TEXT NOT NULL,
    device_sealed    BYTEA,
    network_sealed   BYTEA,
    revoked_at       BIGINT,
    CONSTRAINT sessions_key_hash_key UNIQUE (key_hash),
    CONSTRAINT sessions_kind_check CHECK (kind IN ('member', 'staff'))
);
CREATE INDEX sessions_by_account ON sessions (account_id, revoked_at);

-- Single-use links sent by mail (email verification, password reset) and the first-admin
-- setup link: stored as SHA-256 of the token.
CREATE TABLE one_time_tokens (
    token_hash BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    CONSTRAINT one_time_tokens_purpose_check CHECK (purpose IN ('verify_email', 'reset_password', 'admin_setup'))
);
CREATE INDEX one_time_tokens_by_account ON one_time_tokens (account_id, purpose);

-- Graduated sign-in delays, keyed by a keyed hash of the email typed (whether or not an
-- account has it, so the throttle itself reveals nothing).
CREATE TABLE login_throttle (
    throttle_key    BYTEA PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT,
    locked_until    BIGINT
);

-- Browsers an account has signed in from (hash of a long-lived device cookie), for
-- new-device alerts.
CREATE TABLE known_devices (
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    device_hash   BYTEA NOT NULL,
    first_seen_at BIGINT NOT NULL,
    CONSTRAINT known_devices_pkey PRIMARY KEY (account_id, device_hash)
);

-- A password was right and a second factor is awaited. Completed or alerted on after
-- three minutes (the owner is told someone has their password).
CREATE TABLE pending_logins (
    token_hash   BYTEA PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    completed_at BIGINT,
    alerted_at   BIGINT,
    failures     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX pending_logins_open ON pending_logins (completed_at, alerted_at, created_at);

CREATE TABLE totp_factors (
    account_id    TEXT PRIMARY KEY REFERENCES accounts (id),
    secret_sealed BYTEA NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    -- The last time step accepted: a code is accepted once.
    last_step     BIGINT,
    -- Failures within fail_step; three lock TOTP for the rest of that step.
    fail_step     BIGINT,
    fail_count    BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts (id),
    code_hash  BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (id),
    credential_id BYTEA NOT NULL,
    name          TEXT NOT NULL,
    passkey       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    CONSTRAINT passkeys_credential_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_by_account ON passkeys (account_id);

-- WebAuthn ceremony state between its two requests; single use, short-lived.
CREATE TABLE webauthn_ceremonies (
    token_hash BYTEA PRIMARY KEY,
    purpose    TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    key_hash     BYTEA NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);
