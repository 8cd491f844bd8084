/*
 * fuzz_json_fields: a JSON request body from the bytes to the values a
 * handler sees: http_parse_json (depth limit, duplicate keys, UTF-8, NUL,
 * must be an object), then valid_object (src/http/validate.c) against the
 * field table of every route that takes a body, then the problem answer of
 * whatever failed.
 *
 * The route tables are static in src/api, so they are repeated here,
 * field for field (src/api/usage.c, customers.c, billing.c, api_keys.c,
 * credentials.c); keep them in step. The credentials route checks its
 * "scopes" array element by element against a one-field table, and the
 * rest of the body against the ttl_seconds table, as credentials.c does.
 *
 * Input: the body, sent as application/json.
 */
#include <jansson.h>
#include <string.h>

#include "core/arena.h"
#include "domain/customer.h"
#include "fuzz.h"
#include "http/http.h"
#include "core/text.h"
#include "http/validate.h"

#define JSON_DEPTH 16 /* json_max_depth's default */

static const char *const usage_kinds[] = {"fix_deployed", NULL};
static const struct valid_field usage_fields[] = {
    {"kind", VALID_STRING, true, 1, 32, usage_kinds},
    {"fix_id", VALID_STRING, true, 1, 200, NULL},
    {"metadata", VALID_METADATA, false, 0, 0, NULL},
};
static const struct valid_field onboard_fields[] = {
    {"email", VALID_STRING, true, 3, 254, NULL},
    {"name", VALID_STRING, true, 1, 200, NULL},
    {"source", VALID_STRING, false, 1, 32, customer_sources},
};
static const struct valid_field payment_method_fields[] = {
    {"payment_method", VALID_STRING, true, 4, 253, NULL},
    {"billing_consent", VALID_BOOLEAN, true, 0, 0, NULL},
};
static const char *const plans[] = {"pro", NULL};
static const struct valid_field subscription_fields[] = {
    {"plan", VALID_STRING, true, 1, 16, plans},
};
static const struct valid_field api_key_fields[] = {
    {"name", VALID_STRING, false, 1, 100, NULL},
};
static const char *const credential_scopes[] = {"usage:write", "usage:read", "billing:read",
                                                NULL};
static const struct valid_field scope_field[] = {
    {"scopes", VALID_STRING, true, 1, 32, credential_scopes},
};
static const struct valid_field ttl_fields[] = {
    {"ttl_seconds", VALID_INTEGER, false, 30, 3600, NULL}, /* token_ttl_max_seconds: 3600 */
};

static const struct {
    const struct valid_field *fields;
    size_t n;
} tables[] = {
    {usage_fields, 3},          {onboard_fields, 3}, {payment_method_fields, 2},
    {subscription_fields, 1},   {api_key_fields, 1}, {ttl_fields, 1},
};

/* check: valid_object on obj against fields, and what it promises. */
static void check(struct http_request *req, json_t *obj, const struct valid_field *fields,
                  size_t n)
{
    json_t *out[3];
    ctx_clear_error(req->ctx);
    enum tg_err e = valid_object(req, obj, fields, n, out);
    if (e != TG_OK) {
        fuzz_assert(e == TG_EINVALID && req->ctx->error.detail != NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct valid_field *f = &fields[i];
        fuzz_assert(out[i] != NULL || !f->required);
        if (out[i] == NULL)
            continue;
        if (f->type == VALID_STRING) {
            const char *s = json_string_value(out[i]);
            size_t len = json_string_length(out[i]);
            fuzz_assert(s != NULL && strlen(s) == len);
            fuzz_assert((long long)len >= f->min && (long long)len <= f->max);
            fuzz_assert(text_printable(s, len));
        } else if (f->type == VALID_INTEGER) {
            fuzz_assert(json_integer_value(out[i]) >= f->min &&
                        json_integer_value(out[i]) <= f->max);
        } else if (f->type == VALID_METADATA) {
            /* What api_usage_create stores. */
            char *text = json_dumps(out[i], JSON_COMPACT | JSON_SORT_KEYS);
            fuzz_assert(text != NULL);
            free(text);
        }
    }
}

/* check_credentials: the body of POST /api/v1/credentials. */
static void check_credentials(struct http_request *req, json_t *body)
{
    json_t *scopes = json_object_get(body, "scopes");
    if (json_is_array(scopes)) {
        size_t i;
        json_t *one;
        json_array_foreach(scopes, i, one)
        {
            if (i >= 8)
                break;
            json_t *wrap = json_pack("{s:O}", "scopes", one);
            fuzz_assert(wrap != NULL);
            check(req, wrap, scope_field, 1);
            json_decref(wrap);
        }
    }
    json_t *rest = json_copy(body);
    fuzz_assert(rest != NULL);
    json_object_del(rest, "scopes");
    check(req, rest, ttl_fields, 1);
    json_decref(rest);
}

/* problem: the problem answer for err carries the detail that was set. */
static void problem(struct http_request *req, enum tg_err err)
{
    const char *detail = req->ctx->error.detail;
    http_reply_problem(req, err);
    fuzz_assert(req->resp.body != NULL && req->resp.status >= 400);
    json_t *p = json_loadb(req->resp.body, req->resp.body_len, 0, NULL);
    fuzz_assert(p != NULL);
    fuzz_assert(detail == NULL || json_is_string(json_object_get(p, "detail")));
    json_decref(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena *a = arena_new(4096);
    if (a == NULL)
        abort();
    struct service svc = {0};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "fuzz");
    struct http_request req;
    http_request_init(&req, &ctx);
    req.request_id = "fuzz";
    req.content_type = "application/json";
    /* As http_read_body leaves it: exactly the bytes, then a NUL. */
    char *body = arena_alloc(a, size + 1);
    if (body == NULL)
        abort();
    memcpy(body, data, size);
    req.body = body;
    req.body_len = size;

    enum tg_err e = http_parse_json(&req, JSON_DEPTH);
    if (e == TG_OK) {
        fuzz_assert(json_is_object(req.json));
        fuzz_assert(http_json_depth(req.body, req.body_len, JSON_DEPTH) <= JSON_DEPTH);
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
            check(&req, req.json, tables[i].fields, tables[i].n);
            if (req.ctx->error.detail != NULL)
                problem(&req, TG_EINVALID);
        }
        check_credentials(&req, req.json);
    } else {
        fuzz_assert(e == TG_EBADJSON && req.ctx->error.detail != NULL);
        problem(&req, e);
    }
    arena_free(a);
    return 0;
}
