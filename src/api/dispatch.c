/*
 * dispatch: the route table and the request pipeline; see api.h.
 */
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/config.h"
#include "domain/apikey.h"
#include "domain/health.h"
#include "domain/stripe_webhook.h"

#define BODY_SMALL 4096               /* every v1 body is a few small fields */
#define USAGE_BODY_MAX 16384          /* a fix's metadata: 50 keys of Stripe's sizes */
#define WEBHOOK_BODY_MAX (512 * 1024) /* Stripe events are far smaller; nginx allows 1 MiB */

const struct route api_routes[] = {
    {"GET", "/health", "health", ROUTE_PUBLIC, 0, false, false, api_health},
    {"POST", "/api/v1/customers", "customers_create", ROUTE_PUBLIC, BODY_SMALL, false, false,
     api_customers_create},
    {"GET", "/api/v1/api_keys", "api_keys_list", ROUTE_API_KEY, 0, false, false, api_api_keys_list},
    {"POST", "/api/v1/api_keys", "api_keys_create", ROUTE_API_KEY, BODY_SMALL, false, false,
     api_api_keys_create},
    {"DELETE", "/api/v1/api_keys/{id}", "api_keys_revoke", ROUTE_API_KEY, 0, false, false,
     api_api_keys_revoke},
    {"GET", "/api/v1/customers/me", "customers_me", ROUTE_API_KEY, 0, false, false,
     api_customers_me},
    {"POST", "/api/v1/usage", "usage_create", ROUTE_API_KEY_IN_HANDLER, USAGE_BODY_MAX, true,
     false, api_usage_create},
    {"GET", "/api/v1/usage/summary", "usage_summary", ROUTE_API_KEY, 0, false, false,
     api_usage_summary},
    {"GET", "/api/v1/credits/transactions", "credits_transactions", ROUTE_API_KEY, 0, false, false,
     api_credits_transactions},
    {"POST", "/api/v1/customers/me/payment_method", "payment_method_add", ROUTE_API_KEY, BODY_SMALL,
     false, false, api_payment_method_add},
    {"POST", "/api/v1/subscriptions", "subscriptions_create", ROUTE_API_KEY, BODY_SMALL, false,
     false, api_subscriptions_create},
    {"GET", "/api/v1/subscriptions/current", "subscriptions_current", ROUTE_API_KEY, 0, false,
     false, api_subscriptions_current},
    {"DELETE", "/api/v1/subscriptions/current", "subscriptions_cancel", ROUTE_API_KEY, 0, false,
     false, api_subscriptions_cancel},
    {"GET", "/api/v1/subscriptions/preview", "subscriptions_preview", ROUTE_API_KEY, 0, false,
     false, api_subscriptions_preview},
    {"POST", "/api/v1/credentials", "credentials_create", ROUTE_API_KEY, BODY_SMALL, false, false,
     api_credentials_create},
    {"POST", "/webhooks/stripe", "webhooks_stripe", ROUTE_PUBLIC, WEBHOOK_BODY_MAX, false, true,
     api_webhooks_stripe},
    {"POST", "/webhooks/github", "webhooks_github", ROUTE_PUBLIC, WEBHOOK_BODY_MAX, false, true,
     api_webhooks_github},
    {"GET", "/metrics", "metrics", ROUTE_PUBLIC, 0, false, false, api_metrics},
    {NULL, NULL, NULL, ROUTE_PUBLIC, 0, false, false, NULL},
};

const char *api_bearer_key(const struct http_request *req)
{
    static const char scheme[] = "Bearer ";
    const char *h = req->authorization;
    if (h == NULL)
        return NULL;
    return strncasecmp(h, scheme, sizeof(scheme) - 1) == 0 ? h + sizeof(scheme) - 1 : "";
}

void api_set_auth(struct http_request *req, const struct api_key_auth *auth)
{
    req->auth.ok = true;
    req->auth.customer_id = auth->customer_id;
    req->auth.api_key_id = auth->api_key_id;
    req->auth.key_prefix = auth->key_prefix;
    req->auth.rate_limit = req->ctx->svc->cfg->rate_limit_per_hour;
    req->auth.rate_used = auth->requests;
    req->auth.rate_reset = auth->reset_seconds;
}

/* rate_headers: add RateLimit-Policy and RateLimit
 * (draft-ietf-httpapi-ratelimit-headers-10: quota q per window w seconds;
 * r remaining, t seconds to reset) to the answer of an authenticated
 * request, problem or not. */
static void rate_headers(struct http_request *req)
{
    if (!req->auth.ok || req->auth.rate_limit <= 0)
        return;
    long long left = req->auth.rate_limit - req->auth.rate_used;
    const char *policy = arena_printf(req->arena, "\"hourly\";q=%ld;w=3600", req->auth.rate_limit);
    const char *state = arena_printf(req->arena, "\"hourly\";r=%lld;t=%d", left > 0 ? left : 0,
                                     req->auth.rate_reset);
    if (policy != NULL && state != NULL) {
        (void)http_add_header(req, "RateLimit-Policy", policy);
        (void)http_add_header(req, "RateLimit", state);
    }
}

