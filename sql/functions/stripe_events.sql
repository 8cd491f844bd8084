-- stripe_events: the inbox of Stripe webhook events. An event is stored by
-- its evt_ id before it is acknowledged and applied by tollgate-worker; a
-- failing handler is retried with exponential backoff (1 s doubling to
-- 1 h) and after webhook_max_attempts becomes a dead letter.

-- Wake tollgate-worker (LISTEN tollgate_jobs) as soon as an event arrives.
CREATE FUNCTION stripe_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_jobs', 'stripe_event');
    RETURN NULL;
END $$;

CREATE TRIGGER stripe_events_notify AFTER INSERT ON stripe_events
    FOR EACH STATEMENT EXECUTE FUNCTION stripe_events_notify();

-- stripe_event_done: record the outcome of one attempt at an event:
-- 'processed' or 'ignored' (final), or an error, which schedules the next
-- attempt (1 s, 2 s, 4 s ... at most 1 h) or, at p_max_attempts, makes the
-- event a dead letter.
CREATE FUNCTION stripe_event_done(p_id text, p_status text, p_error text, p_max_attempts integer)
RETURNS text LANGUAGE sql AS $$
    UPDATE stripe_events
       SET attempts = attempts + 1,
           status = CASE WHEN p_status IN ('processed', 'ignored') THEN p_status
                         WHEN attempts + 1 >= p_max_attempts THEN 'dead'
                         ELSE 'pending' END,
           last_error = p_error,
           processed_at = CASE WHEN p_status IN ('processed', 'ignored') THEN now() END,
           next_attempt_at = now() + least(interval '1 hour',
                                           interval '1 second' * power(2, least(attempts, 12)))
     WHERE id = p_id
    RETURNING status;
$$;
