/*
 * invoices (store): Stripe invoices as tollgate judged them, in
 * stripe_invoices, and the credits a qualifying one grants
 * (sql/functions/invoices.sql). The rules deciding what qualifies are the
 * domain's (domain/invoice.h).
 */
#ifndef TOLLGATE_STORE_INVOICES_H
#define TOLLGATE_STORE_INVOICES_H

#include <stdbool.h>

#include "core/ctx.h"

/* What the domain made of an invoice Stripe answered for. */
enum invoices_verdict {
    INVOICES_QUALIFIES,      /* a paid Pro subscription payment: grant */
    INVOICES_NOT_QUALIFYING, /* real, grants nothing */
    INVOICES_REJECTED,       /* Stripe has no such invoice */
};

/* An invoice to record: Stripe's fields (NULL / -1 when unknown). */
struct invoices_record {
    const char *id;                     /* in_... (required) */
    const char *subscription_id;        /* our subscription (uuid), NULL: none */
    const char *stripe_customer_id;     /* cus_... */
    const char *stripe_subscription_id; /* sub_... */
    const char *status;                 /* Stripe's status */
    const char *billing_reason;
    long long amount_paid; /* cents of currency; -1: unknown */
    const char *currency;  /* ISO 4217, lower case */
    enum invoices_verdict verdict;
    const char *reason; /* why not (not for INVOICES_QUALIFIES) */
};

/* invoices_record: record rec in stripe_invoices (one row per invoice id,
 * updated by later verdicts; a granted invoice stays granted) and, for
 * INVOICES_QUALIFIES, grant the plan's credits unless that invoice did
 * already. *granted is true when credits were written by this call,
 * *credits how many (0 when none).
 * Errors: TG_EDB. */
enum tg_err invoices_record(struct tg_ctx *ctx, const struct invoices_record *rec, bool *granted,
                            long long *credits) __attribute__((warn_unused_result));

/* invoices_report_failed: write the webhooks to the product
 * (payment.failed, kind invoice; docs/outbound-webhooks.md) for a failed
 * payment of Stripe invoice invoice_id of the customers of
 * stripe_customer_id: amount_cents in minor units of currency (negative:
 * unknown), attempt Stripe's attempt_count (0: unknown). In the caller's
 * transaction. Errors: TG_EDB. */
enum tg_err invoices_report_failed(struct tg_ctx *ctx, const char *stripe_customer_id,
                                   const char *invoice_id, long long amount_cents,
                                   const char *currency, long long attempt)
    __attribute__((warn_unused_result));

#endif
