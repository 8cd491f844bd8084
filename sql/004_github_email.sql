-- 004_github_email: GitHub Marketplace purchases and the e-mail outbox.
--
-- POST /webhooks/github stores every verified delivery in github_deliveries
-- by its X-GitHub-Delivery GUID (a redelivery changes nothing) and applies
-- marketplace_purchase events in the same statement: one SQL function per
-- action, so the request is one transaction and one round trip (DESIGN.md
-- section 1). A purchase provisions a customer through customer_onboard()
-- (source 'marketplace', trial credits, an API key) and queues the welcome
-- e-mail that carries the key.
--
-- email_outbox holds every e-mail tollgate sends. Mails are queued in the
-- transaction that causes them (a purchase, a customer becoming past_due)
-- or by tollgate-worker (grace_ending); tollgate-worker claims due ones with
-- FOR UPDATE SKIP LOCKED, sends them over SMTP and records the outcome with
-- email_outbox_done(), retrying with backoff. Delivery is at least once: a
-- worker that dies after the SMTP server took a mail and before recording
-- it sends it again once its lease is over (same Message-ID).

-- ---- customers: the GitHub account behind a marketplace customer ----------

ALTER TABLE customers
    -- GitHub's numeric account id (user or organization); one customer per
    -- account, so a repeated purchase never creates a second customer.
    ADD COLUMN github_account_id        bigint UNIQUE CHECK (github_account_id > 0),
    ADD COLUMN github_login             text,
    ADD COLUMN github_account_type      text,
    -- The Marketplace plan's name, and whether it is active or cancelled.
    ADD COLUMN github_plan              text,
    ADD COLUMN github_plan_status       text
                                        CHECK (github_plan_status IN ('active', 'cancelled')),
    -- effective_date of the purchase event applied last: an older event
    -- (GitHub does not promise order) never overwrites a newer one.
    ADD COLUMN github_plan_effective_at timestamptz,
    ADD COLUMN github_cancelled_at      timestamptz;

-- ---- the inbox of GitHub deliveries ---------------------------------------

CREATE TABLE github_deliveries (
    -- X-GitHub-Delivery: a GUID, the same on a redelivery.
    id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9-]{1,64}$'),
    event         text NOT NULL,                 -- X-GitHub-Event
    action        text,                          -- the payload's action
    account_id    bigint,                        -- marketplace_purchase.account.id
    customer_id   uuid REFERENCES customers (id),
    -- processed: applied; ignored: stored only (ping, other events, pending
    -- changes, an unknown account, an event older than the one applied).
    status        text NOT NULL CHECK (status IN ('processed', 'ignored')),
    note          text,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX github_deliveries_account ON github_deliveries (account_id, received_at)
    WHERE account_id IS NOT NULL;

-- ---- the e-mail outbox ----------------------------------------------------

CREATE TABLE email_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    kind             text NOT NULL
                     CHECK (kind IN ('welcome', 'payment_failed', 'grace_ending')),
    -- What the mail is about, once: welcome:<customer>,
    -- payment_failed:<customer>:<grace end>, grace_ending:<customer>:<grace end>.
    dedupe_key       text NOT NULL UNIQUE,
    -- Header fields: never a line break (no header injection).
    to_address       text NOT NULL
                     CHECK (length(to_address) BETWEEN 3 AND 254 AND to_address !~ '[\r\n<>]'),
    subject          text NOT NULL
                     CHECK (length(subject) BETWEEN 1 AND 200 AND subject !~ '[\r\n]'),
    -- Plain text. A welcome mail holds the API key until it is sent (or
    -- given up), then the key is cut to its display prefix (email_redact).
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX email_outbox_customer ON email_outbox (customer_id, created_at);

-- Finding past_due customers whose grace is ending (every worker pass).
CREATE INDEX customers_grace_running ON customers (grace_period_ends_at)
    WHERE billing_status = 'past_due';

-- Wake tollgate-worker (LISTEN tollgate_jobs) as soon as a mail is queued.
CREATE FUNCTION email_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_jobs', 'email');
    RETURN NULL;
END $$;
CREATE TRIGGER email_outbox_notify AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_notify();

