-- 002_billing: Stripe customers and payment methods, Pro subscriptions,
-- charges, and the table of Stripe calls ("atomic phases", DESIGN.md
-- section 4): a call is committed here with its idempotency key before it
-- is sent, and its result is applied in a second transaction. A crash in
-- between leaves a pending row that tollgate-worker finishes with the same
-- key, so Stripe never acts twice and never acts without the ledger knowing.

ALTER TABLE customers
    ADD COLUMN stripe_customer_id     text UNIQUE,
    ADD COLUMN default_payment_method text,
    ADD COLUMN billing_consent_at     timestamptz,
    ADD COLUMN grace_period_ends_at   timestamptz;

CREATE TABLE stripe_requests (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sent as Idempotency-Key (sub-calls append ":<step>").
    idempotency_key  text NOT NULL UNIQUE,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    operation        text NOT NULL CHECK (operation IN (
                         'attach_payment_method', 'create_subscription',
                         'cancel_subscription', 'charge')),
    -- Everything needed to repeat the call exactly.
    params           jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed')),
    result           jsonb,
    attempts         integer NOT NULL DEFAULT 0,
    -- When tollgate-worker may take a pending call. A call never attempted
    -- (attempts = 0) is also left to the request that made it for
    -- stripe_call_grace_seconds (configuration) before the worker takes it.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_requests_pending ON stripe_requests (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE charges (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id               uuid NOT NULL REFERENCES customers (id),
    stripe_request_id         bigint NOT NULL UNIQUE REFERENCES stripe_requests (id),
    -- Integer minor units (cents) of currency; never floating point.
    amount_cents              bigint NOT NULL CHECK (amount_cents > 0),
    currency                  char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    tier                      text NOT NULL CHECK (tier IN ('payg', 'pro')),
    status                    text NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'succeeded', 'failed')),
    stripe_payment_intent_id  text UNIQUE,
    failure_code              text,
    decline_code              text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_customer ON charges (customer_id, id DESC);

CREATE TABLE subscriptions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id             uuid NOT NULL REFERENCES customers (id),
    plan                    text NOT NULL REFERENCES pricing_tiers (tier),
    stripe_request_id       bigint REFERENCES stripe_requests (id),
    stripe_subscription_id  text UNIQUE,
    stripe_price_id         text NOT NULL,
    -- Stripe's subscription status; 'creating' until Stripe has answered.
    status                  text NOT NULL DEFAULT 'creating' CHECK (status IN (
                                'creating', 'incomplete', 'incomplete_expired', 'trialing',
                                'active', 'past_due', 'canceled', 'unpaid', 'paused')),
    current_period_start    timestamptz,
    current_period_end      timestamptz,
    cancel_at_period_end    boolean NOT NULL DEFAULT false,
    canceled_at             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- One live subscription per customer.
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (customer_id)
    WHERE status NOT IN ('canceled', 'incomplete_expired');

-- A usage event paid by a charge: 'processing' while the charge is with
-- Stripe (a duplicate request then gets 409), 'charged' once settled or
-- left pending with Stripe unreachable.
ALTER TABLE usage_events
    DROP CONSTRAINT usage_events_outcome_check,
    ADD CONSTRAINT usage_events_outcome_check
        CHECK (outcome IN ('credit', 'charged', 'processing')),
    ALTER COLUMN ledger_entry_id DROP NOT NULL,
    ADD COLUMN charge_id bigint REFERENCES charges (id),
    ADD CONSTRAINT usage_events_settled
        CHECK ((outcome = 'processing') = (ledger_entry_id IS NULL));

-- A grant keyed by its reference happens once ('billing_added' for the
-- one-time payment-method bonus; the Stripe invoice id for Pro credits).
-- credit_transactions_once from 001 already covers these kinds.

-- NOTE for every function below: never INSERT into credit_transactions with
-- ON CONFLICT: its BEFORE trigger moves the balance before the conflict is
-- detected. Lock the customer row, check, then insert.

-- usage_fix_deployed (replaces 001's): as before, and when the balance is 0
-- and the customer can be charged (tier payg or pro, a default payment
-- method, not delinquent), phase 1 of a charge: the Stripe call (with its
-- idempotency key), the pending charge and a 'processing' usage event are
-- committed together; status 202 tells the caller to run the charge
-- (charge_settle() is phase 3). A request whose event is still
-- 'processing' gets 409. 402 now also carries why (reason).
DROP FUNCTION usage_fix_deployed(uuid, text, bytea, text, jsonb);
CREATE FUNCTION usage_fix_deployed(p_customer uuid, p_key text, p_hash bytea,
                                   p_fix_id text, p_metadata jsonb)
RETURNS TABLE (status integer, event_id bigint, outcome text, balance_after bigint,
               ledger_entry_id bigint, fix_id text, created_at timestamptz,
               charge_id bigint, reason text)
LANGUAGE plpgsql AS $$
DECLARE
    c     customers%ROWTYPE;
    ev    usage_events%ROWTYPE;
    tier  pricing_tiers%ROWTYPE;
    le    bigint;
    req   bigint;
    ch    bigint;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint,
                            NULL::text, NULL::timestamptz, NULL::bigint, NULL::text;
        RETURN;
    END IF;

    SELECT * INTO ev FROM usage_events u
     WHERE u.customer_id = p_customer AND u.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT CASE WHEN ev.request_hash <> p_hash THEN 422
                                 WHEN ev.outcome = 'processing' THEN 409
                                 ELSE 200 END,
                            ev.id, ev.outcome, ev.balance_after, ev.ledger_entry_id,
                            ev.fix_id, ev.created_at, ev.charge_id, NULL::text;
        RETURN;
    END IF;

    IF c.credit_balance > 0 THEN
        INSERT INTO credit_transactions (customer_id, amount, kind, reference)
        VALUES (p_customer, -1, 'fix_deployed', p_fix_id)
        RETURNING id INTO le;
        INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                                  metadata, outcome, balance_after, ledger_entry_id)
        VALUES (p_customer, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata, 'credit',
                c.credit_balance - 1, le)
        RETURNING * INTO ev;
        RETURN QUERY SELECT 201, ev.id, ev.outcome, ev.balance_after, ev.ledger_entry_id,
                            ev.fix_id, ev.created_at, NULL::bigint, NULL::text;
        RETURN;
    END IF;

    SELECT * INTO tier FROM pricing_tiers t WHERE t.tier = c.tier;
    IF tier.unit_price_cents IS NULL OR c.default_payment_method IS NULL
       OR c.stripe_customer_id IS NULL OR c.billing_status = 'delinquent' THEN
        RETURN QUERY SELECT 402, NULL::bigint, NULL::text, 0::bigint, NULL::bigint, NULL::text,
                            NULL::timestamptz, NULL::bigint,
                            CASE WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                                 ELSE 'no_billing' END;
        RETURN;
    END IF;

    INSERT INTO stripe_requests (idempotency_key, customer_id, operation, params)
    VALUES ('tgch_' || replace(gen_random_uuid()::text, '-', ''), p_customer, 'charge',
            jsonb_build_object('amount', tier.unit_price_cents, 'currency', tier.currency,
                               'customer', c.stripe_customer_id,
                               'payment_method', c.default_payment_method,
                               'description', 'tollgate: fix ' || p_fix_id))
    RETURNING id INTO req;
    INSERT INTO charges (customer_id, stripe_request_id, amount_cents, currency, tier)
    VALUES (p_customer, req, tier.unit_price_cents, tier.currency, c.tier)
    RETURNING id INTO ch;
    INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                              metadata, outcome, balance_after, charge_id)
    VALUES (p_customer, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata, 'processing',
            0, ch)
    RETURNING * INTO ev;
    RETURN QUERY SELECT 202, ev.id, ev.outcome, ev.balance_after, NULL::bigint, ev.fix_id,
                        ev.created_at, ch, NULL::text;
