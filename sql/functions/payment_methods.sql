-- payment_methods: a payment method added with billing consent
-- (DESIGN.md section 2).

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
