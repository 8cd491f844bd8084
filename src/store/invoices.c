/*
 * invoices (store): see invoices.h.
 */
#include "store/invoices.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement record_st = {
    "invoices_record",
    /* The grant is the plan's included credits (invoice_record; the entry
     * it writes is not visible to this statement's snapshot). */
    "SELECT r.outcome, r.entry_id,"
    " (SELECT p.included_credits FROM subscriptions s"
    "    JOIN pricing_tiers p ON p.tier = s.plan WHERE s.id = $2)"
    " FROM invoice_record($1, $2, $3, $4, $5, $6, $7::bigint, $8, $9, $10) r",
    10};

static const struct db_statement failed_st = {
    "invoices_report_failed", "SELECT outbound_invoice_failed($1, $2, $3::bigint, $4, $5::integer)",
    5};

const struct db_statement *const invoices_statements[] = {&record_st, &failed_st, NULL};

enum tg_err invoices_report_failed(struct tg_ctx *ctx, const char *stripe_customer_id,
                                   const char *invoice_id, long long amount_cents,
                                   const char *currency, long long attempt)
{
    const char *p[5] = {stripe_customer_id, invoice_id,
                        amount_cents >= 0 ? db_text_ll(ctx, amount_cents) : NULL, currency,
                        attempt > 0 ? db_text_ll(ctx, attempt) : NULL};
    PGresult *r;
    return db_exec_one(ctx, &failed_st, p, &r);
}

enum tg_err invoices_record(struct tg_ctx *ctx, const struct invoices_record *rec, bool *granted,
                            long long *credits)
{
    static const char *const verdicts[] = {[INVOICES_QUALIFIES] = "qualifies",
                                           [INVOICES_NOT_QUALIFYING] = "not_qualifying",
                                           [INVOICES_REJECTED] = "rejected"};
    const char *p[10] = {
        rec->id,
        rec->subscription_id,
        rec->stripe_customer_id,
        rec->stripe_subscription_id,
        rec->status,
        rec->billing_reason,
        rec->amount_paid >= 0 ? db_text_ll(ctx, rec->amount_paid) : NULL,
        rec->currency,
        verdicts[rec->verdict],
        rec->verdict == INVOICES_QUALIFIES ? NULL : rec->reason,
    };
    static const char *const outcomes[] = {"granted", "already_granted", "not_qualifying",
                                           "rejected"};
    PGresult *r;
    int o;
    enum tg_err e = db_exec_one(ctx, &record_st, p, &r);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EINTERNAL, "invoice_record answered no row");
    if (e == TG_OK)
        e = db_outcome(ctx, r, 0, outcomes, 4, &o);
    if (e == TG_OK) {
        *granted = o == 0;
        *credits = *granted && !PQgetisnull(r, 0, 2) ? db_ll(r, 0, 2) : 0;
    }
    return e;
}
