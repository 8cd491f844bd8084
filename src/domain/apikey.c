/*
 * apikey: generation, parsing and authentication of API keys; see apikey.h.
 */
#include "domain/apikey.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "core/config.h"
#include "domain/audit.h"

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

static bool well_formed(const char *key)
{
    return strlen(key) == APIKEY_MAX_LEN &&
           (strncmp(key, "tg_live_", 8) == 0 || strncmp(key, "tg_test_", 8) == 0) &&
           strspn(key + 8, "0123456789abcdef") == 2 * APIKEY_RANDOM_BYTES;
}

bool apikey_parse(const char *key, uint8_t hash[HASH_SHA256_LEN])
{
    return well_formed(key) && hash_sha256(key, APIKEY_MAX_LEN, hash) == 0;
}

enum tg_err apikey_credential(struct tg_ctx *ctx, const char *key, uint8_t hash[HASH_SHA256_LEN])
{
    if (key == NULL)
        return ctx_fail(ctx, TG_EUNAUTHORIZED, "send Authorization: Bearer <api key>");
    if (!apikey_parse(key, hash))
        return ctx_fail(ctx, TG_EUNAUTHORIZED, "the Authorization header does not hold an API "
                                               "key of the form tg_<env>_<64 hex>");
    return TG_OK;
}

enum tg_err apikey_check_limit(struct tg_ctx *ctx, const struct api_key_auth *auth)
{
    long limit = ctx->svc->cfg->rate_limit_per_hour;
    if (limit <= 0 || auth->requests <= limit)
        return TG_OK;
    return apikey_refuse_limit(ctx, auth);
}

enum tg_err apikey_refuse_limit(struct tg_ctx *ctx, const struct api_key_auth *auth)
{
    ctx_retry_after(ctx, auth->reset_seconds);
    return ctx_fail(ctx, TG_ERATELIMITED,
                    "this API key made its %ld requests of this hour; the window resets in %d "
                    "seconds",
                    ctx->svc->cfg->rate_limit_per_hour, auth->reset_seconds);
}

enum tg_err apikey_authenticate(struct tg_ctx *ctx, const char *key, struct api_key_auth *out)
{
    uint8_t hash[HASH_SHA256_LEN];
    memset(out, 0, sizeof(*out));
    enum tg_err e = apikey_credential(ctx, key, hash);
    if (e != TG_OK)
        return e;
    e = api_keys_authenticate(ctx, hash, ctx->svc->cfg->rate_limit_per_hour, out);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EUNAUTHORIZED, "unknown or revoked API key");
    if (e != TG_OK)
        return e;
    ctx->customer_id = out->customer_id;
    ctx->actor = arena_printf(ctx->arena, "api_key:%s", out->key_prefix);
    return apikey_check_limit(ctx, out);
}

enum tg_err apikey_list(struct tg_ctx *ctx, const char *customer_id, struct api_key **out,
                        size_t *n)
{
    return api_keys_list(ctx, customer_id, out, n);
}

enum tg_err apikey_create(struct tg_ctx *ctx, const char *customer_id, const char *name,
                          struct apikey *key, struct api_key *info)
{
    enum tg_err e = apikey_generate(ctx->svc->cfg->environment, key);
    if (e != TG_OK)
        return ctx_fail(ctx, e, NULL);
    enum api_keys_create_outcome outcome;
    e = api_keys_create(ctx, customer_id, key->hash, key->prefix, name, APIKEY_MAX_ACTIVE,
                        &outcome, info);
    if (e == TG_OK && outcome == API_KEYS_LIMIT_REACHED)
        e = ctx_fail(ctx, TG_EAPIKEYLIMIT, "this customer already has %d active API keys: "
                                           "revoke one first", APIKEY_MAX_ACTIVE);
    else if (e == TG_OK && outcome == API_KEYS_NO_CUSTOMER)
        e = ctx_fail(ctx, TG_ENOTFOUND, "no such customer");
    if (e != TG_OK)
        apikey_cleanse(key);
    return e;
}

enum tg_err apikey_revoke(struct tg_ctx *ctx, const char *customer_id, const char *key_id,
                          bool allow_last, struct api_key *info, bool *already_revoked)
{
    enum api_keys_revoke_outcome outcome;
    enum tg_err e =
        api_keys_revoke(ctx, customer_id, key_id, allow_last, &outcome, already_revoked, info);
    if (e != TG_OK)
        return e;
    if (outcome == API_KEYS_NOT_FOUND)
        return ctx_fail(ctx, TG_ENOTFOUND, "no API key %s", key_id);
    if (outcome == API_KEYS_LAST_KEY)
        return ctx_fail(ctx, TG_ELASTAPIKEY, "this is the only active key: create a new key "
                                             "first, then revoke this one");
    return TG_OK;
}
