/*
 * subscription: see subscription.h. Stripe calls and their keys:
 * create: POST /v1/subscriptions (key tgcre_<uuid>, payment_behavior
 * error_if_incomplete, latest_invoice expanded; no default_payment_method of
 * its own, so invoices use the customer's invoice_settings default, which a
 * new card replaces); cancel at period end:
 * POST /v1/subscriptions/{id} cancel_at_period_end=true (key tgcan_<uuid>);
 * cancel now: DELETE /v1/subscriptions/{id} (idempotent by itself);
 * preview: GET /v1/invoices/upcoming.
 */
#include "domain/subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/failpoint.h"
#include "domain/customer.h"
#include "domain/flag.h"
#include "domain/payment.h"
#include "domain/service.h"
#include "store/db.h"

static const char *nullable(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? NULL : PQgetvalue(r, 0, col);
}

static void from_row(PGresult *r, struct subscription *s)
{
    s->id = PQgetvalue(r, 0, 0);
    s->customer_id = PQgetvalue(r, 0, 1);
    s->plan = PQgetvalue(r, 0, 2);
    s->status = PQgetvalue(r, 0, 3);
    s->stripe_subscription_id = nullable(r, 4);
    s->stripe_price_id = PQgetvalue(r, 0, 5);
    s->current_period_start = nullable(r, 6);
    s->current_period_end = nullable(r, 7);
    s->cancel_at_period_end = strcmp(PQgetvalue(r, 0, 8), "t") == 0;
    s->canceled_at = nullable(r, 9);
    s->created_at = PQgetvalue(r, 0, 10);
}

/* one: run stmt with one parameter and read a subscription row. */
static enum tg_err one(struct http_request *req, enum db_stmt stmt, const char *param,
                       struct subscription *out)
{
    const char *p[1] = {param};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, stmt, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_ENOTFOUND, "no live subscription");
    if (out != NULL)
        from_row(r, out);
    return TG_OK;
}

/* epoch: a Stripe timestamp member as decimal text, or NULL. */
static const char *epoch(struct http_request *req, json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? arena_printf(req->arena, "%lld", (long long)json_integer_value(v))
                              : NULL;
}

enum tg_err subscription_apply_stripe(struct http_request *req, const char *id, json_t *obj,
                                      json_t *invoice, struct subscription *out)
{
    /* API 2025-03-31 moved the period onto the subscription items. */
    json_t *period = obj;
    if (json_object_get(obj, "current_period_end") == NULL)
        period = json_array_get(json_object_get(json_object_get(obj, "items"), "data"), 0);
    const char *inv_status = json_string_value(json_object_get(invoice, "status"));
    bool paid = json_is_true(json_object_get(invoice, "paid")) ||
                (inv_status != NULL && strcmp(inv_status, "paid") == 0);
    const char *p[9] = {
        id,
        json_string_value(json_object_get(obj, "id")),
        json_string_value(json_object_get(obj, "status")),
        epoch(req, period, "current_period_start"),
        epoch(req, period, "current_period_end"),
        json_is_true(json_object_get(obj, "cancel_at_period_end")) ? "true" : "false",
        epoch(req, obj, "canceled_at"),
        json_string_value(json_object_get(invoice, "id")),
        paid ? "true" : "false",
    };
    if (p[2] == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe answered a subscription without a status");
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_SUBSCRIPTION_APPLY, p, NULL, NULL, &r);
    if (e == TG_OK && out != NULL && PQntuples(r) == 1)
        from_row(r, out);
    return e;
}

/* expire: a subscription Stripe refused to create is not live. */
static enum tg_err expire(struct http_request *req, const char *id)
{
    json_t *obj = json_pack("{s:s}", "status", "incomplete_expired");
    if (obj == NULL)
        return TG_ENOMEM;
    enum tg_err e = subscription_apply_stripe(req, id, obj, NULL, NULL);
    json_decref(obj);
    return e;
}

