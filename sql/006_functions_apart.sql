-- 006_functions_apart: from here on, numbered migrations hold tables and
-- data only. Every function, trigger and view lives in
-- sql/functions/<concept>.sql, one current definition each, and tollgatectl
-- migrate drops them all before running this migration and creates them
-- again from those files afterwards (src/store/migrate.h). The functions
-- that 001 to 005 defined, and their stacked replacements
-- (usage_fix_deployed_billed, subscription_apply_locked), are gone with
-- that drop; SQL functions return domain outcomes now, never HTTP codes.

-- ---- customers' value rules as domains ---------------------------------------
-- A CHECK constraint is evaluated on every UPDATE of a row, and every
-- ledger entry updates its customer's row (the cached balance): six
-- checks on columns a balance change never touches cost more than the
-- rest of the update (measured: bench/README.md). A domain's check runs
-- when a value is assigned, so it guards exactly the same values for
-- free on the hot path. credit_balance >= 0 stays a table CHECK: it is
-- the one rule every balance change must pass.

CREATE DOMAIN customer_email AS text CHECK (length(VALUE) BETWEEN 3 AND 254);
CREATE DOMAIN customer_name AS text CHECK (length(VALUE) BETWEEN 1 AND 200);
CREATE DOMAIN customer_source AS text
    CHECK (VALUE IN ('direct', 'marketplace', 'early_access'));
-- none: no payment method; active; past_due (grace period running);
-- delinquent (grace period over, nothing that needs a charge is allowed).
CREATE DOMAIN billing_status AS text
    CHECK (VALUE IN ('none', 'active', 'past_due', 'delinquent'));
CREATE DOMAIN github_account_id AS bigint CHECK (VALUE > 0);
CREATE DOMAIN github_plan_status AS text CHECK (VALUE IN ('active', 'cancelled'));

ALTER TABLE customers
    DROP CONSTRAINT customers_email_check,
    DROP CONSTRAINT customers_name_check,
    DROP CONSTRAINT customers_source_check,
    DROP CONSTRAINT customers_billing_status_check,
    DROP CONSTRAINT customers_github_account_id_check,
    DROP CONSTRAINT customers_github_plan_status_check,
    ALTER COLUMN email TYPE customer_email,
    ALTER COLUMN name TYPE customer_name,
    ALTER COLUMN source TYPE customer_source,
    ALTER COLUMN billing_status TYPE billing_status,
    ALTER COLUMN github_account_id TYPE github_account_id,
    ALTER COLUMN github_plan_status TYPE github_plan_status;

-- ---- usage events ----------------------------------------------------------------
-- charge_settle() finds a charge's usage event by charge_id.
CREATE INDEX usage_events_charge ON usage_events (charge_id) WHERE charge_id IS NOT NULL;

-- ---- the ledger and usage events: value rules as domains, references ----------
-- Every metered fix inserts one ledger entry and one usage event. Each
-- CHECK constraint of those tables was compiled again for every statement
-- that inserts (about 30,000 CPU instructions each, measured with
-- callgrind: bench/README.md); a domain's check is compiled once per
-- connection, so the same rules cost a third. On a large table these
-- ALTERs rewrite it: run this migration in a quiet moment.
CREATE DOMAIN ledger_amount AS bigint CHECK (VALUE <> 0);
CREATE DOMAIN ledger_kind AS text CHECK (VALUE IN (
    'trial_signup', 'trial_billing_added', 'pro_subscription_payment', 'purchased',
    'fix_deployed', 'adjustment', 'refund'));
-- A number of credits that can never be negative.
CREATE DOMAIN credit_count AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN idempotency_key AS text CHECK (length(VALUE) BETWEEN 1 AND 255);
CREATE DOMAIN sha256_digest AS bytea CHECK (length(VALUE) = 32);
CREATE DOMAIN usage_kind AS text CHECK (VALUE IN ('fix_deployed'));
-- credit: paid from the balance; charged: a credit was bought for it;
-- processing: its charge is with Stripe; unbilled: billing was switched off.
CREATE DOMAIN usage_outcome AS text CHECK (VALUE IN ('credit', 'charged', 'processing', 'unbilled'));

ALTER TABLE credit_transactions
    DROP CONSTRAINT credit_transactions_amount_check,
    DROP CONSTRAINT credit_transactions_kind_check,
    DROP CONSTRAINT credit_transactions_balance_after_check,
    ALTER COLUMN amount TYPE ledger_amount,
    ALTER COLUMN kind TYPE ledger_kind,
    ALTER COLUMN balance_after TYPE credit_count,
    -- ledger_apply(), the insert trigger, fails an entry for an unknown
    -- customer already; deleting a customer that has entries is refused by
    -- customers' delete guard (sql/functions/customers.sql). Measured: each
    -- foreign key costs a query (about 39,000 instructions) on every fix.
    DROP CONSTRAINT credit_transactions_customer_id_fkey;

ALTER TABLE usage_events
    DROP CONSTRAINT usage_events_idempotency_key_check,
    DROP CONSTRAINT usage_events_request_hash_check,
    DROP CONSTRAINT usage_events_kind_check,
    DROP CONSTRAINT usage_events_outcome_check,
    DROP CONSTRAINT usage_events_balance_after_check,
    ALTER COLUMN idempotency_key TYPE idempotency_key,
    ALTER COLUMN request_hash TYPE sha256_digest,
    ALTER COLUMN kind TYPE usage_kind,
    ALTER COLUMN outcome TYPE usage_outcome,
    ALTER COLUMN balance_after TYPE credit_count,
    -- Written only by usage_record() and charge_settle(), with the customer
    -- locked and the entry inserted in the same statement; entries are
    -- append-only, so the referenced one cannot disappear. The delete
    -- guard keeps customers with events, and tollgatectl verify-ledger
    -- (after every test, too) checks that each event's customer exists and
    -- that its outcome agrees with its ledger entry, which the settled
    -- CHECK did on every insert.
    DROP CONSTRAINT usage_events_customer_id_fkey,
    DROP CONSTRAINT usage_events_ledger_entry_id_fkey,
    DROP CONSTRAINT usage_events_settled;
