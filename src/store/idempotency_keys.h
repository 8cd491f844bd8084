/*
 * idempotency_keys: the first answers of requests sent with an
 * Idempotency-Key (sql/008_idempotency.sql, sql/functions/idempotency.sql):
 * claim a key, store the answer, give the claim up, purge old records; and
 * the transaction a database-only route runs in, so that its effect and
 * its stored answer commit together.
 */
#ifndef TOLLGATE_STORE_IDEMPOTENCY_KEYS_H
#define TOLLGATE_STORE_IDEMPOTENCY_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

enum idempotency_keys_outcome {
    IDEMPOTENCY_KEYS_NEW,         /* claimed (or taken over): run the request */
    IDEMPOTENCY_KEYS_REPLAY,      /* done with the same request: the stored answer */
    IDEMPOTENCY_KEYS_MISMATCH,    /* the key belongs to another request */
    IDEMPOTENCY_KEYS_IN_PROGRESS, /* the first request still runs */
};

/* What idempotency_keys_claim found. Strings borrowed from ctx's arena. */
struct idempotency_keys_claim {
    enum idempotency_keys_outcome outcome;
    long long id;             /* the record (NEW: for finish and release) */
    int attempt;              /* NEW: which attempt holds the claim (1, more after takeovers) */
    int status;               /* REPLAY: the answer's HTTP status */
    const char *content_type; /* REPLAY */
    const char *headers;      /* REPLAY: JSON text [[name, value], ...], or NULL */
    const char *body;         /* REPLAY: NULL when it held a secret, now purged */
    int retry_after;          /* IN_PROGRESS: seconds */
};

/* idempotency_keys_claim: claim key (1..255 bytes) in scope for route with
 * request hash, for lease seconds (after which a retry may take the claim
 * over). *out as above. TG_EDB. */
enum tg_err idempotency_keys_claim(struct tg_ctx *ctx, const char *scope, const char *key,
                                   const char *route, const uint8_t hash[HASH_SHA256_LEN],
                                   int lease, struct idempotency_keys_claim *out)
    __attribute__((warn_unused_result));

/* idempotency_keys_finish: store the answer of claim id held by attempt:
 * HTTP status, content type, headers (JSON text [[name, value], ...]),
 * body (text); secret_seconds > 0 keeps the body that long only. *stored
 * is false when the claim is no longer that attempt's. TG_EDB. */
enum tg_err idempotency_keys_finish(struct tg_ctx *ctx, long long id, int attempt, int status,
                                    const char *content_type, const char *headers, const char *body,
                                    int secret_seconds, bool *stored)
    __attribute__((warn_unused_result));

/* idempotency_keys_release: give claim id up if attempt still holds it
 * (the request changed nothing). TG_EDB. */
enum tg_err idempotency_keys_release(struct tg_ctx *ctx, long long id, int attempt)
    __attribute__((warn_unused_result));

/* idempotency_keys_purge: delete records older than retention seconds and
 * purge the secret bodies whose time is up, at most limit of each; *n
 * rows changed. TG_EDB. */
enum tg_err idempotency_keys_purge(struct tg_ctx *ctx, long retention, int limit, long long *n)
    __attribute__((warn_unused_result));

/* idempotency_keys_begin, _commit, _rollback: BEGIN, COMMIT and ROLLBACK
 * on ctx's connection. TG_EDB. */
enum tg_err idempotency_keys_begin(struct tg_ctx *ctx) __attribute__((warn_unused_result));
enum tg_err idempotency_keys_commit(struct tg_ctx *ctx) __attribute__((warn_unused_result));
enum tg_err idempotency_keys_rollback(struct tg_ctx *ctx) __attribute__((warn_unused_result));

#endif
