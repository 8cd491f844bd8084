/*
 * metrics_families: the metrics counted outside the HTTP request path --
 * their names, help texts, labels and the fixed set of values each label
 * may take (docs/operations/metrics.md). The layout of the shared region
 * follows from this table (metrics.c hashes it into the file's header),
 * so changing a set makes a new file, never a misread one.
 */
#include "core/metrics_internal.h"

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define DIM(label, values)                                                                         \
    {                                                                                              \
        label, values, N(values)                                                                   \
    }

static const char *const signup_sources[] = {"api", "github_marketplace"};
static const char *const plans[] = {"pro", "other"};
static const char *const cancel_reasons[] = {"immediately", "period_end", "nonpayment"};
static const char *const payment_kinds[] = {"fix_charge", "invoice"};
static const char *const payment_outcomes[] = {"succeeded", "failed"};
static const char *const currencies[] = {"usd", "eur", "gbp", "other"};
/* Stripe's decline codes worth telling apart (Stripe: "Decline codes"). */
static const char *const decline_codes[] = {"insufficient_funds",
                                            "generic_decline",
                                            "card_declined",
                                            "expired_card",
                                            "incorrect_cvc",
                                            "lost_card",
                                            "stolen_card",
                                            "fraudulent",
                                            "do_not_honor",
                                            "processing_error",
                                            "authentication_required",
                                            "other"};
static const char *const invoice_outcomes[] = {"paid", "payment_failed"};
static const char *const usage_outcomes[] = {"credit", "charged", "refused", "unbilled",
                                             "replayed"};
/* The ledger's kinds (sql/006_functions_apart.sql, domain ledger_kind). */
static const char *const ledger_kinds[] = {
    "trial_signup", "trial_billing_added", "pro_subscription_payment",
    "purchased",    "adjustment",          "refund",
    "other"};
static const char *const tiers[] = {"none", "trial", "payg", "pro", "other"};
/* Stripe operations (integration/stripe.c names each call). */
static const char *const operations[] = {"create_customer",
                                         "update_customer",
                                         "attach_payment_method",
                                         "get_payment_method",
                                         "create_payment_intent",
                                         "get_payment_intent",
                                         "list_payment_intents",
                                         "create_subscription",
                                         "update_subscription",
                                         "cancel_subscription",
                                         "get_subscription",
                                         "list_subscriptions",
                                         "get_invoice",
                                         "list_invoices",
                                         "preview_invoice",
                                         "pay_invoice",
                                         "get_charge",
                                         "other"};
static const char *const status_classes[] = {"2xx", "4xx", "5xx", "network", "other"};
static const char *const webhook_sources[] = {"stripe", "github"};
/* Event types tollgate handles or expects; the rest count as "other". */
static const char *const webhook_types[] = {"customer.subscription.created",
                                            "customer.subscription.updated",
                                            "customer.subscription.deleted",
                                            "invoice.paid",
                                            "invoice.payment_succeeded",
                                            "invoice.payment_failed",
                                            "payment_intent.succeeded",
                                            "payment_intent.payment_failed",
                                            "charge.refunded",
                                            "payment_method.attached",
                                            "payment_method.detached",
                                            "marketplace_purchase",
                                            "ping",
                                            "other"};
static const char *const received_outcomes[] = {"stored", "duplicate", "rejected"};
static const char *const reject_reasons[] = {"",          "signature", "too_old",      "too_new",
                                             "malformed", "too_large", "unconfigured", "other"};
static const char *const applied_outcomes[] = {"applied", "ignored", "retry", "dead_letter"};
/* tollgate-worker's jobs (src/jobs/jobs.c). */
static const char *const jobs[] = {"webhook_events", "emails",     "grace_periods",
                                   "rate_limits",    "audit_seal", "idempotency_purge",
                                   "stripe_calls",   "holds",      "outbound_webhooks"};
static const char *const job_outcomes[] = {"ok", "error"};
/* What an attempt at a webhook to the product came to (outbound.c). */
static const char *const delivery_outcomes[] = {"delivered", "retry", "dead_letter", "other"};

/* Histogram buckets, microseconds, and as the text writes them. */
static const int64_t stripe_us[] = {50000,   100000,  250000,   500000,   1000000,
                                    2500000, 5000000, 10000000, 30000000, 60000000};
static const char *const stripe_le[] = {"0.05", "0.1", "0.25", "0.5", "1",
                                        "2.5",  "5",   "10",   "30",  "60"};
static const int64_t lag_us[] = {100000,   500000,   1000000,   5000000,   10000000,
                                 30000000, 60000000, 300000000, 900000000, 3600000000};
static const char *const lag_le[] = {"0.1", "0.5", "1",   "5",   "10",
                                     "30",  "60",  "300", "900", "3600"};

