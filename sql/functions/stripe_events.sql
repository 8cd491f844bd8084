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
           next_attempt_at = now() + retry_delay(attempts, interval '1 second')
     WHERE id = p_id
    RETURNING status;
$$;

-- stripe_event_replay: make dead letter p_id (NULL: every dead letter)
-- pending again with a fresh attempt count, each audited as
-- dead_letter.replayed (tollgatectl dead-letters replay), and wake
-- tollgate-worker. Returns the events replayed, by id: none when p_id is
-- not a dead letter.
CREATE FUNCTION stripe_event_replay(p_id text) RETURNS TABLE (event_id text)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    WITH r AS (UPDATE stripe_events e
                  SET status = 'pending', attempts = 0, next_attempt_at = now(),
                      last_error = NULL
                WHERE e.status = 'dead' AND (p_id IS NULL OR e.id = p_id)
               RETURNING e.id, e.type),
         a AS (SELECT r.id, audit_append('dead_letter.replayed', NULL, NULL,
                                         jsonb_build_object('event', r.id, 'type', r.type))
                            AS logged
                 FROM r)
    SELECT a.id FROM a WHERE a.logged IS NOT NULL ORDER BY a.id;
    PERFORM pg_notify('tollgate_jobs', 'stripe_event');
END $$;
