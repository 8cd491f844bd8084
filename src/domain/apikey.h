/*
 * apikey: API keys are "tg_<env>_<64 hex>", where env is "live" in
 * production and "test" elsewhere and the hex is 32 bytes from OpenSSL's
 * RAND_bytes (DESIGN.md section 3). Only the SHA-256 of a key and its
 * display prefix are stored; a key is shown once, at creation, and never
 * logged.
 */
#ifndef TOLLGATE_APIKEY_H
#define TOLLGATE_APIKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/hash.h"
#include "core/tgerr.h"
#include "http/http.h"

#define APIKEY_RANDOM_BYTES 32
#define APIKEY_MAX_LEN (8 + 2 * APIKEY_RANDOM_BYTES) /* "tg_live_" + hex */
#define APIKEY_PREFIX_LEN 12                         /* "tg_live_1a2b" */

#define APIKEY_MAX_ACTIVE 10 /* active keys one customer may hold */

/* An API key as clients and operators see it: never the key or its hash.
 * Strings borrowed from the request's arena. */
struct apikey_info {
    const char *id;           /* uuid */
    const char *prefix;       /* "tg_live_1a2b" */
    const char *name;         /* NULL when none was given */
    const char *created_at;   /* RFC 3339 UTC */
    const char *last_used_at; /* NULL when never used; updated at most once a minute */
    const char *revoked_at;   /* NULL while active */
};

struct apikey {
    char key[APIKEY_MAX_LEN + 1];        /* the secret; cleanse after use */
    uint8_t hash[HASH_SHA256_LEN];
    char prefix[APIKEY_PREFIX_LEN + 1];
};

/* apikey_generate: a new key for the environment ("production" gives
 * tg_live_, anything else tg_test_). TG_EINTERNAL when the random generator
 * or the hash fails. The caller must apikey_cleanse() the result. */
enum tg_err apikey_generate(const char *environment, struct apikey *out)
    __attribute__((warn_unused_result));

/* apikey_cleanse: wipe the secret from memory (OPENSSL_cleanse). */
void apikey_cleanse(struct apikey *k);

/* apikey_parse: hash a presented key after checking its exact shape.
 * Returns false for anything that is not tg_live_/tg_test_ + 64 hex. */
bool apikey_parse(const char *key, uint8_t hash[HASH_SHA256_LEN]);

/* apikey_authenticate: check the request's "Authorization: Bearer <key>",
 * count it against the key's hourly limit (rate_limit_per_hour, counted in
 * PostgreSQL so it is exact across workers and hosts) and fill req->auth.
 * Missing, malformed, unknown or revoked: TG_EUNAUTHORIZED; over the limit:
 * TG_ERATELIMITED with req->retry_after set to the seconds left in the
 * window; database trouble: TG_EDB. */
enum tg_err apikey_authenticate(struct http_request *req) __attribute__((warn_unused_result));

/* apikey_rate_headers: add RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-10: quota q per window w seconds;
 * r remaining, t seconds to reset) to the response of an authenticated
 * request. Call after the reply (problem or not) is set. */
void apikey_rate_headers(struct http_request *req);

/* apikey_list: the customer's keys, newest first, into *out (n of them,
 * arena-owned). Errors: TG_EDB, TG_ENOMEM. */
enum tg_err apikey_list(struct http_request *req, const char *customer_id,
                        struct apikey_info **out, size_t *n) __attribute__((warn_unused_result));

/* apikey_create: a new key named name (NULL: none) for the customer, shown
 * once: the secret is in *key (apikey_cleanse() it after the answer is
 * built), the stored view in *info. Errors: TG_EAPIKEYLIMIT (already
 * APIKEY_MAX_ACTIVE active keys), TG_EUNAUTHORIZED (the customer is gone),
 * TG_EDB, TG_EINTERNAL (no randomness). */
enum tg_err apikey_create(struct http_request *req, const char *customer_id, const char *name,
                          struct apikey *key, struct apikey_info *info)
    __attribute__((warn_unused_result));

/* apikey_revoke: revoke the customer's key key_id (a uuid; revoking a
 * revoked key answers it again). It answers 401 on every worker from the
 * next request, since authentication reads the database each time.
 * Errors: TG_ENOTFOUND (no such key of this customer), TG_ELASTAPIKEY (its
 * only active key: DESIGN.md §3, a customer keeps one working key), TG_EDB. */
enum tg_err apikey_revoke(struct http_request *req, const char *customer_id, const char *key_id,
                          struct apikey_info *info) __attribute__((warn_unused_result));

#endif