const struct metrics_family_def metrics_families[MF_COUNT] = {
    [MF_SIGNUPS] = {"tollgate_signups_total",
                    "Customers signed up, by where they came from.",
                    MT_COUNTER,
                    1,
                    {DIM("source", signup_sources)},
                    .sparse = 0},
    [MF_PAYMENT_METHODS_ADDED] = {"tollgate_payment_methods_added_total",
                                  "Payment methods attached with billing consent.",
                                  MT_COUNTER,
                                  0,
                                  {{0}},
                                  .sparse = 0},
    [MF_SUBSCRIPTIONS_CREATED] = {"tollgate_subscriptions_created_total",
                                  "Subscriptions started (their first invoice asked for).",
                                  MT_COUNTER,
                                  1,
                                  {DIM("plan", plans)},
                                  .sparse = 0},
    [MF_SUBSCRIPTIONS_RENEWED] = {"tollgate_subscriptions_renewed_total",
                                  "Subscription periods paid after the first.",
                                  MT_COUNTER,
                                  1,
                                  {DIM("plan", plans)},
                                  .sparse = 0},
    [MF_SUBSCRIPTIONS_CANCELED] = {"tollgate_subscriptions_canceled_total",
                                   "Subscriptions cancelled, by why.",
                                   MT_COUNTER,
                                   2,
                                   {DIM("plan", plans), DIM("reason", cancel_reasons)},
                                   .sparse = 0},
    [MF_PAYMENTS] = {"tollgate_payments_total",
                     "Payments settled, by kind and outcome.",
                     MT_COUNTER,
                     2,
                     {DIM("kind", payment_kinds), DIM("outcome", payment_outcomes)},
                     .sparse = 0},
    [MF_PAYMENT_AMOUNT] = {"tollgate_payment_amount_cents_total",
                           "Amounts of settled payments, in minor units of currency.",
                           MT_COUNTER,
                           3,
                           {DIM("kind", payment_kinds), DIM("outcome", payment_outcomes),
                            DIM("currency", currencies)},
                           .sparse = 0},
    [MF_PAYMENT_FAILURES] = {"tollgate_payment_failures_total",
                             "Failed payments, by Stripe decline code.",
                             MT_COUNTER,
                             2,
                             {DIM("kind", payment_kinds), DIM("code", decline_codes)},
                             .sparse = 0},
    [MF_INVOICES] = {"tollgate_invoices_total",
                     "Stripe invoices paid or failed.",
                     MT_COUNTER,
                     1,
                     {DIM("outcome", invoice_outcomes)},
                     .sparse = 0},
    [MF_USAGE_EVENTS] = {"tollgate_usage_events_total",
                         "Usage requests (fixes deployed), by outcome; a replay is not a fix.",
                         MT_COUNTER,
                         1,
                         {DIM("outcome", usage_outcomes)},
                         .sparse = 0},
    [MF_CREDITS_GRANTED] = {"tollgate_credits_granted_total",
                            "Credits added to the ledger, by entry kind.",
                            MT_COUNTER,
                            1,
                            {DIM("kind", ledger_kinds)},
                            .sparse = 0},
    [MF_CREDITS_CONSUMED] = {"tollgate_credits_consumed_total",
                             "Credits consumed by fixes.",
                             MT_COUNTER,
                             0,
                             {{0}},
                             .sparse = 0},
    [MF_TIER_TRANSITIONS] = {"tollgate_tier_transitions_total",
                             "Customers moving between tiers (none: a new customer).",
                             MT_COUNTER,
                             2,
                             {DIM("from", tiers), DIM("to", tiers)},
                             .sparse = 0},
    [MF_STRIPE_REQUESTS] = {"tollgate_stripe_requests_total",
                            "HTTP attempts at Stripe, by operation and answer.",
                            MT_COUNTER,
                            2,
                            {DIM("operation", operations), DIM("status_class", status_classes)},
                            .sparse = 1},
    [MF_STRIPE_DURATION] = {"tollgate_stripe_request_duration_seconds",
                            "Duration of each HTTP attempt at Stripe.",
                            MT_HISTOGRAM,
                            1,
                            {DIM("operation", operations)},
                            stripe_us,
                            stripe_le,
                            N(stripe_us),
                            .sparse = 1},
    [MF_STRIPE_RETRIES] = {"tollgate_stripe_retries_total",
                           "Attempts at Stripe after the first of a call.",
                           MT_COUNTER,
                           1,
                           {DIM("operation", operations)},
                           .sparse = 1},
    [MF_STRIPE_REPLAYS] = {"tollgate_stripe_idempotent_replays_total",
                           "Answers Stripe replayed for a repeated Idempotency-Key.",
                           MT_COUNTER,
                           1,
                           {DIM("operation", operations)},
                           .sparse = 1},
    [MF_WEBHOOKS_RECEIVED] = {"tollgate_webhooks_received_total",
                              "Inbound webhooks, by source, type and what became of them.",
                              MT_COUNTER,
                              4,
                              {DIM("source", webhook_sources), DIM("type", webhook_types),
                               DIM("outcome", received_outcomes), DIM("reason", reject_reasons)},
                              .sparse = 1},
    [MF_WEBHOOKS_APPLIED] = {"tollgate_webhooks_applied_total",
                             "Stored webhook events handled by tollgate-worker, by outcome.",
                             MT_COUNTER,
                             3,
                             {DIM("source", webhook_sources), DIM("type", webhook_types),
                              DIM("outcome", applied_outcomes)},
                             .sparse = 1},
    [MF_WEBHOOK_LAG] = {"tollgate_webhook_lag_seconds",
                        "Time from a webhook's receipt to its handling being final.",
                        MT_HISTOGRAM,
                        1,
                        {DIM("source", webhook_sources)},
                        lag_us,
                        lag_le,
                        N(lag_us),
                        .sparse = 0},
    [MF_JOB_RUNS] = {"tollgate_worker_job_runs_total",
                     "tollgate-worker's job runs, by outcome.",
                     MT_COUNTER,
                     2,
                     {DIM("worker_job", jobs), DIM("outcome", job_outcomes)},
                     .sparse = 0},
    [MF_JOB_LAST_RUN] = {"tollgate_worker_job_last_run_timestamp_seconds",
                         "When each tollgate-worker job last ran (unix time).",
                         MT_GAUGE,
                         1,
                         {DIM("worker_job", jobs)},
                         .sparse = 0},
    [MF_OUTBOUND_DELIVERIES] = {"tollgate_outbound_deliveries_total",
                                "Attempts at webhooks to the product, by what they came to.",
                                MT_COUNTER,
                                1,
                                {DIM("outcome", delivery_outcomes)},
                                .sparse = 0},
};
