-- ledger: how the credit ledger (credit_transactions) is written.
--
-- The ledger is the source of truth for credits. customers.credit_balance
-- is a cache kept equal to the sum of the customer's entries by the
-- BEFORE INSERT trigger below, in the same statement, so "balance = sum of
-- entries" holds by construction whoever inserts; customers'
-- CHECK (credit_balance >= 0) makes a negative balance impossible. Entries
-- are never updated or deleted: a mistake is corrected by a new entry
-- (DESIGN.md section 2). NOTE: never INSERT into credit_transactions with
-- ON CONFLICT: the trigger moves the balance before a conflict is detected.
-- Lock the customer row, check, then insert.

-- ledger_apply: move the customer's balance and sequence by the entry and
-- record both on it (balance_after, seq).
CREATE FUNCTION ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE customers
       SET credit_balance = credit_balance + NEW.amount, ledger_seq = ledger_seq + 1,
           updated_at = now()
     WHERE id = NEW.customer_id
    RETURNING credit_balance, ledger_seq INTO NEW.balance_after, NEW.seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger entry for unknown customer %', NEW.customer_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

-- ledger_append_only: refuse UPDATE, DELETE and TRUNCATE; the one
-- exception is staging_reset() deleting the entries of staging customers
-- (sql/functions/staging.sql).
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tollgate.staging_reset', true) = 'on'
       AND EXISTS (SELECT 1 FROM customers c
                    WHERE c.id = OLD.customer_id AND staging_email(c.email)) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'credit_transactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'correct a mistake with a new adjustment or refund entry';
END $$;

CREATE TRIGGER credit_transactions_apply BEFORE INSERT ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_apply();
CREATE TRIGGER credit_transactions_no_update BEFORE UPDATE OR DELETE ON credit_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER credit_transactions_no_truncate BEFORE TRUNCATE ON credit_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- credits_adjust: an 'adjustment' entry of p_amount credits (either sign)
-- with the operator's reason (tollgatectl credits). Outcomes:
--   adjusted           the entry was written (entry_id, balance_after);
--   no_customer        no such customer;
--   invalid            p_amount is 0 or the reason is empty;
--   would_go_negative  the balance would drop below 0, or below the credits
--                      held by active credit holds (holds.sql), which a
--                      settle takes: nothing is written (balance_after is
--                      the balance as it is).
CREATE FUNCTION credits_adjust(p_customer uuid, p_amount bigint, p_reason text)
RETURNS TABLE (outcome text, entry_id bigint, balance_after bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c   customers%ROWTYPE;
    le  credit_transactions%ROWTYPE;
BEGIN
    SELECT * INTO c FROM customers WHERE id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_customer'::text, NULL::bigint, NULL::bigint;
        RETURN;
    END IF;
    IF p_amount = 0 OR coalesce(btrim(p_reason), '') = '' THEN
        RETURN QUERY SELECT 'invalid'::text, NULL::bigint, c.credit_balance;
        RETURN;
    END IF;
    IF c.credit_balance + p_amount < c.credits_held THEN
        RETURN QUERY SELECT 'would_go_negative'::text, NULL::bigint, c.credit_balance;
        RETURN;
    END IF;
    INSERT INTO credit_transactions (customer_id, amount, kind, reference, description)
    VALUES (p_customer, p_amount, 'adjustment', 'manual:' || audit_actor(), p_reason)
    RETURNING * INTO le;
    RETURN QUERY SELECT 'adjusted'::text, le.id, le.balance_after::bigint;
END $$;
