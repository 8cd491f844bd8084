/*
 * credentials: POST /api/v1/credentials -- the API key of the request is
 * exchanged for a short-lived token (a JWT signed with HS256, see
 * core/token.h and docs/credentials.md) that downstream services verify
 * offline with the same key, so they never see API keys nor call tollgate.
 * The body is optional (the pipeline makes no body an empty object): what
 * it leaves out takes the defaults. The token is a bearer credential: it is
 * never logged, and the answer is not cached.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/token.h"
#include "core/config.h"
#include "http/validate.h"

#define TTL_MIN 30   /* seconds: shorter tokens expire on the way to their user */
#define JTI_BYTES 16 /* jti: 32 hex characters */
#define SCOPES_MAX 3

/* The scopes a token may carry (RFC 8693 section 4.2: space-separated in
 * the scope claim); the default is all of them. */
static const char *const credential_scopes[] = {"usage:write", "usage:read", "billing:read", NULL};

/* One element of "scopes" is checked like a string field of this table. */
static const struct valid_field scope_field[] = {
    {"scopes", VALID_STRING, true, 1, 32, credential_scopes},
};

/* parse_scopes: the scopes asked for in v (borrowed; NULL: all) into
 * out[0..*n), borrowed from v or static. An empty array, an element that is
 * not a known scope, or one given twice: TG_EINVALID naming the field. */
static enum tg_err parse_scopes(struct http_request *req, json_t *v, const char *out[SCOPES_MAX],
                                size_t *n)
{
    *n = 0;
    if (v == NULL) {
        for (const char *const *s = credential_scopes; *s != NULL; s++)
            out[(*n)++] = *s;
        return TG_OK;
    }
    if (!json_is_array(v))
        return http_fail(req, TG_EINVALID, "scopes: must be an array of strings");
    if (json_array_size(v) == 0)
        return http_fail(req, TG_EINVALID, "scopes: must name at least one scope, or be left out");
    if (json_array_size(v) > SCOPES_MAX)
        return http_fail(req, TG_EINVALID, "scopes: at most %d distinct scopes", SCOPES_MAX);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s))
            return http_fail(req, TG_EINVALID, "scopes: must be an array of strings");
        json_t *one = json_pack("{s:O}", "scopes", s), *checked;
        if (one == NULL)
            return TG_ENOMEM;
        enum tg_err e = valid_object(req, one, scope_field, 1, &checked);
        json_decref(one);
        if (e != TG_OK)
            return e;
        for (size_t k = 0; k < *n; k++)
            if (strcmp(out[k], json_string_value(s)) == 0)
                return http_fail(req, TG_EINVALID, "scopes: \"%s\" given twice", out[k]);
        out[(*n)++] = json_string_value(s);
    }
    return TG_OK;
}

/* parse_body: the request's scopes and lifetime (seconds), the defaults
 * for what the body leaves out. */
static enum tg_err parse_body(struct http_request *req, const char *scopes[SCOPES_MAX],
                              size_t *nscopes, long long *ttl)
{
    const struct config *cfg = req->ctx->svc->cfg;
    *ttl = cfg->token_ttl_seconds;
    if (req->json == NULL)
        return parse_scopes(req, NULL, scopes, nscopes);

    /* validate has no array type: the table checks the rest of the body
     * (refusing unknown fields), parse_scopes the array. */
    const struct valid_field fields[] = {
        {"ttl_seconds", VALID_INTEGER, false, TTL_MIN, cfg->token_ttl_max_seconds, NULL},
    };
    json_t *f[1];
    json_t *rest = json_copy(req->json);
    if (rest == NULL)
        return TG_ENOMEM;
    json_object_del(rest, "scopes");
    enum tg_err e = valid_object(req, rest, fields, 1, f);
    if (e == TG_OK && f[0] != NULL)
        *ttl = json_integer_value(f[0]);
    json_decref(rest);
    if (e != TG_OK)
        return e;
    json_t *s = json_object_get(req->json, "scopes");
    return parse_scopes(req, json_is_null(s) ? NULL : s, scopes, nscopes);
}

enum tg_err api_credentials_create(struct http_request *req)
{
    const struct config *cfg = req->ctx->svc->cfg;
    if (cfg->token_signing_key == NULL)
        return http_fail(req, TG_ENOTOKENS,
                         "this service has no token_signing_key_file; tell its operator");
    const char *scopes[SCOPES_MAX];
    size_t nscopes;
    long long ttl;
    enum tg_err e = parse_body(req, scopes, &nscopes, &ttl);
    if (e != TG_OK)
        return e;

    char scope[64] = "";
    size_t used = 0;
    for (size_t i = 0; i < nscopes; i++) {
        int w = snprintf(scope + used, sizeof(scope) - used, "%s%s", i > 0 ? " " : "", scopes[i]);
        if (w < 0 || (size_t)w >= sizeof(scope) - used)
            return TG_EINTERNAL;
        used += (size_t)w;
    }
    unsigned char raw[JTI_BYTES];
    char jti[2 * JTI_BYTES + 1];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return TG_EINTERNAL;
    hash_hex(raw, sizeof(raw), jti);

    long long now = (long long)time(NULL), exp = now + ttl;
    char expires_at[32];
    struct tm tm;
    time_t t = (time_t)exp;
    if (gmtime_r(&t, &tm) == NULL ||
        strftime(expires_at, sizeof(expires_at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return TG_EINTERNAL;

    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", "tollgate", "sub",
                               req->auth.customer_id, "scope", scope, "iat", (json_int_t)now, "exp",
                               (json_int_t)exp, "jti", jti, "key", req->auth.key_prefix);
    if (claims == NULL)
        return TG_ENOMEM;
    char *token = NULL;
    e = token_sign(cfg->token_signing_key, strlen(cfg->token_signing_key), claims, &token);
    json_decref(claims);
    if (e != TG_OK)
        return e == TG_ENOMEM ? TG_ENOMEM : TG_EINTERNAL;

    json_t *list = json_array();
    for (size_t i = 0; list != NULL && i < nscopes; i++)
        if (json_array_append_new(list, json_string(scopes[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:o, s:s}", "token", token, "token_type",
                             "Bearer", "expires_at", expires_at, "expires_in", (json_int_t)ttl,
                             "scopes", list, "customer_id", req->auth.customer_id);
    OPENSSL_cleanse(token, strlen(token));
    free(token);
    /* RFC 6749 section 5.1: a response holding a token must not be cached. */
    if ((e = http_add_header(req, "Cache-Control", "no-store")) != TG_OK) {
        json_decref(body);
        return e;
    }
    if ((e = http_reply_json(req, 201, body)) != TG_OK)
        return e;
    /* For tracing: which token went out (its jti), never the token itself;
     * the request's own log line names the customer and key prefix. */
    ctx_log(req->ctx, LOG_INFO,
            json_pack("{s:s, s:s, s:s, s:I}", "msg", "credentials token issued", "jti", jti,
                      "scope", scope, "exp", (json_int_t)exp));
    return TG_OK;
}
