-- 008_idempotency: Idempotency-Key on every state-changing route
-- (IETF draft "The Idempotency-Key HTTP Header Field"; docs/api.md
-- #idempotency). POST /api/v1/usage keeps its own record in usage_events;
-- every other route that changes state keeps its first answer here, so
-- that a retry with the same key and request gets that answer again
-- instead of a second effect.
--
-- A row is claimed ('running') in its own transaction before the route
-- runs, so a concurrent duplicate is refused at once (409) instead of
-- waiting on a lock; the answer is stored ('done') in the same transaction
-- as the route's effect where the route is database only, and right after
-- it where the route calls Stripe (whose calls carry keys derived from
-- this row: stripe_requests.sql). A claim whose request died is taken
-- over by a retry once its lease (locked_until) is over. Rows are kept
-- for the retention window (24 hours at least) and then purged by
-- tollgate-worker; an answer that holds a secret (a new API key, a token)
-- loses its body earlier (body_expires_at). Tables and data only: the
-- functions are in sql/functions/idempotency.sql.

CREATE TABLE idempotency_keys (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Whose key it is: 'customer:<uuid>' for a request with an API key,
    -- 'signup:<client address>:<e-mail in lower case>' for a signup.
    scope            text COLLATE "C" NOT NULL CHECK (octet_length(scope) BETWEEN 1 AND 600),
    -- The Idempotency-Key as the client meant it (sf-string unquoted).
    idempotency_key  text COLLATE "C" NOT NULL
                     CHECK (octet_length(idempotency_key) BETWEEN 1 AND 255),
    route            text NOT NULL,
    -- SHA-256 of method, path, query and body: the "same request".
    request_hash     bytea NOT NULL CHECK (octet_length(request_hash) = 32),
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    -- While running: until when the request is presumed alive, and which
    -- attempt holds the claim (a takeover counts up, so that the request
    -- it took over from can neither store its answer nor give it up).
    locked_until     timestamptz,
    attempt          integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    -- The first answer (status done).
    response_status  smallint CHECK (response_status BETWEEN 200 AND 599),
    response_type    text,
    response_headers jsonb,    -- [[name, value], ...]: the headers that matter
    response_body    text,     -- NULL once body_expires_at passed
    body_expires_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scope, idempotency_key),
    CHECK (status = 'running' OR response_status IS NOT NULL)
);

-- tollgate-worker's purge: the oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
-- ... and the secrets whose time is up.
CREATE INDEX idempotency_keys_body_expiry ON idempotency_keys (body_expires_at)
    WHERE body_expires_at IS NOT NULL AND response_body IS NOT NULL;
