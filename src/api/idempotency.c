/*
 * idempotency: the Idempotency-Key header (IETF draft "The Idempotency-Key
 * HTTP Header Field") on the state-changing routes other than
 * the routes that authenticate in their own statement (usage and the
 * holds: domain/usage.h, domain/hold.h), which keep their own record or
 * are idempotent by their hold's id: the header's
 * syntax, which routes keep answers and how, the request's hash, and the
 * answer turned into a record to keep and back (domain/idempotency.h). A
 * request without the header runs exactly as before: nothing here costs
 * it a statement.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/hash.h"
#include "domain/idempotency.h"

/* The routes that keep their answers. secret: the answer holds a
 * credential (a new API key, a token), whose body is kept
 * IDEMPOTENCY_SECRET_SECONDS only (docs/api.md#idempotency says why). A
 * route with no database effect (credentials) needs no transaction, so
 * it runs like one that calls Stripe: its answer is stored after it. */
static const struct idempotent_route {
    const char *name;
    enum idempotency_mode mode;
    bool secret;
} idempotent_routes[] = {
    {"customers_create", IDEMPOTENCY_ATOMIC, true},
    {"api_keys_create", IDEMPOTENCY_ATOMIC, true},
    {"api_keys_revoke", IDEMPOTENCY_ATOMIC, false},
    {"customers_update", IDEMPOTENCY_ATOMIC, false},
    {"payment_method_add", IDEMPOTENCY_EXTERNAL, false},
    {"subscriptions_create", IDEMPOTENCY_EXTERNAL, false},
    {"subscriptions_cancel", IDEMPOTENCY_EXTERNAL, false},
    {"credentials_create", IDEMPOTENCY_EXTERNAL, true},
    {"spend_limit_set", IDEMPOTENCY_ATOMIC, false},
    {"spend_limit_remove", IDEMPOTENCY_ATOMIC, false},
};

