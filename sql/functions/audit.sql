-- audit: the append-only, hash-chained audit log and the triggers that
-- write it (see docs/audit-log.md). The actor is the session setting
-- tollgate.actor: "api_key:<prefix>" for API requests, "signup",
-- "github:<delivery>", "stripe:<evt_...>" and "worker" for
-- tollgate-worker, "operator:<login>" for tollgatectl; a change made any
-- other way (psql) is recorded as "db:<role>".
--
-- Each customer's rows form one hash chain, rows without a customer the
-- 'system' chain (sql/007_audit_chains.sql). Row n of a chain stores
--     hash = SHA-256(prev_hash || audit_row_content(row))
-- with prev_hash the hash of row n-1 of the same chain (32 zero bytes for
-- row 1); the chain's head (audit_chains) holds its last seq and hash, and
-- its row lock serializes appends to that chain only. audit_seal(), run by
-- tollgate-worker at most once a minute, seals the heads of the chains
-- that changed since the last seal, each seal chained to the one before.
-- tollgatectl verify-audit recomputes all of it independently (OpenSSL).

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- A head moves forward (audit_append, audit_seal); it is never removed.
CREATE TRIGGER audit_chains_no_delete BEFORE DELETE ON audit_chains
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_chains_no_truncate BEFORE TRUNCATE ON audit_chains
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_seals_no_update BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_seal_heads_no_update BEFORE UPDATE OR DELETE ON audit_seal_heads
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TRIGGER audit_seal_heads_no_truncate BEFORE TRUNCATE ON audit_seal_heads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- audit_time: t as RFC 3339 UTC with microseconds (2026-11-22T09:38:46.662765Z).
CREATE FUNCTION audit_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
$$;

-- audit_content_v1: what a format 1 row's hash covers (005's formula, the
-- rows of the global chain before 007): seq, time, actor, action,
-- customer id (empty when none), before and after (jsonb's text form,
-- "null" when none), one a line.
CREATE FUNCTION audit_content_v1(p_seq bigint, p_at timestamptz, p_actor text, p_action text,
                                 p_customer uuid, p_before jsonb, p_after jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT p_seq::text || E'\n' || audit_time(p_at) || E'\n'
        || p_actor || E'\n' || p_action || E'\n' || coalesce(p_customer::text, '') || E'\n'
        || coalesce(p_before::text, 'null') || E'\n' || coalesce(p_after::text, 'null');
$$;

-- audit_content_v2: what a format 2 row's hash covers: the chain, the
-- row's place in it, then as format 1 (seq, time, actor, action, customer,
-- before, after), one a line. A row moved to another chain or place, or
-- renumbered in the log, no longer matches its hash.
CREATE FUNCTION audit_content_v2(p_chain text, p_chain_seq bigint, p_seq bigint,
                                 p_at timestamptz, p_actor text, p_action text, p_customer uuid,
                                 p_before jsonb, p_after jsonb)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT p_chain || E'\n' || p_chain_seq::text || E'\n'
        || audit_content_v1(p_seq, p_at, p_actor, p_action, p_customer, p_before, p_after);
$$;

-- audit_row_content: what row a's hash covers, by its format.
CREATE FUNCTION audit_row_content(a audit_log) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE a.format
        WHEN 1 THEN audit_content_v1(a.seq, a.occurred_at, a.actor, a.action, a.customer_id,
                                     a.before, a.after)
        ELSE audit_content_v2(a.chain, a.chain_seq, a.seq, a.occurred_at, a.actor, a.action,
                              a.customer_id, a.before, a.after) END;
$$;

-- audit_actor: who is changing things in this session (see above).
CREATE FUNCTION audit_actor() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT left(regexp_replace(coalesce(nullif(current_setting('tollgate.actor', true), ''),
                                        'db:' || session_user), '[\n\r]', ' ', 'g'), 200);
$$;

