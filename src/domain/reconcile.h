/*
 * reconcile: tollgate's copy of what happened to money against Stripe's,
 * which is the source of truth (DESIGN.md section 4). Every subscription
 * and every PaymentIntent of ours that Stripe lists is compared with the
 * local row that mirrors it; on request Stripe's state is applied through
 * the same code the webhooks use, so a webhook that never arrived (or was
 * lost) is made good. For tollgatectl reconcile.
 */
#ifndef TOLLGATE_RECONCILE_H
#define TOLLGATE_RECONCILE_H

#include <stdbool.h>

#include "core/ctx.h"

/* One difference found; strings borrowed for the callback. */
struct reconcile_difference {
    const char *what;   /* "subscription" or "charge" */
    const char *id;     /* Stripe's id: sub_..., pi_... */
    const char *detail; /* "local past_due, Stripe active", "at Stripe only", ... */
    bool fixed;         /* with fix: ours now follows Stripe */
};

struct reconcile_summary {
    int differences;
    int fixed;
};

/* reconcile_run: page through Stripe's subscriptions (any status) and
 * PaymentIntents, 100 a page, and compare each with ours: a subscription
 * by its status and cancel_at_period_end; a PaymentIntent that names one
 * of our charges (metadata tollgate_charge_id) by the charge's status
 * (pending while Stripe is processing); a PaymentIntent of an earlier
 * attempt at a charge since retried on another card is no difference.
 * report(arg, d) is called for each difference, in Stripe's order. With
 * fix, Stripe's state is applied (subscription_apply_stripe; a pending
 * charge settled by charge_apply_intent); a fix that fails leaves the
 * difference unfixed. *out counts both. Errors: TG_ECONFIG (Stripe is not
 * configured), TG_EUPSTREAM (a list could not be read: "GET <path> failed
 * (<status>)"), TG_EDB, TG_ENOMEM. */
enum tg_err reconcile_run(struct tg_ctx *ctx, bool fix,
                          void (*report)(void *arg, const struct reconcile_difference *d),
                          void *arg, struct reconcile_summary *out)
    __attribute__((warn_unused_result));

#endif
