/*
 * subscription: see subscription.h. Stripe calls and their keys:
 * create: POST /v1/subscriptions (key tgcre_<uuid>, payment_behavior
 * error_if_incomplete, latest_invoice expanded; no default_payment_method of
 * its own, so invoices use the customer's invoice_settings default, which a
 * new card replaces); cancel at period end:
 * POST /v1/subscriptions/{id} cancel_at_period_end=true (key tgcan_<uuid>);
 * cancel now: DELETE /v1/subscriptions/{id} (idempotent by itself);
 * preview: GET /v1/invoices/upcoming. A create call older than Stripe's
 * 24-hour memory of keys first looks for the subscription it may have
 * made: GET /v1/subscriptions?customer=&status=all, by
 * metadata[tollgate_subscription_id].
 */
#include "domain/subscription.h"

#include <string.h>

#include "core/config.h"
#include "core/failpoint.h"
#include "core/metrics.h"
#include "domain/customer.h"
#include "domain/flag.h"
#include "domain/invoice.h"
#include "domain/outbox.h"
#include "domain/stripe_customer.h"
#include "integration/stripe.h"

#define BILLING_DISABLED_RETRY_SECONDS 600

/* epoch: a Stripe timestamp member, 0 when absent. */
static long long epoch(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static enum tg_err apply(struct tg_ctx *ctx, const char *id, json_t *obj, json_t *invoice,
                         struct subscription *out, const char *cancel_why);

/* count_changes: the metrics of what one apply changed of a subscription
 * (now after; obj Stripe's): a cancellation (why: given by the caller, or
 * the payments failing, or scheduled for the period's end) and its
 * customer's change of tier. Started and renewed are counted by their
 * invoices (invoice.c). */
static void count_changes(struct tg_ctx *ctx, const struct subscription *after,
                          const struct subscriptions_change *chg, json_t *obj, const char *why)
{
    if (chg->prev_status == NULL || chg->prev_tier == NULL || chg->tier == NULL)
        return;
    if (strcmp(after->status, "canceled") == 0 && strcmp(chg->prev_status, "canceled") != 0) {
        const char *stripe_why = json_string_value(
            json_object_get(json_object_get(obj, "cancellation_details"), "reason"));
        bool unpaid = strcmp(chg->prev_status, "past_due") == 0 ||
                      strcmp(chg->prev_status, "unpaid") == 0 ||
                      (stripe_why != NULL && strcmp(stripe_why, "payment_failed") == 0);
        if (why == NULL) /* else the caller knows: a cancellation asked now */
            why = unpaid                           ? "nonpayment"
                  : chg->prev_cancel_at_period_end ? "period_end"
                                                   : "immediately";
        ctx_count(ctx, metrics_slot(MF_SUBSCRIPTIONS_CANCELED, after->plan, why, NULL, NULL), 1);
    }
    if (strcmp(chg->prev_tier, chg->tier) != 0)
        ctx_count(ctx, metrics_slot(MF_TIER_TRANSITIONS, chg->prev_tier, chg->tier, NULL, NULL),
                  1);
}

enum tg_err subscription_apply_stripe(struct tg_ctx *ctx, const char *id, json_t *obj,
                                      json_t *invoice, struct subscription *out)
{
    return apply(ctx, id, obj, invoice, out, NULL);
}

/* apply: subscription_apply_stripe, cancel_why the reason of a
 * cancellation the caller made (NULL: judged from the states). */
static enum tg_err apply(struct tg_ctx *ctx, const char *id, json_t *obj, json_t *invoice,
                         struct subscription *out, const char *cancel_why)
{
    /* API 2025-03-31 moved the period onto the subscription items. */
    json_t *period = obj;
    if (json_object_get(obj, "current_period_end") == NULL)
        period = json_array_get(json_object_get(json_object_get(obj, "items"), "data"), 0);
    struct subscription_state st = {
        .stripe_id = json_string_value(json_object_get(obj, "id")),
        .status = json_string_value(json_object_get(obj, "status")),
        .period_start = epoch(period, "current_period_start"),
        .period_end = epoch(period, "current_period_end"),
        .cancel_at_period_end = json_is_true(json_object_get(obj, "cancel_at_period_end")),
        .canceled_at = epoch(obj, "canceled_at"),
        /* The invoice grants through invoice_apply, by its rules; never
         * through subscriptions_apply's bare "paid" test (0.2.0's). */
        .invoice_id = NULL,
        .invoice_paid = false,
    };
    if (st.status == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe answered a subscription without a status");
    struct subscription after;
    struct subscriptions_change chg;
    enum tg_err e = subscriptions_apply(ctx, id, &st, &after, &chg);
    if (e != TG_OK)
        return e;
    count_changes(ctx, &after, &chg, obj, cancel_why);
    if (invoice != NULL && (e = invoice_apply(ctx, id, invoice)) != TG_OK)
        return e;
    if (out != NULL)
        *out = after;
    return TG_OK;
}

/* expire: a subscription Stripe refused to create is not live. */
static enum tg_err expire(struct tg_ctx *ctx, const char *id)
{
    const struct subscription_state st = {.status = "incomplete_expired"};
    return subscriptions_apply(ctx, id, &st, NULL, NULL);
}

/* find_created: the Stripe subscription (latest_invoice expanded) whose
 * metadata names our subscription sid, of Stripe customer cus, into *sub;
 * NULL when there is none. A customer has a handful of subscriptions: one
 * page of 100 is searched. TG_EUPSTREAM when Stripe cannot say. */
static enum tg_err find_created(struct tg_ctx *ctx, const char *cus, const char *sid,
                                json_t **sub)
{
    const struct stripe_param q[] = {{"customer", cus},
                                     {"status", "all"},
                                     {"limit", "100"},
                                     {"expand[0]", "data.latest_invoice"}};
    struct stripe_result r;
    *sub = NULL;
    enum tg_err e = stripe_call(ctx, "GET", "/v1/subscriptions", q, 4, NULL, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (e != TG_OK || r.outcome != STRIPE_OK)
        return ctx_fail(ctx, TG_EUPSTREAM, "listing subscriptions: %d", r.status);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(r.body, "data"), i, it)
    {
        const char *m = json_string_value(
            json_object_get(json_object_get(it, "metadata"), "tollgate_subscription_id"));
        if (m != NULL && strcmp(m, sid) == 0) {
            *sub = it;
            return TG_OK;
        }
    }
    return TG_OK;
}

/* send_create: phase 2 of creating subscription sid: POST params (n), or,
 * for a call whose key Stripe may have forgotten, the subscription it
 * already made (adopted as the answer; Stripe unable to say: *r
 * unreachable, nothing sent). */
static enum tg_err send_create(struct tg_ctx *ctx, const struct stripe_request *call,
                               const char *sid, const struct stripe_param *params, size_t n,
                               struct stripe_result *r)
{
    if (outbox_key_forgotten(ctx, call)) {
        json_t *made;
        enum tg_err e = find_created(ctx, params[0].value, sid, &made);
        if (e == TG_ENOMEM)
            return e;
        if (e != TG_OK || made != NULL) {
            *r = (struct stripe_result){.outcome = e == TG_OK ? STRIPE_OK : STRIPE_UNREACHABLE,
                                        .status = e == TG_OK ? 200 : 0,
                                        .body = made};
            return TG_OK;
        }
    }
    failpoint("subscription.before_send");
    enum tg_err e = stripe_call(ctx, "POST", "/v1/subscriptions", params, n, call->key, r);
    failpoint("subscription.after_send");
    return e;
}

static enum tg_err run_create(struct tg_ctx *ctx, const struct stripe_request *call,
                              struct subscription *out)
{
    struct subscription s;
    enum tg_err e = subscriptions_by_call(ctx, call->id, &s);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EINTERNAL, "call %lld has no subscription", call->id);
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
        return ctx_fail(ctx, TG_EINTERNAL, "call %lld lacks parameters", call->id);
    struct stripe_result r;
    e = send_create(ctx, call, s.id, params, 5, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (r.outcome == STRIPE_UNREACHABLE)
        return outbox_finish_failed(ctx, call, outbox_fail(ctx, &r, "plan"), NULL);
    if (r.outcome != STRIPE_OK) {
        if ((e = expire(ctx, s.id)) != TG_OK)
            return e;
        return outbox_finish_failed(ctx, call, outbox_fail(ctx, &r, "plan"), r.body);
    }
    json_t *invoice = json_object_get(r.body, "latest_invoice");
    if ((e = subscription_apply_stripe(ctx, s.id, r.body, json_is_object(invoice) ? invoice : NULL,
                                       out)) != TG_OK)
        return e;
    return outbox_finish(ctx, call, "succeeded", NULL);
}

static enum tg_err run_cancel(struct tg_ctx *ctx, const struct stripe_request *call,
                              struct subscription *out)
{
    json_t *p = call->params;
    const char *id = json_string_value(json_object_get(p, "subscription"));
    const char *sub = json_string_value(json_object_get(p, "stripe_subscription"));
    bool at_end = json_is_true(json_object_get(p, "at_period_end"));
    if (id == NULL || !stripe_id_valid(sub, "sub_"))
        return ctx_fail(ctx, TG_EINTERNAL, "call %lld lacks parameters", call->id);
    const char *path = arena_printf(ctx->arena, "/v1/subscriptions/%s", sub);
    const struct stripe_param params[] = {{"cancel_at_period_end", "true"}};
    struct stripe_result r;
    enum tg_err e = stripe_call(ctx, at_end ? "POST" : "DELETE", path, params, at_end ? 1 : 0,
                                call->key, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (r.outcome != STRIPE_OK)
        return outbox_finish_failed(ctx, call, outbox_fail(ctx, &r, "subscription"), r.body);
    if ((e = apply(ctx, id, r.body, NULL, out, at_end ? NULL : "immediately")) != TG_OK)
        return e;
    return outbox_finish(ctx, call, "succeeded", NULL);
}

enum tg_err subscription_run(struct tg_ctx *ctx, const struct stripe_request *call,
                             struct subscription *out)
{
    if (ctx->svc->stripe == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe is not configured on this server");
    return strcmp(call->operation, "create_subscription") == 0 ? run_create(ctx, call, out)
                                                               : run_cancel(ctx, call, out);
}

/* plan_price: the Stripe price of plan; only "pro" is sold. */
static enum tg_err plan_price(struct tg_ctx *ctx, const char *plan, const char **price)
{
    if (strcmp(plan, "pro") != 0)
        return ctx_fail(ctx, TG_EINVALID, "plan: \"pro\" is the only plan");
    if (ctx->svc->stripe == NULL || ctx->svc->cfg->stripe_price_pro[0] == '\0')
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe is not configured on this server");
    *price = ctx->svc->cfg->stripe_price_pro;
    return TG_OK;
}

enum tg_err subscription_create(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                struct subscription *out)
{
    const char *price, *sid;
    bool billing;
    enum tg_err e = plan_price(ctx, plan, &price);
    if (e == TG_OK)
        e = flag_enabled(ctx, FLAG_BILLING_ENABLED, customer_id, &billing);
    if (e != TG_OK)
        return e;
    if (!billing) {
        ctx_retry_after(ctx, BILLING_DISABLED_RETRY_SECONDS);
        return ctx_fail(ctx, TG_EBILLINGDISABLED, "billing is switched off for now, so no "
                                                  "subscription can start; try again later");
    }
    enum subscriptions_begin_outcome outcome;
    struct stripe_request call;
    if ((e = subscriptions_begin(ctx, customer_id, plan, price, &outcome, &sid, &call)) != TG_OK)
        return e;
    if (outcome == SUBSCRIPTIONS_ALREADY_SUBSCRIBED)
        return ctx_fail(ctx, TG_ECONFLICT, "already subscribed: cancel first to start over");
    if (outcome == SUBSCRIPTIONS_NO_PAYMENT_METHOD)
        return ctx_fail(ctx, TG_EPAYMENTMETHODREQUIRED, "add a payment method before subscribing");
    return subscription_run(ctx, &call, out);
}

enum tg_err subscription_current(struct tg_ctx *ctx, const char *customer_id,
                                 struct subscription *out)
{
    enum tg_err e = subscriptions_current(ctx, customer_id, out);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no live subscription") : e;
}

enum tg_err subscription_cancel(struct tg_ctx *ctx, const char *customer_id, bool at_period_end,
                                struct subscription *out)
{
    struct subscription s;
    enum tg_err e = subscription_current(ctx, customer_id, &s);
    if (e != TG_OK)
        return e;
    if (s.stripe_subscription_id == NULL)
        return ctx_fail(ctx, TG_ECONFLICT, "the subscription is still being created");
    if (ctx->svc->stripe == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe is not configured on this server");
    json_t *params = json_pack("{s:s, s:s, s:b}", "subscription", s.id, "stripe_subscription",
                               s.stripe_subscription_id, "at_period_end", at_period_end);
    if (params == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    struct stripe_request call;
    e = stripe_requests_begin(ctx, customer_id, "cancel_subscription", params, &call);
    json_decref(params);
    return e != TG_OK ? e : subscription_run(ctx, &call, out);
}

enum tg_err subscription_preview(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                 json_t **invoice)
{
    const char *price, *cus;
    struct customer c;
    struct subscription s;
    enum tg_err e = plan_price(ctx, plan, &price);
    if (e == TG_OK)
        e = customer_get(ctx, customer_id, &c);
    if (e == TG_OK)
        e = stripe_customer_ensure(ctx, &c, &cus);
    if (e != TG_OK)
        return e;
    e = subscriptions_current(ctx, customer_id, &s);
    if (e != TG_OK && e != TG_ENOTFOUND)
        return e;
    bool live = e == TG_OK && s.stripe_subscription_id != NULL;
    struct stripe_param params[2] = {{"customer", cus}, {"subscription_items[0][price]", price}};
    if (live)
        params[1] = (struct stripe_param){"subscription", s.stripe_subscription_id};
    struct stripe_result r;
    e = stripe_call(ctx, "GET", "/v1/invoices/upcoming", params, 2, NULL, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (r.outcome == STRIPE_INVALID && r.status == 404)
        return ctx_fail(ctx, TG_ENOTFOUND, "no upcoming invoice: the subscription ends with its "
                                           "current period");
    if (r.outcome != STRIPE_OK)
        return outbox_fail(ctx, &r, "plan");
    *invoice = r.body;
    return TG_OK;
}
