-- retry: the backoff of every job tollgate-worker retries: a Stripe call
-- left pending (stripe_requests.sql), a webhook event whose handler failed
-- (stripe_events.sql) and a mail the server did not take (email.sql).

-- retry_delay: how long a job that has failed p_attempts times before this
-- attempt waits for the next one: p_base doubling with each attempt
-- (p_base, 2 p_base, 4 p_base ...; the doubling stops after 12), at most
-- 1 hour.
CREATE FUNCTION retry_delay(p_attempts integer, p_base interval) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT least(interval '1 hour', p_base * power(2, least(p_attempts, 12)));
$$;
