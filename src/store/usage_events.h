/*
 * usage_events: metering (sql/functions/usage.sql). One statement
 * authenticates the API key, counts it against the hourly limit, and
 * records the fix under the request's Idempotency-Key: paid with a credit,
 * or phase 1 of a charge, or unbilled; or it answers a replay, or refuses.
 */
#ifndef TOLLGATE_STORE_USAGE_EVENTS_H
#define TOLLGATE_STORE_USAGE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"
#include "store/api_keys.h"
#include "store/stripe_requests.h"

/* A usage event as stored; strings borrowed from the context's arena. */
struct usage_event {
    long long id;
    const char *kind;          /* "fix_deployed" */
    const char *fix_id;
    const char *outcome;       /* credit, charged, processing, unbilled */
    long long balance_after;   /* credits left after this event */
    long long ledger_entry_id; /* 0 when none (unbilled, processing) */
    const char *created_at;    /* RFC 3339 UTC */
    long long charge_id;       /* 0 unless charged */
    long long amount_cents;    /* of the charge, in minor units of currency */
    const char *currency;      /* ISO 4217, lower case; NULL unless charged */
    bool replayed;             /* an earlier request with this key recorded it */
};

/* What usage_events_record decided (usage.sql names them). */
enum usage_decision {
    USAGE_CREDIT,       /* paid with one credit */
    USAGE_CHARGE,       /* phase 1 of a charge committed: send call, then settle */
    USAGE_UNBILLED,     /* billing_enabled is off: recorded without a charge */
    USAGE_REPLAY,       /* the key's event, recorded by an earlier request */
    USAGE_KEY_REUSED,   /* the key was used with another request body */
    USAGE_IN_PROGRESS,  /* the key's event is still being charged */
    USAGE_NO_CREDIT,    /* no credit and nothing to charge: nothing recorded */
    USAGE_DELINQUENT,   /* no credit, and payment overdue: nothing recorded */
    USAGE_RATE_LIMITED, /* over the key's hourly limit: nothing recorded */
    USAGE_SPEND_LIMIT,  /* the charge would exceed the monthly spend limit: nothing recorded */
};

struct usage_record {
    enum usage_decision decision;
    struct api_key_auth key;     /* always */
    struct usage_event event;    /* CREDIT, CHARGE, UNBILLED, REPLAY, IN_PROGRESS */
    struct stripe_request call;  /* CHARGE: the PaymentIntent call to send */
};

/* usage_events_record: all of POST /api/v1/usage's database work in one
 * statement: the key with hash, limit requests an hour (0: none), and a
 * fix fix_id (metadata: compact JSON text or NULL) under idempotency_key
 * with request_hash (SHA-256 of the body). TG_ENOTFOUND: unknown or revoked
 * key. TG_EDB. */
enum tg_err usage_events_record(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN],
                                long limit, const char *idempotency_key,
                                const uint8_t request_hash[HASH_SHA256_LEN], const char *fix_id,
                                const char *metadata, struct usage_record *out)
    __attribute__((warn_unused_result));

#endif
