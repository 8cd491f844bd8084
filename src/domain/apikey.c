/*
 * apikey: generation, parsing and authentication of API keys; see apikey.h.
 */
#include "domain/apikey.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>
#include <strings.h>

#include "domain/service.h"
#include "store/db.h"

enum tg_err apikey_generate(const char *environment, struct apikey *out)
{
    uint8_t raw[APIKEY_RANDOM_BYTES];
    const char *prefix = strcmp(environment, "production") == 0 ? "tg_live_" : "tg_test_";
    memset(out, 0, sizeof(*out));
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return TG_EINTERNAL;
    memcpy(out->key, prefix, 8);
    hash_hex(raw, sizeof(raw), out->key + 8);
    OPENSSL_cleanse(raw, sizeof(raw));
    memcpy(out->prefix, out->key, APIKEY_PREFIX_LEN);
    if (hash_sha256(out->key, strlen(out->key), out->hash) != 0) {
        apikey_cleanse(out);
        return TG_EINTERNAL;
    }
    return TG_OK;
}

void apikey_cleanse(struct apikey *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

bool apikey_parse(const char *key, uint8_t hash[HASH_SHA256_LEN])
{
    if (strlen(key) != APIKEY_MAX_LEN)
        return false;
    if (strncmp(key, "tg_live_", 8) != 0 && strncmp(key, "tg_test_", 8) != 0)
        return false;
    if (strspn(key + 8, "0123456789abcdef") != 2 * APIKEY_RANDOM_BYTES)
        return false;
    return hash_sha256(key, APIKEY_MAX_LEN, hash) == 0;
}

enum tg_err apikey_authenticate(struct http_request *req)
{
    static const char scheme[] = "Bearer ";
    uint8_t hash[HASH_SHA256_LEN];
    const char *h = req->authorization;
    if (h == NULL)
        return http_fail(req, TG_EUNAUTHORIZED, "send Authorization: Bearer <api key>");
    if (strncasecmp(h, scheme, sizeof(scheme) - 1) != 0 ||
        !apikey_parse(h + sizeof(scheme) - 1, hash))
        return http_fail(req, TG_EUNAUTHORIZED, "the Authorization header does not hold an API "
                                                "key of the form tg_<env>_<64 hex>");

    const char *params[1] = {(const char *)hash};
    const int lengths[1] = {HASH_SHA256_LEN};
    const int formats[1] = {1};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_APIKEY_AUTH, params, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_EUNAUTHORIZED, "unknown or revoked API key");
    req->auth.ok = true;
    req->auth.api_key_id = PQgetvalue(r, 0, 0);
    req->auth.customer_id = PQgetvalue(r, 0, 1);
    req->auth.key_prefix = PQgetvalue(r, 0, 2);
    return TG_OK;
}