static enum tg_err run_create(struct http_request *req, const struct outbox_call *call,
                              struct subscription *out)
{
    char cid[24];
    struct subscription s;
    snprintf(cid, sizeof(cid), "%lld", call->id);
    enum tg_err e = one(req, DB_SUBSCRIPTION_BY_CALL, cid, &s);
    if (e != TG_OK)
        return e;
    json_t *p = call->params;
    const struct stripe_param params[] = {
        {"customer", json_string_value(json_object_get(p, "customer"))},
        {"items[0][price]", json_string_value(json_object_get(p, "price"))},
        {"payment_behavior", "error_if_incomplete"},
        {"expand[0]", "latest_invoice"},
        {"metadata[tollgate_subscription_id]", s.id},
    };
    if (params[0].value == NULL || params[1].value == NULL)
        return http_fail(req, TG_EINTERNAL, "call %lld lacks parameters", call->id);
    struct stripe_result r;
    failpoint("subscription.before_send");
    e = stripe_call(req->svc->stripe, req->arena, "POST", "/v1/subscriptions", params, 5,
                    call->key, &r);
    failpoint("subscription.after_send");
    if (e == TG_ENOMEM)
        return e;
    if (r.outcome == STRIPE_UNREACHABLE) {
        e = outbox_finish(req, call, "pending", NULL);
        return e != TG_OK ? e : outbox_fail_from(req, &r, "plan");
    }
    if (r.outcome != STRIPE_OK) {
        if ((e = expire(req, s.id)) != TG_OK ||
            (e = outbox_finish(req, call, "failed", r.body)) != TG_OK)
            return e;
        return outbox_fail_from(req, &r, "plan");
    }
    json_t *invoice = json_object_get(r.body, "latest_invoice");
    if ((e = subscription_apply_stripe(req, s.id, r.body, json_is_object(invoice) ? invoice : NULL,
                                       out)) != TG_OK)
        return e;
    return outbox_finish(req, call, "succeeded", NULL);
}

