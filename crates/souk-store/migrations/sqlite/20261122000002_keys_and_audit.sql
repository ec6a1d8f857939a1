-- Keys and encryption at rest, and the tamper-evident audit log.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

-- One data key (DEK) per data subject, stored only wrapped by a master key (KEK) version.
-- Crypto-shredding sets wrapped to NULL: every field sealed under it becomes unreadable.
CREATE TABLE data_keys (
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    kek_version  INTEGER NOT NULL,
    wrapped      BLOB,
    created_at   INTEGER NOT NULL,
    destroyed_at INTEGER,
    CONSTRAINT data_keys_pkey PRIMARY KEY (subject_kind, subject_id, version),
    CONSTRAINT data_keys_destroyed_has_no_key CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
-- Rotation finds the keys still wrapped by an old master key.
CREATE INDEX data_keys_by_kek ON data_keys (kek_version);

-- Keys the system itself needs (blind-index root, audit signing), wrapped like data keys.
CREATE TABLE system_keys (
    purpose     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped     BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT system_keys_pkey PRIMARY KEY (purpose, version)
);

-- Accounts' personal data, sealed under the account's data key; the email is found by its
-- blind index, never by its value.
ALTER TABLE accounts ADD COLUMN email_sealed BLOB;
ALTER TABLE accounts ADD COLUMN email_index BLOB;
ALTER TABLE accounts ADD COLUMN name_sealed BLOB;
ALTER TABLE accounts ADD COLUMN address_sealed BLOB;
CREATE INDEX accounts_by_email_index ON accounts (email_index);

-- The audit log: entry seq is leaf seq of an RFC 9162 Merkle tree. Rows are only ever
-- inserted; leaf_hash is kept so a verifier can tell which row was altered.
CREATE TABLE audit_log (
    seq           INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_role    TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    ip_sealed     BLOB,
    action        TEXT NOT NULL,
    target_kind   TEXT NOT NULL,
    target_id     TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    detail        TEXT NOT NULL,
    leaf_hash     BLOB NOT NULL,
    CONSTRAINT audit_log_pkey PRIMARY KEY (seq)
);
CREATE INDEX audit_log_by_at ON audit_log (at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_kind, actor_id);

-- The log's size, one row. Appenders increment it inside their transaction, which both
-- numbers entries without gaps and serializes appends.
CREATE TABLE audit_head (
    id   INTEGER NOT NULL,
    size INTEGER NOT NULL,
    CONSTRAINT audit_head_pkey PRIMARY KEY (id),
    CONSTRAINT audit_head_single_row CHECK (id = 1)
);
INSERT INTO audit_head (id, size) VALUES (1, 0);

-- Signed tree heads: (size, root) signed with the audit signing key.
CREATE TABLE audit_checkpoints (
    tree_size   INTEGER NOT NULL,
    root_hash   BLOB NOT NULL,
    signed_at   INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    signature   BLOB NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (tree_size)
);
