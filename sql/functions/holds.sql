-- holds: credit holds (issue 14; sql/010_holds_spend_limits.sql). A hold
-- reserves what one fix will cost while it is built: a credit when the
-- available balance (credit_balance - credits_held) allows, else, for a
-- customer who can be charged, the right to one charge at the tier's
-- price. Settling it records the usage event as usage_record() would
-- (usage.sql); releasing it, or its expiry, frees what it held.
--
-- Concurrency: every function here locks the customer's row first (as
-- usage_record does), then the hold: with k credits available, N parallel
-- holds take exactly k credit holds, and a settle racing a release (or
-- tollgate-worker's expiry) of one hold finds it as the other left it.
-- customers.credits_held changes only under that lock, with the hold.

-- hold_expire_one: hold p_hold (active, its customer's row locked by the
-- caller) is expired: its credit, if it held one, is free again. THE one
-- place a hold expires (tollgate-worker's pass, and a request that finds
-- it past due alike): the hold.expired webhook is written here, in this
-- transaction (outbound.sql). Returns the hold as it is now.
CREATE FUNCTION hold_expire_one(p_hold uuid) RETURNS holds LANGUAGE plpgsql AS $$
DECLARE
    h holds%ROWTYPE;
BEGIN
    UPDATE holds x SET status = 'expired', updated_at = now()
     WHERE x.id = p_hold AND x.status = 'active'
    RETURNING * INTO h;
    IF FOUND AND h.reserves = 'credit' THEN
        UPDATE customers SET credits_held = credits_held - 1 WHERE id = h.customer_id;
    END IF;
    IF FOUND THEN
        PERFORM outbound_emit('hold.expired', h.customer_id,
            jsonb_build_object('object', 'hold', 'id', h.id, 'kind', h.kind,
                               'fix_id', h.fix_id, 'reserves', h.reserves,
                               'amount_cents', h.amount_cents, 'currency', h.currency::text,
                               'status', h.status, 'expires_at', outbound_unix(h.expires_at),
                               'created', outbound_unix(h.created_at)));
    END IF;
    RETURN h;
END $$;

-- holds_expire_customer: expire customer p_customer's active holds that
-- are past expires_at (the caller holds the customer's row lock); returns
-- how many.
CREATE FUNCTION holds_expire_customer(p_customer uuid) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer := 0;
    id uuid;
BEGIN
    FOR id IN SELECT x.id FROM holds x
               WHERE x.customer_id = p_customer AND x.status = 'active'
                 AND x.expires_at <= now() ORDER BY x.expires_at
    LOOP
        PERFORM hold_expire_one(id);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

-- holds_expire_due: tollgate-worker's pass: up to p_limit active holds
-- past expires_at expire, each under its customer's row lock (taken
-- before the hold's, as requests do; a customer busy right now is left
-- for the next pass). Returns the holds expired.
CREATE FUNCTION holds_expire_due(p_limit integer)
RETURNS TABLE (hold_id uuid, customer_id uuid, reserves text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    due record;
    h   holds%ROWTYPE;
BEGIN
    FOR due IN SELECT x.id, x.customer_id FROM holds x
                WHERE x.status = 'active' AND x.expires_at <= now()
                ORDER BY x.expires_at LIMIT p_limit
    LOOP
        PERFORM 1 FROM customers c WHERE c.id = due.customer_id FOR UPDATE SKIP LOCKED;
        CONTINUE WHEN NOT FOUND;
        h := hold_expire_one(due.id);
        IF h.id IS NOT NULL THEN
            hold_id := h.id; customer_id := h.customer_id; reserves := h.reserves;
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- hold_create: POST /api/v1/holds for customer p_customer (authenticated
-- by the caller): a hold of fix p_fix_id for p_ttl seconds under
-- Idempotency-Key p_key with request hash p_hash. outcome:
--   credit      a credit is held (available balance > 0)
--   charge      the right to one charge at the tier's price is held (within
--               the spend limit: it counts against it while active)
--   replay      the key's hold, made by an earlier request (any status)
--   key_reused  the key was used with another body (the hold returned)
--   no_credit, delinquent, spend_limit   as usage_record: nothing recorded
-- The hold's columns are filled for all but the refusals.
CREATE FUNCTION hold_create(p_customer uuid, p_key text, p_hash bytea, p_fix_id text,
                            p_ttl integer)
RETURNS TABLE (outcome text, hold holds)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    c        customers%ROWTYPE;
    price    pricing_tiers%ROWTYPE;
    h        holds%ROWTYPE;
    spend    record;
    decision text;
BEGIN
    SELECT * INTO c FROM customers cu WHERE cu.id = p_customer FOR UPDATE;
    SELECT * INTO h FROM holds x WHERE x.customer_id = p_customer AND x.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN h.request_hash <> p_hash THEN 'key_reused'
                                 ELSE 'replay' END, h;
        RETURN;
    END IF;
    IF c.credit_balance - c.credits_held <= 0 AND c.credits_held > 0
       AND holds_expire_customer(p_customer) > 0 THEN
        SELECT * INTO c FROM customers cu WHERE cu.id = p_customer;
    END IF;
    IF c.credit_balance - c.credits_held > 0 THEN
        decision := 'credit';
    ELSE
        SELECT * INTO price FROM pricing_tiers t WHERE t.tier = c.tier;
        decision := CASE WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                         WHEN price.unit_price_cents IS NULL OR c.default_payment_method IS NULL
                              OR c.stripe_customer_id IS NULL THEN 'no_credit'
                         ELSE 'charge' END;
    END IF;
    IF decision = 'charge' THEN
        SELECT * INTO spend FROM spend_limit_check(p_customer, price.unit_price_cents,
                                                   price.currency::text);
        IF NOT spend.allowed THEN
            decision := 'spend_limit';
        END IF;
    END IF;
    IF decision IN ('delinquent', 'no_credit', 'spend_limit') THEN
        RETURN QUERY SELECT decision, NULL::holds;
        RETURN;
    END IF;
    INSERT INTO holds (customer_id, idempotency_key, request_hash, kind, fix_id, reserves,
                       amount_cents, currency, expires_at)
    VALUES (p_customer, p_key, p_hash, 'fix_deployed', p_fix_id, decision,
            CASE decision WHEN 'charge' THEN price.unit_price_cents END,
            CASE decision WHEN 'charge' THEN price.currency END,
            now() + make_interval(secs => p_ttl))
    RETURNING * INTO h;
    IF decision = 'credit' THEN
        UPDATE customers SET credits_held = credits_held + 1 WHERE id = p_customer;
    END IF;
    RETURN QUERY SELECT decision, h;
END $$;

-- hold_settle: POST /api/v1/holds/{id}/settle: hold p_hold of customer
-- p_customer becomes its usage event, as usage_record() would record it,
-- under the usage Idempotency-Key 'hold <id>' (a space: no client key
-- can be it). A credit hold takes its credit; a charge hold takes a
-- credit if one is available now, else is charged (phase 1 here; the
-- caller runs the charge, charges.sql settles it; a decline makes the
-- hold active again) or recorded unbilled (billing_enabled off). A charge
-- hold was counted against the spend limit when it was taken: its settle
-- is not checked again.
-- outcome:
--   credit, charge, unbilled   settled now (event columns; call columns for charge)
--   replay        settled before: its event (in_progress while still charged)
--   in_progress   settled before, its charge still running
--   hold_released, hold_expired   the hold is no longer active (409)
--   not_found     no such hold of this customer
--   no_credit, delinquent   a charge hold that cannot be charged now: it stays active
CREATE FUNCTION hold_settle(p_customer uuid, p_hold uuid)
RETURNS TABLE (outcome text, hold holds, event usage_events, amount_cents bigint,
               currency text, call_id bigint, call_key text, call_params jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    c        customers%ROWTYPE;
    price    pricing_tiers%ROWTYPE;
    h        holds%ROWTYPE;
    ev       usage_events%ROWTYPE;
    ch       charges%ROWTYPE;
    call     stripe_requests%ROWTYPE;
    le_id    bigint;
    le_bal   bigint;
    decision text;
BEGIN
    SELECT * INTO c FROM customers cu WHERE cu.id = p_customer FOR UPDATE;
    SELECT * INTO h FROM holds x WHERE x.id = p_hold AND x.customer_id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::holds, NULL::usage_events, NULL::bigint,
                            NULL::text, NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    IF h.status = 'active' AND h.expires_at <= now() THEN
        h := hold_expire_one(h.id);
    END IF;
    IF h.status = 'settled' THEN
        SELECT * INTO ev FROM usage_events u WHERE u.id = h.usage_event_id;
        SELECT * INTO ch FROM charges x WHERE x.id = ev.charge_id;
        RETURN QUERY SELECT CASE WHEN ev.outcome = 'processing' THEN 'in_progress'
                                 ELSE 'replay' END, h, ev, ch.amount_cents, ch.currency::text,
                            NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    IF h.status <> 'active' THEN
        RETURN QUERY SELECT 'hold_' || h.status, h, NULL::usage_events, NULL::bigint, NULL::text,
                            NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;

    IF h.reserves = 'credit' THEN
        UPDATE customers SET credits_held = credits_held - 1 WHERE id = p_customer;
        decision := 'credit';
    ELSIF c.credit_balance - c.credits_held > 0 THEN
        decision := 'credit';
    ELSE
        SELECT * INTO price FROM pricing_tiers t WHERE t.tier = c.tier;
        decision := CASE WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                         WHEN price.unit_price_cents IS NULL OR c.default_payment_method IS NULL
                              OR c.stripe_customer_id IS NULL THEN 'no_credit'
                         WHEN NOT feature_enabled('billing_enabled', c.id::text) THEN 'unbilled'
                         ELSE 'charge' END;
    END IF;
    IF decision IN ('delinquent', 'no_credit') THEN
        RETURN QUERY SELECT decision, h, NULL::usage_events, NULL::bigint, NULL::text,
                            NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    IF decision = 'credit' THEN
        INSERT INTO credit_transactions (customer_id, amount, kind, reference)
        VALUES (p_customer, -1, 'fix_deployed', h.fix_id)
        RETURNING id, balance_after INTO le_id, le_bal;
    ELSIF decision = 'charge' THEN
        SELECT b.id, b.idempotency_key, b.params INTO call.id, call.idempotency_key, call.params
          FROM charge_call_begin(c, h.amount_cents, h.currency::text,
                                 'tollgate: fix ' || h.fix_id) b;
        INSERT INTO charges (customer_id, stripe_request_id, amount_cents, currency, tier)
        VALUES (p_customer, call.id, h.amount_cents, h.currency, c.tier)
        RETURNING * INTO ch;
    END IF;
    INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                              outcome, balance_after, ledger_entry_id, charge_id)
    VALUES (p_customer, 'hold ' || h.id, h.request_hash, 'fix_deployed', h.fix_id,
            CASE decision WHEN 'charge' THEN 'processing' ELSE decision END,
            coalesce(le_bal, 0), le_id, ch.id)
    RETURNING * INTO ev;
    UPDATE holds x SET status = 'settled', usage_event_id = ev.id, updated_at = now()
     WHERE x.id = h.id RETURNING * INTO h;
    RETURN QUERY SELECT decision, h, ev, ch.amount_cents, ch.currency::text, call.id,
                        call.idempotency_key, call.params;
END $$;

-- hold_release: POST /api/v1/holds/{id}/release: hold p_hold of customer
-- p_customer is given up, freeing its credit. outcome: released (now),
-- replay (released before), hold_expired (it had expired: nothing left
-- to free), hold_settled (it became a usage event: 409), not_found.
CREATE FUNCTION hold_release(p_customer uuid, p_hold uuid)
RETURNS TABLE (outcome text, hold holds)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    h holds%ROWTYPE;
BEGIN
    PERFORM 1 FROM customers cu WHERE cu.id = p_customer FOR UPDATE;
    SELECT * INTO h FROM holds x WHERE x.id = p_hold AND x.customer_id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::holds;
        RETURN;
    END IF;
    IF h.status = 'active' AND h.expires_at <= now() THEN
        h := hold_expire_one(h.id);
    END IF;
    IF h.status <> 'active' THEN
        RETURN QUERY SELECT CASE h.status WHEN 'released' THEN 'replay'
                                 ELSE 'hold_' || h.status END, h;
        RETURN;
    END IF;
    UPDATE holds x SET status = 'released', updated_at = now() WHERE x.id = h.id
    RETURNING * INTO h;
    IF h.reserves = 'credit' THEN
        UPDATE customers SET credits_held = credits_held - 1 WHERE id = p_customer;
    END IF;
    RETURN QUERY SELECT 'released'::text, h;
END $$;

-- hold_unsettle: a settled hold's charge was declined and its usage event
-- p_event is about to be removed (charge_settle): the hold is active
-- again, so that it can be settled again (a new card) or released. A
-- charge hold holds no credit: credits_held is unchanged.
CREATE FUNCTION hold_unsettle(p_event bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE holds SET status = 'active', usage_event_id = NULL, updated_at = now()
     WHERE usage_event_id = p_event;
$$;

-- The three request statements: authentication (api_key_authenticate,
-- counted against p_limit requests an hour; api_keys.sql) and the hold
-- function in one round trip, as usage_record does it for usage. No row:
-- unknown or revoked key. outcome rate_limited: over the hour's limit,
-- nothing done. The key columns are filled for every other outcome.

CREATE FUNCTION hold_create_keyed(p_key_hash bytea, p_limit bigint, p_key text, p_hash bytea,
                                  p_fix_id text, p_ttl integer)
RETURNS TABLE (outcome text, api_key_id uuid, customer_id uuid, key_prefix text,
               requests bigint, reset_seconds integer, hold holds)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM api_key_authenticate(p_key_hash, p_limit);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_limit > 0 AND k.requests > p_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, k.api_key_id, k.customer_id, k.key_prefix,
                            k.requests, k.reset_seconds, NULL::holds;
        RETURN;
    END IF;
    RETURN QUERY SELECT s.outcome, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                        k.reset_seconds, s.hold
                   FROM hold_create(k.customer_id, p_key, p_hash, p_fix_id, p_ttl) s;
END $$;

CREATE FUNCTION hold_settle_keyed(p_key_hash bytea, p_limit bigint, p_hold uuid)
RETURNS TABLE (outcome text, api_key_id uuid, customer_id uuid, key_prefix text,
               requests bigint, reset_seconds integer, hold holds, event usage_events,
               amount_cents bigint, currency text, call_id bigint, call_key text,
               call_params jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM api_key_authenticate(p_key_hash, p_limit);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_limit > 0 AND k.requests > p_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, k.api_key_id, k.customer_id, k.key_prefix,
                            k.requests, k.reset_seconds, NULL::holds, NULL::usage_events,
                            NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    RETURN QUERY SELECT s.outcome, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                        k.reset_seconds, s.hold, s.event, s.amount_cents, s.currency, s.call_id,
                        s.call_key, s.call_params
                   FROM hold_settle(k.customer_id, p_hold) s;
END $$;

CREATE FUNCTION hold_release_keyed(p_key_hash bytea, p_limit bigint, p_hold uuid)
RETURNS TABLE (outcome text, api_key_id uuid, customer_id uuid, key_prefix text,
               requests bigint, reset_seconds integer, hold holds)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k record;
BEGIN
    SELECT * INTO k FROM api_key_authenticate(p_key_hash, p_limit);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_limit > 0 AND k.requests > p_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, k.api_key_id, k.customer_id, k.key_prefix,
                            k.requests, k.reset_seconds, NULL::holds;
        RETURN;
    END IF;
    RETURN QUERY SELECT s.outcome, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                        k.reset_seconds, s.hold
                   FROM hold_release(k.customer_id, p_hold) s;
END $$;
