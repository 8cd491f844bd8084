-- idempotency: the first answer of a request sent with an Idempotency-Key
-- (IETF draft "The Idempotency-Key HTTP Header Field"), for every
-- state-changing route but POST /api/v1/usage (usage.sql keeps its own).
-- Table: 008_idempotency.sql. The route's effect and the stored answer are
-- committed together where the route is database only (the caller wraps
-- both in one transaction); the claim before them is committed on its own,
-- so that a concurrent duplicate is refused at once instead of waiting.

-- idempotency_claim: claim (p_scope, p_key) for a request of p_route whose
-- SHA-256 is p_hash, for p_lease seconds. One row; outcome:
--   new          claimed now (or taken over from a request whose lease is
--                over: it died before its answer was stored): run the route
--   replay       done before with the same request: the stored answer
--                (response_body NULL when it held a secret now purged)
--   mismatch     done or running with another request: nothing to do
--   in_progress  the first request is still running: retry_after seconds
-- id and attempt name the claim for new (idempotency_finish,
-- idempotency_release).
CREATE FUNCTION idempotency_claim(p_scope text, p_key text, p_route text, p_hash bytea,
                                  p_lease integer)
RETURNS TABLE (outcome text, id bigint, attempt integer, response_status integer,
               response_type text, response_headers text, response_body text,
               retry_after integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    r idempotency_keys%ROWTYPE;
BEGIN
    INSERT INTO idempotency_keys (scope, idempotency_key, route, request_hash, locked_until)
    VALUES (p_scope, p_key, p_route, p_hash, now() + make_interval(secs => p_lease))
    ON CONFLICT (scope, idempotency_key) DO NOTHING
    RETURNING idempotency_keys.id INTO r.id;
    IF r.id IS NOT NULL THEN
        RETURN QUERY SELECT 'new'::text, r.id, 1, NULL::integer, NULL::text, NULL::text,
                            NULL::text, NULL::integer;
        RETURN;
    END IF;
    SELECT * INTO r FROM idempotency_keys k WHERE k.scope = p_scope AND k.idempotency_key = p_key;
    IF NOT FOUND THEN -- purged or released between the two statements: come back
        RETURN QUERY SELECT 'in_progress'::text, NULL::bigint, NULL::integer, NULL::integer,
                            NULL::text, NULL::text, NULL::text, 1;
        RETURN;
    END IF;
    IF r.request_hash <> p_hash OR r.route <> p_route THEN
        RETURN QUERY SELECT 'mismatch'::text, r.id, NULL::integer, NULL::integer, NULL::text,
                            NULL::text, NULL::text, NULL::integer;
    ELSIF r.status = 'done' THEN
        RETURN QUERY SELECT 'replay'::text, r.id, NULL::integer, r.response_status::integer,
                            r.response_type,
                            r.response_headers::text,
                            CASE WHEN r.body_expires_at IS NULL OR r.body_expires_at > now()
                                 THEN r.response_body END,
                            NULL::integer;
    ELSIF r.locked_until > now() THEN
        RETURN QUERY SELECT 'in_progress'::text, r.id, NULL::integer, NULL::integer,
                            NULL::text, NULL::text, NULL::text,
                            greatest(1, least(60, ceil(extract(epoch FROM r.locked_until - now()))
                                                  ::integer));
    ELSE
        UPDATE idempotency_keys k
           SET locked_until = now() + make_interval(secs => p_lease), attempt = k.attempt + 1
         WHERE k.id = r.id AND k.status = 'running' AND k.locked_until <= now()
        RETURNING k.attempt INTO r.attempt;
        IF FOUND THEN
            RETURN QUERY SELECT 'new'::text, r.id, r.attempt, NULL::integer, NULL::text,
                                NULL::text, NULL::text, NULL::integer;
        ELSE
            RETURN QUERY SELECT 'in_progress'::text, r.id, NULL::integer, NULL::integer,
                                NULL::text, NULL::text, NULL::text, 1;
        END IF;
    END IF;
END;
$$;

-- idempotency_finish: store the answer of claim (p_id, p_attempt):
-- status, content type, headers ([[name, value], ...]) and body; a body
-- that holds a secret (p_secret_seconds > 0) is kept that many seconds
-- only. false when the claim is no longer this attempt's (taken over
-- after its lease, finished by the attempt that took it over, purged).
CREATE FUNCTION idempotency_finish(p_id bigint, p_attempt integer, p_status integer,
                                   p_type text, p_headers jsonb, p_body text,
                                   p_secret_seconds integer)
RETURNS boolean LANGUAGE sql AS $$
    WITH done AS (
        UPDATE idempotency_keys
           SET status = 'done', locked_until = NULL, response_status = p_status,
               response_type = p_type, response_headers = p_headers, response_body = p_body,
               body_expires_at = CASE WHEN p_secret_seconds > 0
                                      THEN now() + make_interval(secs => p_secret_seconds) END
         WHERE id = p_id AND attempt = p_attempt AND status = 'running'
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM done);
$$;

-- idempotency_release: give up claim (p_id, p_attempt) (the request
-- failed and changed nothing, or nothing the key must answer for): a retry
-- runs afresh. A claim taken over since is the other attempt's: kept.
CREATE FUNCTION idempotency_release(p_id bigint, p_attempt integer)
RETURNS void LANGUAGE sql AS $$
    DELETE FROM idempotency_keys WHERE id = p_id AND attempt = p_attempt AND status = 'running';
$$;

-- idempotency_purge: delete the records older than p_retention seconds
-- and drop the secret bodies whose time is up, at most p_limit of each;
-- returns how many rows changed.
CREATE FUNCTION idempotency_purge(p_retention integer, p_limit integer)
RETURNS bigint LANGUAGE sql AS $$
    WITH old AS (
        DELETE FROM idempotency_keys
         WHERE id IN (SELECT id FROM idempotency_keys
                       WHERE created_at < now() - make_interval(secs => p_retention)
                       ORDER BY created_at LIMIT p_limit)
        RETURNING 1),
    secrets AS (
        UPDATE idempotency_keys SET response_body = NULL
         WHERE id IN (SELECT id FROM idempotency_keys
                       WHERE body_expires_at IS NOT NULL AND response_body IS NOT NULL
                         AND body_expires_at <= now()
                       LIMIT p_limit)
        RETURNING 1)
    SELECT (SELECT count(*) FROM old) + (SELECT count(*) FROM secrets);
$$;
