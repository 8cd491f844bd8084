-- email: the e-mail outbox. Mails are queued in the transaction that
-- causes them (a purchase, a customer becoming past_due) or by
-- tollgate-worker (grace_ending); tollgate-worker claims due ones with FOR
-- UPDATE SKIP LOCKED, sends them over SMTP and records the outcome with
-- email_outbox_done(), retrying with backoff.

-- Wake tollgate-worker (LISTEN tollgate_jobs) as soon as a mail is queued.
CREATE FUNCTION email_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tollgate_jobs', 'email');
    RETURN NULL;
END $$;

CREATE TRIGGER email_outbox_notify AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_notify();

-- email_redact: body with every API key (tg_live_/tg_test_ + 64 hex) cut
-- to its 12-character display prefix and an ellipsis.
CREATE FUNCTION email_redact(p_body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(p_body, '(tg_(live|test)_[0-9a-f]{4})[0-9a-f]{60}', '\1…', 'g');
$$;

-- email_queue: queue a mail of kind to the customer's current address,
-- once per dedupe key. Returns the new mail's id, or no row when a mail
-- with that key exists already (or there is no such customer, or its
-- address could not go into a header: never an error, since this runs
-- inside billing transactions). The key is checked twice, on purpose:
-- ON CONFLICT is what makes it once under concurrency (two transactions
-- that both found no mail: the second waits for the first and does
-- nothing); NOT EXISTS answers the usual repeat (email_queue_grace_ending
-- asks again on every pass of tollgate-worker) before the insert, which
-- would draw an id from the identity sequence even when it then finds
-- the conflict.
CREATE FUNCTION email_queue(p_customer uuid, p_kind text, p_dedupe text, p_subject text,
                            p_body text)
RETURNS SETOF bigint LANGUAGE sql AS $$
    INSERT INTO email_outbox (customer_id, kind, dedupe_key, to_address, subject, body)
    SELECT c.id, p_kind, p_dedupe, c.email, p_subject, p_body
      FROM customers c
     WHERE c.id = p_customer
       AND c.email !~ '[\r\n<>]'
       AND NOT EXISTS (SELECT 1 FROM email_outbox e WHERE e.dedupe_key = p_dedupe)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id;
$$;

-- email_grace_text: when a grace period ends, for people (UTC).
CREATE FUNCTION email_grace_text(p_ends timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(to_char(p_ends AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"'), 'soon');
$$;

-- A customer that becomes past_due (customer_payment_failed, a charge that
-- failed after the fact: charges.sql, customers.sql) is told once per
-- grace period.
CREATE FUNCTION email_on_past_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM email_queue(NEW.id, 'payment_failed',
        'payment_failed:' || NEW.id || ':' ||
            coalesce(extract(epoch FROM NEW.grace_period_ends_at)::bigint::text, 'none'),
        'tollgate: a payment failed',
        format(E'Hello %s,\n\n'
               'a payment for your tollgate account failed, so the account is now past due.\n'
               'Everything keeps working during the grace period, which ends at %s.\n'
               'If no payment succeeds by then, your credits stay usable but nothing that\n'
               'needs a charge is allowed any more.\n\n'
               'Please check the card on file, or add another one with\n'
               'POST /api/v1/customers/me/payment_method.\n\n'
               '-- \ntollgate\n',
               NEW.name, email_grace_text(NEW.grace_period_ends_at)));
    RETURN NULL;
END $$;

CREATE TRIGGER customers_past_due_email AFTER UPDATE OF billing_status ON customers
    FOR EACH ROW
    WHEN (NEW.billing_status = 'past_due' AND OLD.billing_status IS DISTINCT FROM 'past_due')
    EXECUTE FUNCTION email_on_past_due();

-- email_queue_grace_ending: for tollgate-worker: queue one grace_ending
-- mail per grace period of every past_due customer with fewer than 24 hours
-- of grace left (email_queue skips one queued already, by its dedupe key).
-- Returns how many were queued.
CREATE FUNCTION email_queue_grace_ending() RETURNS integer LANGUAGE sql AS $$
    WITH due AS (
        SELECT c.id, c.name, c.grace_period_ends_at,
               'grace_ending:' || c.id || ':' ||
                   extract(epoch FROM c.grace_period_ends_at)::bigint AS dedupe
          FROM customers c
         WHERE c.billing_status = 'past_due'
           AND c.grace_period_ends_at > now()
           AND c.grace_period_ends_at <= now() + interval '24 hours'
    ), queued AS (
        SELECT email_queue(d.id, 'grace_ending', d.dedupe,
                   'tollgate: your grace period ends within 24 hours',
                   format(E'Hello %s,\n\n'
                          'a payment for your tollgate account is still outstanding, and the\n'
                          'grace period ends at %s.\n'
                          'After that your credits stay usable, but nothing that needs a charge\n'
                          'is allowed until a payment succeeds.\n\n'
                          'Please check the card on file, or add another one with\n'
                          'POST /api/v1/customers/me/payment_method.\n\n'
                          '-- \ntollgate\n',
                          d.name, email_grace_text(d.grace_period_ends_at))) AS id
          FROM due d
    )
    SELECT count(id)::integer FROM queued;
$$;

-- email_outbox_done: record one attempt at mail p_id: 'sent' (final),
-- 'failed' (final: the server refused it for good) or 'retry', which
-- schedules the next attempt (5 s doubling, at most 1 h apart) or, at
-- p_max_attempts, gives up ('failed'). A final mail's body is redacted
-- (email_redact), so no API key stays in the database. Returns the status.
CREATE FUNCTION email_outbox_done(p_id bigint, p_outcome text, p_error text,
                                  p_max_attempts integer)
RETURNS text LANGUAGE sql AS $$
    UPDATE email_outbox
       SET attempts = attempts + 1,
           status = CASE WHEN p_outcome = 'sent' THEN 'sent'
                         WHEN p_outcome = 'failed' OR attempts + 1 >= p_max_attempts
                             THEN 'failed'
                         ELSE 'pending' END,
           body = CASE WHEN p_outcome IN ('sent', 'failed') OR attempts + 1 >= p_max_attempts
                       THEN email_redact(body) ELSE body END,
           last_error = left(p_error, 1000),
           sent_at = CASE WHEN p_outcome = 'sent' THEN now() END,
           next_attempt_at = now() + retry_delay(attempts, interval '5 seconds')
     WHERE id = p_id AND status = 'pending'
    RETURNING status;
$$;
