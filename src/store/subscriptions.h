/*
 * subscriptions: Pro subscriptions (sql/functions/subscriptions.sql):
 * phase 1 of a new subscription, Stripe's state applied to ours (credits
 * for a paid invoice, the customer's tier), and reading them.
 */
#ifndef TOLLGATE_STORE_SUBSCRIPTIONS_H
#define TOLLGATE_STORE_SUBSCRIPTIONS_H

#include <stdbool.h>

#include "core/ctx.h"
#include "store/stripe_requests.h"

/* A subscription; strings borrowed from the context's arena. */
struct subscription {
    const char *id;                     /* uuid */
    const char *customer_id;
    const char *plan;                   /* "pro" */
    const char *status;                 /* creating, active, past_due, canceled, ... */
    const char *stripe_subscription_id; /* sub_..., NULL while creating */
    const char *stripe_price_id;
    const char *current_period_start;   /* RFC 3339 UTC or NULL */
    const char *current_period_end;
    bool cancel_at_period_end;
    const char *canceled_at;            /* RFC 3339 UTC or NULL */
    const char *created_at;
};

/* Stripe's state of a subscription and of its latest invoice, as read
 * from Stripe's objects (domain/subscription.c); borrowed strings. */
struct subscription_state {
    const char *stripe_id;      /* sub_..., NULL when unknown */
    const char *status;         /* Stripe's status (not NULL) */
    long long period_start;     /* unix seconds, 0: unknown */
    long long period_end;
    bool cancel_at_period_end;
    long long canceled_at;      /* unix seconds, 0: not cancelled */
    const char *invoice_id;     /* in_..., NULL: no invoice to apply */
    bool invoice_paid;
};

enum subscriptions_begin_outcome {
    SUBSCRIPTIONS_BEGUN,
    SUBSCRIPTIONS_ALREADY_SUBSCRIBED,
    SUBSCRIPTIONS_NO_PAYMENT_METHOD,
};

/* subscriptions_begin: phase 1 of subscribing customer_id to plan at
 * Stripe price: the call (*call: id, key, params {customer, price,
 * default_payment_method}) and a 'creating' subscription (*subscription_id)
 * are recorded when BEGUN -- or, when ctx->idempotency_ref is set and a
 * call was begun with it before, that call and its subscription are
 * BEGUN again, to be resumed with the same Stripe key. TG_EDB. */
enum tg_err subscriptions_begin(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                const char *price, enum subscriptions_begin_outcome *outcome,
                                const char **subscription_id, struct stripe_request *call)
    __attribute__((warn_unused_result));

/* What one subscriptions_apply changed (strings borrowed from the
 * context's arena): the state before, read under the apply's own lock, so
 * that of two concurrent applies only one sees a change. */
struct subscriptions_change {
    const char *prev_status;
    bool prev_cancel_at_period_end;
    const char *prev_tier; /* the customer's */
    const char *tier;      /* ... after */
};

/* subscriptions_apply: record Stripe's state st of subscription id (a
 * paid invoice grants the plan's credits once per invoice; the customer's
 * tier follows). *out (may be NULL) is the subscription now, *change (may
 * be NULL) what changed (sql/functions/subscriptions.sql,
 * subscription_apply_observed). TG_EDB. */
enum tg_err subscriptions_apply(struct tg_ctx *ctx, const char *id,
                                const struct subscription_state *st, struct subscription *out,
                                struct subscriptions_change *change)
    __attribute__((warn_unused_result));

/* subscriptions_current: customer_id's live subscription. TG_ENOTFOUND. */
enum tg_err subscriptions_current(struct tg_ctx *ctx, const char *customer_id,
                                  struct subscription *out) __attribute__((warn_unused_result));

/* subscriptions_by_call: the subscription recorded with call call_id.
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err subscriptions_by_call(struct tg_ctx *ctx, long long call_id,
                                  struct subscription *out) __attribute__((warn_unused_result));

/* subscriptions_get_by_stripe: our subscription whose Stripe id is sub_id.
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err subscriptions_get_by_stripe(struct tg_ctx *ctx, const char *sub_id,
                                        struct subscription *out)
    __attribute__((warn_unused_result));

/* subscriptions_by_stripe: our subscription id for Stripe's sub_id, or,
 * while ours is still being created, the id its metadata names
 * (metadata_id, may be NULL). TG_ENOTFOUND, TG_EDB. */
enum tg_err subscriptions_by_stripe(struct tg_ctx *ctx, const char *sub_id,
                                    const char *metadata_id, const char **id)
    __attribute__((warn_unused_result));

#endif
