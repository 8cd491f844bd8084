/*
 * hold: credit holds (issue 14). A fix takes minutes to build; a hold
 * reserves what it will cost when it starts -- one credit if the
 * available balance (balance less the credits held) allows, else, for a
 * customer who can be charged, the right to one charge at the tier's
 * price -- and settling it records the usage event exactly as
 * POST /api/v1/usage would (domain/usage.h: a credit, or a charge through
 * domain/charge.h), releasing it frees what it held. A hold not settled
 * or released by its expiry is released by tollgate-worker
 * (hold_expire_due). Holds are not ledger entries. The rules are one
 * statement each (sql/functions/holds.sql), taken under the customer's
 * row lock, so they are exact under concurrency.
 */
#ifndef TOLLGATE_HOLD_H
#define TOLLGATE_HOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"
#include "store/holds.h"

/* Time to live of a hold, seconds: the default and the most allowed. */
#define HOLD_TTL_DEFAULT 3600
#define HOLD_TTL_MAX 86400

struct hold_result {
    struct api_key_auth auth; /* filled once the key is known, also on errors */
    struct hold hold;         /* the hold as it is now */
    struct usage_event event; /* settle: the usage event it became */
    bool replayed;            /* create: an earlier request with this key made it */
};

/* Each takes the API key presented (api_key, NULL when none) and
 * authenticates it in the statement that does the work, counted against
 * the hourly limit, as usage does (domain/usage.h): one round trip a
 * request. Each may also fail with TG_EUNAUTHORIZED or TG_ERATELIMITED
 * (nothing done); out->auth is filled once the key is known. */

/* hold_create: hold fix fix_id for the key's customer for ttl seconds
 * (1..HOLD_TTL_MAX) under idempotency_key, keyed to the SHA-256 of request
 * (request_len bytes: the body). A retry with the key and body returns
 * the hold (replayed). Errors: TG_EINSUFFICIENT (no credit available and
 * nothing to charge; nothing recorded, the key stays free), TG_ESPENDLIMIT
 * (a charge hold would exceed the monthly spend limit; nothing recorded),
 * TG_EIDEMPOTENCYREUSE, TG_EDB. */
enum tg_err hold_create(struct tg_ctx *ctx, const char *api_key, const char *idempotency_key,
                        const void *request, size_t request_len, const char *fix_id, long ttl,
                        struct hold_result *out) __attribute__((warn_unused_result));

/* hold_settle: hold hold_id of the key's customer becomes its usage event (out).
 * Again for a settled hold: the same event. Errors: TG_ENOTFOUND,
 * TG_EHOLDEXPIRED, TG_EHOLDRELEASED, TG_EINSUFFICIENT (a charge hold that
 * cannot be charged now; it stays active), TG_EPAYMENTFAILED (declined:
 * nothing consumed, the hold is active again), TG_ECONFLICT (its charge
 * still runs; retry-after set), TG_EDB. */
enum tg_err hold_settle(struct tg_ctx *ctx, const char *api_key, const char *hold_id,
                        struct hold_result *out) __attribute__((warn_unused_result));

/* hold_release: give hold hold_id of the key's customer up. Again for a released
 * hold, or one that expired: the hold as it is. Errors: TG_ENOTFOUND,
 * TG_EHOLDSETTLED, TG_EDB. */
enum tg_err hold_release(struct tg_ctx *ctx, const char *api_key, const char *hold_id,
                         struct hold_result *out) __attribute__((warn_unused_result));

/* hold_list: customer_id's holds with status (NULL: any; else active,
 * settled, released or expired), newest first, limit (1..100) of them
 * after hold cursor (NULL: from the newest). *rows in ctx's arena;
 * *has_more when there are older ones. TG_EDB, TG_ENOMEM. */
enum tg_err hold_list(struct tg_ctx *ctx, const char *customer_id, const char *status,
                      const char *cursor, int limit, struct hold **rows, size_t *n,
                      bool *has_more) __attribute__((warn_unused_result));

/* hold_expire_due: tollgate-worker's pass: up to limit holds past their
 * expiry are expired (their credits free again); *n of them. TG_EDB. */
enum tg_err hold_expire_due(struct tg_ctx *ctx, int limit, long long *n)
    __attribute__((warn_unused_result));

#endif
