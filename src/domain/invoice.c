/*
 * invoice: see invoice.h. No Stripe calls of its own: callers hand it the
 * invoice Stripe answered (GET /v1/invoices/{id} in stripe_webhook.c, the
 * expanded latest_invoice of POST /v1/subscriptions in subscription.c).
 */
#include "domain/invoice.h"

#include <string.h>

#include "core/config.h"
#include "core/metrics.h"
#include "integration/stripe.h"

/* id_of: an expandable field: the id string, or the object's id. */
static const char *id_of(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "id"));
}

const char *invoice_subscription_id(json_t *inv)
{
    const char *sub = id_of(json_object_get(inv, "subscription"));
    if (sub == NULL)
        sub = id_of(
            json_object_get(json_object_get(json_object_get(inv, "parent"), "subscription_details"),
                            "subscription"));
    return sub;
}

/* currency_valid: three ASCII letters (ISO 4217, any case). */
static bool currency_valid(const char *c)
{
    if (c == NULL || strlen(c) != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= 'A' && c[i] <= 'Z')))
            return false;
    return true;
}

/* line_price: the price id of invoice line ln: price (2023-08-16), or
 * pricing.price_details.price (2025-03-31 on). */
static const char *line_price(json_t *ln)
{
    const char *p = id_of(json_object_get(ln, "price"));
    if (p == NULL)
        p = id_of(json_object_get(json_object_get(json_object_get(ln, "pricing"), "price_details"),
                                  "price"));
    return p;
}

/* has_pro_line: a line of inv that is not a proration bills pro_price. */
static bool has_pro_line(json_t *inv, const char *pro_price)
{
    size_t i;
    json_t *ln;
    json_array_foreach(json_object_get(json_object_get(inv, "lines"), "data"), i, ln)
    {
        const char *p = line_price(ln);
        if (p != NULL && strcmp(p, pro_price) == 0 &&
            !json_is_true(json_object_get(ln, "proration")))
            return true;
    }
    return false;
}

/* why_not: the first rule of invoice.h inv breaks, NULL when none. */
static const char *why_not(const struct invoices_record *rec, json_t *inv, const char *pro_price)
{
    if (rec->status == NULL || strcmp(rec->status, "paid") != 0)
        return "not paid";
    if (rec->subscription_id == NULL)
        return rec->stripe_subscription_id == NULL ? "not a subscription invoice"
                                                   : "not a subscription of tollgate's";
    if (rec->billing_reason == NULL || (strcmp(rec->billing_reason, "subscription_create") != 0 &&
                                        strcmp(rec->billing_reason, "subscription_cycle") != 0))
        return "billing reason is not subscription_create or subscription_cycle";
    if (pro_price == NULL || pro_price[0] == '\0' || !has_pro_line(inv, pro_price))
        return "no line of the Pro price";
    if (rec->amount_paid <= 0)
        return "nothing was paid";
    if (rec->currency == NULL)
        return "no currency";
    return NULL;
}

enum invoices_verdict invoice_judge(json_t *inv, const char *subscription_id, const char *pro_price,
                                    struct invoices_record *rec)
{
    json_t *paid = json_object_get(inv, "amount_paid");
    *rec = (struct invoices_record){
        .id = id_of(inv),
        .subscription_id = subscription_id,
        .stripe_customer_id = id_of(json_object_get(inv, "customer")),
        .stripe_subscription_id = invoice_subscription_id(inv),
        .status = json_string_value(json_object_get(inv, "status")),
        .billing_reason = json_string_value(json_object_get(inv, "billing_reason")),
        .amount_paid = json_is_integer(paid) && json_integer_value(paid) >= 0
                           ? (long long)json_integer_value(paid)
                           : -1,
        .currency = json_string_value(json_object_get(inv, "currency")),
    };
    if (rec->stripe_customer_id != NULL && !stripe_id_valid(rec->stripe_customer_id, "cus_"))
        rec->stripe_customer_id = NULL;
    if (rec->stripe_subscription_id != NULL &&
        !stripe_id_valid(rec->stripe_subscription_id, "sub_"))
        rec->stripe_subscription_id = NULL;
    if (!currency_valid(rec->currency))
        rec->currency = NULL;
    rec->reason = why_not(rec, inv, pro_price);
    rec->verdict = rec->reason == NULL ? INVOICES_QUALIFIES : INVOICES_NOT_QUALIFYING;
    return rec->verdict;
}

