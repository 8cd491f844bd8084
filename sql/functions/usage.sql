-- usage: metering one deployed fix (DESIGN.md section 2), the whole rule in
-- one place. POST /api/v1/usage is this one function: one statement from
-- the worker, one round trip, one transaction.
--
--   available > 0                       -1 fix_deployed                  credit
--   (available = balance - credits held by active holds, holds.sql)
--   balance 0, payg or pro with a       phase 1 of a charge: the Stripe  charge
--     payment method, not delinquent    call, a pending charge and a
--                                       'processing' event (charges.sql
--                                       settles it: +1 purchased, -1)
--   balance 0, as above, but the        a usage event without ledger     unbilled
--     billing_enabled flag is off       entries or charge
--   balance 0, delinquent               nothing recorded                 delinquent
--   balance 0, the charge would exceed  nothing recorded                 spend_limit
--     the customer's monthly spend limit (spend_limits.sql)
--   balance 0, no way to charge         nothing recorded                 no_credit
--
-- Idempotency (IETF draft "The Idempotency-Key HTTP Header Field"): an
-- event is stored under (customer, Idempotency-Key) with the SHA-256 of the
-- request body. The same key and body again is a replay of the stored
-- event; another body is key_reused; an event still being charged is
-- in_progress. Refusals (no_credit, delinquent) record nothing, so the key
-- stays free for a retry once billing is set up.
--
-- Concurrency: the customer's row is locked before anything is read, and
-- every later statement (READ COMMITTED: a snapshot each) sees what was
-- committed before the lock was granted: with k credits and N parallel
-- requests exactly k are paid from the balance, and a concurrent
-- duplicate waits and then replays the first request's event.
--
-- Cost: a fix paid by a credit runs the key's statement
-- (api_key_authenticate), the lock, and one statement for the entry and
-- the event -- the fewest this rule needs; everything else (replays,
-- refusals, charges) takes the longer way below it. Measured with
-- callgrind in bench/README.md.

-- usage_record: authenticate the API key (p_key_hash, counted against
-- p_limit requests an hour; api_keys.sql) and record a fix for its
-- customer under Idempotency-Key p_key with request hash p_hash. No row:
-- unknown or revoked key. Else one row; outcome is the decision above,
-- or replay, key_reused, in_progress, rate_limited (nothing recorded);
-- the key columns are filled for every outcome, the event columns for
-- credit, charge, unbilled, replay, in_progress and key_reused, the
-- charge columns when the event has a charge, and the call columns
-- (the Stripe call to send, with its idempotency key) for charge.
CREATE FUNCTION usage_record(p_key_hash bytea, p_limit bigint, p_key text, p_hash bytea,
                             p_fix_id text, p_metadata jsonb)
