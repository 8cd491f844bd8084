/*
 * subscription: Pro subscriptions through Stripe (DESIGN.md section 2). A
 * subscription's first paid invoice, and each renewal's, grants the plan's
 * credits keyed by the Stripe invoice id, so the webhook for the same
 * invoice can never grant twice; cancelling now moves the customer to payg
 * at once, cancelling at period end keeps Pro until Stripe ends it.
 */
#ifndef TOLLGATE_SUBSCRIPTION_H
#define TOLLGATE_SUBSCRIPTION_H

#include <jansson.h>
#include <stdbool.h>

#include "core/ctx.h"
#include "store/stripe_requests.h"
#include "store/subscriptions.h"

/* subscription_create: subscribe customer_id to plan ("pro"). Errors:
 * TG_ECONFLICT (already subscribed), TG_EPAYMENTMETHODREQUIRED (402: no
 * payment method), TG_EPAYMENTFAILED (402: the first invoice was declined;
 * nothing is created), TG_EBILLINGDISABLED (the kill switch is on),
 * TG_EUPSTREAM (Stripe unreachable: tollgate-worker finishes the creation),
 * TG_EINVALID (unknown plan), TG_EDB. */
enum tg_err subscription_create(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                struct subscription *out) __attribute__((warn_unused_result));

/* subscription_current: customer_id's live subscription. TG_ENOTFOUND. */
enum tg_err subscription_current(struct tg_ctx *ctx, const char *customer_id,
                                 struct subscription *out) __attribute__((warn_unused_result));

/* subscription_cancel: cancel customer_id's live subscription now (tier
 * payg, credits kept) or at the end of the period (Pro until Stripe ends
 * it). TG_ENOTFOUND, TG_ECONFLICT (still being created), TG_EUPSTREAM,
 * TG_EDB. */
enum tg_err subscription_cancel(struct tg_ctx *ctx, const char *customer_id, bool at_period_end,
                                struct subscription *out) __attribute__((warn_unused_result));

/* subscription_preview: Stripe's upcoming invoice for plan (GET
 * /v1/invoices/upcoming): of customer_id's live subscription, or of a new
 * one on the plan's price. *invoice is Stripe's object (arena-owned).
 * TG_ENOTFOUND (no upcoming invoice), TG_EUPSTREAM, TG_EDB. */
enum tg_err subscription_preview(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                 json_t **invoice) __attribute__((warn_unused_result));

/* subscription_run: phases 2 and 3 of a recorded create_subscription or
 * cancel_subscription call (also tollgate-worker's resume). out may be
 * NULL. */
enum tg_err subscription_run(struct tg_ctx *ctx, const struct stripe_request *call,
                             struct subscription *out) __attribute__((warn_unused_result));

/* subscription_apply_stripe: record Stripe's subscription object obj for
 * our subscription id, then its invoice (may be NULL; Stripe's answer,
 * never a webhook payload) by invoice_apply's rules (invoice.h: only a
 * paid Pro subscription payment grants); both API 2023-08-16 and later
 * shapes (periods on the items). *out may be NULL. TG_EUPSTREAM for an
 * object without a status, TG_EDB. */
enum tg_err subscription_apply_stripe(struct tg_ctx *ctx, const char *id, json_t *obj,
                                      json_t *invoice, struct subscription *out)
    __attribute__((warn_unused_result));

#endif
