/*
 * apikey: generation, parsing and authentication of API keys; see apikey.h.
 */
#include "domain/apikey.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
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

    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", req->svc->cfg->rate_limit_per_hour);
    const char *params[2] = {(const char *)hash, limit};
    const int lengths[2] = {HASH_SHA256_LEN, 0};
    const int formats[2] = {1, 0};
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
    req->auth.rate_limit = req->svc->cfg->rate_limit_per_hour;
    req->auth.rate_used = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    req->auth.rate_reset = (int)strtol(PQgetvalue(r, 0, 4), NULL, 10);
    if (req->auth.rate_limit > 0 && req->auth.rate_used > req->auth.rate_limit) {
        req->retry_after = arena_printf(req->arena, "%d", req->auth.rate_reset);
        return http_fail(req, TG_ERATELIMITED,
                         "this API key made its %ld requests of this hour; the window resets "
                         "in %d seconds",
                         req->auth.rate_limit, req->auth.rate_reset);
    }
    return TG_OK;
}

void apikey_rate_headers(struct http_request *req)
{
    if (!req->auth.ok || req->auth.rate_limit <= 0)
        return;
    long long left = req->auth.rate_limit - req->auth.rate_used;
    (void)http_add_header(req, "RateLimit-Policy",
                          arena_printf(req->arena, "\"hourly\";q=%ld;w=3600",
                                       req->auth.rate_limit));
    (void)http_add_header(req, "RateLimit",
                          arena_printf(req->arena, "\"hourly\";r=%lld;t=%d", left > 0 ? left : 0,
                                       req->auth.rate_reset));
}

/* info_from_row: the APIKEY_COLS of row i of r from column first. */
static void info_from_row(PGresult *r, int i, int first, struct apikey_info *k)
{
    const char **cols[6] = {&k->id, &k->prefix, &k->name, &k->created_at, &k->last_used_at,
                            &k->revoked_at};
    for (int c = 0; c < 6; c++)
        *cols[c] = PQgetisnull(r, i, first + c) ? NULL : PQgetvalue(r, i, first + c);
}

enum tg_err apikey_list(struct http_request *req, const char *customer_id,
                        struct apikey_info **out, size_t *n)
{
    const char *params[1] = {customer_id};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_APIKEY_LIST, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *n = (size_t)PQntuples(r);
    *out = arena_alloc(req->arena, (*n + 1) * sizeof(**out));
    if (*out == NULL)
        return TG_ENOMEM;
    for (size_t i = 0; i < *n; i++)
        info_from_row(r, (int)i, 0, &(*out)[i]);
    return TG_OK;
}

enum tg_err apikey_create(struct http_request *req, const char *customer_id, const char *name,
                          struct apikey *key, struct apikey_info *info)
{
    enum tg_err e = apikey_generate(req->svc->cfg->environment, key);
    if (e != TG_OK)
        return e;
    char max[16];
    snprintf(max, sizeof(max), "%d", APIKEY_MAX_ACTIVE);
    const char *params[5] = {customer_id, (const char *)key->hash, key->prefix, name, max};
    const int lengths[5] = {0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[5] = {0, 1, 0, 0, 0};
    PGresult *r;
    e = db_exec(req->svc->db, req->arena, DB_APIKEY_CREATE, params, lengths, formats, &r);
    int status = e == TG_OK && PQntuples(r) == 1 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    if (e == TG_OK && status == 409)
        e = http_fail(req, TG_EAPIKEYLIMIT, "this customer already has %d active API keys: "
                                            "revoke one first", APIKEY_MAX_ACTIVE);
    else if (e == TG_OK && status == 404)
        e = http_fail(req, TG_EUNAUTHORIZED, "the customer of this key no longer exists");
    else if (e == TG_OK && status != 201)
        e = TG_EINTERNAL;
    if (e != TG_OK) {
        apikey_cleanse(key);
        return e;
    }
    info_from_row(r, 0, 1, info);
    return TG_OK;
}

enum tg_err apikey_revoke(struct http_request *req, const char *customer_id, const char *key_id,
                          struct apikey_info *info)
{
    const char *params[2] = {customer_id, key_id};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_APIKEY_REVOKE, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    int status = PQntuples(r) == 1 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    if (status == 404)
        return http_fail(req, TG_ENOTFOUND, "no API key %s", key_id);
    if (status == 409)
        return http_fail(req, TG_ELASTAPIKEY, "this is the only active key: create a new key "
                                              "first, then revoke this one");
    if (status != 200)
        return TG_EINTERNAL;
    info_from_row(r, 0, 1, info);
    return TG_OK;
}
