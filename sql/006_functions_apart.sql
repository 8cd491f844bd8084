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