static json_t *empty_object(struct http_request *req)
{
    json_t *j = json_object();
    if (j != NULL && arena_defer(req->arena, arena_json_decref, j) != 0)
        return NULL; /* arena_defer released it */
    return j;
}

/* authenticate: authenticate the request's key (one statement) and keep
 * who it is for the log line and the RateLimit headers. */
static enum tg_err authenticate(struct http_request *req)
{
    struct api_key_auth auth;
    req->auth.checked = true;
    enum tg_err e = apikey_authenticate(req->ctx, api_bearer_key(req), &auth);
    if (auth.customer_id != NULL)
        api_set_auth(req, &auth);
    return e;
}

/* refuse: the answer to a request of a route whose handler authenticates
 * (ROUTE_API_KEY_IN_HANDLER) that failed with err before any statement
 * judged its key: the key is authenticated now, so that an unknown key
 * (401) or a spent hour (429) wins, the refusal is counted, and it carries
 * the RateLimit headers, as on every other route. Else err. */
static enum tg_err refuse(struct http_request *req, const struct route *route, enum tg_err err)
{
    if (err == TG_OK || route->auth != ROUTE_API_KEY_IN_HANDLER || req->auth.checked)
        return err;
    struct tg_error why = req->ctx->error;
    enum tg_err e = authenticate(req);
    if (e != TG_OK)
        return e;
    req->ctx->error = why;
    return err;
}

/* idempotency_key: check and unquote the request's Idempotency-Key
 * (api_idempotency_key_parse) where the route reads it: usage requires
 * one; the other state-changing routes take one if sent; elsewhere it is
 * ignored. */
static enum tg_err idempotency_key(struct http_request *req, const struct route *route)
{
    if (!route->idempotency_key && (req->idempotency_key == NULL || !api_idempotency_route(route)))
        return TG_OK;
    const char *key = api_idempotency_key_parse(req->arena, req->idempotency_key);
    if (key == NULL)
        return http_fail(req, TG_EIDEMPOTENCYKEY,
                         "send an Idempotency-Key header of 1 to 255 visible ASCII characters"
                         " (bare, or as a quoted string)");
    req->idempotency_key = key;
    return TG_OK;
}

/* handle: what follows authentication: the Idempotency-Key, the JSON
 * body, the handler (through api_idempotency_run when a key was sent). */
static enum tg_err handle(struct http_request *req, const struct route *route)
{
    const struct config *cfg = req->ctx->svc->cfg;
    enum tg_err e = idempotency_key(req, route);
    if (e != TG_OK)
        return e;
    if (route->body_max > 0 && !route->raw_body) {
        /* An empty body is an empty object, whatever its Content-Type
         * (curl -X POST sends none, curl -d '' a form type): the fields'
         * defaults apply, and required fields are reported missing. */
        if (req->body_len == 0)
            req->json = empty_object(req);
        else if ((e = http_parse_json(req, (size_t)cfg->json_max_depth)) != TG_OK)
            return e;
        if (req->json == NULL)
            return http_fail(req, TG_ENOMEM, "out of memory");
    }
    if (req->idempotency_key != NULL && !route->idempotency_key)
        return api_idempotency_run(req, route);
    return route->handler(req);
}

static enum tg_err pipeline(struct http_request *req, char **envp, struct http_io io)
{
    const struct config *cfg = req->ctx->svc->cfg;
    const struct route *route;
    enum tg_err e = http_parse_params(req, envp);
    req->ctx->request_id = req->request_id;
    if (e == TG_OK)
        e = router_match(api_routes, req, &route);
    if (e != TG_OK)
        return e;

    size_t max = route->body_max;
    if (max > (size_t)cfg->max_body_bytes)
        max = (size_t)cfg->max_body_bytes;
    if (route->body_max == 0 && req->content_length > 0)
        return http_fail(req, TG_ETOOLARGE, "%s %s takes no body", route->method, route->path);
    if ((e = http_read_body(req, io, max)) != TG_OK) {
        if (e == TG_ETOOLARGE && route->handler == api_webhooks_stripe)
            stripe_webhook_rejected("too_large");
        return e;
    }

    /* Health and metrics answer (and say so) without a database. */
    if (route->handler != api_health && route->handler != api_metrics &&
        (e = health_connect(req->ctx)) != TG_OK)
        return e;
    if (route->auth == ROUTE_API_KEY && (e = authenticate(req)) != TG_OK)
        return e;
    return refuse(req, route, handle(req, route));
}

void api_serve(struct http_request *req, char **envp, struct http_io io)
{
    enum tg_err e = pipeline(req, envp, io);
    if (e != TG_OK || req->resp.status == 0)
        http_reply_problem(req, e != TG_OK ? e : TG_EINTERNAL);
    rate_headers(req);
}