/* count_granted: the metrics of a qualifying invoice rec that granted
 * credits now (once per invoice id, however often Stripe tells of it):
 * paid, a Pro subscription started or renewed, the payment and the
 * credits. */
static void count_granted(struct tg_ctx *ctx, const struct invoices_record *rec,
                          long long credits)
{
    ctx_count(ctx, metrics_slot(MF_INVOICES, "paid", NULL, NULL, NULL), 1);
    ctx_count(ctx, metrics_slot(strcmp(rec->billing_reason, "subscription_create") == 0
                                    ? MF_SUBSCRIPTIONS_CREATED
                                    : MF_SUBSCRIPTIONS_RENEWED,
                                "pro", NULL, NULL, NULL),
              1);
    ctx_count(ctx, metrics_slot(MF_PAYMENTS, "invoice", "succeeded", NULL, NULL), 1);
    ctx_count(ctx, metrics_slot(MF_PAYMENT_AMOUNT, "invoice", "succeeded", rec->currency, NULL),
              (uint64_t)rec->amount_paid);
    if (credits > 0)
        ctx_count(ctx, metrics_slot(MF_CREDITS_GRANTED, "pro_subscription_payment", NULL, NULL,
                                    NULL),
                  (uint64_t)credits);
}

enum tg_err invoice_report_failed(struct tg_ctx *ctx, const char *stripe_customer_id, json_t *inv)
{
    json_t *due = json_object_get(inv, "amount_due");
    json_t *attempt = json_object_get(inv, "attempt_count");
    const char *id = json_string_value(json_object_get(inv, "id"));
    if (!stripe_id_valid(id, "in_"))
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe answered an invoice without an id");
    return invoices_report_failed(ctx, stripe_customer_id, id,
                                  json_is_integer(due) ? json_integer_value(due) : -1,
                                  json_string_value(json_object_get(inv, "currency")),
                                  json_is_integer(attempt) ? json_integer_value(attempt) : 0);
}

/* invoice_count_failed: an invoice payment of one of our customers failed
 * (invoice.payment_failed applied). */
void invoice_count_failed(struct tg_ctx *ctx, json_t *inv)
{
    json_t *due = json_object_get(inv, "amount_due");
    const char *currency = json_string_value(json_object_get(inv, "currency"));
    ctx_count(ctx, metrics_slot(MF_INVOICES, "payment_failed", NULL, NULL, NULL), 1);
    ctx_count(ctx, metrics_slot(MF_PAYMENTS, "invoice", "failed", NULL, NULL), 1);
    if (json_is_integer(due) && json_integer_value(due) > 0)
        ctx_count(ctx, metrics_slot(MF_PAYMENT_AMOUNT, "invoice", "failed", currency, NULL),
                  (uint64_t)json_integer_value(due));
    /* An invoice carries no decline code; its charge does (not fetched). */
    json_t *err = json_object_get(inv, "last_finalization_error");
    ctx_count(ctx, metrics_slot(MF_PAYMENT_FAILURES, "invoice",
                                json_string_value(json_object_get(err, "decline_code")), NULL,
                                NULL),
              1);
}

enum tg_err invoice_apply(struct tg_ctx *ctx, const char *subscription_id, json_t *inv)
{
    struct invoices_record rec;
    bool granted = false;
    invoice_judge(inv, subscription_id, ctx->svc->cfg->stripe_price_pro, &rec);
    if (!stripe_id_valid(rec.id, "in_"))
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe answered an invoice without an id");
    long long credits = 0;
    enum tg_err e = invoices_record(ctx, &rec, &granted, &credits);
    if (e == TG_OK && granted)
        count_granted(ctx, &rec, credits);
    if (e == TG_OK)
        ctx_log(ctx, LOG_INFO,
                json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:s?, s:b}", "msg", "stripe invoice",
                          "invoice", rec.id, "verdict",
                          rec.verdict == INVOICES_QUALIFIES ? "qualifies" : "not_qualifying",
                          "reason", rec.reason, "billing_reason", rec.billing_reason, "amount_paid",
                          (json_int_t)rec.amount_paid, "currency", rec.currency, "granted",
                          granted));
    return e;
}

enum tg_err invoice_reject(struct tg_ctx *ctx, const char *id, const char *why)
{
    if (!stripe_id_valid(id, "in_"))
        return TG_OK;
    const struct invoices_record rec = {
        .id = id, .amount_paid = -1, .verdict = INVOICES_REJECTED, .reason = why};
    bool granted;
    long long credits;
    return invoices_record(ctx, &rec, &granted, &credits);
}
