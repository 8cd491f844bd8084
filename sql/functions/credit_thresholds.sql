-- credit_thresholds: low-balance thresholds with hysteresis (issue 14;
-- docs/outbound-webhooks.md#low-balance-thresholds).
--
-- Each customer has a threshold in credits (customers.low_balance_threshold,
-- NULL: the configuration's low_balance_threshold, which every tollgate
-- session sets as tollgate.low_balance_threshold; 2 in a session that did
-- not). Its available balance against it is kept in customers.credit_state:
--
--   state     available balance         from ok     from low    from depleted
--   ok        above the threshold       -           recovered   recovered
--   low       1 .. the threshold        low         -           (stays depleted)
--   depleted  0                         low,        depleted    -
--                                       depleted
--
-- so credits.low fires once when the balance falls to or below the
-- threshold, credits.depleted once at zero, credits.recovered once when it
-- rises above the threshold again; a balance that wobbles at or below the
-- threshold fires nothing until it has recovered. The rule is evaluated
-- when the transaction that moved the balance commits (a deferred
-- constraint trigger), on the balance it leaves: a fix charged at balance
-- 0 (+1 purchased, -1 fix_deployed in one transaction) is no wobble.
-- The usage summary's low_balance warning reads the same state.

-- credits_available: the balance thresholds are judged on: the balance
-- less what active credit holds reserve (holds.sql).
CREATE FUNCTION credits_available(c customers) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT c.credit_balance - c.credits_held;
$$;

-- credits_default_threshold: the configuration's low_balance_threshold
-- (set per session by tollgate; 2, its default, elsewhere).
CREATE FUNCTION credits_default_threshold() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('tollgate.low_balance_threshold', true), '')::bigint,
                    2);
$$;

-- credits_threshold: customer c's threshold in credits.
CREATE FUNCTION credits_threshold(c customers) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(c.low_balance_threshold, credits_default_threshold());
$$;

-- credit_state_next: the rule above: the state after p_state at an
-- available balance of p_available against p_threshold, and the events
-- that crossing fires, in order.
CREATE FUNCTION credit_state_next(p_state text, p_available bigint, p_threshold bigint,
                                  OUT state text, OUT events text[])
LANGUAGE sql IMMUTABLE AS $$
    SELECT s.state,
           CASE WHEN s.state = p_state THEN ARRAY[]::text[]
                WHEN s.state = 'ok' THEN ARRAY['credits.recovered']
                WHEN s.state = 'low' THEN ARRAY['credits.low']
                WHEN p_state = 'ok' THEN ARRAY['credits.low', 'credits.depleted']
                ELSE ARRAY['credits.depleted'] END
      FROM (SELECT CASE WHEN p_available > p_threshold THEN 'ok'
                        WHEN p_available <= 0 THEN 'depleted'
                        WHEN p_state = 'depleted' THEN 'depleted'
                        ELSE 'low' END AS state) s;
$$;

-- credits_threshold_check: apply the rule to customer p_customer now:
-- store its new state and emit the events of the crossing (outbound.sql),
-- each with the customer as it stands. Returns the events (none when
-- nothing crossed, or there is no such customer).
CREATE FUNCTION credits_threshold_check(p_customer uuid) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    c     customers%ROWTYPE;
    next  record;
    ev    text;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN ARRAY[]::text[];
    END IF;
    SELECT * INTO next FROM credit_state_next(c.credit_state, credits_available(c),
                                              credits_threshold(c));
    IF next.state = c.credit_state THEN
        RETURN next.events;
    END IF;
    UPDATE customers SET credit_state = next.state WHERE id = p_customer
    RETURNING * INTO c;
    FOREACH ev IN ARRAY next.events LOOP
        PERFORM outbound_emit(ev, c.id, outbound_customer_object(c));
    END LOOP;
    RETURN next.events;
END $$;

CREATE FUNCTION credits_threshold_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM credits_threshold_check(NEW.id);
    RETURN NULL;
END $$;

-- At the commit of every transaction that moved a balance (the ledger's
-- trigger updates credit_balance), a hold (credits_held) or a threshold
-- to where the rule may have something to do: a state other than ok, or
-- an available balance at or below the threshold. A row left ok and above
-- it by every change of the transaction (a fix among many credits: the hot
-- path) queues nothing, since the rule would find nothing to do at commit
-- either; a later change of the same transaction that gets there queues
-- the check then. The condition is credits_available(NEW) <=
-- credits_threshold(NEW) written out: called with the whole row, those two
-- cost 50 us a ledger entry here, the expression 20 (measured with 2,000
-- entries in one transaction).
CREATE CONSTRAINT TRIGGER customers_credit_threshold
    AFTER INSERT OR UPDATE OF credit_balance, credits_held, low_balance_threshold ON customers
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (NEW.credit_state <> 'ok'
          OR NEW.credit_balance - NEW.credits_held
             <= coalesce(NEW.low_balance_threshold, credits_default_threshold()))
    EXECUTE FUNCTION credits_threshold_trigger();

-- customer_set_low_balance_threshold: customer p_customer's threshold
-- becomes p_threshold credits (0 .. 1000000; NULL: the configuration's),
-- audited as customer.low_balance_threshold_set, and the rule applied at
-- once (the answer shows the state it leads to). Returns the customer; no
-- row when there is none.
CREATE FUNCTION customer_set_low_balance_threshold(p_customer uuid, p_threshold bigint)
RETURNS SETOF customers LANGUAGE plpgsql AS $$
DECLARE
    old  bigint;
BEGIN
    SELECT low_balance_threshold INTO old FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF old IS DISTINCT FROM p_threshold THEN
        UPDATE customers SET low_balance_threshold = p_threshold, updated_at = now()
         WHERE id = p_customer;
        PERFORM audit_append('customer.low_balance_threshold_set', p_customer,
                             jsonb_build_object('low_balance_threshold', old),
                             jsonb_build_object('low_balance_threshold', p_threshold));
    END IF;
    PERFORM credits_threshold_check(p_customer);
    RETURN QUERY SELECT * FROM customers WHERE id = p_customer;
END $$;
