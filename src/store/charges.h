/*
 * charges: paying for a fix at balance 0 (sql/functions/charges.sql):
 * settling a charge's PaymentIntent (phase 3), finding charges by call and
 * by PaymentIntent, refunds, and charges owed again with a new card.
 */
#ifndef TOLLGATE_STORE_CHARGES_H
#define TOLLGATE_STORE_CHARGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/stripe_requests.h"
#include "store/usage_events.h"

/* A charge as reconciliation compares it with Stripe's PaymentIntent;
 * strings borrowed from the context's arena. */
struct charge_state {
    long long id;
    const char *status;         /* pending | succeeded | failed */
    const char *payment_intent; /* pi_... of its latest attempt; NULL before one */
};

/* How one attempt at a charge ended, for charges_settle. */
struct charge_settlement {
    const char *outcome;        /* succeeded | pending | failed */
    const char *payment_intent; /* pi_..., NULL when none was made */
    const char *failure_code;   /* Stripe's error code, NULL unless failed */
    const char *decline_code;   /* Stripe's decline_code, NULL when none */
};

/* charges_settle: phase 3 of charge_id (s; Stripe's answer result,
 * borrowed, kept for operators; grace_days for a charge that fails after
 * its fix was delivered). *found false when the usage event was removed (a
 * decline before delivery: nothing consumed); else *out is the event now.
 * Safe to repeat. TG_EDB. */
enum tg_err charges_settle(struct tg_ctx *ctx, long long charge_id,
                           const struct charge_settlement *s, json_t *result, long grace_days,
                           bool *found, struct usage_event *out)
    __attribute__((warn_unused_result));

/* charges_call: the recorded Stripe call of charge_id. TG_ENOTFOUND,
 * TG_EDB. */
enum tg_err charges_call(struct tg_ctx *ctx, long long charge_id, struct stripe_request *out)
    __attribute__((warn_unused_result));

/* charges_by_call: the charge whose call is call_id. TG_ENOTFOUND, TG_EDB. */
enum tg_err charges_by_call(struct tg_ctx *ctx, long long call_id, long long *charge_id)
    __attribute__((warn_unused_result));

/* charges_by_intent: the charge of PaymentIntent pi, or, for one not yet
 * recorded, the charge id its metadata names (metadata_id, may be NULL).
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err charges_by_intent(struct tg_ctx *ctx, const char *pi, const char *metadata_id,
                              long long *charge_id) __attribute__((warn_unused_result));

/* charges_get: the charge whose id, as text, is id (e.g. a PaymentIntent's
 * tollgate_charge_id metadata; anything else is not found). TG_ENOTFOUND,
 * TG_EDB. */
enum tg_err charges_get(struct tg_ctx *ctx, const char *id, struct charge_state *out)
    __attribute__((warn_unused_result));

/* charges_record_refund: PaymentIntent pi's charge has refunded_cents
 * refunded in all. *found false when pi is not ours. TG_EDB. */
enum tg_err charges_record_refund(struct tg_ctx *ctx, const char *pi, long long refunded_cents,
                                  bool *found) __attribute__((warn_unused_result));

/* charges_owed_retry: phase 1 again for every charge customer_id owes (it
 * failed after its fix was delivered), with the current default payment
 * method; the charges to run in *ids (*n, arena-owned). TG_EDB. */
enum tg_err charges_owed_retry(struct tg_ctx *ctx, const char *customer_id, long long **ids,
                               size_t *n) __attribute__((warn_unused_result));

#endif
