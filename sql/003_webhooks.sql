-- 003_webhooks: the inbox of Stripe events. An event is stored by its evt_
-- id before it is acknowledged (a redelivery is a no-op) and applied by
-- tollgate-worker; a failing handler is retried with exponential backoff
-- (1 s doubling to 1 h) and after webhook_max_attempts becomes a dead letter
-- (status 'dead') that tollgatectl lists and replays.

CREATE TABLE stripe_events (
    id               text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]+$'),
    type             text NOT NULL,
    api_version      text,
    created          bigint NOT NULL,          -- Stripe's time, unix seconds
    livemode         boolean NOT NULL DEFAULT false,
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processed', 'ignored', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz
);
CREATE INDEX stripe_events_due ON stripe_events (next_attempt_at) WHERE status = 'pending';

-- Wake tollgate-worker (LISTEN tollgate_jobs) as soon as an event arrives.
CREATE FUNCTION stripe_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_jobs', 'stripe_event');
    RETURN NULL;
END $$;
CREATE TRIGGER stripe_events_notify AFTER INSERT ON stripe_events
    FOR EACH STATEMENT EXECUTE FUNCTION stripe_events_notify();

-- Refunds Stripe reports on our charges (charge.refunded), in cents.
ALTER TABLE charges ADD COLUMN amount_refunded_cents bigint NOT NULL DEFAULT 0
    CHECK (amount_refunded_cents >= 0);

-- stripe_event_done: record the outcome of one attempt at an event:
-- 'processed' or 'ignored' (final), or an error, which schedules the next
-- attempt (1 s, 2 s, 4 s ... at most 1 h) or, at p_max_attempts, makes the
-- event a dead letter.
CREATE FUNCTION stripe_event_done(p_id text, p_status text, p_error text, p_max_attempts integer)
RETURNS text LANGUAGE sql AS $$
    UPDATE stripe_events
       SET attempts = attempts + 1,
           status = CASE WHEN p_status IN ('processed', 'ignored') THEN p_status
                         WHEN attempts + 1 >= p_max_attempts THEN 'dead'
                         ELSE 'pending' END,
           last_error = p_error,
           processed_at = CASE WHEN p_status IN ('processed', 'ignored') THEN now() END,
           next_attempt_at = now() + least(interval '1 hour',
                                           interval '1 second' * power(2, least(attempts, 12)))
     WHERE id = p_id
    RETURNING status;
$$;

-- payment_failed: an invoice of the customer failed: past_due, and the
-- grace period starts (unless one is already running). DESIGN.md section 2.
CREATE FUNCTION customer_payment_failed(p_stripe_customer text, p_grace interval)
RETURNS SETOF customers LANGUAGE sql AS $$
    UPDATE customers
       SET billing_status = CASE WHEN billing_status = 'delinquent' THEN 'delinquent'
                                 ELSE 'past_due' END,
           grace_period_ends_at = coalesce(grace_period_ends_at, now() + p_grace),
           updated_at = now()
     WHERE stripe_customer_id = p_stripe_customer
    RETURNING *;
$$;

-- customer_payment_succeeded: an invoice was paid: back to active unless
-- something else is still owed (customer_settle_if_clear).
CREATE FUNCTION customer_payment_succeeded(p_stripe_customer text)
RETURNS TABLE (id uuid) LANGUAGE sql AS $$
    SELECT customer_settle_if_clear(c.id) FROM customers c
     WHERE c.stripe_customer_id = p_stripe_customer;
    SELECT c.id FROM customers c
     WHERE c.stripe_customer_id = p_stripe_customer AND c.billing_status = 'active';
$$;

-- grace_periods_expire: past_due customers whose grace period is over
-- become delinquent (credits still usable; charges refused). Returns them.
CREATE FUNCTION grace_periods_expire() RETURNS SETOF customers LANGUAGE sql AS $$
    UPDATE customers
       SET billing_status = 'delinquent', updated_at = now()
     WHERE billing_status = 'past_due' AND grace_period_ends_at <= now()
    RETURNING *;
$$;
