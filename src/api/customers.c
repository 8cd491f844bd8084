/*
 * customers: POST /api/v1/customers (onboarding),
 * GET /api/v1/customers/me and PATCH /api/v1/customers/me (the
 * low-balance threshold).
 * PUT and DELETE /api/v1/customers/me/spend_limit set and remove the
 * monthly cap on charges (domain/spend_limit.h).
 */
#include "api/api.h"
#include "api/render.h"
#include "domain/customer.h"
#include "domain/spend_limit.h"
#include "http/validate.h"

static const struct valid_field onboard_fields[] = {
    {"email", VALID_STRING, true, 3, 254, NULL},
    {"name", VALID_STRING, true, 1, 200, NULL},
    {"source", VALID_STRING, false, 1, 32, customer_sources},
};

enum tg_err api_customers_create(struct http_request *req)
{
    json_t *f[3];
    enum tg_err e = valid_object(req, req->json, onboard_fields, 3, f);
    if (e != TG_OK)
        return e;
    struct customer c;
    struct apikey key;
    e = customer_onboard(req->ctx, json_string_value(f[0]), json_string_value(f[1]),
                         f[2] != NULL ? json_string_value(f[2]) : "direct", &c, &key);
    if (e != TG_OK)
        return e;
    json_t *body = json_pack("{s:o, s:s, s:s}", "customer", render_customer(&c), "api_key",
                             key.key, "api_key_prefix", key.prefix);
    apikey_cleanse(&key);
    /* The key is in the body: make sure no cache keeps it. The new
     * customer is /customers/me to its key (RFC 9110 15.3.2: a 201 names
     * what it created in Location). */
    if ((e = http_add_header(req, "Cache-Control", "no-store")) != TG_OK ||
        (e = http_add_header(req, "Location", "/api/v1/customers/me")) != TG_OK) {
        json_decref(body);
        return e;
    }
    return http_reply_json(req, 201, body);
}

enum tg_err api_customers_me(struct http_request *req)
{
    struct customer c;
    enum tg_err e = customer_get(req->ctx, req->auth.customer_id, &c);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_customer(&c));
}

static const struct valid_field update_fields[] = {
    {"low_balance_threshold", VALID_INTEGER, true, 0, CUSTOMER_THRESHOLD_MAX, NULL},
};

enum tg_err api_customers_update(struct http_request *req)
{
    json_t *f[1];
    enum tg_err e = valid_object(req, req->json, update_fields, 1, f);
    if (e != TG_OK)
        return e;
    struct customer c;
    e = customer_set_low_balance_threshold(req->ctx, req->auth.customer_id,
                                           (long long)json_integer_value(f[0]), &c);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_customer(&c));
}

static const struct valid_field spend_limit_fields[] = {
    {"monthly_cents", VALID_INTEGER, true, 0, SPEND_LIMIT_MAX_CENTS, NULL},
    {"currency", VALID_STRING, true, 3, 3, NULL},
};

/* reply_me: 200 with the customer as it is now. */
static enum tg_err reply_me(struct http_request *req)
{
    struct customer c;
    enum tg_err e = customer_get(req->ctx, req->auth.customer_id, &c);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_customer(&c));
}

enum tg_err api_spend_limit_put(struct http_request *req)
{
    json_t *f[2];
    enum tg_err e = valid_object(req, req->json, spend_limit_fields, 2, f);
    if (e != TG_OK)
        return e;
    struct spend_limit l;
    e = spend_limit_set(req->ctx, req->auth.customer_id, (long long)json_integer_value(f[0]),
                        json_string_value(f[1]), &l);
    return e != TG_OK ? e : reply_me(req);
}

enum tg_err api_spend_limit_delete(struct http_request *req)
{
    bool removed;
    enum tg_err e = spend_limit_remove(req->ctx, req->auth.customer_id, &removed);
    return e != TG_OK ? e : reply_me(req);
}
