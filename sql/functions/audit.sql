-- audit: the append-only, hash-chained audit log and the triggers that
-- write it (see docs/audit-log.md). The actor is the session setting
-- tollgate.actor: "api_key:<prefix>" for API requests, "signup",
-- "github:<delivery>", "stripe:<evt_...>" and "worker" for
-- tollgate-worker, "operator:<login>" for tollgatectl; a change made any
-- other way (psql) is recorded as "db:<role>".

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
