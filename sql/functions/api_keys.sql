-- api_keys: authenticating API keys, the per-key rate limit, and creating
-- and revoking keys (DESIGN.md section 3). Keys are stored as SHA-256 with
-- a display prefix; the key itself never reaches the database.

-- api_key_authenticate: the active key with hash p_key_hash, counted
-- against p_limit requests per clock hour (UTC; 0: not counted). Sets the
-- session's audit actor to "api_key:<prefix>" and touches last_used_at at
-- most once a minute. No row for an unknown or revoked key; else the key,
-- its customer, the requests made in this window (this one included; 0
-- when not counted) and the seconds until the window resets.
--
-- The counter is an atomic upsert of (key, window), so with any number of
-- workers and hosts exactly p_limit requests are admitted per window; the
-- caller refuses the request when requests > p_limit. Statement by
-- statement, so that what is not needed (the touch, the counter) is not
-- even prepared for execution: every API request runs this (measured:
-- bench/README.md).
CREATE FUNCTION api_key_authenticate(p_key_hash bytea, p_limit bigint)
RETURNS TABLE (api_key_id uuid, customer_id uuid, key_prefix text, requests bigint,
               reset_seconds integer)
LANGUAGE plpgsql AS $$
DECLARE
    used timestamptz;
BEGIN
    SELECT a.id, a.customer_id, a.key_prefix, a.last_used_at
      INTO api_key_id, customer_id, key_prefix, used
      FROM api_keys a WHERE a.key_hash = p_key_hash AND a.revoked_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF used IS NULL OR used < now() - interval '1 minute' THEN
        UPDATE api_keys a SET last_used_at = now() WHERE a.id = api_key_id;
    END IF;
    requests := 0;
    IF p_limit > 0 THEN
        INSERT INTO rate_limits AS r (api_key_id, window_start, requests)
        VALUES (api_key_id, date_trunc('hour', now()), 1)
        ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE SET requests = r.requests + 1
        RETURNING r.requests INTO requests;
    END IF;
    reset_seconds := ceil(extract(epoch FROM date_trunc('hour', now()) + interval '1 hour'
                                                 - now()));
    PERFORM set_config('tollgate.actor', 'api_key:' || key_prefix, false);
    RETURN NEXT;
END $$;

-- rate_limits_prune: drop the counters of windows that are over.
CREATE FUNCTION rate_limits_prune() RETURNS bigint LANGUAGE sql AS $$
    WITH d AS (DELETE FROM rate_limits WHERE window_start < date_trunc('hour', now()) RETURNING 1)
    SELECT count(*) FROM d;
$$;

-- api_key_create: a new key for a customer that has fewer than p_max
-- active keys. Outcomes: created (with the key's row), no_customer,
-- limit_reached (p_max active keys already). The customer row lock
-- serializes it with revokes.
CREATE FUNCTION api_key_create(p_customer uuid, p_key_hash bytea, p_key_prefix text,
                               p_name text, p_max integer)
RETURNS TABLE (outcome text, id uuid, customer_id uuid, key_prefix text, name text,
               created_at timestamptz, last_used_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
BEGIN
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_customer'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    IF (SELECT count(*) FROM api_keys a
         WHERE a.customer_id = p_customer AND a.revoked_at IS NULL) >= p_max THEN
        RETURN QUERY SELECT 'limit_reached'::text, NULL::uuid, NULL::uuid, NULL::text,
                            NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz;
        RETURN;
    END IF;
    INSERT INTO api_keys (customer_id, key_hash, key_prefix, name)
    VALUES (p_customer, p_key_hash, p_key_prefix, p_name)
    RETURNING * INTO k;
    RETURN QUERY SELECT 'created'::text, k.id, k.customer_id, k.key_prefix, k.name, k.created_at,
                        k.last_used_at, k.revoked_at;
END $$;

-- api_key_revoke: revoke key p_key. p_customer, when not NULL, must own it
-- (an API client revoking its own keys; NULL: an operator). Outcomes:
-- revoked (with the key's row; also when it was revoked already: revoking
-- is idempotent, and already_revoked says so), not_found (no such key, or
-- not the customer's), last_key (the customer's last active key and
-- p_allow_last is false). Authentication reads revoked_at on every
-- request, so the key answers 401 on every worker as soon as this commits.
CREATE FUNCTION api_key_revoke(p_customer uuid, p_key uuid, p_allow_last boolean)
RETURNS TABLE (outcome text, id uuid, customer_id uuid, key_prefix text, name text,
               created_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
               already_revoked boolean)
LANGUAGE plpgsql AS $$
DECLARE
    k api_keys%ROWTYPE;
    was_revoked boolean;
BEGIN
    SELECT * INTO k FROM api_keys a
     WHERE a.id = p_key AND (p_customer IS NULL OR a.customer_id = p_customer);
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::uuid, NULL::text, NULL::text,
                            NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, false;
        RETURN;
    END IF;
    PERFORM 1 FROM customers c WHERE c.id = k.customer_id FOR UPDATE;
    SELECT * INTO STRICT k FROM api_keys a WHERE a.id = p_key;
    was_revoked := k.revoked_at IS NOT NULL;
    IF NOT was_revoked THEN
        IF NOT p_allow_last AND NOT EXISTS (SELECT 1 FROM api_keys a
                                             WHERE a.customer_id = k.customer_id
                                               AND a.revoked_at IS NULL AND a.id <> k.id) THEN
            RETURN QUERY SELECT 'last_key'::text, k.id, k.customer_id, k.key_prefix, k.name,
                                k.created_at, k.last_used_at, k.revoked_at, false;
            RETURN;
        END IF;
        UPDATE api_keys a SET revoked_at = now() WHERE a.id = p_key RETURNING * INTO k;
    END IF;
    RETURN QUERY SELECT 'revoked'::text, k.id, k.customer_id, k.key_prefix, k.name, k.created_at,
                        k.last_used_at, k.revoked_at, was_revoked;
END $$;
