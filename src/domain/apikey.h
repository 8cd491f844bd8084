/*
 * apikey: API keys are "tg_<env>_<64 hex>", where env is "live" in
 * production and "test" elsewhere and the hex is 32 bytes from OpenSSL's
 * RAND_bytes (DESIGN.md section 3). Only the SHA-256 of a key and its
 * display prefix are stored; a key is shown once, at creation, and never
 * logged. Each key may make rate_limit_per_hour requests per clock hour,
 * counted in PostgreSQL so the limit is exact across workers and hosts.
 */
#ifndef TOLLGATE_APIKEY_H
#define TOLLGATE_APIKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/hash.h"
#include "store/api_keys.h"

#define APIKEY_RANDOM_BYTES 32
#define APIKEY_MAX_LEN (8 + 2 * APIKEY_RANDOM_BYTES) /* "tg_live_" + hex */
#define APIKEY_PREFIX_LEN 12                         /* "tg_live_1a2b" */

#define APIKEY_MAX_ACTIVE 10 /* active keys one customer may hold */

/* A new key's secret; cleanse after use. */
struct apikey {
    char key[APIKEY_MAX_LEN + 1];
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

/* apikey_parse: hash a presented key after checking its exact shape:
 * tg_live_ or tg_test_ followed by 64 lower-case hex digits. Returns
 * false for anything else. */
bool apikey_parse(const char *key, uint8_t hash[HASH_SHA256_LEN]);

/* apikey_credential: the SHA-256 of the key presented as the request's
 * credential (NULL when none was sent) into hash, for the statement that
 * looks it up. Errors: TG_EUNAUTHORIZED, with the detail that says what
 * is wrong (no key, or not of the form of a key). The one place a
 * presented key is judged before the database sees it. */
enum tg_err apikey_credential(struct tg_ctx *ctx, const char *key, uint8_t hash[HASH_SHA256_LEN])
    __attribute__((warn_unused_result));

/* apikey_authenticate: the key presented (NULL when none was sent) as the
 * request's credential: counted against rate_limit_per_hour, the session's
 * audit actor set, ctx->customer_id set. *out is filled whenever the key
 * is known, also when over the limit. Errors: TG_EUNAUTHORIZED (missing,
 * malformed, unknown or revoked), TG_ERATELIMITED (retry-after: the
 * seconds left in the hour), TG_EDB. */
enum tg_err apikey_authenticate(struct tg_ctx *ctx, const char *key, struct api_key_auth *out)
    __attribute__((warn_unused_result));

/* apikey_check_limit: apikey_refuse_limit() when auth has made more than
 * rate_limit_per_hour requests this hour, else TG_OK. (usage_record
 * judges the same in its statement, for POST /api/v1/usage.) */
enum tg_err apikey_check_limit(struct tg_ctx *ctx, const struct api_key_auth *auth);

/* apikey_refuse_limit: TG_ERATELIMITED for auth, which has spent its
 * hour: the detail, and retry-after the seconds until its window resets.
 * The one wording of that refusal. */
enum tg_err apikey_refuse_limit(struct tg_ctx *ctx, const struct api_key_auth *auth);

/* apikey_list: the customer's keys, newest first, into *out (n of them,
 * arena-owned). Errors: TG_EDB, TG_ENOMEM. */
enum tg_err apikey_list(struct tg_ctx *ctx, const char *customer_id, struct api_key **out,
                        size_t *n) __attribute__((warn_unused_result));

/* apikey_create: a new key named name (NULL: none) for the customer, shown
 * once: the secret is in *key (apikey_cleanse() it after the answer is
 * built), the stored view in *info. Errors: TG_EAPIKEYLIMIT (already
 * APIKEY_MAX_ACTIVE active keys), TG_ENOTFOUND (no such customer), TG_EDB,
 * TG_EINTERNAL (no randomness). */
enum tg_err apikey_create(struct tg_ctx *ctx, const char *customer_id, const char *name,
                          struct apikey *key, struct api_key *info)
    __attribute__((warn_unused_result));

/* apikey_revoke: revoke key key_id (a uuid) of customer_id (NULL: any
 * customer's, for an operator); the customer's last active key only when
 * allow_last (a customer keeps one working key, DESIGN.md section 3).
 * Revoking a revoked key answers it again, with *already_revoked. It
 * answers 401 on every worker from the next request. Errors: TG_ENOTFOUND,
 * TG_ELASTAPIKEY, TG_EDB. */
enum tg_err apikey_revoke(struct tg_ctx *ctx, const char *customer_id, const char *key_id,
                          bool allow_last, struct api_key *info, bool *already_revoked)
    __attribute__((warn_unused_result));

#endif