-- audit_append: append one row to the chain of p_customer (the system
-- chain when NULL); returns its seq in the whole log. Waits only for
-- other appends to the same chain: the chain's head is locked (FOR NO KEY
-- UPDATE) until the transaction ends, and seq and the time are taken
-- under that lock, so both grow along a chain. A chain's first row
-- creates its head with the row's seq and hash at once; when another
-- transaction creates the same chain at the same moment, the insert waits
-- for it and this append then chains on to its row.
CREATE FUNCTION audit_append(p_action text, p_customer uuid, p_before jsonb, p_after jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    k      text := coalesce(p_customer::text, 'system');
    actor  text := audit_actor();
    prev   bytea;
    n      bigint;
    s      bigint;
    at     timestamptz;
    h      bytea;
BEGIN
    SELECT c.seq + 1, c.hash INTO n, prev FROM audit_chains c WHERE c.chain = k
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        n := 1;
        prev := decode(repeat('00', 32), 'hex');
        s := nextval('audit_log_seq');
        at := clock_timestamp();
        h := sha256(prev || convert_to(audit_content_v2(k, n, s, at, actor, p_action, p_customer,
                                                        p_before, p_after), 'UTF8'));
        INSERT INTO audit_chains (chain, seq, hash) VALUES (k, n, h)
        ON CONFLICT (chain) DO NOTHING;
        IF FOUND THEN
            INSERT INTO audit_log (seq, occurred_at, actor, action, customer_id, before, after,
                                   prev_hash, hash, chain, chain_seq, format)
            VALUES (s, at, actor, p_action, p_customer, p_before, p_after, prev, h, k, n, 2);
            RETURN s;
        END IF;
        SELECT c.seq + 1, c.hash INTO STRICT n, prev FROM audit_chains c WHERE c.chain = k
           FOR NO KEY UPDATE;
    END IF;
    s := nextval('audit_log_seq');
    at := clock_timestamp();
    h := sha256(prev || convert_to(audit_content_v2(k, n, s, at, actor, p_action, p_customer,
                                                    p_before, p_after), 'UTF8'));
    INSERT INTO audit_log (seq, occurred_at, actor, action, customer_id, before, after,
                           prev_hash, hash, chain, chain_seq, format)
    VALUES (s, at, actor, p_action, p_customer, p_before, p_after, prev, h, k, n, 2);
    UPDATE audit_chains SET seq = n, hash = h WHERE chain = k;
    RETURN s;
END $$;

-- audit_seal_content: what seal p_seal's hash covers: "seal", its seq,
-- time and number of heads, then one line per head in byte order of the
-- chain: "<chain> <seq> <hash in hex>".
CREATE FUNCTION audit_seal_content(p_seal bigint, p_at timestamptz, p_chains integer)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT 'seal' || E'\n' || p_seal::text || E'\n' || audit_time(p_at) || E'\n'
        || p_chains::text
        || coalesce((SELECT string_agg(E'\n' || h.chain || ' ' || h.chain_seq::text || ' '
                                       || encode(h.hash, 'hex'), '' ORDER BY h.chain)
                       FROM audit_seal_heads h WHERE h.seal = p_seal), '');
$$;

-- audit_seal: seal the heads of the chains that changed since the last
-- seal, unless that seal is younger than p_every or another worker is
-- sealing right now (one sealer at a time, on any number of hosts; the
-- others skip). Chains being appended to at this moment are left to the
-- next seal (SKIP LOCKED): sealing never waits for a request. Returns the
-- new seal, or no row when nothing was sealed.
CREATE FUNCTION audit_seal(p_every interval)
RETURNS TABLE (seq bigint, sealed_at timestamptz, chains integer, hash bytea)
LANGUAGE plpgsql AS $$
DECLARE
    last  audit_seals%ROWTYPE;
    s     audit_seals%ROWTYPE;
    n     integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('tollgate.audit_seal', 0)) THEN
        RETURN;
    END IF;
    SELECT * INTO last FROM audit_seals a ORDER BY a.seq DESC LIMIT 1;
    IF FOUND AND last.sealed_at > now() - p_every THEN
        RETURN;
    END IF;
    s.seq := coalesce(last.seq, 0) + 1;
    s.sealed_at := now();
    WITH due AS (SELECT c.chain FROM audit_chains c WHERE c.seq > c.sealed_seq
                    FOR UPDATE SKIP LOCKED),
         moved AS (UPDATE audit_chains c SET sealed_seq = c.seq FROM due
                    WHERE c.chain = due.chain RETURNING c.chain, c.seq, c.hash)
    INSERT INTO audit_seal_heads (seal, chain, chain_seq, hash)
    SELECT s.seq, m.chain, m.seq, m.hash FROM moved m;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN;
    END IF;
    s.chains := n;
    s.prev_hash := coalesce(last.hash, decode(repeat('00', 32), 'hex'));
    s.hash := sha256(s.prev_hash || convert_to(audit_seal_content(s.seq, s.sealed_at, s.chains),
                                               'UTF8'));
    INSERT INTO audit_seals VALUES (s.*);
    RETURN QUERY SELECT s.seq, s.sealed_at, s.chains, s.hash;
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
