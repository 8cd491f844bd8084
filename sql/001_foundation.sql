-- 001_foundation: customers, API keys, pricing tiers, the credit ledger and
-- usage events.
--
-- The ledger (credit_transactions) is the source of truth for credits. The
-- cached customers.credit_balance is maintained by a trigger on ledger
-- inserts, so "balance = sum of entries" holds by construction and both
-- change in the same transaction; the CHECK constraint makes a negative
-- balance impossible. Ledger rows can never be updated or deleted: a
-- mistake is corrected by a new entry (DESIGN.md section 2).

CREATE TABLE pricing_tiers (
    tier                 text PRIMARY KEY CHECK (tier IN ('trial', 'payg', 'pro')),
    currency             char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    -- Recurring price of the tier, in minor units of currency (cents).
    monthly_price_cents  bigint NOT NULL CHECK (monthly_price_cents >= 0),
    -- Credits granted on entering the tier: trial = signup grant, payg = the
    -- one-time bonus for adding billing, pro = credits per paid invoice.
    included_credits     integer NOT NULL CHECK (included_credits >= 0),
    -- Price of one fix once the balance is 0, in cents; NULL = refused (402).
    unit_price_cents     bigint CHECK (unit_price_cents IS NULL OR unit_price_cents > 0),
    description          text NOT NULL
);

INSERT INTO pricing_tiers VALUES
    ('trial', 'usd',     0,  5, NULL, 'Trial: 5 credits at signup, no billing'),
    ('payg',  'usd',     0,  5, 2900, 'Pay as you go: $29.00 per fix once credits run out'),
    ('pro',   'usd', 59900, 60, 1500, 'Pro: $599.00 a month, 60 credits, $15.00 overage');

CREATE TABLE customers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    source              text NOT NULL CHECK (source IN ('direct', 'marketplace', 'early_access')),
    tier                text NOT NULL DEFAULT 'trial' REFERENCES pricing_tiers (tier),
    -- none: no payment method; active; past_due (grace period running);
    -- delinquent (grace period over, nothing that needs a charge is allowed).
    billing_status      text NOT NULL DEFAULT 'none'
                        CHECK (billing_status IN ('none', 'active', 'past_due', 'delinquent')),
    credit_balance      bigint NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    -- Number of ledger entries; each entry's seq is taken from it under the
    -- row lock, so seq (not id) is the order in which balances changed.
    ledger_seq          bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid NOT NULL REFERENCES customers (id),
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash      bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    -- The first characters of the key, for display ("tg_test_1a2b").
    key_prefix    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_customer ON api_keys (customer_id);

CREATE TABLE credit_transactions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id     uuid NOT NULL REFERENCES customers (id),
    -- 1, 2, 3... per customer, in balance order; set by the trigger below.
    -- (ids are taken before the trigger waits for the customer's row lock,
    -- so two writers can commit in the other order than their ids.)
    seq             bigint NOT NULL DEFAULT 0, -- replaced by the trigger
    amount          bigint NOT NULL CHECK (amount <> 0),
    kind            text NOT NULL CHECK (kind IN (
                        'trial_signup', 'trial_billing_added', 'pro_subscription_payment',
                        'purchased', 'fix_deployed', 'adjustment', 'refund')),
    -- The balance right after this entry (set by the trigger below).
    balance_after   bigint NOT NULL CHECK (balance_after >= 0),
    -- What caused the entry: a usage event id, a Stripe invoice id, ...
    reference       text,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX credit_transactions_customer_seq ON credit_transactions (customer_id, seq);
-- A Stripe invoice (or any other external reference) grants a kind of
-- credit to a customer at most once.
CREATE UNIQUE INDEX credit_transactions_once ON credit_transactions (customer_id, kind, reference)
    WHERE kind IN ('trial_signup', 'trial_billing_added', 'pro_subscription_payment');

