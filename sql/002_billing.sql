-- 002_billing: Stripe customers and payment methods, Pro subscriptions,
-- charges, and the table of Stripe calls ("atomic phases", DESIGN.md
-- section 4): a call is committed here with its idempotency key before it
-- is sent, and its result is applied in a second transaction. A crash in
-- between leaves a pending row that tollgate-worker finishes with the same
-- key, so Stripe never acts twice and never acts without the ledger knowing.

ALTER TABLE customers
    ADD COLUMN stripe_customer_id     text UNIQUE,
    ADD COLUMN default_payment_method text,
    ADD COLUMN billing_consent_at     timestamptz,
    ADD COLUMN grace_period_ends_at   timestamptz;

CREATE TABLE stripe_requests (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Sent as Idempotency-Key (sub-calls append ":<step>").
    idempotency_key  text NOT NULL UNIQUE,
    customer_id      uuid NOT NULL REFERENCES customers (id),
    operation        text NOT NULL CHECK (operation IN (
                         'attach_payment_method', 'create_subscription',
                         'cancel_subscription', 'charge')),
    -- Everything needed to repeat the call exactly.
    params           jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'failed')),
    result           jsonb,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_requests_pending ON stripe_requests (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE charges (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id               uuid NOT NULL REFERENCES customers (id),
    stripe_request_id         bigint NOT NULL UNIQUE REFERENCES stripe_requests (id),
    -- Integer minor units (cents) of currency; never floating point.
    amount_cents              bigint NOT NULL CHECK (amount_cents > 0),
    currency                  char(3) NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    tier                      text NOT NULL CHECK (tier IN ('payg', 'pro')),
    status                    text NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'succeeded', 'failed')),
    stripe_payment_intent_id  text UNIQUE,
    failure_code              text,
    decline_code              text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX charges_customer ON charges (customer_id, id DESC);

CREATE TABLE subscriptions (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id             uuid NOT NULL REFERENCES customers (id),
    plan                    text NOT NULL REFERENCES pricing_tiers (tier),
    stripe_request_id       bigint REFERENCES stripe_requests (id),
    stripe_subscription_id  text UNIQUE,
    stripe_price_id         text NOT NULL,
    -- Stripe's subscription status; 'creating' until Stripe has answered.
    status                  text NOT NULL DEFAULT 'creating' CHECK (status IN (
                                'creating', 'incomplete', 'incomplete_expired', 'trialing',
                                'active', 'past_due', 'canceled', 'unpaid', 'paused')),
    current_period_start    timestamptz,
    current_period_end      timestamptz,
    cancel_at_period_end    boolean NOT NULL DEFAULT false,
    canceled_at             timestamptz,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
-- One live subscription per customer.
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (customer_id)
    WHERE status NOT IN ('canceled', 'incomplete_expired');

-- A usage event paid by a charge: 'processing' while the charge is with
-- Stripe (a duplicate request then gets 409), 'charged' once settled or
-- left pending with Stripe unreachable.
ALTER TABLE usage_events
    DROP CONSTRAINT usage_events_outcome_check,
    ADD CONSTRAINT usage_events_outcome_check
        CHECK (outcome IN ('credit', 'charged', 'processing')),
    ALTER COLUMN ledger_entry_id DROP NOT NULL,
    ADD COLUMN charge_id bigint REFERENCES charges (id),
    ADD CONSTRAINT usage_events_settled
        CHECK ((outcome = 'processing') = (ledger_entry_id IS NULL));

-- A grant keyed by its reference happens once ('billing_added' for the
-- one-time payment-method bonus; the Stripe invoice id for Pro credits).
-- credit_transactions_once from 001 already covers these kinds.
