-- 005_operations: the audit log, feature flags (the billing kill switch and
-- the signup switch), per-API-key rate limits, API key management, manual
-- credit adjustments, and resetting a staging database.

-- ---- the audit log ---------------------------------------------------------
-- Every change of billing state appends a row: when, who (the actor), what
-- (the action), which customer, and the state before and after as JSON.
-- Rows are append-only and hash-chained: row n stores
--     hash = SHA-256(prev_hash || audit_content(row n))
-- where prev_hash is row n-1's hash (32 zero bytes for row 1), so a row
-- altered, removed or inserted by hand breaks the chain at that row.
-- tollgatectl verify-audit recomputes the chain independently (OpenSSL).
--
-- The actor is the session setting tollgate.actor: "api_key:<prefix>" for
-- API requests, "signup", "github:<delivery>", "stripe:<evt_...>" and
-- "worker" for tollgate-worker, "operator:<login>" for tollgatectl; a
-- change made any other way (psql) is recorded as "db:<role>".

CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY CHECK (seq > 0),
    occurred_at  timestamptz NOT NULL,
    actor        text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200 AND actor !~ '[\n\r]'),
    action       text NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- No foreign key: the log outlives the customers it names.
    customer_id  uuid,
    before       jsonb,
    after        jsonb,
    prev_hash    bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_customer ON audit_log (customer_id, seq) WHERE customer_id IS NOT NULL;