RETURNS TABLE (outcome text, api_key_id uuid, customer_id uuid, key_prefix text,
               requests bigint, reset_seconds integer, event_id bigint, event_outcome text,
               balance_after bigint, ledger_entry_id bigint, fix_id text,
               created_at timestamptz, charge_id bigint, amount_cents bigint, currency text,
               call_id bigint, call_key text, call_params jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k        record;
    balance  bigint;
    held     bigint;
    spend    record;
    c        customers%ROWTYPE;
    price    pricing_tiers%ROWTYPE;
    ev       usage_events%ROWTYPE;
    call     stripe_requests%ROWTYPE;
    ch       charges%ROWTYPE;
    decision text;
BEGIN
    SELECT * INTO k FROM api_key_authenticate(p_key_hash, p_limit);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_limit > 0 AND k.requests > p_limit THEN
        RETURN QUERY SELECT 'rate_limited'::text, k.api_key_id, k.customer_id, k.key_prefix,
                            k.requests, k.reset_seconds, NULL::bigint, NULL::text, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::timestamptz, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    -- What is available: the balance less the credits held (holds.sql).
    SELECT cu.credit_balance - cu.credits_held, cu.credits_held INTO balance, held
      FROM customers cu WHERE cu.id = k.customer_id FOR UPDATE;
    IF balance <= 0 AND held > 0 AND holds_expire_customer(k.customer_id) > 0 THEN
        SELECT cu.credit_balance - cu.credits_held INTO balance
          FROM customers cu WHERE cu.id = k.customer_id;
    END IF;

    -- A credit: the entry and the event, unless the key was used before.
    IF balance > 0 THEN
        RETURN QUERY
        WITH entry AS (
            INSERT INTO credit_transactions (customer_id, amount, kind, reference)
            SELECT k.customer_id, -1, 'fix_deployed', p_fix_id
             WHERE NOT EXISTS (SELECT 1 FROM usage_events u
                                WHERE u.customer_id = k.customer_id
                                  AND u.idempotency_key = p_key)
            RETURNING id, balance_after),
        new AS (
            INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                                      metadata, outcome, balance_after, ledger_entry_id)
            SELECT k.customer_id, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata, 'credit',
                   entry.balance_after, entry.id
              FROM entry
            RETURNING id, balance_after, ledger_entry_id, created_at)
        SELECT 'credit'::text, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
               k.reset_seconds, new.id, 'credit'::text, new.balance_after::bigint,
               new.ledger_entry_id, p_fix_id, new.created_at, NULL::bigint, NULL::bigint,
               NULL::text, NULL::bigint, NULL::text, NULL::jsonb
          FROM new;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    -- The key was used before: the first request's event, whatever it was.
    SELECT * INTO ev FROM usage_events u
     WHERE u.customer_id = k.customer_id AND u.idempotency_key = p_key;
    IF FOUND THEN
        decision := CASE WHEN ev.request_hash <> p_hash THEN 'key_reused'
                         WHEN ev.outcome = 'processing' THEN 'in_progress'
                         ELSE 'replay' END;
        SELECT * INTO ch FROM charges x WHERE x.id = ev.charge_id;
        RETURN QUERY SELECT decision, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                            k.reset_seconds, ev.id, ev.outcome::text, ev.balance_after::bigint,
                            ev.ledger_entry_id, ev.fix_id, ev.created_at, ev.charge_id,
                            ch.amount_cents, ch.currency::text, NULL::bigint, NULL::text,
                            NULL::jsonb;
        RETURN;
    END IF;

    -- Balance 0: charge, record unbilled, or refuse (DESIGN.md section 2).
    SELECT * INTO c FROM customers cu WHERE cu.id = k.customer_id;
    SELECT * INTO price FROM pricing_tiers t WHERE t.tier = c.tier;
    decision := CASE WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                     WHEN price.unit_price_cents IS NULL OR c.default_payment_method IS NULL
                          OR c.stripe_customer_id IS NULL THEN 'no_credit'
                     WHEN NOT feature_enabled('billing_enabled', c.id::text) THEN 'unbilled'
                     ELSE 'charge' END;
    IF decision = 'charge' THEN
        -- The spend limit, in this transaction (spend_limits.sql).
        SELECT * INTO spend FROM spend_limit_check(c.id, price.unit_price_cents,
                                                   price.currency::text);
        IF NOT spend.allowed THEN
            decision := 'spend_limit';
        END IF;
    END IF;
    IF decision IN ('delinquent', 'no_credit', 'spend_limit') THEN
        RETURN QUERY SELECT decision, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                            k.reset_seconds, NULL::bigint, NULL::text, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::timestamptz, NULL::bigint,
                            NULL::bigint, NULL::text, NULL::bigint, NULL::text, NULL::jsonb;
        RETURN;
    END IF;
    IF decision = 'charge' THEN
        -- Phase 1 of the charge: the call with its key, committed with the
        -- pending charge and a 'processing' event (charges.sql settles it).
        SELECT b.id, b.idempotency_key, b.params INTO call.id, call.idempotency_key, call.params
          FROM charge_call_begin(c, price.unit_price_cents, price.currency,
                                 'tollgate: fix ' || p_fix_id) b;
        INSERT INTO charges (customer_id, stripe_request_id, amount_cents, currency, tier)
        VALUES (c.id, call.id, price.unit_price_cents, price.currency, c.tier)
        RETURNING * INTO ch;
    END IF;
    INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id, metadata,
                              outcome, balance_after, charge_id)
    VALUES (c.id, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata,
            CASE decision WHEN 'charge' THEN 'processing' ELSE 'unbilled' END, 0, ch.id)
    RETURNING * INTO ev;
    RETURN QUERY SELECT decision, k.api_key_id, k.customer_id, k.key_prefix, k.requests,
                        k.reset_seconds, ev.id, ev.outcome::text, ev.balance_after::bigint,
                        ev.ledger_entry_id, ev.fix_id, ev.created_at, ev.charge_id,
                        ch.amount_cents, ch.currency::text, call.id, call.idempotency_key,
                        call.params;
END $$;
