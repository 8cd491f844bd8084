-- github: GitHub Marketplace deliveries. POST /webhooks/github stores every
-- verified delivery in github_deliveries by its X-GitHub-Delivery GUID (a
-- redelivery changes nothing) and applies marketplace_purchase events in
-- the same statement: one function per action, so the request is one
-- transaction and one round trip.

-- github_timestamp: GitHub's effective_date ("2017-10-25T00:00:00+00:00")
-- as a timestamp; NULL when absent or not a date, never an error.
CREATE FUNCTION github_timestamp(p_text text) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN p_text::timestamptz;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;

-- github_account_lock: serialize the deliveries of one GitHub account, so a
-- purchase delivered twice at once (or a purchase and a change) apply one
-- after the other. Held to the end of the transaction.
CREATE FUNCTION github_account_lock(p_account bigint) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(hashtextextended('tollgate.github_account:' || p_account, 0));
$$;

-- github_delivery_record: store a delivery that is not applied (ping,
-- events tollgate does not act on, pending changes) as 'ignored'. Returns
-- true when it is new, false for a redelivery.
CREATE FUNCTION github_delivery_record(p_delivery text, p_event text, p_action text,
                                       p_account bigint, p_payload jsonb, p_note text)
RETURNS boolean LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO github_deliveries (id, event, action, account_id, status, note, payload)
        VALUES (p_delivery, p_event, p_action, p_account, 'ignored', p_note, p_payload)
        ON CONFLICT (id) DO NOTHING
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM ins);
$$;

-- github_marketplace_purchased: apply a 'purchased' delivery. Outcomes:
--   duplicate    the delivery was stored before: nothing changes;
--   existing     the account is a customer already: its plan is recorded
--                (active again), no second customer, no second key or mail;
--   created      a new customer through customer_onboard() (source
--                'marketplace', trial credits, the API key whose hash and
--                prefix are given), linked to the account, and the welcome
--                mail with p_key queued;
--   email_taken  another customer has the e-mail: nothing is stored.
-- customer_id is the customer concerned (NULL for email_taken).
CREATE FUNCTION github_marketplace_purchased(p_delivery text, p_payload jsonb,
                                             p_account bigint, p_login text,
                                             p_account_type text, p_plan text,
                                             p_effective text, p_email text,
                                             p_key_hash bytea, p_key_prefix text, p_key text)
RETURNS TABLE (outcome text, customer_id uuid) LANGUAGE plpgsql AS $$
DECLARE
    eff  timestamptz := github_timestamp(p_effective);
    cid      uuid;
    bal      bigint;
    applied  boolean;
BEGIN
    PERFORM github_account_lock(p_account);
    -- Under the lock, each statement sees what the account's previous
    -- delivery committed (READ COMMITTED: a snapshot per statement).
    SELECT d.customer_id INTO cid FROM github_deliveries d WHERE d.id = p_delivery;
    IF FOUND THEN
        RETURN QUERY SELECT 'duplicate'::text, cid;
        RETURN;
    END IF;

    SELECT c.id INTO cid FROM customers c WHERE c.github_account_id = p_account FOR UPDATE;
    IF FOUND THEN
        UPDATE customers c
           SET github_login = p_login, github_account_type = p_account_type,
               github_plan = p_plan, github_plan_status = 'active',
               github_plan_effective_at = eff, github_cancelled_at = NULL, updated_at = now()
         WHERE c.id = cid
           AND (eff IS NULL OR c.github_plan_effective_at IS NULL
                OR eff >= c.github_plan_effective_at);
        applied := FOUND;
        INSERT INTO github_deliveries (id, event, action, account_id, customer_id, status, note,
                                       payload)
        VALUES (p_delivery, 'marketplace_purchase', 'purchased', p_account, cid,
                CASE WHEN applied THEN 'processed' ELSE 'ignored' END,
                CASE WHEN applied THEN 'account is a customer already: plan recorded'
                     ELSE 'older than the plan on record' END,
                p_payload);
        RETURN QUERY SELECT 'existing'::text, cid;
        RETURN;
    END IF;

    IF EXISTS (SELECT 1 FROM customers c WHERE lower(c.email) = lower(p_email)) THEN
        RETURN QUERY SELECT 'email_taken'::text, NULL::uuid;
        RETURN;
    END IF;
    SELECT o.id, o.credit_balance INTO cid, bal
      FROM customer_onboard(p_email, p_login, 'marketplace', p_key_hash, p_key_prefix) o;
    IF cid IS NULL THEN
        -- Taken since the check above by a concurrent signup: fail the
        -- statement, so nothing is stored and GitHub sees a 5xx.
        RAISE EXCEPTION 'github_marketplace_purchased: e-mail taken concurrently'
            USING ERRCODE = 'unique_violation';
    END IF;
    UPDATE customers c
       SET github_account_id = p_account, github_login = p_login,
           github_account_type = p_account_type, github_plan = p_plan,
           github_plan_status = 'active', github_plan_effective_at = eff, updated_at = now()
     WHERE c.id = cid;
    INSERT INTO github_deliveries (id, event, action, account_id, customer_id, status, note,
                                   payload)
    VALUES (p_delivery, 'marketplace_purchase', 'purchased', p_account, cid, 'processed',
            'customer created', p_payload);
    PERFORM email_queue(cid, 'welcome', 'welcome:' || cid, 'Your tollgate API key',
        format(E'Hello %s,\n\n'
               'thank you for choosing tollgate on the GitHub Marketplace (plan: %s).\n'
               'Your account starts with %s trial credits.\n\n'
               'Your API key:\n\n'
               '    %s\n\n'
               'This e-mail is the only place the key is ever shown: keep it in your\n'
               'secrets store now. tollgate keeps only a hash of it and cannot send it\n'
               'again. Send it with every request as\n\n'
               '    Authorization: Bearer <API key>\n\n'
               '-- \ntollgate\n',
               p_login, p_plan, bal, p_key));
    RETURN QUERY SELECT 'created'::text, cid;
