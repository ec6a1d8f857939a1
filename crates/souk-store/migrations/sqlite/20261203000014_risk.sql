-- Risk: velocity events, versioned rule sets and every decision taken.
--
-- risk_events holds one row per key an event touched (a card fingerprint, a device, an IP,
-- its /24 or /64 network, an account, an email domain, a shipping address), written only
-- after the decision the event belongs to, so an event never counts itself. Counts, sums
-- and distinct counts over 10 min to 30 days are read from it with the window rule
-- now - w < at <= now; every server process reads the same rows, so there is no cache to go
-- stale. Key values other than account ids are keyed hashes (blind indexes), never an
-- address or IP in clear. Rows older than 30 days are pruned.
--
-- risk_rule_sets keeps every saved version of the rules and lists (never updated), and
-- risk_decisions every decision with its feature vector and the versions that produced it,
-- so a decision can be replayed. A decision held for review carries its review state.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE risk_events (
    id          INTEGER PRIMARY KEY,
    key_kind    TEXT NOT NULL,
    key_value   TEXT NOT NULL,
    event_kind  TEXT NOT NULL,
    -- The value counted distinct under this key (a card under an IP), if any.
    other       TEXT,
    amount      INTEGER NOT NULL DEFAULT 0,
    at          INTEGER NOT NULL
);
CREATE INDEX risk_events_by_key ON risk_events (key_kind, key_value, event_kind, at);
CREATE INDEX risk_events_by_time ON risk_events (at);

CREATE TABLE risk_rule_sets (
    version     INTEGER PRIMARY KEY,
    rules       TEXT NOT NULL,
    lists       TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    CONSTRAINT risk_rule_sets_version CHECK (version >= 1)
);

CREATE TABLE risk_decisions (
    id                TEXT PRIMARY KEY,
    event_kind        TEXT NOT NULL,
    account_id        TEXT,
    subject           TEXT,
    action            TEXT NOT NULL,
    score             INTEGER,
    matched           TEXT NOT NULL,
    shadow_matched    TEXT NOT NULL,
    reasons           TEXT NOT NULL,
    features          TEXT NOT NULL,
    rule_set_version  INTEGER NOT NULL REFERENCES risk_rule_sets (version),
    model_sha         TEXT,
    review_state      TEXT,
    reviewed_by       TEXT,
    reviewed_at       INTEGER,
    created_at        INTEGER NOT NULL,
    CONSTRAINT risk_decisions_action CHECK (action IN ('allow', 'step_up', 'review', 'block')),
    CONSTRAINT risk_decisions_review CHECK (review_state IS NULL OR review_state IN ('open', 'approved', 'rejected'))
);
CREATE INDEX risk_decisions_by_subject ON risk_decisions (subject);
CREATE INDEX risk_decisions_open_reviews ON risk_decisions (review_state, created_at);
