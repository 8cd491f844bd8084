-- charges: paying for a fix at balance 0 (DESIGN.md section 2): payg at
-- pricing_tiers.unit_price_cents of payg ($29.00), pro at Pro's overage
-- ($15.00). Phase 1 (the call, the pending charge, a 'processing' usage
-- event) is part of usage_record() (usage.sql); the worker then sends the
-- PaymentIntent and charge_settle() below is phase 3.

-- charge_settle: phase 3 of charge p_charge. p_outcome is 'succeeded'
-- (Stripe took the money), 'pending' (Stripe could not be reached or is
-- still processing: the fix is allowed, tollgate-worker finishes the call)
-- or 'failed' (declined). A 'processing' usage event becomes 'charged' with
-- +1 purchased and -1 fix_deployed, or, on failure, is removed so nothing
-- is consumed and its Idempotency-Key can be used again. A charge that had
-- been left pending and then fails puts the customer past_due, with a grace
-- period of p_grace. Safe to call again with the same outcome: a charge
-- already final changes nothing. Returns the usage event as it is now,
-- with its charge's amount and currency (no row when it was removed).
CREATE FUNCTION charge_settle(p_charge bigint, p_outcome text, p_payment_intent text,
                              p_failure_code text, p_decline_code text, p_result jsonb,
                              p_grace interval)
RETURNS TABLE (event_id bigint, event_outcome text, balance_after bigint, ledger_entry_id bigint,
               fix_id text, created_at timestamptz, charge_id bigint, amount_cents bigint,
               currency text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ch  charges%ROWTYPE;
    ev  usage_events%ROWTYPE;
    le  bigint;
BEGIN
    SELECT * INTO ch FROM charges x WHERE x.id = p_charge;
    IF NOT FOUND OR p_outcome NOT IN ('succeeded', 'pending', 'failed') THEN
        RAISE EXCEPTION 'charge_settle: charge % / outcome %', p_charge, p_outcome;
    END IF;
    PERFORM 1 FROM customers c WHERE c.id = ch.customer_id FOR UPDATE;
    SELECT * INTO ch FROM charges x WHERE x.id = p_charge;
    SELECT * INTO ev FROM usage_events u WHERE u.charge_id = p_charge;

    IF ch.status = 'pending' THEN
        UPDATE charges x
           SET status = p_outcome,
               stripe_payment_intent_id = coalesce(p_payment_intent, x.stripe_payment_intent_id),
               failure_code = p_failure_code, decline_code = p_decline_code, updated_at = now()
         WHERE x.id = p_charge;
        PERFORM stripe_request_finish(ch.stripe_request_id, p_outcome, p_result);

        IF p_outcome = 'failed' AND ev.outcome = 'processing' THEN
            PERFORM hold_unsettle(ev.id); -- a settled hold's charge: active again
            DELETE FROM usage_events u WHERE u.id = ev.id;
            RETURN;
        ELSIF p_outcome = 'failed' THEN
            -- The fix was allowed while the charge was pending: the
            -- customer owes it now. Grace period from here, for an
            -- account in good standing (a delinquent one stays as it is).
            PERFORM customer_mark_past_due(ch.customer_id, p_grace,
                                           ARRAY['active', 'past_due']);
        ELSE
            IF p_outcome = 'succeeded' THEN
                PERFORM customer_settle_if_clear(ch.customer_id);
            END IF;
            IF ev.outcome = 'processing' THEN
                INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
                VALUES (ch.customer_id, 1, 'purchased', 'charge:' || p_charge,
                        format('Bought for %s %s', ch.amount_cents, upper(ch.currency)));
                INSERT INTO credit_transactions (customer_id, amount, kind, reference)
                VALUES (ch.customer_id, -1, 'fix_deployed', ev.fix_id)
                RETURNING id INTO le;
                UPDATE usage_events u
                   SET outcome = 'charged', ledger_entry_id = le,
                       balance_after = (SELECT c.credit_balance FROM customers c
                                         WHERE c.id = ch.customer_id)
                 WHERE u.id = ev.id;
            END IF;
        END IF;
    END IF;
    RETURN QUERY SELECT u.id, u.outcome::text, u.balance_after::bigint, u.ledger_entry_id,
                        u.fix_id, u.created_at, u.charge_id, ch.amount_cents, ch.currency::text
                   FROM usage_events u WHERE u.charge_id = p_charge;
END $$;

-- charge_call_begin: phase 1 of a charge's Stripe call: an off-session
-- PaymentIntent of p_amount in p_currency with customer p_customer's
-- Stripe customer and default payment method, described as p_description,
-- recorded under a new tgch_ key (stripe_request_begin). For a fix at
-- balance 0 (usage_record) and for an owed charge again
-- (charges_owed_retry). Returns the call's id, key and params.
CREATE FUNCTION charge_call_begin(p_customer customers, p_amount bigint, p_currency text,
                                  p_description text)
RETURNS TABLE (id bigint, idempotency_key text, params jsonb) LANGUAGE sql AS $$
    SELECT r.id, r.idempotency_key, p.params
      FROM (SELECT jsonb_build_object('amount', p_amount, 'currency', p_currency,
                                      'customer', p_customer.stripe_customer_id,
                                      'payment_method', p_customer.default_payment_method,
                                      'description', p_description) AS params) p,
           stripe_request_begin(p_customer.id, 'charge', p.params) r;
$$;

-- charges_owed: what customer p_customer owes for fixes, the one
-- definition: every charge whose fix was delivered (its usage event is
-- 'charged') and that has not succeeded -- declined ('failed'), or still
-- 'pending' at Stripe, whether a first attempt or a retry of a declined
-- one (charges_owed_retry). An account is settled only when there is none
-- (customer_settle_if_clear); the failed ones are what a new card retries.
CREATE FUNCTION charges_owed(p_customer uuid) RETURNS SETOF charges
LANGUAGE sql STABLE AS $$
    SELECT x.* FROM charges x JOIN usage_events u ON u.charge_id = x.id
     WHERE x.customer_id = p_customer AND x.status <> 'succeeded' AND u.outcome = 'charged';
$$;

-- charges_owed_retry: phase 1 again for every owed charge that failed
-- (charges_owed; a pending one is being paid already), with the
-- customer's current default payment method: a new call with a new key,
-- since the failed PaymentIntent is final at Stripe. The charge is pending
-- again, and still owed until it succeeds. Returns the charges to run.
CREATE FUNCTION charges_owed_retry(p_customer uuid)
RETURNS TABLE (charge_id bigint) LANGUAGE plpgsql AS $$
DECLARE
    c    customers%ROWTYPE;
    ch   charges%ROWTYPE;
    req  bigint;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF c.default_payment_method IS NULL THEN
        RETURN;
    END IF;
    FOR ch IN SELECT o.* FROM charges_owed(p_customer) o WHERE o.status = 'failed'
               ORDER BY o.id
    LOOP
        SELECT b.id INTO req
          FROM charge_call_begin(c, ch.amount_cents, ch.currency,
                                 'tollgate: charge ' || ch.id || ', retried') b;
        UPDATE charges
           SET stripe_request_id = req, status = 'pending', failure_code = NULL,
               decline_code = NULL, updated_at = now()
         WHERE id = ch.id;
        charge_id := ch.id;
        RETURN NEXT;
    END LOOP;
END $$;