static enum tg_err run_cancel(struct http_request *req, const struct outbox_call *call,
                              struct subscription *out)
{
    json_t *p = call->params;
    const char *id = json_string_value(json_object_get(p, "subscription"));
    const char *sub = json_string_value(json_object_get(p, "stripe_subscription"));
    bool at_end = json_is_true(json_object_get(p, "at_period_end"));
    if (id == NULL || sub == NULL || strncmp(sub, "sub_", 4) != 0 ||
        strspn(sub + 4, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
            strlen(sub + 4))
        return http_fail(req, TG_EINTERNAL, "call %lld lacks parameters", call->id);
    const char *path = arena_printf(req->arena, "/v1/subscriptions/%s", sub);
    const struct stripe_param params[] = {{"cancel_at_period_end", "true"}};
    struct stripe_result r;
    enum tg_err e = stripe_call(req->svc->stripe, req->arena, at_end ? "POST" : "DELETE", path,
                                params, at_end ? 1 : 0, call->key, &r);
    if (e == TG_ENOMEM)
        return e;
    if (r.outcome != STRIPE_OK) {
        enum tg_err f = outbox_finish(req, call,
                                      r.outcome == STRIPE_UNREACHABLE ? "pending" : "failed",
                                      r.body);
        return f != TG_OK ? f : outbox_fail_from(req, &r, "subscription");
    }
    if ((e = subscription_apply_stripe(req, id, r.body, NULL, out)) != TG_OK)
        return e;
    return outbox_finish(req, call, "succeeded", NULL);
}

enum tg_err subscription_run(struct http_request *req, const struct outbox_call *call,
                             struct subscription *out)
{
    if (req->svc->stripe == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe is not configured on this server");
    return strcmp(call->operation, "create_subscription") == 0 ? run_create(req, call, out)
                                                               : run_cancel(req, call, out);
}

/* plan_price: the Stripe price of plan; only "pro" is sold. */
static enum tg_err plan_price(struct http_request *req, const char *plan, const char **price)
{
    if (strcmp(plan, "pro") != 0)
        return http_fail(req, TG_EINVALID, "plan: \"pro\" is the only plan");
    if (req->svc->stripe == NULL || req->svc->cfg->stripe_price_pro[0] == '\0')
        return http_fail(req, TG_EUPSTREAM, "Stripe is not configured on this server");
    *price = req->svc->cfg->stripe_price_pro;
    return TG_OK;
}

enum tg_err subscription_create(struct http_request *req, const char *plan,
                                struct subscription *out)
{
    const char *price;
    bool billing;
    enum tg_err e = plan_price(req, plan, &price);
    if (e == TG_OK)
        e = flag_enabled(req, FLAG_BILLING_ENABLED, req->auth.customer_id, &billing);
    if (e != TG_OK)
        return e;
    if (!billing) {
        req->retry_after = "600";
        return http_fail(req, TG_EBILLINGDISABLED, "billing is switched off for now, so no "
                                                   "subscription can start; try again later");
    }
    const char *p[3] = {req->auth.customer_id, plan, price};
    PGresult *r;
    if ((e = db_exec(req->svc->db, req->arena, DB_SUBSCRIPTION_BEGIN, p, NULL, NULL, &r)) != TG_OK)
        return e;
    int status = PQntuples(r) == 1 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    if (status == 409)
        return http_fail(req, TG_ECONFLICT, "already subscribed: cancel first to start over");
    if (status == 402)
        return http_fail(req, TG_EPAYMENTMETHODREQUIRED, "add a payment method before subscribing");
    if (status != 202)
        return TG_EINTERNAL;
    json_t *params = json_pack("{s:s, s:s, s:s}", "customer", PQgetvalue(r, 0, 4), "price", price,
                               "default_payment_method", PQgetvalue(r, 0, 5));
    if (params == NULL)
        return TG_ENOMEM;
    struct outbox_call call = {.id = strtoll(PQgetvalue(r, 0, 2), NULL, 10),
                               .key = PQgetvalue(r, 0, 3),
                               .customer_id = req->auth.customer_id,
                               .operation = "create_subscription",
                               .params = params};
    e = subscription_run(req, &call, out);
    json_decref(params);
    return e;
}

enum tg_err subscription_current(struct http_request *req, struct subscription *out)
{
    return one(req, DB_SUBSCRIPTION_CURRENT, req->auth.customer_id, out);
}

enum tg_err subscription_cancel(struct http_request *req, bool at_period_end,
                                struct subscription *out)
{
    struct subscription s;
    enum tg_err e = subscription_current(req, &s);
    if (e != TG_OK)
        return e;
    if (s.stripe_subscription_id == NULL)
        return http_fail(req, TG_ECONFLICT, "the subscription is still being created");
    if (req->svc->stripe == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe is not configured on this server");
    json_t *params = json_pack("{s:s, s:s, s:b}", "subscription", s.id, "stripe_subscription",
                               s.stripe_subscription_id, "at_period_end", at_period_end);
    if (params == NULL)
        return TG_ENOMEM;
    struct outbox_call call;
    e = outbox_begin(req, req->auth.customer_id, "cancel_subscription", params, &call);
    json_decref(params);
    return e != TG_OK ? e : subscription_run(req, &call, out);
}

enum tg_err subscription_preview(struct http_request *req, const char *plan, json_t **invoice)
{
    const char *price, *cus;
    struct customer c;
    struct subscription s;
    enum tg_err e = plan_price(req, plan, &price);
    if (e == TG_OK)
        e = customer_get(req, req->auth.customer_id, &c);
    if (e == TG_OK)
        e = payment_stripe_customer(req, &c, &cus);
    if (e != TG_OK)
        return e;
    bool live = subscription_current(req, &s) == TG_OK && s.stripe_subscription_id != NULL;
    req->problem_detail = NULL; /* "no live subscription" is not an error here */
    struct stripe_param params[2] = {{"customer", cus}, {"subscription_items[0][price]", price}};
    if (live)
        params[1] = (struct stripe_param){"subscription", s.stripe_subscription_id};
    struct stripe_result r;
    e = stripe_call(req->svc->stripe, req->arena, "GET", "/v1/invoices/upcoming", params, 2, NULL,
                    &r);
    if (e == TG_ENOMEM)
        return e;
    if (r.outcome == STRIPE_INVALID && r.status == 404)
        return http_fail(req, TG_ENOTFOUND, "no upcoming invoice: the subscription ends with "
                                            "its current period");
    if (r.outcome != STRIPE_OK)
        return outbox_fail_from(req, &r, "plan");
    *invoice = r.body;
    return TG_OK;
}
