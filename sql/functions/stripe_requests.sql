-- stripe_requests: the outbox of Stripe calls made in "atomic phases"
-- (DESIGN.md section 4): a call is committed here with its idempotency key
-- before it is sent, and its result in a second transaction. A call left
-- pending is finished by tollgate-worker with the same key.

-- stripe_request_begin: phase 1 of a Stripe call: the call and its
-- idempotency key committed before anything is sent. The key is
-- tg<the operation's first 3 letters>_<uuid without dashes>, but tgch_
-- for a charge (a charge's call is made by charge_call_begin, charges.sql).
-- With p_seed (a request's Idempotency-Key record, idempotency.sql) the
-- key is tg<3 letters>_idem<p_seed> instead, and a call begun under that
-- key before (by the same request, which died before answering) is
-- returned again rather than a second one made: its retry sends Stripe
-- the same keys, and Stripe repeats nothing.
-- Returns the row's id and key.
CREATE FUNCTION stripe_request_begin(p_customer uuid, p_operation text, p_params jsonb,
                                     p_seed text DEFAULT NULL)
RETURNS TABLE (id bigint, idempotency_key text) LANGUAGE sql AS $$
    INSERT INTO stripe_requests AS s (customer_id, operation, params, idempotency_key)
    VALUES (p_customer, p_operation, p_params,
            'tg' || CASE p_operation WHEN 'charge' THEN 'ch' ELSE left(p_operation, 3) END
                 || '_' || CASE WHEN p_seed IS NULL
                                THEN replace(gen_random_uuid()::text, '-', '')
                                ELSE 'idem' || p_seed END)
    ON CONFLICT (idempotency_key) DO UPDATE SET updated_at = now()
        WHERE s.customer_id = p_customer AND s.operation = p_operation
    RETURNING s.id, s.idempotency_key;
$$;

-- stripe_request_finish: record the final result of a call (succeeded or
-- failed), or schedule a pending one for tollgate-worker with exponential
-- backoff from 1 s to 1 h.
CREATE FUNCTION stripe_request_finish(p_request bigint, p_status text, p_result jsonb)
RETURNS void LANGUAGE sql AS $$
    UPDATE stripe_requests
       SET status = p_status, result = p_result, attempts = attempts + 1, updated_at = now(),
           next_attempt_at = now() + retry_delay(attempts, interval '1 second')
     WHERE id = p_request;
$$;
