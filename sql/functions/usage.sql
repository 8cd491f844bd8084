-- usage: metering one deployed fix (DESIGN.md section 2), the whole rule in
-- one place. POST /api/v1/usage is this one function: one statement from
-- the worker, one round trip, one transaction.
--
--   balance > 0                         -1 fix_deployed                  credit
--   balance 0, payg or pro with a       phase 1 of a charge: the Stripe  charge
--     payment method, not delinquent    call, a pending charge and a
--                                       'processing' event (charges.sql
--                                       settles it: +1 purchased, -1)
--   balance 0, as above, but the        a usage event without ledger     unbilled
--     billing_enabled flag is off       entries or charge
--   balance 0, delinquent               nothing recorded                 delinquent
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
-- the decision is a second statement, which (READ COMMITTED) sees every
-- change committed before the lock was granted: with k credits and N
-- parallel requests exactly k are paid from the balance, and a concurrent
-- duplicate waits and then replays the first request's event.

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
    k record;
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
    PERFORM 1 FROM customers c WHERE c.id = k.customer_id FOR UPDATE;

    RETURN QUERY
    WITH ev AS (
        SELECT u.* FROM usage_events u
         WHERE u.customer_id = k.customer_id AND u.idempotency_key = p_key),
    d AS (
        SELECT c.id, c.tier, c.stripe_customer_id, c.default_payment_method,
               t.unit_price_cents, t.currency,
               CASE WHEN ev.id IS NOT NULL THEN
                        CASE WHEN ev.request_hash <> p_hash THEN 'key_reused'
                             WHEN ev.outcome = 'processing' THEN 'in_progress'
                             ELSE 'replay' END
                    WHEN c.credit_balance > 0 THEN 'credit'
                    WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                    WHEN t.unit_price_cents IS NULL OR c.default_payment_method IS NULL
                         OR c.stripe_customer_id IS NULL THEN 'no_credit'
                    WHEN NOT feature_enabled('billing_enabled', c.id::text) THEN 'unbilled'
                    ELSE 'charge' END AS decision
          FROM customers c JOIN pricing_tiers t ON t.tier = c.tier LEFT JOIN ev ON true
         WHERE c.id = k.customer_id),
    entry AS (
        INSERT INTO credit_transactions (customer_id, amount, kind, reference)
        SELECT d.id, -1, 'fix_deployed', p_fix_id FROM d WHERE d.decision = 'credit'
        RETURNING id, balance_after),
    call AS (
        INSERT INTO stripe_requests (idempotency_key, customer_id, operation, params)
        SELECT 'tgch_' || replace(gen_random_uuid()::text, '-', ''), d.id, 'charge',
               jsonb_build_object('amount', d.unit_price_cents, 'currency', d.currency,
                                  'customer', d.stripe_customer_id,
                                  'payment_method', d.default_payment_method,
                                  'description', 'tollgate: fix ' || p_fix_id)
          FROM d WHERE d.decision = 'charge'
        RETURNING id, idempotency_key, params),
    ch AS (
        INSERT INTO charges (customer_id, stripe_request_id, amount_cents, currency, tier)
        SELECT d.id, call.id, d.unit_price_cents, d.currency, d.tier FROM d, call
        RETURNING id, amount_cents, currency),
    new AS (
        INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                                  metadata, outcome, balance_after, ledger_entry_id, charge_id)
        SELECT d.id, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata,
               CASE d.decision WHEN 'charge' THEN 'processing' ELSE d.decision END,
               coalesce(entry.balance_after, 0), entry.id, ch.id
          FROM d LEFT JOIN entry ON true LEFT JOIN ch ON true
         WHERE d.decision IN ('credit', 'charge', 'unbilled')
        RETURNING *),
    e AS (
        SELECT * FROM new
        UNION ALL
        SELECT * FROM ev)
    SELECT d.decision, k.api_key_id, k.customer_id, k.key_prefix, k.requests, k.reset_seconds,
           e.id, e.outcome, e.balance_after, e.ledger_entry_id, e.fix_id, e.created_at,
           e.charge_id, coalesce(ch.amount_cents, x.amount_cents),
           coalesce(ch.currency, x.currency)::text, call.id, call.idempotency_key, call.params
      FROM d
      LEFT JOIN e ON d.decision NOT IN ('no_credit', 'delinquent')
      LEFT JOIN ch ON true
      LEFT JOIN call ON true
      LEFT JOIN charges x ON x.id = e.charge_id AND ch.id IS NULL;
END $$;