END $$;

-- charge_settle: phase 3 of a charge. p_outcome is 'succeeded' (Stripe
-- took the money), 'pending' (Stripe could not be reached or is still
-- processing: the fix is allowed, tollgate-worker finishes the call) or
-- 'failed' (declined). A 'processing' usage event becomes 'charged' with
-- +1 purchased and -1 fix_deployed, or, on failure, is removed so nothing is
-- consumed and its Idempotency-Key can be used again. A charge that had been
-- left pending and then fails puts the customer past_due. Safe to call
-- again with the same outcome. Returns the usage event's row (none if it
-- was removed).
CREATE FUNCTION charge_settle(p_charge bigint, p_outcome text, p_payment_intent text,
                              p_failure_code text, p_decline_code text, p_result jsonb,
                              p_grace interval)
RETURNS SETOF usage_events LANGUAGE plpgsql AS $$
DECLARE
    ch  charges%ROWTYPE;
    ev  usage_events%ROWTYPE;
    c   customers%ROWTYPE;
    le  bigint;
BEGIN
    SELECT * INTO ch FROM charges WHERE id = p_charge;
    IF NOT FOUND OR p_outcome NOT IN ('succeeded', 'pending', 'failed') THEN
        RAISE EXCEPTION 'charge_settle: charge % / outcome %', p_charge, p_outcome;
    END IF;
    SELECT * INTO c FROM customers WHERE id = ch.customer_id FOR UPDATE;
    SELECT * INTO ev FROM usage_events WHERE charge_id = p_charge FOR UPDATE;

    IF ch.status <> 'pending' THEN
        -- Already final: a repeated settle changes nothing.
        IF FOUND THEN RETURN NEXT ev; END IF;
        RETURN;
    END IF;

    UPDATE charges
       SET status = p_outcome,
           stripe_payment_intent_id = coalesce(p_payment_intent, stripe_payment_intent_id),
           failure_code = p_failure_code, decline_code = p_decline_code, updated_at = now()
     WHERE id = p_charge;
    PERFORM stripe_request_finish(ch.stripe_request_id, p_outcome, p_result);

    IF p_outcome = 'failed' THEN
        IF ev.outcome = 'processing' THEN
            DELETE FROM usage_events WHERE id = ev.id;
            RETURN;
        END IF;
        -- The fix was allowed while the charge was pending: the customer
        -- owes it now. Grace period from here (DESIGN.md section 2).
        UPDATE customers
           SET billing_status = 'past_due',
               grace_period_ends_at = coalesce(grace_period_ends_at, now() + p_grace),
               updated_at = now()
         WHERE id = c.id AND billing_status IN ('active', 'past_due');
        RETURN NEXT ev;
        RETURN;
    END IF;

    IF p_outcome = 'succeeded' THEN
        PERFORM customer_settle_if_clear(c.id);
    END IF;
    IF ev.outcome = 'processing' THEN
        INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
        VALUES (c.id, 1, 'purchased', 'charge:' || p_charge,
                format('Bought for %s %s', ch.amount_cents, upper(ch.currency)));
        INSERT INTO credit_transactions (customer_id, amount, kind, reference)
        VALUES (c.id, -1, 'fix_deployed', ev.fix_id)
        RETURNING id INTO le;
        UPDATE usage_events
           SET outcome = 'charged', ledger_entry_id = le,
               balance_after = (SELECT credit_balance FROM customers WHERE id = c.id)
         WHERE id = ev.id
        RETURNING * INTO ev;
    END IF;
    RETURN NEXT ev;