-- The chain's head: its row lock serializes appends, so seq has no gaps
-- and rows are chained in commit order.
CREATE TABLE audit_head (
    one   boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq   bigint NOT NULL,
    hash  bytea NOT NULL CHECK (length(hash) = 32)
);
INSERT INTO audit_head VALUES (true, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- audit_content: the exact text a row's hash covers: seq, time (RFC 3339
-- UTC, microseconds), actor, action, customer id (empty when none), before
-- and after (jsonb's text form, "null" when none), one a line.
CREATE FUNCTION audit_content(p_seq bigint, p_at timestamptz, p_actor text, p_action text,
                              p_customer uuid, p_before jsonb, p_after jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT p_seq::text || E'\n'
        || to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || E'\n'
        || p_actor || E'\n' || p_action || E'\n' || coalesce(p_customer::text, '') || E'\n'
        || coalesce(p_before::text, 'null') || E'\n' || coalesce(p_after::text, 'null');
$$;

-- audit_actor: who is changing things in this session (see above).
CREATE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT left(regexp_replace(coalesce(nullif(current_setting('tollgate.actor', true), ''),
                                        'db:' || session_user), '[\n\r]', ' ', 'g'), 200);
$$;

-- audit_append: append one row to the chain; returns its seq.
CREATE FUNCTION audit_append(p_action text, p_customer uuid, p_before jsonb, p_after jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head   audit_head%ROWTYPE;
    at     timestamptz := clock_timestamp();
    actor  text := audit_actor();
    h      bytea;
BEGIN
    SELECT * INTO STRICT head FROM audit_head FOR UPDATE;
    h := sha256(head.hash || convert_to(audit_content(head.seq + 1, at, actor, p_action,
                                                      p_customer, p_before, p_after), 'UTF8'));
    INSERT INTO audit_log VALUES (head.seq + 1, at, actor, p_action, p_customer, p_before,
                                  p_after, head.hash, h);
    UPDATE audit_head SET seq = head.seq + 1, hash = h;
    RETURN head.seq + 1;
END $$;

-- audit_diff: of the keys named, those whose values differ between a and b,
-- as {"before": {...}, "after": {...}}; NULL when none differ.
CREATE FUNCTION audit_diff(a jsonb, b jsonb, keys text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN count(*) = 0 THEN NULL
                ELSE jsonb_build_object('before', jsonb_object_agg(k, a -> k),
                                        'after', jsonb_object_agg(k, b -> k)) END
      FROM unnest(keys) k WHERE (a -> k) IS DISTINCT FROM (b -> k);
$$;

-- The billing state each table's audit covers.
CREATE FUNCTION audit_customers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    watched text[] := ARRAY['tier', 'billing_status', 'stripe_customer_id',
                            'default_payment_method', 'grace_period_ends_at',
                            'github_plan', 'github_plan_status'];
    d jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('customer.created', NEW.id, NULL,
                             jsonb_build_object('email', NEW.email, 'name', NEW.name,
                                                'source', NEW.source, 'tier', NEW.tier,
                                                'billing_status', NEW.billing_status));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM audit_append('customer.deleted', OLD.id,
                             jsonb_build_object('email', OLD.email, 'tier', OLD.tier,
                                                'credit_balance', OLD.credit_balance), NULL);
    ELSE
        d := audit_diff(to_jsonb(OLD), to_jsonb(NEW), watched);
        IF d IS NOT NULL THEN
            PERFORM audit_append('customer.updated', NEW.id, d -> 'before', d -> 'after');
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER customers_audit AFTER INSERT OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION audit_customers();
-- Only the watched columns: a ledger entry's balance update does not fire it.
CREATE TRIGGER customers_audit_update
    AFTER UPDATE OF tier, billing_status, stripe_customer_id, default_payment_method,
                    grace_period_ends_at, github_plan, github_plan_status ON customers
    FOR EACH ROW EXECUTE FUNCTION audit_customers();

CREATE FUNCTION audit_subscriptions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    watched text[] := ARRAY['status', 'stripe_subscription_id', 'cancel_at_period_end',
                            'current_period_end', 'canceled_at'];
    d jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('subscription.created', NEW.customer_id, NULL,
                             jsonb_build_object('subscription', NEW.id, 'plan', NEW.plan,
                                                'status', NEW.status,
                                                'stripe_price_id', NEW.stripe_price_id));
    ELSE
        d := audit_diff(to_jsonb(OLD), to_jsonb(NEW), watched);
        IF d IS NOT NULL THEN
            PERFORM audit_append('subscription.updated', NEW.customer_id,
                                 d -> 'before' || jsonb_build_object('subscription', NEW.id),
                                 d -> 'after');
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER subscriptions_audit AFTER INSERT OR UPDATE ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION audit_subscriptions();

-- Credits outside normal usage: grants, adjustments and refunds (a fix paid
-- by a credit, or by a credit bought for it, is usage, not audited).
CREATE FUNCTION audit_credits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append('credits.' || NEW.kind, NEW.customer_id,
                         jsonb_build_object('credit_balance', NEW.balance_after - NEW.amount),
                         jsonb_build_object('credit_balance', NEW.balance_after,
                                            'amount', NEW.amount, 'entry', NEW.id,
                                            'reference', NEW.reference,
                                            'description', NEW.description));
    RETURN NULL;
END $$;
CREATE TRIGGER credit_transactions_audit AFTER INSERT ON credit_transactions
    FOR EACH ROW WHEN (NEW.kind NOT IN ('fix_deployed', 'purchased'))
    EXECUTE FUNCTION audit_credits();

CREATE FUNCTION audit_charges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append('charge.refunded', NEW.customer_id,
                         jsonb_build_object('charge', OLD.id,
                                            'amount_refunded_cents', OLD.amount_refunded_cents),
                         jsonb_build_object('amount_refunded_cents', NEW.amount_refunded_cents,
                                            'currency', NEW.currency,
                                            'payment_intent', NEW.stripe_payment_intent_id));
    RETURN NULL;
END $$;
CREATE TRIGGER charges_audit AFTER UPDATE OF amount_refunded_cents ON charges
    FOR EACH ROW WHEN (OLD.amount_refunded_cents IS DISTINCT FROM NEW.amount_refunded_cents)
    EXECUTE FUNCTION audit_charges();

-- ---- API keys --------------------------------------------------------------

ALTER TABLE api_keys
    ADD COLUMN name text CHECK (length(name) BETWEEN 1 AND 100);
CREATE INDEX api_keys_customer_active ON api_keys (customer_id) WHERE revoked_at IS NULL;

CREATE FUNCTION audit_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM audit_append('api_key.created', NEW.customer_id, NULL,
                             jsonb_build_object('api_key', NEW.id, 'prefix', NEW.key_prefix,
                                                'name', NEW.name));
    ELSIF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        PERFORM audit_append('api_key.revoked', NEW.customer_id,
                             jsonb_build_object('api_key', NEW.id, 'prefix', NEW.key_prefix),
                             jsonb_build_object('revoked_at', NEW.revoked_at));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER api_keys_audit AFTER INSERT OR UPDATE OF revoked_at ON api_keys
    FOR EACH ROW EXECUTE FUNCTION audit_api_keys();

-- api_key_create: a new key for a customer that has fewer than p_max active
-- keys. status 201 with the key's row; 404 no such customer; 409 p_max
-- active keys already. The customer row lock serializes it with revokes.
CREATE FUNCTION api_key_create(p_customer uuid, p_key_hash bytea, p_key_prefix text,
                               p_name text, p_max integer)
RETURNS TABLE (status integer, id uuid, customer_id uuid, key_prefix text, name text,
               created_at timestamptz, last_used_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
BEGIN
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    IF (SELECT count(*) FROM api_keys a
         WHERE a.customer_id = p_customer AND a.revoked_at IS NULL) >= p_max THEN
        RETURN QUERY SELECT 409, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO api_keys (customer_id, key_hash, key_prefix, name)
    VALUES (p_customer, p_key_hash, p_key_prefix, p_name)
    RETURNING * INTO k;
    RETURN QUERY SELECT 201, k.id, k.customer_id, k.key_prefix, k.name, k.created_at,
                        k.last_used_at, k.revoked_at;
END $$;

-- api_key_revoke: revoke key p_key. p_customer, when not NULL, must own it
-- (an API client revoking its own keys; NULL: an operator). status 200 with
-- the key's row (also when it was revoked already: revoking is idempotent);
-- 404 no such key (or not the customer's); 409 it is the customer's last
-- active key and p_allow_last is false. Authentication reads revoked_at on
-- every request, so the key answers 401 on every worker as soon as this
-- commits.
CREATE FUNCTION api_key_revoke(p_customer uuid, p_key uuid, p_allow_last boolean)
RETURNS TABLE (status integer, id uuid, customer_id uuid, key_prefix text, name text,
               created_at timestamptz, last_used_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
BEGIN
    SELECT * INTO k FROM api_keys a
     WHERE a.id = p_key AND (p_customer IS NULL OR a.customer_id = p_customer);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    PERFORM 1 FROM customers c WHERE c.id = k.customer_id FOR UPDATE;
    SELECT * INTO STRICT k FROM api_keys a WHERE a.id = p_key;
    IF k.revoked_at IS NULL THEN
        IF NOT p_allow_last AND NOT EXISTS (SELECT 1 FROM api_keys a
                                             WHERE a.customer_id = k.customer_id
                                               AND a.revoked_at IS NULL AND a.id <> k.id) THEN
            RETURN QUERY SELECT 409, k.id, k.customer_id, k.key_prefix, k.name, k.created_at,
                                k.last_used_at, k.revoked_at;
            RETURN;
        END IF;
        UPDATE api_keys a SET revoked_at = now() WHERE a.id = p_key RETURNING * INTO k;
    END IF;
    RETURN QUERY SELECT 200, k.id, k.customer_id, k.key_prefix, k.name, k.created_at,
                        k.last_used_at, k.revoked_at;
END $$;

-- ---- per-API-key rate limits -------------------------------------------------
-- One counter per key and clock hour (UTC). The upsert is atomic, so with
-- any number of workers and hosts exactly the limit is admitted per window.

CREATE TABLE rate_limits (
    api_key_id    uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    requests      bigint NOT NULL CHECK (requests > 0),
    PRIMARY KEY (api_key_id, window_start)
);

-- api_key_authenticate: the active key with this hash, counted against
-- p_limit requests an hour (0: not counted). Sets the session's audit actor
-- to the key's prefix and touches last_used_at at most once a minute.
-- Returns no row for an unknown or revoked key; else the key, its customer,
-- the requests made in this window (this one included; 0 when not counted)
-- and the seconds until the window resets.
CREATE FUNCTION api_key_authenticate(p_key_hash bytea, p_limit bigint)
RETURNS TABLE (api_key_id uuid, customer_id uuid, key_prefix text, requests bigint,
               reset_seconds integer)
LANGUAGE plpgsql AS $$
DECLARE
    k       api_keys%ROWTYPE;
    win     timestamptz := date_trunc('hour', now());
    n       bigint := 0;
BEGIN
    SELECT * INTO k FROM api_keys a WHERE a.key_hash = p_key_hash AND a.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_keys a SET last_used_at = now() WHERE a.id = k.id;
    END IF;
    PERFORM set_config('tollgate.actor', 'api_key:' || k.key_prefix, false);
    IF p_limit > 0 THEN
        INSERT INTO rate_limits AS r VALUES (k.id, win, 1)
        ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE SET requests = r.requests + 1
        RETURNING r.requests INTO n;
    END IF;
    RETURN QUERY SELECT k.id, k.customer_id, k.key_prefix, n,
                        ceil(extract(epoch FROM win + interval '1 hour' - now()))::integer;
END $$;

-- rate_limits_prune: drop the counters of windows that are over.
CREATE FUNCTION rate_limits_prune() RETURNS bigint LANGUAGE sql AS $$
    WITH d AS (DELETE FROM rate_limits WHERE window_start < date_trunc('hour', now()) RETURNING 1)
    SELECT count(*) FROM d;
$$;

-- ---- feature flags -----------------------------------------------------------
-- A flag is on for rollout_percent of its subjects: a subject (a customer
-- id; for signup, the lower-cased e-mail address) is in when the first four
-- bytes of SHA-256("<flag>:<subject>"), read as a big-endian number, modulo
-- 100 are below the percentage. The same subject always falls in the same
-- bucket, so raising the percentage only ever adds subjects.

CREATE TABLE feature_flags (
    name             text PRIMARY KEY
                     CHECK (name IN ('billing_enabled', 'automated_customer_onboarding')),
    rollout_percent  integer NOT NULL CHECK (rollout_percent BETWEEN 0 AND 100),
    description      text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO feature_flags (name, rollout_percent, description) VALUES
    ('billing_enabled', 100,
     'kill switch: off = usage is recorded but nothing is charged'),
    ('automated_customer_onboarding', 100,
     'off = POST /api/v1/customers answers 503 signup-closed');

CREATE FUNCTION audit_feature_flags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM audit_append('flag.set', NULL,
                         jsonb_build_object('flag', OLD.name,
                                            'rollout_percent', OLD.rollout_percent),
                         jsonb_build_object('rollout_percent', NEW.rollout_percent));
    RETURN NULL;
END $$;
CREATE TRIGGER feature_flags_audit AFTER UPDATE ON feature_flags
    FOR EACH ROW EXECUTE FUNCTION audit_feature_flags();

-- feature_bucket: the subject's bucket, 0..99, for flag p_name.
CREATE FUNCTION feature_bucket(p_name text, p_subject text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT (('x' || left(encode(sha256(convert_to(p_name || ':' || p_subject, 'UTF8')), 'hex'),
                         8))::bit(32)::bigint % 100)::integer;
$$;

-- feature_enabled: flag p_name is on for p_subject. An unknown flag is on.
CREATE FUNCTION feature_enabled(p_name text, p_subject text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT f.rollout_percent >= 100
                            OR (f.rollout_percent > 0
                                AND feature_bucket(p_name, p_subject) < f.rollout_percent)
                       FROM feature_flags f WHERE f.name = p_name), true);
$$;

-- feature_flag_set: set a flag's percentage (audited); no row when unknown.
CREATE FUNCTION feature_flag_set(p_name text, p_percent integer)
RETURNS SETOF feature_flags LANGUAGE sql AS $$
    UPDATE feature_flags SET rollout_percent = p_percent, updated_at = now()
     WHERE name = p_name RETURNING *;
$$;

-- ---- the billing kill switch in usage ------------------------------------------
-- With billing_enabled off for the customer, a fix that would be charged (no
-- credit left, a chargeable tier, a payment method, not delinquent) is
-- recorded as 'unbilled': no charge, no ledger entry. Fixes paid by a
-- credit, and fixes refused for want of billing, are unchanged.

ALTER TABLE usage_events
    DROP CONSTRAINT usage_events_outcome_check,
    ADD CONSTRAINT usage_events_outcome_check
        CHECK (outcome IN ('credit', 'charged', 'processing', 'unbilled')),
    DROP CONSTRAINT usage_events_settled,
    ADD CONSTRAINT usage_events_settled
        CHECK ((outcome IN ('processing', 'unbilled')) = (ledger_entry_id IS NULL));

-- 002's function keeps the billing rules; the new usage_fix_deployed only
-- decides whether billing is off for this request.
ALTER FUNCTION usage_fix_deployed(uuid, text, bytea, text, jsonb)
    RENAME TO usage_fix_deployed_billed;

CREATE FUNCTION usage_fix_deployed(p_customer uuid, p_key text, p_hash bytea,
                                   p_fix_id text, p_metadata jsonb)
RETURNS TABLE (status integer, event_id bigint, outcome text, balance_after bigint,
               ledger_entry_id bigint, fix_id text, created_at timestamptz,
               charge_id bigint, reason text)
LANGUAGE plpgsql AS $$
DECLARE
    c     customers%ROWTYPE;
    tier  pricing_tiers%ROWTYPE;
    ev    usage_events%ROWTYPE;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF FOUND AND c.credit_balance = 0
       AND NOT feature_enabled('billing_enabled', p_customer::text)
       AND NOT EXISTS (SELECT 1 FROM usage_events u
                        WHERE u.customer_id = p_customer AND u.idempotency_key = p_key) THEN
        SELECT * INTO tier FROM pricing_tiers t WHERE t.tier = c.tier;
        IF tier.unit_price_cents IS NOT NULL AND c.default_payment_method IS NOT NULL
           AND c.stripe_customer_id IS NOT NULL AND c.billing_status <> 'delinquent' THEN
            INSERT INTO usage_events (customer_id, idempotency_key, request_hash, kind, fix_id,
                                      metadata, outcome, balance_after)
            VALUES (p_customer, p_key, p_hash, 'fix_deployed', p_fix_id, p_metadata,
                    'unbilled', 0)
            RETURNING * INTO ev;
            RETURN QUERY SELECT 201, ev.id, ev.outcome, ev.balance_after, NULL::bigint,
                                ev.fix_id, ev.created_at, NULL::bigint, NULL::text;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM usage_fix_deployed_billed(p_customer, p_key, p_hash, p_fix_id,
                                                         p_metadata);
END $$;

-- ---- manual credit adjustments ---------------------------------------------------

-- credits_adjust: an 'adjustment' ledger entry of p_amount credits (either
-- sign) with the operator's reason. status 200 with the entry; 404 no such
-- customer; 409 the balance would go negative (nothing written; the balance
-- is returned); 422 p_amount is 0 or the reason empty.
CREATE FUNCTION credits_adjust(p_customer uuid, p_amount bigint, p_reason text)
RETURNS TABLE (status integer, entry_id bigint, balance_after bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c   customers%ROWTYPE;
    le  credit_transactions%ROWTYPE;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 404, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_amount = 0 OR coalesce(btrim(p_reason), '') = '' THEN
        RETURN QUERY SELECT 422, NULL::bigint, c.credit_balance;
        RETURN;
    END IF;
    IF c.credit_balance + p_amount < 0 THEN
        RETURN QUERY SELECT 409, NULL::bigint, c.credit_balance;
        RETURN;
    END IF;
    INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
    VALUES (p_customer, p_amount, 'adjustment', 'manual:' || audit_actor(), p_reason)
    RETURNING * INTO le;
    RETURN QUERY SELECT 200, le.id, le.balance_after;
END $$;

-- ---- staging ----------------------------------------------------------------------

-- staging_email: an address reset-staging may delete (RFC 2606 example.com).
CREATE FUNCTION staging_email(p_email text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT lower(p_email) LIKE '%@example.com' OR lower(p_email) LIKE '%@test.example.com';
$$;

-- The ledger stays append-only, except that staging_reset() may delete the
-- entries of staging customers.
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tollgate.staging_reset', true) = 'on'
       AND EXISTS (SELECT 1 FROM customers c
                    WHERE c.id = OLD.customer_id AND staging_email(c.email)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'credit_transactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'correct a mistake with a new adjustment or refund entry';
END $$;

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

-- ---- subscription_apply under the customer's lock ----------------------------
-- 002's subscription_apply read the subscription before taking the
-- customer's row lock, so a state fetched from Stripe before a cancellation
-- and applied while it committed could see the row still active and bring
-- the ended subscription back (found by test_billing under ASan timing).
-- Taking the lock first makes its read, and its "an ended subscription
-- never comes back" rule, see every committed change.
ALTER FUNCTION subscription_apply(uuid, text, text, timestamptz, timestamptz, boolean,
                                  timestamptz, text, boolean)
    RENAME TO subscription_apply_locked;

CREATE FUNCTION subscription_apply(p_subscription uuid, p_stripe_id text, p_status text,
                                   p_period_start timestamptz, p_period_end timestamptz,
                                   p_cancel_at_period_end boolean, p_canceled_at timestamptz,
                                   p_invoice_id text, p_invoice_paid boolean)
RETURNS SETOF subscriptions LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM customers c JOIN subscriptions s ON s.customer_id = c.id
     WHERE s.id = p_subscription FOR UPDATE OF c;
    RETURN QUERY SELECT * FROM subscription_apply_locked(p_subscription, p_stripe_id, p_status,
        p_period_start, p_period_end, p_cancel_at_period_end, p_canceled_at, p_invoice_id,
        p_invoice_paid);
END $$;