CREATE FUNCTION ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers
       SET credit_balance = credit_balance + NEW.amount, ledger_seq = ledger_seq + 1,
           updated_at = now()
     WHERE id = NEW.customer_id
    RETURNING credit_balance, ledger_seq INTO NEW.balance_after, NEW.seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger entry for unknown customer %', NEW.customer_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'credit_transactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'correct a mistake with a new adjustment or refund entry';
END $$;

CREATE TRIGGER credit_transactions_apply BEFORE INSERT ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_apply();
CREATE TRIGGER credit_transactions_no_update BEFORE UPDATE OR DELETE ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER credit_transactions_no_truncate BEFORE TRUNCATE ON credit_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

CREATE TABLE usage_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id       uuid NOT NULL REFERENCES customers (id),
    idempotency_key   text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the request body: the same key with another body is refused.
    request_hash      bytea NOT NULL CHECK (length(request_hash) = 32),
    kind              text NOT NULL CHECK (kind IN ('fix_deployed')),
    fix_id            text NOT NULL,
    metadata          jsonb,
    -- credit: paid from the balance; charged: a credit was purchased first.
    outcome           text NOT NULL CHECK (outcome IN ('credit', 'charged')),
    balance_after     bigint NOT NULL CHECK (balance_after >= 0),
    ledger_entry_id   bigint NOT NULL REFERENCES credit_transactions (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key)
);

-- usage_fix_deployed: record one deployed fix for a customer, paid with one
-- credit, as one statement (one round trip, one transaction).
--
-- The customer row is locked first, so usage for one customer is serialized:
-- with k credits and N parallel requests exactly k succeed, and a concurrent
-- duplicate waits and then sees the first request's event.
-- Returns one row; status is the HTTP status the caller answers with:
--   201 new event recorded; 200 replay of an existing event with the same key
--   and body; 422 the key was used with another body; 402 no credit and
--   nothing to charge (nothing is recorded, so the key stays free for a retry
--   once billing is set up); 404 unknown customer.
CREATE FUNCTION usage_fix_deployed(p_customer uuid, p_key text, p_hash bytea,
                                   p_fix_id text, p_metadata jsonb)
RETURNS TABLE (status integer, event_id bigint, outcome text, balance_after bigint,
               ledger_entry_id bigint, fix_id text, created_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    c   customers%ROWTYPE;
    ev  usage_events%ROWTYPE;
    le  bigint;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint,
                            NULL::text, NULL::timestamptz;
        RETURN;
    END IF;

    SELECT * INTO ev FROM usage_events u
     WHERE u.customer_id = p_customer AND u.idempotency_key = p_key;
    IF FOUND THEN
        IF ev.request_hash <> p_hash THEN
            RETURN QUERY SELECT 422, ev.id, NULL::text, NULL::bigint, NULL::bigint,
                                NULL::text, NULL::timestamptz;
        ELSE
            RETURN QUERY SELECT 200, ev.id, ev.outcome, ev.balance_after,
                                ev.ledger_entry_id, ev.fix_id, ev.created_at;
        END IF;
        RETURN;
    END IF;

    IF c.credit_balance <= 0 THEN
        -- Charging at balance 0 (payg, pro) arrives with the Stripe work;
        -- until then every customer without credit is refused.
        RETURN QUERY SELECT 402, NULL::bigint, NULL::text, 0::bigint, NULL::bigint,
                            NULL::text, NULL::timestamptz;
        RETURN;
    END IF;

    INSERT INTO credit_transactions (customer_id, amount, kind, reference)
    VALUES (p_customer, -1, 'fix_deployed', p_fix_id)
    RETURNING id INTO le;

    INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                              metadata, outcome, balance_after, ledger_entry_id)
    VALUES (p_customer, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata, 'credit',
            c.credit_balance - 1, le)
    RETURNING * INTO ev;

    RETURN QUERY SELECT 201, ev.id, ev.outcome, ev.balance_after, ev.ledger_entry_id,
                        ev.fix_id, ev.created_at;
END $$;

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
