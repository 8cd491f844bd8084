/*
 * holds: credit holds (sql/functions/holds.sql). One statement per
 * request: create (with its own Idempotency-Key record), settle (into a
 * usage event, phase 1 of a charge when it needs one), release, list; and
 * tollgate-worker's expiry of the holds past due. The decisions are the
 * SQL functions'; this module only carries them.
 */
#ifndef TOLLGATE_STORE_HOLDS_H
#define TOLLGATE_STORE_HOLDS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"
#include "store/api_keys.h"
#include "store/stripe_requests.h"
#include "store/usage_events.h"

/* A hold as stored; strings borrowed from the context's arena. */
struct hold {
    const char *id;          /* uuid */
    const char *kind;        /* "fix_deployed" */
    const char *fix_id;
    const char *reserves;    /* credit | charge */
    const char *status;      /* active | settled | released | expired */
    long long amount_cents;  /* a charge hold: the price held, minor units; else 0 */
    const char *currency;    /* ISO 4217 lower case; NULL for a credit hold */
    const char *expires_at;  /* RFC 3339 UTC */
    const char *created_at;
    const char *updated_at;  /* when its status last changed */
    long long usage_event_id; /* settled: its usage event; else 0 */
};

/* What the hold statements decided (holds.sql names them). */
enum hold_decision {
    HOLD_CREDIT,      /* create/settle: a credit (held, or taken) */
    HOLD_CHARGE,      /* create: a charge held; settle: phase 1 of its charge committed */
    HOLD_UNBILLED,    /* settle: billing_enabled off: recorded without a charge */
    HOLD_REPLAY,      /* done before: the same answer */
    HOLD_KEY_REUSED,  /* create: the key was used with another body */
    HOLD_IN_PROGRESS, /* settle: settled before, its charge still running */
    HOLD_RELEASED,    /* settle: the hold was released */
    HOLD_EXPIRED,     /* settle, release: the hold expired */
    HOLD_SETTLED,     /* release: the hold was settled */
    HOLD_NOT_FOUND,   /* no such hold of this customer */
    HOLD_NO_CREDIT,   /* no credit and nothing to charge: nothing recorded */
    HOLD_DELINQUENT,  /* no credit, and payment overdue: nothing recorded */
    HOLD_RELEASED_NOW, /* release: released by this request */
    HOLD_SPEND_LIMIT, /* create: a charge would exceed the monthly spend limit */
    HOLD_RATE_LIMITED, /* the key is over its hourly limit: nothing done */
};

/* The answer of holds_create/settle/release. */
struct hold_record {
    enum hold_decision decision;
    struct api_key_auth key;   /* the API key that asked */
    struct hold hold;          /* all but NOT_FOUND and create's refusals */
    struct usage_event event;  /* settle: CREDIT, CHARGE, UNBILLED, REPLAY, IN_PROGRESS */
    struct stripe_request call; /* settle CHARGE: the PaymentIntent call to send */
};

/* Each request's work is one statement that also authenticates the API
 * key with key_hash, counted against limit requests an hour (0: not
 * counted), as usage's does (store/usage_events.h). TG_ENOTFOUND: unknown
 * or revoked key; TG_EDB. */

/* holds_create: hold fix fix_id for the key's customer for ttl seconds,
 * under idempotency_key with request_hash (SHA-256 of the body). */
enum tg_err holds_create(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                         const char *idempotency_key,
                         const uint8_t request_hash[HASH_SHA256_LEN], const char *fix_id,
                         long ttl, struct hold_record *out) __attribute__((warn_unused_result));

/* holds_settle, holds_release: hold hold_id (any text; not a uuid: not
 * found) of the key's customer. */
enum tg_err holds_settle(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                         const char *hold_id, struct hold_record *out)
    __attribute__((warn_unused_result));
enum tg_err holds_release(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                          const char *hold_id, struct hold_record *out)
    __attribute__((warn_unused_result));

/* holds_list: customer_id's holds of status (NULL: any), newest first,
 * at most limit, older than the hold cursor (NULL: from the newest);
 * *rows in ctx's arena, *n of them. TG_EDB, TG_ENOMEM. */
enum tg_err holds_list(struct tg_ctx *ctx, const char *customer_id, const char *status,
                       const char *cursor, int limit, struct hold **rows, size_t *n)
    __attribute__((warn_unused_result));

/* holds_expire_due: expire up to limit active holds past their expiry
 * (tollgate-worker); *n of them. TG_EDB. */
enum tg_err holds_expire_due(struct tg_ctx *ctx, int limit, long long *n)
    __attribute__((warn_unused_result));

#endif
