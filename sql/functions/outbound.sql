-- outbound: signed webhooks to the product (issue 14; docs/outbound-webhooks.md).
--
-- An event is written by outbound_emit() in the transaction of the change
-- it reports -- from the triggers below, one place per event type -- so an
-- event exists if and only if its change committed. outbound_emit()
-- fixes the event's id and body once and queues one delivery per endpoint
-- that wants the type; tollgate-worker (jobs/outbound.c) claims due
-- deliveries with outbound_claim(), signs and sends them, and records each
-- attempt with outbound_delivery_done(). Deliveries of one customer to one
-- endpoint go out one at a time, oldest event first; a failed one is
-- retried with exponential backoff and jitter until the retry horizon
-- (outbound_retry_seconds), then it is a dead letter that
-- outbound_replay() queues again, with the same event id and body.
--
-- Event types and where they are written:
--   customer.created                          customers AFTER INSERT
--   customer.past_due / .delinquent /
--     .reactivated                            customers AFTER UPDATE OF billing_status
--   credits.granted                           credit_transactions AFTER INSERT (a grant)
--   payment.succeeded / payment.failed        charges AFTER UPDATE OF status (fix charges);
--                                             payment.succeeded of an invoice: the ledger
--                                             entry its credits make; payment.failed of an
--                                             invoice: outbound_invoice_failed (its
--                                             invoice.payment_failed event applied)
--   subscription.created / .renewed /
--     .canceled                               subscriptions AFTER UPDATE
--   credits.low / .depleted / .recovered      sql/functions/credit_thresholds.sql
--   webhook.test                              outbound_emit_test (tollgatectl webhooks test)

-- outbound_hex_id: p_prefix and n random hex digits (from gen_random_uuid's
-- 122 random bits; n <= 32).
CREATE FUNCTION outbound_hex_id(p_prefix text, p_n integer) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT p_prefix || left(replace(gen_random_uuid()::text, '-', '') ||
                            replace(gen_random_uuid()::text, '-', ''), p_n);
$$;

