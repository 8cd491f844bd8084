-- staging: resetting a staging database (tollgatectl reset-staging, which
-- refuses in production): the customers at @example.com and
-- @test.example.com go, and one customer per billing state is seeded.

-- staging_email: an address reset-staging may delete (RFC 2606 example.com).
CREATE FUNCTION staging_email(p_email text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(p_email) LIKE '%@example.com' OR lower(p_email) LIKE '%@test.example.com';
$$;

-- staging_reset: delete every customer at @example.com or @test.example.com
-- with everything that belongs to them (the audit log keeps its rows and
-- records the reset). The caller (tollgatectl reset-staging) refuses in
-- production. Returns the number of rows deleted per table.
CREATE FUNCTION staging_reset() RETURNS TABLE (tbl text, deleted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    ids   uuid[];
    n     bigint;
    counts jsonb := '{}';
BEGIN
    PERFORM set_config('tollgate.staging_reset', 'on', true);
    SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO ids
      FROM (SELECT id FROM customers WHERE staging_email(email) ORDER BY id FOR UPDATE) s;

    DELETE FROM holds WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('holds', n);
    DELETE FROM spend_limit_notices WHERE customer_id = ANY (ids);
    DELETE FROM spend_limits WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('spend_limits', n);
    DELETE FROM usage_events WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('usage_events', n);
    DELETE FROM charges WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('charges', n);
    DELETE FROM subscriptions WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('subscriptions', n);
    DELETE FROM stripe_requests WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('stripe_requests', n);
    DELETE FROM email_outbox WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('email_outbox', n);
    DELETE FROM github_deliveries WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('github_deliveries', n);
    DELETE FROM api_keys WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('api_keys', n);
    DELETE FROM credit_transactions WHERE customer_id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    counts := counts || jsonb_build_object('credit_transactions', n);
    DELETE FROM customers WHERE id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT; counts := counts || jsonb_build_object('customers', n);

    PERFORM set_config('tollgate.staging_reset', 'off', true);
    PERFORM audit_append('staging.reset', NULL, NULL, jsonb_build_object('deleted', counts));
    RETURN QUERY SELECT key, value::bigint FROM jsonb_each_text(counts);
END $$;

-- staging_seed_ledger: p_n entries of p_amount and p_kind (references
-- p_ref-1, p_ref-2, ...).
CREATE FUNCTION staging_seed_ledger(p_customer uuid, p_n integer, p_amount bigint, p_kind text,
                                    p_ref text, p_description text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
    SELECT p_customer, p_amount, p_kind, p_ref || '-' || i, p_description
      FROM generate_series(1, p_n) i;
$$;

-- staging_seed_customer: one customer in billing state p_state (see
-- tollgatectl(8), reset-staging), with the API key given. The Stripe ids are
-- placeholders (cus_seed_..., pm_seed_..., sub_seed_..., in_seed_...):
-- local fixtures, not objects at Stripe. Returns the customer's id.
CREATE FUNCTION staging_seed_customer(p_state text, p_email text, p_name text,
                                      p_key_hash bytea, p_key_prefix text, p_price text,
                                      p_grace interval)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
    cid   uuid;
    tag   text;
    sub   uuid;
BEGIN
    SELECT id INTO STRICT cid FROM customer_onboard(p_email, p_name, 'direct', p_key_hash,
                                                    p_key_prefix);
    tag := left(replace(cid::text, '-', ''), 14);
    IF p_state = 'trial' THEN
        RETURN cid;
    ELSIF p_state = 'trial_exhausted' THEN
        PERFORM staging_seed_ledger(cid, 5, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
        RETURN cid;
    END IF;

    -- Every other state has billing: the payg bonus, like a real card.
    UPDATE customers
       SET stripe_customer_id = 'cus_seed_' || tag, default_payment_method = 'pm_seed_' || tag,
           billing_consent_at = now(), billing_status = 'active', tier = 'payg'
     WHERE id = cid;
    PERFORM staging_seed_ledger(cid, 1, 5, 'trial_billing_added', 'billing_added-seed',
                                'Bonus credits for adding a payment method');
    IF p_state = 'trial_with_billing' THEN
        RETURN cid;
    ELSIF p_state = 'payg' THEN
        PERFORM staging_seed_ledger(cid, 10, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
        RETURN cid;
    END IF;

    -- Pro states: a subscription in its 11th day, its first invoice paid.
    INSERT INTO subscriptions (customer_id, plan, stripe_subscription_id, stripe_price_id, status,
                               current_period_start, current_period_end)
    VALUES (cid, 'pro', 'sub_seed_' || tag, p_price, 'active', now() - interval '10 days',
            now() + interval '20 days')
    RETURNING id INTO sub;
    UPDATE customers SET tier = 'pro' WHERE id = cid;
    PERFORM staging_seed_ledger(cid, 10, -1, 'fix_deployed', 'fix_seed_trial', 'Seeded fix');
    PERFORM staging_seed_ledger(cid, 1, 60, 'pro_subscription_payment', 'in_seed_' || tag,
                                'Credits of a paid Pro invoice');
    IF p_state = 'pro_partly_used' THEN
        PERFORM staging_seed_ledger(cid, 23, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
    ELSIF p_state = 'pro_past_due' THEN
        PERFORM staging_seed_ledger(cid, 48, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
        UPDATE subscriptions SET status = 'past_due' WHERE id = sub;
        UPDATE customers
           SET billing_status = 'past_due', grace_period_ends_at = now() + p_grace
         WHERE id = cid;
    ELSIF p_state = 'pro_cancelled' THEN
        PERFORM staging_seed_ledger(cid, 40, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
        UPDATE subscriptions SET status = 'canceled', canceled_at = now() - interval '1 day'
         WHERE id = sub;
        UPDATE customers SET tier = 'payg' WHERE id = cid;
    ELSIF p_state = 'pro_cancel_scheduled' THEN
        UPDATE subscriptions SET cancel_at_period_end = true WHERE id = sub;
    ELSIF p_state = 'pro_rolled_over' THEN
        -- Last month's credits, 19 of them used, and this month's on top.
        PERFORM staging_seed_ledger(cid, 19, -1, 'fix_deployed', 'fix_seed', 'Seeded fix');
        PERFORM staging_seed_ledger(cid, 1, 60, 'pro_subscription_payment',
                                    'in_seed_' || tag || '_2', 'Credits of a paid Pro invoice');
    ELSIF p_state <> 'pro' THEN
        RAISE EXCEPTION 'unknown staging state %', p_state;
    END IF;
    RETURN cid;
END $$;
