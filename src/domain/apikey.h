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

/* apikey_authenticate: check the request's "Authorization: Bearer <key>"
 * and fill req->auth. Missing, malformed, unknown or revoked:
 * TG_EUNAUTHORIZED; database trouble: TG_EDB. */
enum tg_err apikey_authenticate(struct http_request *req) __attribute__((warn_unused_result));

#endif