-- email_redact: body with every API key (tg_live_/tg_test_ + 64 hex) cut
-- to its 12-character display prefix and an ellipsis.
CREATE FUNCTION email_redact(p_body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(p_body, '(tg_(live|test)_[0-9a-f]{4})[0-9a-f]{60}', '\1…', 'g');
$$;

-- email_queue: queue a mail of kind to the customer's current address,
-- once per dedupe key. Returns the new mail's id, or no row when a mail
-- with that key exists already (or there is no such customer, or its
-- address could not go into a header: never an error, since this runs
-- inside billing transactions).
CREATE FUNCTION email_queue(p_customer uuid, p_kind text, p_dedupe text, p_subject text,
                            p_body text)
RETURNS SETOF bigint LANGUAGE sql AS $$
    INSERT INTO email_outbox (customer_id, kind, dedupe_key, to_address, subject, body)
    SELECT c.id, p_kind, p_dedupe, c.email, p_subject, p_body
      FROM customers c
     WHERE c.id = p_customer
       AND c.email !~ '[\r\n<>]'
       AND NOT EXISTS (SELECT 1 FROM email_outbox e WHERE e.dedupe_key = p_dedupe)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id;
$$;

-- email_grace_text: when a grace period ends, for people (UTC).
CREATE FUNCTION email_grace_text(p_ends timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(to_char(p_ends AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), 'soon');
$$;

-- A customer that becomes past_due (customer_payment_failed, a charge that
-- failed after the fact: sql/002, sql/003) is told once per grace period.
CREATE FUNCTION email_on_past_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM email_queue(NEW.id, 'payment_failed',
        'payment_failed:' || NEW.id || ':' ||
            coalesce(extract(epoch FROM NEW.grace_period_ends_at)::bigint::text, 'none'),
        'tollgate: a payment failed',
        format(E'Hello %s,\n\n'
               'a payment for your tollgate account failed, so the account is now past due.\n'
               'Everything keeps working during the grace period, which ends at %s.\n'
               'If no payment succeeds by then, your credits stay usable but nothing that\n'
               'needs a charge is allowed any more.\n\n'
               'Please check the card on file, or add another one with\n'
               'POST /api/v1/customers/me/payment_method.\n\n'
               '-- \ntollgate\n',
               NEW.name, email_grace_text(NEW.grace_period_ends_at)));
    RETURN NULL;
END $$;
CREATE TRIGGER customers_past_due_email AFTER UPDATE OF billing_status ON customers
    FOR EACH ROW
    WHEN (NEW.billing_status = 'past_due' AND OLD.billing_status IS DISTINCT FROM 'past_due')
    EXECUTE FUNCTION email_on_past_due();

-- email_queue_grace_ending: for tollgate-worker: queue one grace_ending
-- mail per grace period of every past_due customer with fewer than 24 hours
-- of grace left. Returns how many were queued.
CREATE FUNCTION email_queue_grace_ending() RETURNS integer LANGUAGE sql AS $$
    WITH due AS (
        SELECT c.id, c.name, c.grace_period_ends_at,
               'grace_ending:' || c.id || ':' ||
                   extract(epoch FROM c.grace_period_ends_at)::bigint AS dedupe
          FROM customers c
         WHERE c.billing_status = 'past_due'
           AND c.grace_period_ends_at > now()
           AND c.grace_period_ends_at <= now() + interval '24 hours'
    ), queued AS (
        SELECT email_queue(d.id, 'grace_ending', d.dedupe,
                   'tollgate: your grace period ends within 24 hours',
                   format(E'Hello %s,\n\n'
                          'a payment for your tollgate account is still outstanding, and the\n'
                          'grace period ends at %s.\n'
                          'After that your credits stay usable, but nothing that needs a charge\n'
                          'is allowed until a payment succeeds.\n\n'
                          'Please check the card on file, or add another one with\n'
                          'POST /api/v1/customers/me/payment_method.\n\n'
                          '-- \ntollgate\n',
                          d.name, email_grace_text(d.grace_period_ends_at))) AS id
          FROM due d
         WHERE NOT EXISTS (SELECT 1 FROM email_outbox e WHERE e.dedupe_key = d.dedupe)
    )
    SELECT count(id)::integer FROM queued;
$$;

-- email_outbox_done: record one attempt at mail p_id: 'sent' (final),
-- 'failed' (final: the server refused it for good) or 'retry', which
-- schedules the next attempt (5 s doubling, at most 1 h apart) or, at
-- p_max_attempts, gives up ('failed'). A final mail's body is redacted
-- (email_redact), so no API key stays in the database. Returns the status.
CREATE FUNCTION email_outbox_done(p_id bigint, p_outcome text, p_error text,
                                  p_max_attempts integer)
RETURNS text LANGUAGE sql AS $$
    UPDATE email_outbox
       SET attempts = attempts + 1,
           status = CASE WHEN p_outcome = 'sent' THEN 'sent'
                         WHEN p_outcome = 'failed' OR attempts + 1 >= p_max_attempts
                             THEN 'failed'
                         ELSE 'pending' END,
           body = CASE WHEN p_outcome IN ('sent', 'failed') OR attempts + 1 >= p_max_attempts
                       THEN email_redact(body) ELSE body END,
           last_error = left(p_error, 1000),
           sent_at = CASE WHEN p_outcome = 'sent' THEN now() END,
           next_attempt_at = now() + least(interval '1 hour',
                                           interval '5 seconds' * power(2, least(attempts, 12)))
     WHERE id = p_id AND status = 'pending'
    RETURNING status;
$$;

-- ---- GitHub Marketplace ---------------------------------------------------

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
