-- spend_limits: a customer's cap on automatic charges for fixes in a
-- calendar month, UTC (issue 14; sql/010_holds_spend_limits.sql). Counted:
-- the month's charges for fixes (pay-as-you-go and Pro overage; a Pro
-- subscription's invoices are not charges) that succeeded, are in flight
-- (pending) or are owed (declined after the fix was delivered), and the
-- active charge holds. A charge decision (usage_record, hold_create) runs
-- spend_limit_check under the customer's row lock, in the transaction
-- that begins the charge, so parallel charges are counted exactly.

-- spend_month_start: the start of the current calendar month, UTC.
CREATE FUNCTION spend_month_start() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
$$;

-- spend_limit_spent: what counts against customer p_customer's limit this
-- month in currency p_currency, in its minor units.
CREATE FUNCTION spend_limit_spent(p_customer uuid, p_currency text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT sum(x.amount_cents) FROM charges x
                      WHERE x.customer_id = p_customer AND x.currency = p_currency
                        AND x.created_at >= spend_month_start()
                        AND (x.status <> 'failed'
                             OR EXISTS (SELECT 1 FROM usage_events u
                                         WHERE u.charge_id = x.id AND u.outcome = 'charged'))),
                    0)
         + coalesce((SELECT sum(h.amount_cents) FROM holds h
                      WHERE h.customer_id = p_customer AND h.status = 'active'
                        AND h.reserves = 'charge' AND h.currency = p_currency), 0);
$$;

-- spend_limit_check: may customer p_customer (its row locked by the
-- caller) be charged p_amount in p_currency now? allowed when it has no
-- limit, or the month's spend with this charge stays within it (a limit
-- in another currency allows nothing). limit_cents NULL: no limit.
-- crossed: the thresholds (80, 90, 100 per cent of the limit) this
-- decision reaches for the first time this month -- by the spend after
-- an allowed charge, and 100 for a refusal -- each recorded once in
-- spend_limit_notices. THE one place spend-limit thresholds are crossed:
-- spend_limit.warning (80, 90) and spend_limit.reached (100) are written
-- to the outbox here (outbound.sql), one per element of crossed, in this
-- transaction.
CREATE FUNCTION spend_limit_check(p_customer uuid, p_amount bigint, p_currency text)
RETURNS TABLE (allowed boolean, limit_cents bigint, currency text, spent_before bigint,
               spent_after bigint, crossed smallint[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    sl     spend_limits%ROWTYPE;
    before bigint;
    ok     boolean;
    due    smallint[];
BEGIN
    SELECT * INTO sl FROM spend_limits s WHERE s.customer_id = p_customer;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint,
                            '{}'::smallint[];
        RETURN;
    END IF;
    before := spend_limit_spent(p_customer, sl.currency::text);
    ok := sl.currency = p_currency AND before + p_amount <= sl.monthly_cents;
    SELECT coalesce(array_agg(t ORDER BY t), '{}') INTO due
      FROM unnest(ARRAY[80, 90, 100]::smallint[]) t
     WHERE CASE WHEN ok THEN (before + p_amount) * 100 >= t * sl.monthly_cents
                ELSE t = 100 END;
    WITH new AS (
        INSERT INTO spend_limit_notices (customer_id, month, threshold)
        SELECT p_customer, spend_month_start()::date, t FROM unnest(due) t
        ON CONFLICT DO NOTHING
        RETURNING threshold)
    SELECT coalesce(array_agg(n.threshold ORDER BY n.threshold), '{}') INTO due FROM new n;
    PERFORM outbound_emit(CASE WHEN t = 100 THEN 'spend_limit.reached'
                               ELSE 'spend_limit.warning' END, p_customer,
                jsonb_build_object('object', 'spend_limit', 'threshold_percent', t,
                                   'monthly_cents', sl.monthly_cents,
                                   'currency', sl.currency::text,
                                   'spent_cents', before + CASE WHEN ok THEN p_amount ELSE 0 END,
                                   'charge_cents', p_amount, 'charge_allowed', ok,
                                   'month', to_char(spend_month_start() AT TIME ZONE 'UTC',
                                                    'YYYY-MM')))
      FROM unnest(due) t ORDER BY t;
    RETURN QUERY SELECT ok, sl.monthly_cents, sl.currency::text, before,
                        before + CASE WHEN ok THEN p_amount ELSE 0 END, due;
END $$;

-- spend_limit_set: customer p_customer's limit becomes p_cents a month in
-- p_currency (a currency a tier is priced in), or none (p_cents NULL).
-- The thresholds noticed this month are forgotten, so that the new limit
-- warns afresh. Audited by the trigger below. outcome: set, removed,
-- unchanged (nothing to remove), currency (no tier is priced in it),
-- not_found.
CREATE FUNCTION spend_limit_set(p_customer uuid, p_cents bigint, p_currency text)
RETURNS TABLE (outcome text, monthly_cents bigint, currency text, spent_cents bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
    PERFORM 1 FROM customers c WHERE c.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    END IF;
    IF p_cents IS NULL THEN
        DELETE FROM spend_limits s WHERE s.customer_id = p_customer;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'unchanged'::text, NULL::bigint, NULL::text, NULL::bigint;
            RETURN;
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM pricing_tiers t
                       WHERE t.currency = p_currency AND t.unit_price_cents IS NOT NULL) THEN
        RETURN QUERY SELECT 'currency'::text, NULL::bigint, NULL::text, NULL::bigint;
        RETURN;
    ELSE
        INSERT INTO spend_limits AS s (customer_id, monthly_cents, currency)
        VALUES (p_customer, p_cents, p_currency)
        ON CONFLICT (customer_id) DO UPDATE
           SET monthly_cents = excluded.monthly_cents, currency = excluded.currency,
               updated_at = now()
         WHERE (s.monthly_cents, s.currency) IS DISTINCT FROM
               (excluded.monthly_cents, excluded.currency);
    END IF;
    DELETE FROM spend_limit_notices n
     WHERE n.customer_id = p_customer AND n.month = spend_month_start()::date;
    RETURN QUERY SELECT CASE WHEN p_cents IS NULL THEN 'removed' ELSE 'set' END, p_cents,
                        p_currency, CASE WHEN p_cents IS NOT NULL
                                         THEN spend_limit_spent(p_customer, p_currency) END;
END $$;

-- The audit log records every change of a limit (docs/audit-log.md).
CREATE FUNCTION audit_spend_limits() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM audit_append('spend_limit.removed', OLD.customer_id,
                             jsonb_build_object('monthly_cents', OLD.monthly_cents,
                                                'currency', OLD.currency), NULL);
    ELSE
        PERFORM audit_append('spend_limit.set', NEW.customer_id,
                             CASE WHEN TG_OP = 'UPDATE'
                                  THEN jsonb_build_object('monthly_cents', OLD.monthly_cents,
                                                          'currency', OLD.currency) END,
                             jsonb_build_object('monthly_cents', NEW.monthly_cents,
                                                'currency', NEW.currency));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER spend_limits_audit AFTER INSERT OR UPDATE OR DELETE ON spend_limits
    FOR EACH ROW EXECUTE FUNCTION audit_spend_limits();