END $$;

-- stripe_request_begin: phase 1 of a Stripe call that is not a charge: the
-- call and its idempotency key committed before anything is sent.
-- Returns the new row's id and key.
CREATE FUNCTION stripe_request_begin(p_customer uuid, p_operation text, p_params jsonb)
RETURNS TABLE (id bigint, idempotency_key text) LANGUAGE sql AS $$
    INSERT INTO stripe_requests (customer_id, operation, params, idempotency_key)
    VALUES (p_customer, p_operation, p_params,
            'tg' || left(p_operation, 3) || '_' || replace(gen_random_uuid()::text, '-', ''))
    RETURNING id, idempotency_key;
$$;

-- stripe_request_finish: record the final result of a call (succeeded or
-- failed), or schedule a pending one for tollgate-worker with exponential
-- backoff from 1 s to 1 h.
CREATE FUNCTION stripe_request_finish(p_request bigint, p_status text, p_result jsonb)
RETURNS void LANGUAGE sql AS $$
    UPDATE stripe_requests
       SET status = p_status, result = p_result, attempts = attempts + 1, updated_at = now(),
           next_attempt_at = now() + least(interval '1 hour',
                                           interval '1 second' * power(2, least(attempts, 12)))
     WHERE id = p_request;
$$;

-- payment_method_superseded: a later attachment of the customer has
-- already succeeded, so call p_request must not change the default.
CREATE FUNCTION payment_method_superseded(p_request bigint, p_customer uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM stripe_requests
                    WHERE customer_id = p_customer AND operation = 'attach_payment_method'
                      AND status = 'succeeded' AND id > p_request);
