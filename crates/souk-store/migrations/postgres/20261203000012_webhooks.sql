-- Outbound webhooks. An endpoint belongs to a shop (its owner and managers manage it) and
-- subscribes to event types; its signing secret is sealed under the endpoint's own data
-- key (and, for 24 hours after a rotation, the previous one too). An event is written to
-- the outbox in the same transaction as the business change it reports, with one delivery
-- per subscribed endpoint; the delivery worker claims due deliveries, posts them, and logs
-- every attempt. Deleting an endpoint deletes its deliveries and their log.
-- Paired with ../postgres/ (same version, same tables); edit neither once released.

CREATE TABLE webhook_endpoints (
    id                      TEXT PRIMARY KEY,
    shop_id                 TEXT NOT NULL REFERENCES shops (id),
    url                     TEXT NOT NULL,
    description             TEXT NOT NULL,
    -- Space-separated event types, e.g. "order.paid order.shipped".
    event_types             TEXT NOT NULL,
    secret_sealed           BYTEA NOT NULL,
    previous_secret_sealed  BYTEA,
    previous_secret_until   BIGINT,
    status                  TEXT NOT NULL,
    disabled_reason         TEXT NOT NULL,
    -- When the endpoint started failing (no success since); NULL while it is healthy.
    failing_since           BIGINT,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    CONSTRAINT webhook_endpoints_status CHECK (status IN ('enabled', 'disabled'))
);
CREATE INDEX webhook_endpoints_by_shop ON webhook_endpoints (shop_id, created_at);

CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    event_type  TEXT NOT NULL,
    -- The exact JSON body every delivery of this event sends.
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id                  TEXT PRIMARY KEY,
    endpoint_id         TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id            TEXT NOT NULL REFERENCES webhook_events (id),
    status              TEXT NOT NULL,
    attempts            BIGINT NOT NULL,
    next_attempt_at     BIGINT NOT NULL,
    -- A claim by one worker: its token and until when it holds the delivery.
    claim_token         TEXT,
    lease_until         BIGINT,
    -- 1 when someone asked for a redelivery (its attempt is logged as manual).
    manual              BIGINT NOT NULL,
    last_http_status    BIGINT,
    last_error          TEXT NOT NULL,
    last_duration_ms    BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT webhook_deliveries_once UNIQUE (endpoint_id, event_id),
    CONSTRAINT webhook_deliveries_status CHECK (status IN ('pending', 'delivering', 'succeeded', 'failed'))
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    http_status   BIGINT,
    error         TEXT NOT NULL,
    duration_ms   BIGINT NOT NULL,
    -- 'automatic' or 'manual' (a redelivery someone asked for).
    triggered_by  TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