const char *api_idempotency_key_parse(struct arena *a, const char *value)
{
    if (value == NULL)
        return NULL;
    size_t n = strlen(value);
    const char *key = value;
    if (n >= 2 && value[0] == '"') {
        /* RFC 8941 sf-string: "..." with \" and \\ the only escapes. */
        char *out = arena_alloc(a, n);
        size_t k = 0, i;
        if (out == NULL)
            return NULL;
        for (i = 1; i < n - 1; i++) {
            char c = value[i];
            if (c == '"')
                return NULL;
            if (c == '\\') {
                c = value[++i];
                if (i >= n - 1 || (c != '"' && c != '\\'))
                    return NULL;
            }
            out[k++] = c;
        }
        if (value[n - 1] != '"')
            return NULL;
        out[k] = '\0';
        key = out;
        n = k;
    }
    if (n == 0 || n > HTTP_IDEMPOTENCY_KEY_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return NULL;
    return key;
}

/* find: the entry of route name, or NULL when it keeps no answers. */
static const struct idempotent_route *find(const char *name)
{
    for (size_t i = 0; i < sizeof(idempotent_routes) / sizeof(idempotent_routes[0]); i++)
        if (strcmp(idempotent_routes[i].name, name) == 0)
            return &idempotent_routes[i];
    return NULL;
}

bool api_idempotency_route(const struct route *route)
{
    return find(route->name) != NULL;
}

/* request_hash: SHA-256 of what makes a request "the same request":
 * method, path (with its {id}), query and body, byte for byte. */
static int request_hash(struct http_request *req, uint8_t out[HASH_SHA256_LEN])
{
    const char *head = arena_printf(req->arena, "%s %s?%s\n", req->method, req->path, req->query);
    if (head == NULL)
        return -1;
    size_t hn = strlen(head);
    char *all = arena_alloc(req->arena, hn + req->body_len + 1);
    if (all == NULL)
        return -1;
    memcpy(all, head, hn);
    memcpy(all + hn, req->body, req->body_len);
    return hash_sha256(all, hn + req->body_len, out);
}

/* scope: a customer's requests share keys; a signup's are the client
 * address's for one e-mail address. */
static const char *scope(struct http_request *req)
{
    if (req->auth.ok)
        return idempotency_scope_customer(req->ctx, req->auth.customer_id);
    json_t *email = req->json != NULL ? json_object_get(req->json, "email") : NULL;
    return idempotency_scope_signup(req->ctx, req->remote_addr, json_string_value(email));
}

/* replay: answer as the first request was answered, and say so (as
 * Stripe's Idempotent-Replayed does). */
static enum tg_err replay(struct http_request *req, const struct idempotency_answer *a)
{
    json_t *headers = a->headers != NULL ? json_loads(a->headers, 0, NULL) : NULL;
    if (headers != NULL && arena_defer(req->arena, arena_json_decref, headers) != 0)
        return http_fail(req, TG_ENOMEM, NULL);
    size_t i;
    json_t *h;
    json_array_foreach(headers, i, h)
    {
        const char *name = json_string_value(json_array_get(h, 0));
        const char *value = json_string_value(json_array_get(h, 1));
        if (name != NULL && value != NULL && http_add_header(req, name, value) != TG_OK)
            return http_fail(req, TG_EINTERNAL, NULL);
    }
    if (http_add_header(req, "Idempotent-Replayed", "true") != TG_OK)
        return http_fail(req, TG_EINTERNAL, NULL);
    http_reply_raw(req, a->status, a->content_type, a->body, strlen(a->body));
    return TG_OK;
}

/* answer: req's answer as a record to keep; headers as JSON text. */
static enum tg_err answer(struct http_request *req, struct idempotency_answer *out)
{
    json_t *headers = json_array();
    for (size_t i = 0; headers != NULL && i < req->resp.nheaders; i++)
        if (json_array_append_new(headers, json_pack("[s,s]", req->resp.headers[i].name,
                                                     req->resp.headers[i].value)) != 0) {
            json_decref(headers);
            headers = NULL;
        }
    char *text = headers != NULL ? json_dumps(headers, JSON_COMPACT) : NULL;
    json_decref(headers);
    if (text == NULL || arena_defer(req->arena, free, text) != 0)
        return http_fail(req, TG_ENOMEM, NULL);
    /* Bodies are JSON text: no NUL inside. */
    const char *body = arena_strndup(req->arena, req->resp.body, req->resp.body_len);
    if (body == NULL)
        return http_fail(req, TG_ENOMEM, NULL);
    *out = (struct idempotency_answer){req->resp.status, req->resp.content_type, text, body};
    return TG_OK;
}

enum tg_err api_idempotency_run(struct http_request *req, const struct route *route)
{
    const struct idempotent_route *ir = find(route->name);
    uint8_t hash[HASH_SHA256_LEN];
    struct idempotency idem;
    struct idempotency_answer first;
    bool replayed;
    if (ir == NULL)
        return route->handler(req);
    if (request_hash(req, hash) != 0)
        return http_fail(req, TG_ENOMEM, NULL);
    enum tg_err e = idempotency_start(req->ctx, scope(req), req->idempotency_key, route->name, hash,
                                      ir->mode, &idem, &replayed, &first);
    if (e != TG_OK)
        return e;
    if (replayed)
        return replay(req, &first);
    e = route->handler(req);
    /* Only a success is kept: a failure changed nothing (or, for a Stripe
     * call that may have gone out, its retry resumes the same call), so
     * the key is free for a retry to run afresh. */
    if (e == TG_OK && (req->resp.status < 200 || req->resp.status > 299))
        e = TG_EINTERNAL;
    if (e == TG_OK)
        e = answer(req, &first);
    if (e != TG_OK) {
        idempotency_abandon(req->ctx, &idem);
        return e;
    }
    e = idempotency_finish(req->ctx, &idem, &first, ir->secret);
    if (e != TG_OK && ir->mode == IDEMPOTENCY_ATOMIC) {
        req->resp.status = 0; /* rolled back: the effect is not there */
        req->resp.nheaders = 0;
        return e;
    }
    /* IDEMPOTENCY_EXTERNAL: the effect is done whether the answer was kept
     * or not (a retry resumes the same Stripe calls): answer it. */
    ctx_clear_error(req->ctx);
    return TG_OK;
}