$$;

-- payment_method_added: phase 3 of attaching a payment method with billing
-- consent (DESIGN.md section 2): it becomes the default, billing becomes
-- active, a trial customer moves to payg, and +5 trial_billing_added is
-- granted once per customer ever (pricing_tiers.included_credits of payg).
CREATE FUNCTION payment_method_added(p_request bigint, p_customer uuid, p_payment_method text,
                                     p_result jsonb)
RETURNS SETOF customers LANGUAGE plpgsql AS $$
DECLARE
    c      customers%ROWTYPE;
    bonus  integer;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    -- A call finished late (after a crash, or Stripe down) must not replace a
    -- card the customer added after it: calls are numbered in order.
    IF payment_method_superseded(p_request, p_customer) THEN
        p_payment_method := c.default_payment_method;
    END IF;
    UPDATE customers
       SET default_payment_method = p_payment_method,
           billing_consent_at = coalesce(billing_consent_at, now()),
           billing_status = CASE WHEN billing_status = 'none' THEN 'active' ELSE billing_status END,
           tier = CASE WHEN tier = 'trial' THEN 'payg' ELSE tier END,
           updated_at = now()
     WHERE id = p_customer;
    SELECT included_credits INTO STRICT bonus FROM pricing_tiers WHERE tier = 'payg';
    IF bonus > 0 AND NOT EXISTS (SELECT 1 FROM credit_transactions
                                  WHERE customer_id = p_customer
                                    AND kind = 'trial_billing_added') THEN
        INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
        VALUES (p_customer, bonus, 'trial_billing_added', 'billing_added',
                'Bonus credits for adding a payment method');
    END IF;
    PERFORM stripe_request_finish(p_request, 'succeeded', p_result);
    RETURN QUERY SELECT * FROM customers WHERE id = p_customer;
END $$;

-- subscription_begin: phase 1 of starting a subscription on plan. Refuses
-- (status 409) when the customer already has a live one, 402 when it has
-- no default payment method; otherwise records the call and a 'creating'
-- subscription and answers 202 with the call's id and key.
CREATE FUNCTION subscription_begin(p_customer uuid, p_plan text, p_price text)
RETURNS TABLE (status integer, subscription_id uuid, request_id bigint,
               idempotency_key text, stripe_customer_id text, payment_method text)
LANGUAGE plpgsql AS $$
DECLARE
    c    customers%ROWTYPE;
    r    record;
    sid  uuid;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = p_customer
                  AND s.status NOT IN ('canceled', 'incomplete_expired')) THEN
        RETURN QUERY SELECT 409, NULL::uuid, NULL::bigint, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF c.default_payment_method IS NULL OR c.stripe_customer_id IS NULL THEN
        RETURN QUERY SELECT 402, NULL::uuid, NULL::bigint, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO r FROM stripe_request_begin(p_customer, 'create_subscription',
        jsonb_build_object('customer', c.stripe_customer_id, 'price', p_price,
                           'default_payment_method', c.default_payment_method));
    INSERT INTO subscriptions (customer_id, plan, stripe_request_id, stripe_price_id)
    VALUES (p_customer, p_plan, r.id, p_price)
    RETURNING id INTO sid;
    RETURN QUERY SELECT 202, sid, r.id, r.idempotency_key, c.stripe_customer_id,
                        c.default_payment_method;
END $$;

-- subscription_apply: record Stripe's view of a subscription (from the
-- create call's answer now; from webhooks later). p_invoice_id and
-- p_invoice_paid describe its latest invoice: a paid invoice of a live
-- subscription grants the plan's credits, keyed by the invoice id so the
-- same invoice can never grant twice, and makes the customer pro. A
-- subscription that ended moves the customer back to payg, credits kept.
CREATE FUNCTION subscription_apply(p_subscription uuid, p_stripe_id text, p_status text,
                                   p_period_start timestamptz, p_period_end timestamptz,
                                   p_cancel_at_period_end boolean, p_canceled_at timestamptz,
                                   p_invoice_id text, p_invoice_paid boolean)
RETURNS SETOF subscriptions LANGUAGE plpgsql AS $$
DECLARE
    s      subscriptions%ROWTYPE;
    grant_n integer;
