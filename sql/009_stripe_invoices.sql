-- 009_stripe_invoices: every Stripe invoice a webhook named, as Stripe
-- answered for it, and what tollgate made of it (issue 13: never trust a
-- webhook payload with money). A Pro invoice's credits used to be granted
-- for any paid invoice of a subscription, on the payload's word; now the
-- invoice is re-fetched, judged (paid, of a subscription of ours, billing
-- reason subscription_create or subscription_cycle, a line of the Pro
-- price, an amount paid) and recorded here whatever the verdict, with the
-- amount Stripe says was paid. Only adds a table: 0.2.0 runs unchanged on
-- it (it keeps granting by subscription_apply, which stays).

CREATE TABLE stripe_invoices (
    id                      text PRIMARY KEY CHECK (id ~ '^in_[A-Za-z0-9_]+$'),
    -- No foreign keys: the record outlives what it names, and an invoice
    -- Stripe does not know (rejected) names no customer of ours.
    customer_id             uuid,
    subscription_id         uuid,
    stripe_customer_id      text,
    stripe_subscription_id  text,
    -- Stripe's status and billing_reason; NULL when Stripe has no such invoice.
    status                  text,
    billing_reason          text,
    -- What Stripe says was paid, in minor units of currency (ISO 4217,
    -- lower case as Stripe writes it).
    amount_paid             bigint CHECK (amount_paid IS NULL OR amount_paid >= 0),
    currency                text CHECK (currency IS NULL OR currency ~ '^[a-z]{3}$'),
    --   granted         its credits are in the ledger (credit_transaction_id)
    --   not_qualifying  real, but not (or not yet) a paid Pro subscription
    --                   payment: recorded, grants nothing; re-judged when
    --                   another event names it (an open invoice paid later)
    --   rejected        Stripe answered 404 for the id: invented, or another
    --                   account's; grants nothing, never retried
    outcome                 text NOT NULL
                            CHECK (outcome IN ('granted', 'not_qualifying', 'rejected')),
    reason                  text,
    credit_transaction_id   bigint,
    -- Who recorded it last (audit_actor(): "stripe:<evt_...>" for a
    -- webhook, the API key or "worker" for the create call's answer).
    recorded_by             text,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_invoices_customer ON stripe_invoices (customer_id, created_at);
