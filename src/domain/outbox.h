/*
 * outbox: Stripe calls made in "atomic phases" (DESIGN.md section 4;
 * Brandur Leach, "Implementing Stripe-like Idempotency Keys in Postgres").
 * Phase 1 commits the call (operation, parameters, idempotency key) in
 * stripe_requests; phase 2 sends it; phase 3 commits the result. A call
 * left pending -- Stripe unreachable, or the process killed between
 * phases -- is repeated by tollgate-worker with the same key (its table of
 * operations: jobs/stripe_calls.c), so Stripe acts at most once and the
 * result is applied by the same code as in the request. This module holds
 * what every operation shares: keys of sub-steps, recording outcomes, and
 * judging Stripe's answers.
 */
#ifndef TOLLGATE_OUTBOX_H
#define TOLLGATE_OUTBOX_H

#include "core/ctx.h"
#include "integration/stripe.h"
#include "store/stripe_requests.h"

/* outbox_step_key: the idempotency key of sub-step step of call (the
 * call's key + ":" + step), in ctx's arena. */
const char *outbox_step_key(struct tg_ctx *ctx, const struct stripe_request *call,
                            const char *step);

/* outbox_key_forgotten: Stripe may have forgotten call's idempotency key:
 * it was recorded more than 23 hours ago (Stripe keeps keys 24 hours,
 * "Idempotent requests"; an hour of margin). Such a call must look for
 * what it may already have made before it is sent again. False for a
 * call just begun (created_at 0). */
bool outbox_key_forgotten(const struct tg_ctx *ctx, const struct stripe_request *call);

/* outbox_fail: record in ctx the failure a Stripe answer that is not
 * STRIPE_OK means, and return it: a card error is TG_EPAYMENTFAILED with
 * Stripe's message and its code and decline_code as problem members; an
 * invalid request TG_EINVALID naming param; no answer TG_EUPSTREAM. */
enum tg_err outbox_fail(struct tg_ctx *ctx, const struct stripe_result *r, const char *param);

/* outbox_finish: record call's final status "succeeded" or "failed", or
 * "pending" for tollgate-worker to retry; result (borrowed, may be NULL)
 * is kept for operators. TG_EDB. */
enum tg_err outbox_finish(struct tg_ctx *ctx, const struct stripe_request *call,
                          const char *status, json_t *result)
    __attribute__((warn_unused_result));

/* outbox_finish_failed: record the outcome of a run that failed with err:
 * pending for TG_EUPSTREAM (tollgate-worker goes on), failed otherwise;
 * result as for outbox_finish. Returns err (or the recording's error),
 * keeping ctx's failure. */
enum tg_err outbox_finish_failed(struct tg_ctx *ctx, const struct stripe_request *call,
                                 enum tg_err err, json_t *result);

#endif
