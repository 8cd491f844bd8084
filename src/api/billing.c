/*
 * billing: payment methods and subscriptions --
 * POST /api/v1/customers/me/payment_method, POST /api/v1/subscriptions,
 * GET /api/v1/subscriptions/current, DELETE /api/v1/subscriptions/current,
 * GET /api/v1/subscriptions/preview.
 */
#include <string.h>

#include "api/api.h"
#include "api/render.h"
#include "domain/payment.h"
#include "domain/subscription.h"
#include "http/validate.h"

static const struct valid_field payment_method_fields[] = {
    {"payment_method", VALID_STRING, true, 4, 253, NULL},
    {"billing_consent", VALID_BOOLEAN, true, 0, 0, NULL},
};

enum tg_err api_payment_method_add(struct http_request *req)
{
    json_t *f[2];
    enum tg_err e = valid_object(req, req->json, payment_method_fields, 2, f);
    if (e != TG_OK)
        return e;
    if (!json_is_true(f[1]))
        return http_fail(req, TG_EINVALID, "billing_consent: must be true: the customer agrees "
                                           "to be charged for fixes beyond the credits");
    const char *pm = json_string_value(f[0]);
    if (!payment_method_id_valid(pm))
        return http_fail(req, TG_EINVALID, "payment_method: must be a Stripe payment method id "
                                           "(pm_...)");
    struct customer c;
    if ((e = payment_method_add(req->ctx, req->auth.customer_id, pm, &c)) != TG_OK)
        return e;
    return http_reply_json(req, 200, render_customer(&c));
}

static const char *const plans[] = {"pro", NULL};
static const struct valid_field subscription_fields[] = {
    {"plan", VALID_STRING, true, 1, 16, plans},
};

enum tg_err api_subscriptions_create(struct http_request *req)
{
    json_t *f[1];
    struct subscription s;
    enum tg_err e = valid_object(req, req->json, subscription_fields, 1, f);
    if (e == TG_OK)
        e = subscription_create(req->ctx, req->auth.customer_id, json_string_value(f[0]), &s);
    if (e != TG_OK)
        return e;
    /* RFC 9110 15.3.2: a 201 names what it created. */
    if ((e = http_add_header(req, "Location", "/api/v1/subscriptions/current")) != TG_OK)
        return e;
    return http_reply_json(req, 201, render_subscription(&s));
}

enum tg_err api_subscriptions_current(struct http_request *req)
{
    struct subscription s;
    enum tg_err e = subscription_current(req->ctx, req->auth.customer_id, &s);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_subscription(&s));
}

enum tg_err api_subscriptions_cancel(struct http_request *req)
{
    const char *at_end;
    enum tg_err e = http_query_get(req, "at_period_end", &at_end);
    if (e != TG_OK)
        return e;
    if (at_end != NULL && strcmp(at_end, "true") != 0 && strcmp(at_end, "false") != 0)
        return http_fail(req, TG_EINVALID, "at_period_end: must be true or false");
    struct subscription s;
    if ((e = subscription_cancel(req->ctx, req->auth.customer_id,
                                 at_end != NULL && strcmp(at_end, "true") == 0, &s)) != TG_OK)
        return e;
    return http_reply_json(req, 200, render_subscription(&s));
}

enum tg_err api_subscriptions_preview(struct http_request *req)
{
    const char *plan;
    json_t *invoice;
    enum tg_err e = http_query_get(req, "plan", &plan);
    if (e != TG_OK)
        return e;
    if (plan == NULL)
        plan = "pro";
    if ((e = subscription_preview(req->ctx, req->auth.customer_id, plan, &invoice)) != TG_OK)
        return e;
    return http_reply_json(req, 200, render_invoice_preview(plan, invoice));
}
