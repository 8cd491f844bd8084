-- 011_outbound_webhooks: signed webhooks to the product (issue 14). The
-- product registers endpoints (tollgatectl webhooks add); every change it
-- should hear of writes an event to outbound_events in the same
-- transaction as the change (sql/functions/outbound.sql), with one
-- delivery per endpoint that wants its type; tollgate-worker signs and
-- sends the deliveries, in order per customer and endpoint, retrying with
-- backoff until the retry horizon, then a dead letter. Tables and data
-- only: the functions and triggers are in sql/functions/outbound.sql.

CREATE TABLE webhook_endpoints (
    id                          text PRIMARY KEY CHECK (id ~ '^we_[0-9a-f]{24}$'),
    url                         text NOT NULL CHECK (octet_length(url) BETWEEN 10 AND 2048),
    -- The event types it receives; NULL: every type.
    events                      text[] CHECK (events IS NULL OR cardinality(events) BETWEEN 1 AND 32),
    -- The signing secret (whsec_ + 64 hex). It must be stored to sign; it
    -- is shown once, when made, and never logged or listed.
    secret                      text NOT NULL CHECK (secret ~ '^whsec_[0-9a-f]{64}$'),
    -- After a rotation the old secret signs too, until it expires (24 h).
    previous_secret             text CHECK (previous_secret ~ '^whsec_[0-9a-f]{64}$'),
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    removed_at                  timestamptz,
    CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
);

CREATE TABLE outbound_events (
    -- The order events happened in (per customer: the order of delivery).
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           text NOT NULL UNIQUE CHECK (id ~ '^evt_[0-9a-f]{32}$'),
    type         text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    -- No foreign key: the record outlives what it names (as the ledger).
    customer_id  uuid,
    -- The JSON document sent, byte for byte the same on every delivery.
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_events_customer ON outbound_events (customer_id, seq);

CREATE TABLE outbound_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq        bigint NOT NULL REFERENCES outbound_events (seq),
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id),
    -- Deliveries of one order key (the customer; '' for events of none)
    -- to one endpoint go out one at a time, by event_seq.
    order_key        text NOT NULL,
    --   pending    to be sent (next_attempt_at), or being sent (leased)
    --   delivered  the endpoint answered 2xx
    --   dead       retried until the horizon and given up (replayable)
    --   canceled   its endpoint was removed first
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead', 'canceled')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- Retries go on until the horizon counted from here (reset by a replay).
    since            timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status      integer,   -- the endpoint's HTTP status; NULL: no answer
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_seq)
);
CREATE INDEX outbound_deliveries_due ON outbound_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX outbound_deliveries_order ON outbound_deliveries (endpoint_id, order_key, event_seq)
    WHERE status = 'pending';
CREATE INDEX outbound_deliveries_event ON outbound_deliveries (event_seq);

-- Low-balance thresholds (issue 14): each customer's threshold in credits
-- (NULL: the configuration's low_balance_threshold) and where its balance
-- stands against it -- ok, low (at or below the threshold), depleted (0)
-- -- kept so that credits.low, .depleted and .recovered fire once per
-- crossing (sql/functions/credit_thresholds.sql). Existing customers start
-- in the state their balance is in against the default threshold, without
-- events.
ALTER TABLE customers
    ADD COLUMN low_balance_threshold bigint
        CHECK (low_balance_threshold BETWEEN 0 AND 1000000),
    ADD COLUMN credit_state text NOT NULL DEFAULT 'ok'
        CHECK (credit_state IN ('ok', 'low', 'depleted'));
UPDATE customers
   SET credit_state = CASE WHEN credit_balance = 0 THEN 'depleted'
                           WHEN credit_balance <= 2 THEN 'low' ELSE 'ok' END
 WHERE credit_balance <= 2;
