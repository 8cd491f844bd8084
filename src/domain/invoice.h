/*
 * invoice: what a Stripe invoice grants (DESIGN.md section 2; issue 13).
 * Credits are granted only for an invoice as Stripe answers for it --
 * never as a webhook payload describes it -- and only when it is a Pro
 * subscription payment: status "paid", of a subscription of ours,
 * billing_reason subscription_create or subscription_cycle (Stripe:
 * "Invoice object", billing_reason), a line of the configured Pro price
 * (stripe_price_pro), and an amount paid above 0. Anything else -- a
 * proration, a one-off item, another product's price, a $0 invoice, an
 * invoice still open -- is recorded in stripe_invoices and grants nothing;
 * an id Stripe answers 404 for is recorded as rejected. A grant is keyed by
 * the invoice id, so it happens once whatever names the invoice.
 */
#ifndef TOLLGATE_INVOICE_H
#define TOLLGATE_INVOICE_H

#include <jansson.h>

#include "core/ctx.h"
#include "store/invoices.h"

/* invoice_subscription_id: the Stripe subscription (sub_...) of invoice inv
 * (borrowed), in either API shape (2025-03-31 moved it to
 * parent.subscription_details.subscription); NULL when it has none. */
const char *invoice_subscription_id(json_t *inv);

/* invoice_judge: the verdict on Stripe's invoice inv (borrowed) for our
 * subscription subscription_id (NULL: the invoice's subscription is none of
 * ours, or it has none), with Pro price pro_price (NULL or "": nothing
 * qualifies). Fills *rec (strings borrowed from inv; reason static) and
 * returns rec->verdict: INVOICES_QUALIFIES or INVOICES_NOT_QUALIFYING. */
enum invoices_verdict invoice_judge(json_t *inv, const char *subscription_id, const char *pro_price,
                                    struct invoices_record *rec);

/* invoice_apply: judge Stripe's invoice inv (borrowed; a re-fetched object
 * or Stripe's answer to a call, never a webhook payload) for our
 * subscription subscription_id (may be NULL), record it, and grant the
 * Pro credits if it qualifies and has not granted yet. Errors:
 * TG_EUPSTREAM (inv has no valid id), TG_EDB. */
enum tg_err invoice_apply(struct tg_ctx *ctx, const char *subscription_id, json_t *inv)
    __attribute__((warn_unused_result));

/* invoice_reject: record invoice id (in_..., named by a webhook) as
 * rejected for why (Stripe answered 404): it grants nothing and is not
 * retried. An id that is not an invoice id is not recorded (TG_OK).
 * Errors: TG_EDB. */
enum tg_err invoice_reject(struct tg_ctx *ctx, const char *id, const char *why)
    __attribute__((warn_unused_result));

/* invoice_report_failed: tell the product (webhook payment.failed, kind
 * invoice; docs/outbound-webhooks.md) that a payment of invoice inv
 * (Stripe's copy, borrowed) of the customers of stripe_customer_id
 * failed. Call in the transaction applying Stripe's invoice.payment_failed
 * event, so each failed attempt is told once. Errors: TG_EUPSTREAM (no
 * invoice id), TG_EDB. */
enum tg_err invoice_report_failed(struct tg_ctx *ctx, const char *stripe_customer_id, json_t *inv)
    __attribute__((warn_unused_result));

/* invoice_count_failed: count a failed payment of invoice inv (Stripe's,
 * borrowed) of one of our customers: tollgate_invoices_total
 * {outcome="payment_failed"}, tollgate_payments_total and the amount due. */
void invoice_count_failed(struct tg_ctx *ctx, json_t *inv);

#endif