END $$;

-- github_marketplace_update: apply a 'changed' (the new plan's name is
-- recorded and the plan is active) or 'cancelled' (the plan is marked
-- cancelled; credits, tier and API keys are kept) delivery. Outcomes:
-- duplicate, processed, unknown_account (no customer for the account:
-- stored as ignored), stale (effective_date older than the plan on record:
-- stored as ignored).
CREATE FUNCTION github_marketplace_update(p_delivery text, p_action text, p_payload jsonb,
                                          p_account bigint, p_login text, p_plan text,
                                          p_effective text)
RETURNS TABLE (outcome text, customer_id uuid) LANGUAGE plpgsql AS $$
DECLARE
    eff  timestamptz := github_timestamp(p_effective);
    c    customers%ROWTYPE;
    res  text;
BEGIN
    IF p_action NOT IN ('changed', 'cancelled') THEN
        RAISE EXCEPTION 'github_marketplace_update: action %', p_action;
    END IF;
    PERFORM github_account_lock(p_account);
    IF EXISTS (SELECT 1 FROM github_deliveries d WHERE d.id = p_delivery) THEN
        RETURN QUERY SELECT 'duplicate'::text, d.customer_id
                       FROM github_deliveries d WHERE d.id = p_delivery;
        RETURN;
    END IF;

    SELECT * INTO c FROM customers WHERE github_account_id = p_account FOR UPDATE;
    IF NOT FOUND THEN
        res := 'unknown_account';
    ELSIF eff IS NOT NULL AND c.github_plan_effective_at IS NOT NULL
          AND eff < c.github_plan_effective_at THEN
        res := 'stale';
    ELSIF p_action = 'cancelled' THEN
        UPDATE customers
           SET github_plan_status = 'cancelled', github_login = coalesce(p_login, github_login),
               github_cancelled_at = coalesce(eff, now()),
               github_plan_effective_at = coalesce(eff, github_plan_effective_at),
               updated_at = now()
         WHERE id = c.id;
        res := 'processed';
    ELSE
        UPDATE customers
           SET github_plan = coalesce(p_plan, github_plan), github_plan_status = 'active',
               github_login = coalesce(p_login, github_login), github_cancelled_at = NULL,
               github_plan_effective_at = coalesce(eff, github_plan_effective_at),
               updated_at = now()
         WHERE id = c.id;
        res := 'processed';
    END IF;

    INSERT INTO github_deliveries (id, event, action, account_id, customer_id, status, note,
                                   payload)
    VALUES (p_delivery, 'marketplace_purchase', p_action, p_account, c.id,
            CASE WHEN res = 'processed' THEN 'processed' ELSE 'ignored' END,
            CASE res WHEN 'unknown_account' THEN 'no customer for this GitHub account'
                     WHEN 'stale' THEN 'older than the plan on record'
                     WHEN 'processed' THEN CASE WHEN p_action = 'cancelled'
                                                THEN 'plan cancelled'
                                                ELSE 'plan changed to ' || coalesce(p_plan, '?')
                                           END END,
            p_payload);
    RETURN QUERY SELECT res, c.id;
END $$;