-- outbound_unix: a time as unix seconds (Stripe's "created"), NULL as NULL.
CREATE FUNCTION outbound_unix(p_t timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT floor(extract(epoch FROM p_t))::bigint;
$$;

-- outbound_wants: endpoint p_events (NULL: all) takes events of p_type.
-- webhook.test goes only where outbound_emit_test sends it.
CREATE FUNCTION outbound_wants(p_events text[], p_type text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_type <> 'webhook.test' AND (p_events IS NULL OR p_type = ANY (p_events));
$$;

-- outbound_emit: write event p_type about customer p_customer (NULL: none)
-- whose data.object is p_object, and queue a delivery to every endpoint
-- that wants it; wakes tollgate-worker. Returns the event's id (evt_...).
CREATE FUNCTION outbound_emit(p_type text, p_customer uuid, p_object jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    eid  text := outbound_hex_id('evt_', 32);
    seq  bigint;
BEGIN
    INSERT INTO outbound_events AS e (id, type, customer_id, body)
    VALUES (eid, p_type, p_customer,
            jsonb_build_object('id', eid, 'object', 'event', 'type', p_type,
                               'created', outbound_unix(now()), 'customer', p_customer,
                               'data', jsonb_build_object('object', p_object))::text)
    RETURNING e.seq INTO seq;
    INSERT INTO outbound_deliveries (event_seq, endpoint_id, order_key)
    SELECT seq, w.id, coalesce(p_customer::text, '')
      FROM webhook_endpoints w
     WHERE w.removed_at IS NULL AND outbound_wants(w.events, p_type);
    IF FOUND THEN
        PERFORM pg_notify('tollgate_jobs', 'outbound');
    END IF;
    RETURN eid;
END $$;

-- outbound_customer_object: a customer as events show it.
CREATE FUNCTION outbound_customer_object(c customers) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('object', 'customer', 'id', c.id, 'email', c.email,
                              'name', c.name, 'source', c.source, 'tier', c.tier,
                              'billing_status', c.billing_status,
                              'credit_balance', c.credit_balance,
                              'available_credits', credits_available(c),
                              'low_balance_threshold', credits_threshold(c),
                              'credit_state', c.credit_state,
                              'grace_period_ends_at', outbound_unix(c.grace_period_ends_at),
                              'created', outbound_unix(c.created_at));
$$;

-- outbound_subscription_object: a subscription as events show it.
CREATE FUNCTION outbound_subscription_object(s subscriptions) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('object', 'subscription', 'id', s.id, 'plan', s.plan,
                              'status', s.status,
                              'stripe_subscription_id', s.stripe_subscription_id,
                              'current_period_start', outbound_unix(s.current_period_start),
                              'current_period_end', outbound_unix(s.current_period_end),
                              'cancel_at_period_end', s.cancel_at_period_end,
                              'canceled_at', outbound_unix(s.canceled_at));
$$;

-- customer.created: a new customer, as it was inserted (its signup
-- credits follow as credits.granted).
CREATE FUNCTION outbound_customer_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbound_emit('customer.created', NEW.id, outbound_customer_object(NEW));
    RETURN NULL;
END $$;

CREATE TRIGGER customers_outbound_created AFTER INSERT ON customers
    FOR EACH ROW EXECUTE FUNCTION outbound_customer_created();

-- customer.past_due (a payment failed, grace period running),
-- customer.delinquent (grace period over), customer.reactivated (back to
-- active from either).
CREATE FUNCTION outbound_billing_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.billing_status IN ('past_due', 'delinquent') THEN
        PERFORM outbound_emit('customer.' || NEW.billing_status, NEW.id,
                              outbound_customer_object(NEW));
    ELSIF NEW.billing_status = 'active' AND OLD.billing_status IN ('past_due', 'delinquent') THEN
        PERFORM outbound_emit('customer.reactivated', NEW.id, outbound_customer_object(NEW));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER customers_outbound_billing_status AFTER UPDATE OF billing_status ON customers
    FOR EACH ROW WHEN (NEW.billing_status IS DISTINCT FROM OLD.billing_status)
    EXECUTE FUNCTION outbound_billing_status();

-- credits.granted: a ledger entry that adds credits (signup, billing bonus,
-- a paid Pro invoice, an operator's positive adjustment or a refund); not
-- 'purchased', whose +1 is spent by the fix in the same transaction. A
-- Pro invoice's entry is also its payment.succeeded (kind invoice), the
-- one place that knows an invoice was paid exactly once.
CREATE FUNCTION outbound_credit_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'pro_subscription_payment' THEN
        PERFORM outbound_emit('payment.succeeded', NEW.customer_id,
            jsonb_build_object('object', 'payment', 'kind', 'invoice',
                               'invoice', NEW.reference, 'status', 'succeeded'));
    END IF;
    PERFORM outbound_emit('credits.granted', NEW.customer_id,
        jsonb_build_object('object', 'credit_grant', 'entry_id', NEW.id, 'kind', NEW.kind,
                           'amount', NEW.amount, 'balance_after', NEW.balance_after,
                           'reference', NEW.reference, 'description', NEW.description));
    RETURN NULL;
END $$;

CREATE TRIGGER credit_transactions_outbound AFTER INSERT ON credit_transactions
    FOR EACH ROW WHEN (NEW.amount > 0 AND NEW.kind <> 'purchased')
    EXECUTE FUNCTION outbound_credit_entry();

-- payment.succeeded / payment.failed of a fix's charge: its status leaves
-- pending (charge_settle, charges.sql).
CREATE FUNCTION outbound_charge() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM outbound_emit(CASE NEW.status WHEN 'succeeded' THEN 'payment.succeeded'
                                          ELSE 'payment.failed' END,
        NEW.customer_id,
        jsonb_build_object('object', 'payment', 'kind', 'fix_charge', 'charge', NEW.id,
                           'status', NEW.status, 'amount_cents', NEW.amount_cents,
                           'currency', NEW.currency::text,
                           'payment_intent', NEW.stripe_payment_intent_id,
                           'failure_code', NEW.failure_code,
                           'decline_code', NEW.decline_code));
    RETURN NULL;
END $$;

CREATE TRIGGER charges_outbound AFTER UPDATE OF status ON charges
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status IN ('succeeded', 'failed'))
    EXECUTE FUNCTION outbound_charge();

-- payment.failed of an invoice: Stripe's invoice.payment_failed event was
-- applied to the customers of p_stripe_customer (tollgate-worker, in that
-- event's transaction: once per Stripe event, as each failed attempt of
-- an invoice is an event of its own, numbered by attempt_count). p_amount
-- is the invoice's amount_due in minor units of p_currency. Returns how
-- many events were written.
CREATE FUNCTION outbound_invoice_failed(p_stripe_customer text, p_invoice text,
                                        p_amount_cents bigint, p_currency text,
                                        p_attempt integer)
RETURNS integer LANGUAGE sql AS $$
    SELECT count(outbound_emit('payment.failed', c.id,
               jsonb_build_object('object', 'payment', 'kind', 'invoice',
                                  'invoice', p_invoice, 'status', 'failed',
                                  'amount_cents', p_amount_cents, 'currency', p_currency,
                                  'attempt_count', p_attempt)))::integer
      FROM customers c WHERE c.stripe_customer_id = p_stripe_customer;
$$;

-- subscription.created (Stripe's first answer makes it active or
-- trialing), subscription.renewed (a new period began), subscription.canceled.
CREATE FUNCTION outbound_subscription() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    paying text[] := ARRAY['active', 'trialing', 'past_due'];
BEGIN
    IF OLD.status IN ('creating', 'incomplete') AND NEW.status = ANY (paying) THEN
        PERFORM outbound_emit('subscription.created', NEW.customer_id,
                              outbound_subscription_object(NEW));
    ELSIF NEW.status = ANY (paying) AND OLD.current_period_start IS NOT NULL
          AND NEW.current_period_start > OLD.current_period_start THEN
        PERFORM outbound_emit('subscription.renewed', NEW.customer_id,
                              outbound_subscription_object(NEW));
    END IF;
    IF NEW.status = 'canceled' AND OLD.status <> 'canceled' THEN
        PERFORM outbound_emit('subscription.canceled', NEW.customer_id,
                              outbound_subscription_object(NEW));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER subscriptions_outbound AFTER UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION outbound_subscription();

-- ---- endpoints (tollgatectl webhooks) -------------------------------------

-- outbound_endpoint_audit: the audit row's view of an endpoint (never the
-- secrets).
CREATE FUNCTION outbound_endpoint_audit(w webhook_endpoints) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('endpoint', w.id, 'url', w.url, 'events', to_jsonb(w.events));
$$;

-- webhook_endpoint_add: a new endpoint for p_url taking p_events (NULL:
-- all) and signing with p_secret (made by the caller from OpenSSL's
-- RAND_bytes); audited as webhook_endpoint.added. Returns it.
CREATE FUNCTION webhook_endpoint_add(p_url text, p_events text[], p_secret text)
RETURNS SETOF webhook_endpoints LANGUAGE plpgsql AS $$
DECLARE
    w webhook_endpoints%ROWTYPE;
BEGIN
    INSERT INTO webhook_endpoints (id, url, events, secret)
    VALUES (outbound_hex_id('we_', 24), p_url, p_events, p_secret)
    RETURNING * INTO w;
    PERFORM audit_append('webhook_endpoint.added', NULL, NULL, outbound_endpoint_audit(w));
    RETURN NEXT w;
END $$;

-- webhook_endpoint_remove: endpoint p_id stops receiving events; its
-- pending deliveries are canceled; audited. No row when there is no such
-- endpoint (or it was removed before).
CREATE FUNCTION webhook_endpoint_remove(p_id text)
RETURNS SETOF webhook_endpoints LANGUAGE plpgsql AS $$
DECLARE
    w webhook_endpoints%ROWTYPE;
BEGIN
    UPDATE webhook_endpoints SET removed_at = now()
     WHERE id = p_id AND removed_at IS NULL
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE outbound_deliveries SET status = 'canceled', last_error = 'endpoint removed'
     WHERE endpoint_id = p_id AND status = 'pending';
    PERFORM audit_append('webhook_endpoint.removed', NULL, outbound_endpoint_audit(w), NULL);
    RETURN NEXT w;
END $$;

-- webhook_endpoint_rotate: endpoint p_id signs with p_secret from now on,
-- and with its current secret too for p_overlap (an older previous secret
-- is dropped); audited. No row when there is no such endpoint.
CREATE FUNCTION webhook_endpoint_rotate(p_id text, p_secret text, p_overlap interval)
RETURNS SETOF webhook_endpoints LANGUAGE plpgsql AS $$
DECLARE
    w webhook_endpoints%ROWTYPE;
BEGIN
    UPDATE webhook_endpoints
       SET previous_secret = secret, previous_secret_expires_at = now() + p_overlap,
           secret = p_secret
     WHERE id = p_id AND removed_at IS NULL
    RETURNING * INTO w;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM audit_append('webhook_endpoint.secret_rotated', NULL, NULL,
                         outbound_endpoint_audit(w) ||
                         jsonb_build_object('previous_expires_at',
                                            outbound_unix(w.previous_secret_expires_at)));
    RETURN NEXT w;
END $$;

-- outbound_emit_test: a webhook.test event delivered to endpoint p_id only.
-- Returns the event id; no row when there is no such endpoint.
CREATE FUNCTION outbound_emit_test(p_id text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    eid  text;
BEGIN
    PERFORM 1 FROM webhook_endpoints WHERE id = p_id AND removed_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    eid := outbound_emit('webhook.test', NULL,
                         jsonb_build_object('object', 'endpoint', 'id', p_id));
    INSERT INTO outbound_deliveries (event_seq, endpoint_id, order_key)
    SELECT e.seq, p_id, '' FROM outbound_events e WHERE e.id = eid;
    PERFORM pg_notify('tollgate_jobs', 'outbound');
    RETURN NEXT eid;
END $$;

-- ---- delivery (tollgate-worker) -------------------------------------------

-- outbound_claim: lease up to p_limit due deliveries for p_lease_ms: each
-- the oldest pending one of its customer and endpoint (one at a time per
-- pair, so they arrive in order), counted as an attempt. A worker that
-- dies holding one leaves it to be claimed again when the lease is over.
-- SKIP LOCKED: several workers never claim the same one. Returns each with
-- the event, the endpoint's URL and the secrets that sign now.
CREATE FUNCTION outbound_claim(p_limit integer, p_lease_ms integer)
RETURNS TABLE (delivery_id bigint, attempts integer, event_id text, event_type text,
               body text, endpoint_id text, url text, secret text, previous_secret text)
LANGUAGE sql AS $$
    WITH due AS (
        SELECT d.id FROM outbound_deliveries d
          JOIN webhook_endpoints w ON w.id = d.endpoint_id AND w.removed_at IS NULL
         WHERE d.status = 'pending' AND d.next_attempt_at <= now()
           AND NOT EXISTS (SELECT 1 FROM outbound_deliveries x
                            WHERE x.endpoint_id = d.endpoint_id AND x.order_key = d.order_key
                              AND x.status = 'pending' AND x.event_seq < d.event_seq)
         ORDER BY d.event_seq
         LIMIT p_limit
           FOR UPDATE OF d SKIP LOCKED
    ), leased AS (
        UPDATE outbound_deliveries d
           SET attempts = d.attempts + 1, last_attempt_at = now(),
               next_attempt_at = now() + p_lease_ms * interval '1 millisecond'
          FROM due WHERE d.id = due.id
        RETURNING d.*
    )
    SELECT l.id, l.attempts, e.id, e.type, e.body, w.id, w.url, w.secret,
           CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END
      FROM leased l
      JOIN outbound_events e ON e.seq = l.event_seq
      JOIN webhook_endpoints w ON w.id = l.endpoint_id
     ORDER BY l.event_seq;
$$;

-- outbound_retry_delay: the wait after failed attempt p_attempts (1, 2,
-- ...): 1 s doubling, at most an hour (retry_delay), times a random
-- factor in [0.5, 1) ("full jitter" halved: retries of many deliveries
-- spread out, none comes sooner than half its step).
CREATE FUNCTION outbound_retry_delay(p_attempts integer) RETURNS interval
LANGUAGE sql VOLATILE AS $$
    SELECT retry_delay(greatest(p_attempts - 1, 0), interval '1 second') * (0.5 + random() / 2);
$$;

-- outbound_delivery_done: record attempt at delivery p_id: p_ok (the
-- endpoint answered 2xx) delivers it; otherwise p_status (the HTTP
-- status, NULL when there was none) and p_error are kept and the next
-- attempt scheduled (outbound_retry_delay) unless p_horizon_s seconds have
-- passed since the delivery was queued (or replayed): then it is dead.
-- Returns the new status (no row for a delivery not pending: removed
-- endpoint).
CREATE FUNCTION outbound_delivery_done(p_id bigint, p_ok boolean, p_status integer,
                                       p_error text, p_horizon_s bigint)
RETURNS SETOF text LANGUAGE sql AS $$
    UPDATE outbound_deliveries d
       SET status = CASE WHEN p_ok THEN 'delivered'
                         WHEN now() >= d.since + p_horizon_s * interval '1 second' THEN 'dead'
                         ELSE 'pending' END,
           delivered_at = CASE WHEN p_ok THEN now() END,
           last_status = p_status, last_error = left(p_error, 500),
           next_attempt_at = now() + outbound_retry_delay(d.attempts)
     WHERE d.id = p_id AND d.status = 'pending'
    RETURNING d.status;
$$;

-- outbound_replay: queue again the deliveries p_id names -- a delivery id
-- (digits), or an event id (evt_...: all of its deliveries) -- that are
-- not pending, to endpoints not removed: pending now, attempts from 0,
-- the retry horizon counted from now; the event keeps its id and body.
-- Each audited as outbound_delivery.replayed. Returns the deliveries.
CREATE FUNCTION outbound_replay(p_id text) RETURNS TABLE (delivery_id bigint, event_id text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH r AS (
        UPDATE outbound_deliveries d
           SET status = 'pending', attempts = 0, next_attempt_at = now(), since = now(),
               delivered_at = NULL, last_error = NULL, last_status = NULL
          FROM outbound_events e, webhook_endpoints w
         WHERE e.seq = d.event_seq AND w.id = d.endpoint_id AND w.removed_at IS NULL
           AND d.status <> 'pending'
           AND CASE WHEN p_id ~ '^[0-9]{1,18}$' THEN d.id = p_id::bigint ELSE e.id = p_id END
        RETURNING d.id, e.id AS eid, d.endpoint_id),
      a AS (SELECT r.id, r.eid,
                   audit_append('outbound_delivery.replayed', NULL, NULL,
                                jsonb_build_object('delivery', r.id, 'event', r.eid,
                                                   'endpoint', r.endpoint_id)) AS logged
              FROM r)
    SELECT a.id, a.eid FROM a WHERE a.logged IS NOT NULL ORDER BY a.id;
    PERFORM pg_notify('tollgate_jobs', 'outbound');
END $$;
