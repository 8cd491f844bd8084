/*
 * payment: see payment.h. Stripe calls, in order, each with its own key
 * derived from the recorded call: POST /v1/customers (stripe_customer.c),
 * POST /v1/payment_methods/{pm}/attach (<key>:attach),
 * POST /v1/customers/{cus} invoice_settings[default_payment_method]
 * (<key>:default); for a customer past due, GET /v1/invoices?status=open
 * and POST /v1/invoices/{id}/pay (<key>:pay:<invoice>), then the charges
 * it owes again (charge.c).
 */
#include "domain/payment.h"

#include <string.h>

#include "core/failpoint.h"
#include "core/metrics.h"
#include "domain/charge.h"
#include "domain/customer.h"
#include "domain/outbox.h"
#include "domain/stripe_customer.h"
#include "integration/stripe.h"
#include "store/payment_methods.h"

bool payment_method_id_valid(const char *id)
{
    return strlen(id) <= 253 && stripe_id_valid(id, "pm_");
}

/* post: one step of call; TG_OK for STRIPE_OK, else the failure recorded. */
static enum tg_err post(struct tg_ctx *ctx, const struct stripe_request *call, const char *step,
                        const char *path, const struct stripe_param *params, size_t n,
                        struct stripe_result *r)
{
    enum tg_err e = stripe_call(ctx, "POST", path, params, n, outbox_step_key(ctx, call, step), r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    return r->outcome == STRIPE_OK ? TG_OK : outbox_fail(ctx, r, "payment_method");
}

/* pay_open_invoices: a customer who is past due and brings a new card
 * expects the open invoices to be paid with it now, not at Stripe's next
 * retry (key <call key>:pay:<invoice>). The invoice.paid webhooks that
 * follow put billing back to active. Best effort: a failure leaves
 * Stripe's own retries to do it. */
static void pay_open_invoices(struct tg_ctx *ctx, const struct stripe_request *call,
                              const char *cus)
{
    const struct stripe_param list[] = {{"customer", cus}, {"status", "open"}};
    struct stripe_result r;
    if (stripe_call(ctx, "GET", "/v1/invoices", list, 2, NULL, &r) != TG_OK ||
        r.outcome != STRIPE_OK)
        return;
    size_t i;
    json_t *inv;
    json_array_foreach(json_object_get(r.body, "data"), i, inv)
    {
        const char *id = json_string_value(json_object_get(inv, "id"));
        if (!stripe_id_valid(id, "in_"))
            continue;
        struct stripe_result paid;
        if (stripe_call(ctx, "POST", arena_printf(ctx->arena, "/v1/invoices/%s/pay", id), NULL, 0,
                        arena_printf(ctx->arena, "%s:pay:%s", call->key, id), &paid) == TG_ENOMEM)
            return;
    }
}

/* attach: the Stripe side -- customer, attachment, default unless a later
 * attachment succeeded already. *attached is Stripe's payment method id. */
static enum tg_err attach(struct tg_ctx *ctx, const struct stripe_request *call,
                          const char *cus, const char *pm, const char **attached,
                          struct stripe_result *r)
{
    const struct stripe_param att[] = {{"customer", cus}};
    const char *path = arena_printf(ctx->arena, "/v1/payment_methods/%s/attach", pm);
    enum tg_err e = post(ctx, call, "attach", path, att, 1, r);
    if (e != TG_OK)
        return e;
    *attached = json_string_value(json_object_get(r->body, "id"));
    if (*attached == NULL || !payment_method_id_valid(*attached))
        return ctx_fail(ctx, TG_EUPSTREAM, "odd answer from Stripe");
    /* Finished late, after the customer added another card: attach this one
     * but leave the newer default alone, at Stripe as here. */
    bool superseded;
    if ((e = payment_methods_superseded(ctx, call->id, call->customer_id, &superseded)) != TG_OK)
        return e;
    const struct stripe_param dflt[] = {{"invoice_settings[default_payment_method]", *attached}};
    if (superseded)
        return TG_OK;
    return post(ctx, call, "default", arena_printf(ctx->arena, "/v1/customers/%s", cus), dflt, 1,
                r);
}

/* count_added: the metrics of a card recorded for customer before ->
 * after: the method, a trial's move to payg and its bonus (the credits
 * the same statement added: trial_billing_added, once per customer). */
static void count_added(struct tg_ctx *ctx, const struct customer *before,
                        const struct customer *after)
{
    ctx_count(ctx, metrics_slot(MF_PAYMENT_METHODS_ADDED, NULL, NULL, NULL, NULL), 1);
    if (strcmp(before->tier, after->tier) == 0)
        return;
    ctx_count(ctx, metrics_slot(MF_TIER_TRANSITIONS, before->tier, after->tier, NULL, NULL), 1);
    if (strcmp(before->tier, "trial") == 0 && after->credit_balance > before->credit_balance)
        ctx_count(ctx, metrics_slot(MF_CREDITS_GRANTED, "trial_billing_added", NULL, NULL, NULL),
                  (uint64_t)(after->credit_balance - before->credit_balance));
}

enum tg_err payment_method_run(struct tg_ctx *ctx, const struct stripe_request *call,
                               struct customer *out)
{
    struct customer c, after;
    struct stripe_result r = {0};
    const char *cus, *attached = NULL;
    const char *pm = json_string_value(json_object_get(call->params, "payment_method"));
    enum tg_err e = customer_get(ctx, call->customer_id, &c);
    if (e == TG_OK && (pm == NULL || !payment_method_id_valid(pm)))
        e = ctx_fail(ctx, TG_EINTERNAL, "recorded call %lld has no payment method", call->id);
    if (e == TG_OK)
        e = stripe_customer_ensure(ctx, &c, &cus);
    if (e != TG_OK)
        return outbox_finish_failed(ctx, call, e, NULL);

    failpoint("payment.before_attach");
    if ((e = attach(ctx, call, cus, pm, &attached, &r)) != TG_OK)
        return e == TG_EDB ? e : outbox_finish_failed(ctx, call, e, r.body);

    failpoint("payment.before_apply");
    if ((e = payment_methods_added(ctx, call->id, call->customer_id, attached, &after)) != TG_OK)
        return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no such customer") : e;
    count_added(ctx, &c, &after);
    /* With billing switched off nothing is charged: what is owed stays owed
     * (Stripe's own invoice retries go on) until the next card. (after is
     * read in the same statement that recorded the card.) */
    if (after.billing_enabled &&
        (strcmp(c.billing_status, "past_due") == 0 || strcmp(c.billing_status, "delinquent") == 0)) {
        pay_open_invoices(ctx, call, cus);
        if ((e = charge_retry_owed(ctx, call->customer_id)) != TG_OK)
            return e;
        /* Paying what was owed may have settled the account (active
         * again, grace cleared): answer the customer as it is now. */
        if (out != NULL && (e = customer_get(ctx, call->customer_id, &after)) != TG_OK)
            return e;
    }
    if (out != NULL)
        *out = after;
    return TG_OK;
}

enum tg_err payment_method_add(struct tg_ctx *ctx, const char *customer_id,
                               const char *payment_method, struct customer *out)
{
    if (ctx->svc->stripe == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe is not configured on this server");
    json_t *params = json_pack("{s:s}", "payment_method", payment_method);
    if (params == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    struct stripe_request call;
    enum tg_err e = stripe_requests_begin(ctx, customer_id, "attach_payment_method", params, &call);
    json_decref(params);
    return e != TG_OK ? e : payment_method_run(ctx, &call, out);
}
