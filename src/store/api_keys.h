/*
 * api_keys: the api_keys and rate_limits tables (sql/functions/api_keys.sql):
 * authentication by key hash with the per-key hourly counter, and a
 * customer's keys. Only a key's SHA-256 and display prefix are stored.
 */
#ifndef TOLLGATE_STORE_API_KEYS_H
#define TOLLGATE_STORE_API_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"

/* An API key as clients and operators see it: never the key or its hash.
 * Strings borrowed from the context's arena. */
struct api_key {
    const char *id;           /* uuid */
    const char *customer_id;  /* uuid */
    const char *prefix;       /* "tg_live_1a2b" */
    const char *name;         /* NULL when none was given */
    const char *created_at;   /* RFC 3339 UTC */
    const char *last_used_at; /* NULL when never used; updated at most once a minute */
    const char *revoked_at;   /* NULL while active */
};

/* Who a request's key belongs to, and its rate-limit window. */
struct api_key_auth {
    const char *api_key_id;  /* uuid */
    const char *customer_id; /* uuid */
    const char *key_prefix;  /* display prefix, safe to log */
    long long requests;      /* made this hour, this one included; 0 when not counted */
    int reset_seconds;       /* until the hour's window resets */
};

/* api_keys_authenticate: the active key with hash, counted against limit
 * requests an hour (0: not counted), and the session's audit actor set to
 * it. TG_ENOTFOUND for an unknown or revoked key; TG_EDB. */
enum tg_err api_keys_authenticate(struct tg_ctx *ctx, const uint8_t hash[HASH_SHA256_LEN],
                                  long limit, struct api_key_auth *out)
    __attribute__((warn_unused_result));

/* api_keys_list: customer_id's keys, newest first, into *out (*n of them,
 * arena-owned). TG_EDB. */
enum tg_err api_keys_list(struct tg_ctx *ctx, const char *customer_id, struct api_key **out,
                          size_t *n) __attribute__((warn_unused_result));

enum api_keys_create_outcome { API_KEYS_CREATED, API_KEYS_NO_CUSTOMER, API_KEYS_LIMIT_REACHED };

/* api_keys_create: store a key (hash, prefix, name or NULL) for
 * customer_id unless it has max active keys. *outcome says which; *out is
 * the key when created. TG_EDB. */
enum tg_err api_keys_create(struct tg_ctx *ctx, const char *customer_id,
                            const uint8_t hash[HASH_SHA256_LEN], const char *prefix,
                            const char *name, int max, enum api_keys_create_outcome *outcome,
                            struct api_key *out) __attribute__((warn_unused_result));

enum api_keys_revoke_outcome { API_KEYS_REVOKED, API_KEYS_NOT_FOUND, API_KEYS_LAST_KEY };

/* api_keys_revoke: revoke key_id (a uuid) -- of customer_id, or of anyone
 * when customer_id is NULL (an operator); the customer's last active key
 * only when allow_last. *already_revoked when it was revoked before
 * (revoking is idempotent); *out is the key for REVOKED and LAST_KEY.
 * TG_EDB. */
enum tg_err api_keys_revoke(struct tg_ctx *ctx, const char *customer_id, const char *key_id,
                            bool allow_last, enum api_keys_revoke_outcome *outcome,
                            bool *already_revoked, struct api_key *out)
    __attribute__((warn_unused_result));

/* api_keys_prune_rate_limits: drop the counters of windows that are over;
 * *deleted counts them. TG_EDB. */
enum tg_err api_keys_prune_rate_limits(struct tg_ctx *ctx, long long *deleted)
    __attribute__((warn_unused_result));

#endif
