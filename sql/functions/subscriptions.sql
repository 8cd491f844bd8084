-- subscriptions: Pro subscriptions through Stripe (DESIGN.md section 2). A
-- paid invoice of a subscription grants the plan's credits, keyed by the
-- Stripe invoice id so that the same invoice can never grant twice;
-- cancelling moves the customer back to payg, credits kept.

-- subscription_is_live: a subscription in Stripe status p_status is live
-- (it may still bill or grant: not canceled, not incomplete_expired, the
-- two states Stripe never leaves). A customer has at most one live
-- subscription. The unique index subscriptions_live (002, a migration:
-- never changed) spells the same test; the planner inlines this function,
-- so a query that uses it still matches that index.
CREATE FUNCTION subscription_is_live(p_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_status NOT IN ('canceled', 'incomplete_expired');
$$;

-- subscription_begin: phase 1 of starting a subscription on p_plan at
-- Stripe price p_price. Outcomes: begun (the call and a 'creating'
-- subscription are recorded: its id, the call's id and key, and the
-- customer's Stripe customer and payment method for the call),
-- already_subscribed (a live subscription exists), no_payment_method.
-- With p_seed (a request's Idempotency-Key, stripe_requests.sql) a call
-- begun with that seed before -- by the same request, which died before
-- answering -- is begun again: its subscription and call, so that the
-- retry resumes it with the same Stripe key instead of being refused.
CREATE FUNCTION subscription_begin(p_customer uuid, p_plan text, p_price text,
                                   p_seed text DEFAULT NULL)
RETURNS TABLE (outcome text, subscription_id uuid, request_id bigint,
               idempotency_key text, stripe_customer_id text, payment_method text)
LANGUAGE plpgsql AS $$
DECLARE
    c    customers%ROWTYPE;
    r    record;
    sid  uuid;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF p_seed IS NOT NULL THEN
        SELECT s.id AS sid, q.id, q.idempotency_key, q.params INTO r
          FROM stripe_requests q JOIN subscriptions s ON s.stripe_request_id = q.id
         WHERE q.idempotency_key = 'tgcre_idem' || p_seed AND q.customer_id = p_customer;
        IF FOUND THEN
            RETURN QUERY SELECT 'begun'::text, r.sid, r.id, r.idempotency_key,
                                r.params->>'customer', r.params->>'default_payment_method';
            RETURN;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM subscriptions s WHERE s.customer_id = p_customer
                  AND subscription_is_live(s.status)) THEN
        RETURN QUERY SELECT 'already_subscribed'::text, NULL::uuid, NULL::bigint, NULL::text,
                            NULL::text, NULL::text;
        RETURN;
    END IF;
    IF c.default_payment_method IS NULL OR c.stripe_customer_id IS NULL THEN
        RETURN QUERY SELECT 'no_payment_method'::text, NULL::uuid, NULL::bigint, NULL::text,
                            NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO r FROM stripe_request_begin(p_customer, 'create_subscription',
        jsonb_build_object('customer', c.stripe_customer_id, 'price', p_price,
                           'default_payment_method', c.default_payment_method), p_seed);
    INSERT INTO subscriptions (customer_id, plan, stripe_request_id, stripe_price_id)
    VALUES (p_customer, p_plan, r.id, p_price)
    RETURNING id INTO sid;
    RETURN QUERY SELECT 'begun'::text, sid, r.id, r.idempotency_key, c.stripe_customer_id,
                        c.default_payment_method;
END $$;

-- subscription_apply: record Stripe's view of a subscription (from the
-- create call's answer; from webhooks; from reconcile). p_invoice_id and
-- p_invoice_paid describe its latest invoice: a paid invoice grants the
-- plan's credits, keyed by the invoice id so the same invoice can never
-- grant twice, and a live subscription makes the customer pro. A
-- subscription that ended moves the customer back to payg, credits kept.
--
-- The customer's row is locked before the subscription is read, so the
-- read, and the rule "an ended subscription never comes back" (Stripe
-- cannot un-cancel one: a state fetched before a cancellation and applied
-- after it is old), see every committed change.
CREATE FUNCTION subscription_apply(p_subscription uuid, p_stripe_id text, p_status text,
                                   p_period_start timestamptz, p_period_end timestamptz,
                                   p_cancel_at_period_end boolean, p_canceled_at timestamptz,
                                   p_invoice_id text, p_invoice_paid boolean)
RETURNS SETOF subscriptions LANGUAGE plpgsql AS $$
DECLARE
    s       subscriptions%ROWTYPE;
    grant_n integer;
BEGIN
    PERFORM 1 FROM customers c JOIN subscriptions x ON x.customer_id = c.id
     WHERE x.id = p_subscription FOR UPDATE OF c;
    SELECT * INTO STRICT s FROM subscriptions WHERE id = p_subscription;
    IF NOT subscription_is_live(s.status) AND subscription_is_live(p_status) THEN
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

    -- Paying or about to: the plan's tier. Ended, or unpaid (Stripe has
    -- given up on its invoices): payg.
    IF p_status IN ('active', 'trialing', 'past_due') THEN
        UPDATE customers SET tier = s.plan, updated_at = now()
         WHERE id = s.customer_id AND tier <> s.plan;
    ELSIF NOT subscription_is_live(p_status) OR p_status = 'unpaid' THEN
        UPDATE customers SET tier = 'payg', updated_at = now()
         WHERE id = s.customer_id AND tier = s.plan;
    END IF;

    -- A paid invoice is paid whatever the subscription became since (a
    -- later renewal may have failed, or it may be cancelled): its credits
    -- are due.
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

-- subscription_apply_observed: subscription_apply (above), returning with
-- the subscription what it changed, for tollgate's metrics
-- (docs/operations/metrics.md): the subscription's status and
-- cancel_at_period_end and its customer's tier before, read under the lock
-- subscription_apply takes (so two concurrent applies of one change see it
-- once), and the tier after.
CREATE FUNCTION subscription_apply_observed(p_subscription uuid, p_stripe_id text,
                                            p_status text, p_period_start timestamptz,
                                            p_period_end timestamptz,
                                            p_cancel_at_period_end boolean,
                                            p_canceled_at timestamptz, p_invoice_id text,
                                            p_invoice_paid boolean)
RETURNS TABLE (sub subscriptions, prev_status text, prev_cancel_at_period_end boolean,
               prev_tier text, tier text)
LANGUAGE plpgsql AS $$
DECLARE
    before subscriptions%ROWTYPE;
    t      text;
BEGIN
    SELECT c.tier INTO t FROM customers c JOIN subscriptions x ON x.customer_id = c.id
     WHERE x.id = p_subscription FOR UPDATE OF c;
    SELECT * INTO STRICT before FROM subscriptions x WHERE x.id = p_subscription;
    SELECT a.* INTO sub
      FROM subscription_apply(p_subscription, p_stripe_id, p_status, p_period_start,
                              p_period_end, p_cancel_at_period_end, p_canceled_at,
                              p_invoice_id, p_invoice_paid) a;
    prev_status := before.status;
    prev_cancel_at_period_end := before.cancel_at_period_end;
    prev_tier := t;
    SELECT c.tier INTO tier FROM customers c WHERE c.id = before.customer_id;
    RETURN NEXT;
END $$;
