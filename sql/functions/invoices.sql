-- invoices: what a Stripe invoice grants (DESIGN.md section 2; issue 13).
-- The domain re-fetches the invoice from Stripe and judges it
-- (domain/invoice.c); this records the verdict in stripe_invoices and, for
-- a qualifying invoice, grants the plan's credits -- once per invoice id,
-- whichever event (invoice.paid, invoice.payment_succeeded, the create
-- call's answer, a redelivery) names it.

-- invoice_record: record Stripe invoice p_invoice as Stripe answered it
-- (p_status, p_billing_reason, p_amount_paid cents of p_currency; all NULL
-- for an invoice Stripe does not have) with verdict p_verdict:
--   qualifies       a paid Pro subscription payment of our subscription
--                   p_subscription: grant the plan's included credits
--                   (pro_subscription_payment, reference = the invoice id)
--                   unless the invoice already granted;
--   not_qualifying  recorded with p_reason, grants nothing;
--   rejected        Stripe answered 404: recorded with p_reason, grants
--                   nothing.
-- An invoice that granted stays granted whatever a later verdict says. A
-- change of outcome is audited as invoice.recorded. Outcomes: granted (the
-- credits were written now; entry_id), already_granted, not_qualifying,
-- rejected.
CREATE FUNCTION invoice_record(p_invoice text, p_subscription uuid, p_stripe_customer text,
                               p_stripe_subscription text, p_status text,
                               p_billing_reason text, p_amount_paid bigint, p_currency text,
                               p_verdict text, p_reason text)
RETURNS TABLE (outcome text, entry_id bigint) LANGUAGE plpgsql AS $$
DECLARE
    s        subscriptions%ROWTYPE;
    cust     uuid;
    old      stripe_invoices%ROWTYPE;
    result   text := p_verdict;
    entry    bigint;
    grant_n  integer;
BEGIN
    IF p_verdict NOT IN ('qualifies', 'not_qualifying', 'rejected')
       OR (p_verdict = 'qualifies' AND p_subscription IS NULL) THEN
        RAISE EXCEPTION 'invoice_record: verdict % for subscription %', p_verdict, p_subscription
            USING ERRCODE = 'check_violation';
    END IF;
    p_currency := lower(p_currency); -- ISO 4217 as Stripe writes it
    IF p_subscription IS NOT NULL THEN
        SELECT * INTO STRICT s FROM subscriptions WHERE id = p_subscription;
        cust := s.customer_id;
        -- The customer's lock orders every grant of this customer's
        -- invoices (and the ledger's balance) against each other.
        PERFORM 1 FROM customers WHERE id = cust FOR UPDATE;
    ELSIF p_stripe_customer IS NOT NULL THEN
        SELECT id INTO cust FROM customers WHERE stripe_customer_id = p_stripe_customer;
    END IF;
    SELECT * INTO old FROM stripe_invoices WHERE id = p_invoice FOR UPDATE;

    IF old.outcome = 'granted' THEN
        result := 'already_granted';
        entry := old.credit_transaction_id;
    ELSIF p_verdict = 'qualifies' THEN
        SELECT id INTO entry FROM credit_transactions
         WHERE customer_id = cust AND kind = 'pro_subscription_payment' AND reference = p_invoice;
        IF FOUND THEN
            result := 'already_granted'; -- by 0.2.0's subscription_apply
        ELSE
            SELECT included_credits INTO STRICT grant_n FROM pricing_tiers WHERE tier = s.plan;
            INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
            VALUES (cust, grant_n, 'pro_subscription_payment', p_invoice,
                    format('Credits of a paid Pro invoice (%s %s)', p_amount_paid,
                           upper(p_currency)))
            RETURNING id INTO entry;
            result := 'granted';
        END IF;
    END IF;

    INSERT INTO stripe_invoices AS i
        (id, customer_id, subscription_id, stripe_customer_id, stripe_subscription_id, status,
         billing_reason, amount_paid, currency, outcome, reason, credit_transaction_id,
         recorded_by)
    VALUES (p_invoice, cust, p_subscription, p_stripe_customer, p_stripe_subscription, p_status,
            p_billing_reason, p_amount_paid, p_currency,
            CASE WHEN result IN ('granted', 'already_granted') THEN 'granted' ELSE result END,
            CASE WHEN result IN ('granted', 'already_granted') THEN NULL ELSE p_reason END,
            entry, audit_actor())
    ON CONFLICT (id) DO UPDATE
       SET customer_id = coalesce(EXCLUDED.customer_id, i.customer_id),
           subscription_id = coalesce(EXCLUDED.subscription_id, i.subscription_id),
           stripe_customer_id = coalesce(EXCLUDED.stripe_customer_id, i.stripe_customer_id),
           stripe_subscription_id = coalesce(EXCLUDED.stripe_subscription_id,
                                             i.stripe_subscription_id),
           status = coalesce(EXCLUDED.status, i.status),
           billing_reason = coalesce(EXCLUDED.billing_reason, i.billing_reason),
           amount_paid = coalesce(EXCLUDED.amount_paid, i.amount_paid),
           currency = coalesce(EXCLUDED.currency, i.currency),
           outcome = EXCLUDED.outcome, reason = EXCLUDED.reason,
           credit_transaction_id = EXCLUDED.credit_transaction_id,
           recorded_by = EXCLUDED.recorded_by, updated_at = now();

    IF old.outcome IS DISTINCT FROM
       (CASE WHEN result IN ('granted', 'already_granted') THEN 'granted' ELSE result END) THEN
        PERFORM audit_append('invoice.recorded', cust,
            CASE WHEN old.id IS NULL THEN NULL
                 ELSE jsonb_build_object('outcome', old.outcome, 'status', old.status) END,
            jsonb_strip_nulls(jsonb_build_object(
                'invoice', p_invoice, 'outcome', CASE WHEN result = 'already_granted'
                                                      THEN 'granted' ELSE result END,
                'status', p_status, 'billing_reason', p_billing_reason,
                'amount_paid', p_amount_paid, 'currency', p_currency, 'reason', p_reason,
                'credit_transaction_id', entry)));
    END IF;
    RETURN QUERY SELECT result, entry;
END $$;
