-- 010_holds_spend_limits: credit holds and customer spend limits (issue 14).
-- Tables and data only; the rules are in sql/functions/holds.sql and
-- sql/functions/spend_limits.sql.
--
-- A hold reserves what one fix will cost while it is being built: one
-- credit ('credit' hold, counted in customers.credits_held, so that the
-- available balance is credit_balance - credits_held), or the right to
-- one charge at the tier's price ('charge' hold, counted against the
-- spend limit). Holds are not ledger entries: settling one writes the
-- usage event (and its entries or charge) exactly as POST /api/v1/usage
-- does; releasing or expiring it writes nothing to the ledger.

CREATE TABLE holds (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers (id),
    -- POST /api/v1/holds's Idempotency-Key and the SHA-256 of its body.
    idempotency_key  text COLLATE "C" NOT NULL
                     CHECK (octet_length(idempotency_key) BETWEEN 1 AND 255),
    request_hash     bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    kind             text NOT NULL CHECK (kind = 'fix_deployed'),
    fix_id           text NOT NULL,
    reserves         text NOT NULL CHECK (reserves IN ('credit', 'charge')),
    -- A charge hold: the tier's price when it was taken, in minor units
    -- of currency (ISO 4217, lower case).
    amount_cents     bigint CHECK (amount_cents > 0),
    currency         char(3) CHECK (currency ~ '^[a-z]{3}$'),
    status           text NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'settled', 'released', 'expired')),
    expires_at       timestamptz NOT NULL,
    -- settled: the usage event it became (no foreign key: a declined
    -- charge removes its event, and the hold is active again).
    usage_event_id   bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key),
    CHECK ((reserves = 'charge') = (amount_cents IS NOT NULL AND currency IS NOT NULL)),
    CHECK ((status = 'settled') = (usage_event_id IS NOT NULL))
);
-- GET /api/v1/holds: a customer's, newest first.
CREATE INDEX holds_customer ON holds (customer_id, created_at DESC, id DESC);
-- The active ones: a customer's (the decision) and the due (tollgate-worker).
CREATE INDEX holds_active ON holds (customer_id) WHERE status = 'active';
CREATE INDEX holds_expiry ON holds (expires_at) WHERE status = 'active';
-- A declined charge finds the hold its event came from.
CREATE INDEX holds_event ON holds (usage_event_id) WHERE usage_event_id IS NOT NULL;

-- Credits reserved by the customer's active credit holds: changed only
-- under the customer's row lock, with the hold. Never more than the
-- balance (tollgatectl verify-ledger checks it).
ALTER TABLE customers ADD COLUMN credits_held credit_count NOT NULL DEFAULT 0;

-- A customer's cap on automatic charges for fixes per calendar month (UTC).
CREATE TABLE spend_limits (
    customer_id    uuid PRIMARY KEY REFERENCES customers (id),
    monthly_cents  bigint NOT NULL CHECK (monthly_cents BETWEEN 0 AND 100000000000),
    currency       char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The spend-limit thresholds (80, 90, 100 per cent) a customer crossed in
-- a month, each recorded once, so that spend_limit.warning and
-- spend_limit.reached fire once a month each; cleared for the month when
-- the limit changes.
CREATE TABLE spend_limit_notices (
    customer_id  uuid NOT NULL REFERENCES customers (id),
    month        date NOT NULL,
    threshold    smallint NOT NULL CHECK (threshold IN (80, 90, 100)),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, month, threshold)
);

-- A month's charges of a customer (the spend counted against the limit).
CREATE INDEX charges_customer_created ON charges (customer_id, created_at);