BEGIN
    SELECT * INTO STRICT s FROM subscriptions WHERE id = p_subscription;
    PERFORM 1 FROM customers WHERE id = s.customer_id FOR UPDATE;
    -- An ended subscription never comes back (Stripe cannot un-cancel one):
    -- a state fetched before the cancellation and applied after it is old.
    IF s.status IN ('canceled', 'incomplete_expired')
       AND p_status NOT IN ('canceled', 'incomplete_expired') THEN
        p_status := s.status;
        p_cancel_at_period_end := s.cancel_at_period_end;
        p_canceled_at := s.canceled_at;
    END IF;
    UPDATE subscriptions
       SET stripe_subscription_id = coalesce(p_stripe_id, stripe_subscription_id),
           status = p_status, current_period_start = p_period_start,
           current_period_end = p_period_end, cancel_at_period_end = p_cancel_at_period_end,
           canceled_at = p_canceled_at, updated_at = now()
     WHERE id = p_subscription
    RETURNING * INTO s;

    IF p_status IN ('active', 'trialing', 'past_due') THEN
        UPDATE customers SET tier = s.plan, updated_at = now()
         WHERE id = s.customer_id AND tier <> s.plan;
    ELSIF p_status IN ('canceled', 'incomplete_expired', 'unpaid') THEN
        UPDATE customers SET tier = 'payg', updated_at = now()
         WHERE id = s.customer_id AND tier = s.plan;
    END IF;

    -- A paid invoice is paid whatever the subscription became since (a later
    -- renewal may have failed, or it may be cancelled): its credits are due.
    IF p_invoice_paid AND p_invoice_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM credit_transactions
                        WHERE customer_id = s.customer_id AND kind = 'pro_subscription_payment'
                          AND reference = p_invoice_id) THEN
        SELECT included_credits INTO STRICT grant_n FROM pricing_tiers WHERE tier = s.plan;
        INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
        VALUES (s.customer_id, grant_n, 'pro_subscription_payment', p_invoice_id,
                'Credits of a paid Pro invoice');
    END IF;
    PERFORM customer_settle_if_clear(s.customer_id);
    RETURN NEXT s;
END $$;

-- customer_settle_if_clear: back to active, grace cleared, when the customer
-- owes nothing any more: no charge that failed after its fix was delivered,
-- and no subscription Stripe reports past_due or unpaid.
CREATE FUNCTION customer_settle_if_clear(p_customer uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE customers c
       SET billing_status = 'active', grace_period_ends_at = NULL, updated_at = now()
     WHERE c.id = p_customer AND c.billing_status IN ('past_due', 'delinquent')
       AND NOT EXISTS (SELECT 1 FROM charges x JOIN usage_events u ON u.charge_id = x.id
                        WHERE x.customer_id = c.id AND x.status = 'failed'
                          AND u.outcome = 'charged')
       AND NOT EXISTS (SELECT 1 FROM subscriptions s
                        WHERE s.customer_id = c.id AND s.status IN ('past_due', 'unpaid'));
$$;

-- charges_owed_retry: phase 1 again for every charge that failed after its
-- fix was delivered (the customer owes it), with the customer's current
-- default payment method: a new call with a new key, since the failed
-- PaymentIntent is final at Stripe. Returns the charges to run.
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
    FOR ch IN SELECT x.* FROM charges x JOIN usage_events u ON u.charge_id = x.id
               WHERE x.customer_id = p_customer AND x.status = 'failed'
                 AND u.outcome = 'charged'
               ORDER BY x.id
    LOOP
        INSERT INTO stripe_requests (idempotency_key, customer_id, operation, params)
        VALUES ('tgch_' || replace(gen_random_uuid()::text, '-', ''), p_customer, 'charge',
                jsonb_build_object('amount', ch.amount_cents, 'currency', ch.currency,
                                   'customer', c.stripe_customer_id,
                                   'payment_method', c.default_payment_method,
                                   'description', 'tollgate: charge ' || ch.id || ', retried'))
        RETURNING id INTO req;
        UPDATE charges
           SET stripe_request_id = req, status = 'pending', failure_code = NULL,
               decline_code = NULL, updated_at = now()
         WHERE id = ch.id;
        charge_id := ch.id;
        RETURN NEXT;
    END LOOP;
END $$;
