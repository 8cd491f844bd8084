/*
 * payment: payment methods with billing consent (DESIGN.md section 2). The
 * Stripe customer is created when first needed, the payment method is
 * attached and made the default for invoices, and locally billing becomes
 * active, a trial customer moves to payg and +5 trial_billing_added is
 * granted once per customer ever. A decline changes nothing locally. A
 * customer past due who brings a new card has its open invoices and owed
 * charges paid with it at once.
 */
#ifndef TOLLGATE_PAYMENT_H
#define TOLLGATE_PAYMENT_H

#include <stdbool.h>

#include "core/ctx.h"
#include "store/customers.h"
#include "store/stripe_requests.h"

/* payment_method_id_valid: "pm_" + 1..250 of [A-Za-z0-9_]: safe in a path. */
bool payment_method_id_valid(const char *id);

/* payment_method_add: attach payment_method (validated) to customer_id and
 * make it the default; *out is the customer afterwards. Errors:
 * TG_EPAYMENTFAILED (402, Stripe's decline_code in the problem), TG_EINVALID
 * (Stripe refused the id), TG_EUPSTREAM (Stripe unreachable or not
 * configured; tollgate-worker finishes a started attachment), TG_EDB. */
enum tg_err payment_method_add(struct tg_ctx *ctx, const char *customer_id,
                               const char *payment_method, struct customer *out)
    __attribute__((warn_unused_result));

/* payment_method_run: phases 2 and 3 of a recorded attach_payment_method
 * call (also how tollgate-worker resumes one). out may be NULL. */
enum tg_err payment_method_run(struct tg_ctx *ctx, const struct stripe_request *call,
                               struct customer *out) __attribute__((warn_unused_result));

#endif
