/*
 * stripe_requests: the outbox of Stripe calls (sql/functions/
 * stripe_requests.sql). A call is committed with its idempotency key
 * before it is sent, and its result in a second transaction ("atomic
 * phases", DESIGN.md section 4).
 */
#ifndef TOLLGATE_STORE_STRIPE_REQUESTS_H
#define TOLLGATE_STORE_STRIPE_REQUESTS_H

#include <jansson.h>
#include <stddef.h>

#include "core/ctx.h"

/* One recorded call; strings and params owned by the context's arena. */
struct stripe_request {
    long long id;
    const char *key;         /* the Idempotency-Key; sub-steps append ":step" */
    const char *customer_id; /* tollgate customer uuid */
    const char *operation;   /* attach_payment_method, create_subscription, charge, ... */
    json_t *params;          /* what the call sends, as recorded */
    int attempts;
    long long created_at;    /* when phase 1 committed it, unix seconds; 0: just now */
};

/* stripe_requests_begin: record operation with params (borrowed) for
 * customer_id, with a new idempotency key -- or, when ctx->idempotency_ref
 * is set, with the key derived from it, resuming the call begun under that
 * key before if there is one (sql/functions/stripe_requests.sql).
 * *out->params is an arena-owned copy. TG_EDB. */
enum tg_err stripe_requests_begin(struct tg_ctx *ctx, const char *customer_id,
                                  const char *operation, json_t *params,
                                  struct stripe_request *out) __attribute__((warn_unused_result));

/* stripe_requests_finish: record the outcome of call id: "succeeded" or
 * "failed" (final) or "pending" (tollgate-worker retries with backoff, 1 s
 * doubling to 1 h); result (borrowed, may be NULL) is kept for operators.
 * TG_EDB. */
enum tg_err stripe_requests_finish(struct tg_ctx *ctx, long long id, const char *status,
                                   json_t *result) __attribute__((warn_unused_result));

/* stripe_requests_claim: up to limit pending calls whose time has come (a
 * call never attempted only after grace_seconds: its request may still be
 * sending it), leased for two minutes (FOR UPDATE SKIP LOCKED), into *out
 * (*n, arena-owned). TG_EDB. */
enum tg_err stripe_requests_claim(struct tg_ctx *ctx, int limit, long grace_seconds,
                                  struct stripe_request **out, size_t *n)
    __attribute__((warn_unused_result));

/* stripe_requests_json: j as compact text in ctx's arena ("null" for
 * NULL), for a jsonb parameter. NULL when out of memory. */
const char *stripe_requests_json(struct tg_ctx *ctx, json_t *j);

/* stripe_requests_params: a call's recorded params (jsonb text, as read
 * back from the database) into *out, owned by ctx's arena. Errors:
 * TG_EINTERNAL when the text is not JSON (a corrupt row), TG_ENOMEM. */
enum tg_err stripe_requests_params(struct tg_ctx *ctx, const char *text, json_t **out)
    __attribute__((warn_unused_result));

#endif
