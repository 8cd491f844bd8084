/*
 * outbox: Stripe calls made in "atomic phases" (DESIGN.md section 4;
 * Brandur Leach, "Implementing Stripe-like Idempotency Keys in Postgres").
 * Phase 1 commits the call (operation, parameters, idempotency key) in
 * stripe_requests; phase 2 sends it; phase 3 commits the result. A call left
 * pending -- Stripe unreachable, or the process killed between phases -- is
 * repeated by tollgate-worker with the same key, so Stripe acts at most
 * once, and the result is applied by the same code as in the request.
 */
#ifndef TOLLGATE_OUTBOX_H
#define TOLLGATE_OUTBOX_H

#include <jansson.h>

#include "http/http.h"
#include "integration/stripe.h"

/* One recorded call; strings and params owned by the request. */
struct outbox_call {
    long long id;
    const char *key;         /* the Idempotency-Key; sub-steps append ":step" */
    const char *customer_id; /* tollgate customer uuid */
    const char *operation;   /* attach_payment_method, create_subscription, ... */
    json_t *params;          /* what the call sends, as recorded */
    int attempts;
};

/* outbox_begin: phase 1 -- record operation with params (borrowed) for
 * customer_id. Fills *out (out->params is a new arena-owned copy). TG_EDB. */
enum tg_err outbox_begin(struct http_request *req, const char *customer_id,
                         const char *operation, json_t *params, struct outbox_call *out)
    __attribute__((warn_unused_result));

/* outbox_finish: record the result of call: status "succeeded" or "failed"
 * (final) or "pending" (tollgate-worker retries with backoff); result
 * (borrowed, may be NULL) is kept for operators. TG_EDB. */
enum tg_err outbox_finish(struct http_request *req, const struct outbox_call *call,
                          const char *status, json_t *result) __attribute__((warn_unused_result));

/* outbox_step_key: the idempotency key of sub-step step of call. */
const char *outbox_step_key(struct http_request *req, const struct outbox_call *call,
                            const char *step);

/* outbox_fail_from: map a Stripe answer that is not STRIPE_OK to our error,
 * with the detail and, for card errors, Stripe's code and decline_code as
 * problem members: card error -> TG_EPAYMENTFAILED, invalid -> TG_EINVALID
 * naming param, unreachable -> TG_EUPSTREAM. */
enum tg_err outbox_fail_from(struct http_request *req, const struct stripe_result *r,
                             const char *param);

/* outbox_claim: for tollgate-worker, up to limit pending calls whose time
 * has come (one never attempted only after stripe_call_grace_seconds: its
 * request may still be sending it), leased for two minutes so another
 * worker does not take them (FOR UPDATE SKIP LOCKED). *out is an arena
 * array of *n calls. */
enum tg_err outbox_claim(struct http_request *req, int limit, struct outbox_call **out, size_t *n)
    __attribute__((warn_unused_result));

/* outbox_resume: run a claimed call again (same keys) and apply its result
 * by its operation's own code. TG_OK when it reached a final state. */
enum tg_err outbox_resume(struct http_request *req, const struct outbox_call *call)
    __attribute__((warn_unused_result));

#endif
