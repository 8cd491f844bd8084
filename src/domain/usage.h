/*
 * usage: metering. Each fix deployed takes one credit (DESIGN.md section
 * 2); at balance 0 a payg or pro customer with a payment method is charged
 * for one (domain/charge.h), anyone else is refused and nothing is
 * recorded. The rule, authentication and the per-key rate limit are one
 * statement (sql/functions/usage.sql): one round trip. Requests carry an
 * Idempotency-Key (IETF draft "The Idempotency-Key HTTP Header Field"): a
 * retry with the same key and body gets the first event again, so its
 * answer is the same byte for byte; the same key with another body is
 * refused; one still being charged is a conflict.
 */
#ifndef TOLLGATE_USAGE_H
#define TOLLGATE_USAGE_H

#include <stddef.h>

#include "core/ctx.h"
#include "store/api_keys.h"
#include "store/usage_events.h"

/* The detail of TG_ESPENDLIMIT, for a fix and a hold alike. */
#define SPEND_LIMIT_DETAIL                                                                     \
    "no credits available, and charging this fix would take this month's charges over the "    \
    "spend limit: raise or remove it (PUT /api/v1/customers/me/spend_limit)"

struct usage_result {
    struct api_key_auth auth; /* filled once the key is known, also on errors */
    struct usage_event event; /* on success */
};

/* usage_record_fix: record one deployed fix (fix_id, optional metadata as
 * compact JSON text or NULL) for the customer of api_key (the presented
 * key, NULL when none), under idempotency_key, keyed to the SHA-256 of
 * request (request_len bytes: the request body). Errors: TG_EUNAUTHORIZED,
 * TG_ERATELIMITED, TG_EINSUFFICIENT (no credit, nothing to charge),
 * TG_ESPENDLIMIT (the charge would exceed the monthly spend limit;
 * nothing recorded),
 * TG_EPAYMENTFAILED (the charge was declined; nothing consumed),
 * TG_EIDEMPOTENCYREUSE, TG_ECONFLICT (the first request with this key is
 * still being charged), TG_EDB. */
enum tg_err usage_record_fix(struct tg_ctx *ctx, const char *api_key,
                             const char *idempotency_key, const void *request,
                             size_t request_len, const char *fix_id, const char *metadata,
                             struct usage_result *out) __attribute__((warn_unused_result));

#endif
