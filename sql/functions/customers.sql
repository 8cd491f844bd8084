-- customers: onboarding and the billing status of a customer (DESIGN.md
-- section 2): active, past_due while a grace period runs after a failed
-- payment, delinquent once it is over (credits still usable, nothing that
-- needs a charge), and back to active when nothing is owed any more.

-- customer_onboard: create a customer, its first API key and the signup
-- credits (pricing_tiers.included_credits of 'trial') in one statement.
-- Returns the new customer's row, or no row when the e-mail is taken.
CREATE FUNCTION customer_onboard(p_email text, p_name text, p_source text,
                                 p_key_hash bytea, p_key_prefix text)
RETURNS SETOF customers LANGUAGE plpgsql AS $$
DECLARE
    cid     uuid;
    grant_n integer;
BEGIN
    INSERT INTO customers (email, name, source)
    VALUES (p_email, p_name, p_source)
    ON CONFLICT ((lower(email))) DO NOTHING
    RETURNING id INTO cid;
    IF cid IS NULL THEN
        RETURN;
    END IF;

    INSERT INTO api_keys (customer_id, key_hash, key_prefix)
    VALUES (cid, p_key_hash, p_key_prefix);

    SELECT included_credits INTO STRICT grant_n FROM pricing_tiers WHERE tier = 'trial';
    IF grant_n > 0 THEN
        INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
        VALUES (cid, grant_n, 'trial_signup', 'signup', 'Trial credits at signup');
    END IF;

    RETURN QUERY SELECT * FROM customers WHERE id = cid;
END $$;

-- customer_signup: a signup through the API in one statement (one round
-- trip: DESIGN.md section 1). Outcomes: 'signup_closed' when the
-- automated_customer_onboarding flag is off for p_subject (the lower-cased
-- address; nothing is changed); else the customer is onboarded
-- (customer_onboard) with p_actor as the session's audit actor:
-- 'created' with its row in customer, or 'email_taken'.
CREATE FUNCTION customer_signup(p_email text, p_name text, p_source text, p_key_hash bytea,
                                p_key_prefix text, p_subject text, p_actor text)
RETURNS TABLE (outcome text, customer customers) LANGUAGE plpgsql AS $$
DECLARE
    c customers%ROWTYPE;
BEGIN
    IF NOT feature_enabled('automated_customer_onboarding', p_subject) THEN
        RETURN QUERY SELECT 'signup_closed'::text, NULL::customers;
        RETURN;
    END IF;
    PERFORM set_config('tollgate.actor', p_actor, false);
    SELECT * INTO c FROM customer_onboard(p_email, p_name, p_source, p_key_hash, p_key_prefix);
    IF c.id IS NULL THEN
        RETURN QUERY SELECT 'email_taken'::text, NULL::customers;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'created'::text, c;
END $$;

-- customer_settle_if_clear: back to active, grace cleared, when the customer
-- owes nothing any more: no charge for a delivered fix that is unpaid
-- (charges_owed: declined, or a retry still pending), and no subscription
-- Stripe reports past_due or unpaid.
CREATE FUNCTION customer_settle_if_clear(p_customer uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE customers c
       SET billing_status = 'active', grace_period_ends_at = NULL, updated_at = now()
     WHERE c.id = p_customer AND c.billing_status IN ('past_due', 'delinquent')
       AND NOT EXISTS (SELECT 1 FROM charges_owed(c.id))
       AND NOT EXISTS (SELECT 1 FROM subscriptions s
                        WHERE s.customer_id = c.id AND s.status IN ('past_due', 'unpaid'));
$$;

-- customer_mark_past_due: a payment of p_customer failed (DESIGN.md
-- section 2): past_due, and a grace period of p_grace starts now unless
-- one is already running; a delinquent customer stays delinquent (its
-- grace period is over). Only a customer whose billing_status is one of
-- p_from (NULL: any) is changed, since the callers differ on purpose:
-- charge_settle marks an account in good standing only, while
-- customer_payment_failed takes any customer Stripe names (and reports a
-- delinquent one as found). Returns the customer when changed.
CREATE FUNCTION customer_mark_past_due(p_customer uuid, p_grace interval, p_from text[])
RETURNS SETOF customers LANGUAGE sql AS $$
    UPDATE customers c
       SET billing_status = CASE WHEN c.billing_status = 'delinquent' THEN 'delinquent'
                                 ELSE 'past_due' END,
           grace_period_ends_at = coalesce(c.grace_period_ends_at, now() + p_grace),
           updated_at = now()
     WHERE c.id = p_customer AND (p_from IS NULL OR c.billing_status = ANY (p_from))
    RETURNING c.*;
$$;

-- payment_failed: an invoice of the customer failed: past_due, and the
-- grace period starts (unless one is already running), whatever its
-- billing status (customer_mark_past_due). Returns the customers of
-- p_stripe_customer, delinquent ones included.
CREATE FUNCTION customer_payment_failed(p_stripe_customer text, p_grace interval)
RETURNS SETOF customers LANGUAGE sql AS $$
    SELECT m.* FROM customers c, customer_mark_past_due(c.id, p_grace, NULL) m
     WHERE c.stripe_customer_id = p_stripe_customer;
$$;

-- customer_payment_succeeded: an invoice was paid: back to active unless
-- something else is still owed (customer_settle_if_clear).
CREATE FUNCTION customer_payment_succeeded(p_stripe_customer text)
RETURNS TABLE (id uuid) LANGUAGE sql AS $$
    SELECT customer_settle_if_clear(c.id) FROM customers c
     WHERE c.stripe_customer_id = p_stripe_customer;
    SELECT c.id FROM customers c
     WHERE c.stripe_customer_id = p_stripe_customer AND c.billing_status = 'active';
$$;

-- grace_periods_expire: past_due customers whose grace period is over
-- become delinquent (credits still usable; charges refused). Returns them.
CREATE FUNCTION grace_periods_expire() RETURNS SETOF customers LANGUAGE sql AS $$
    UPDATE customers
       SET billing_status = 'delinquent', updated_at = now()
     WHERE billing_status = 'past_due' AND grace_period_ends_at <= now()
    RETURNING *;
$$;

-- customers_keep_references: a customer with ledger entries or usage
-- events is not deleted (staging_reset() deletes those first). This is the
-- customer's side of the references those tables hold without foreign
-- keys (006: a foreign key's check cost every metered fix a query; this
-- costs nothing until someone deletes a customer).
CREATE FUNCTION customers_keep_references() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM credit_transactions t WHERE t.customer_id = OLD.id)
       OR EXISTS (SELECT 1 FROM usage_events u WHERE u.customer_id = OLD.id) THEN
        RAISE EXCEPTION 'customer % has ledger entries or usage events', OLD.id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'the ledger is append-only: a customer with a history stays';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER customers_keep_references BEFORE DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION customers_keep_references();

