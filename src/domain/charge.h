/*
 * charge: paying for a fix when the balance is 0 (DESIGN.md section 2):
 * payg at pricing_tiers.unit_price_cents of payg ($29.00), pro at Pro's
 * overage ($15.00), through one off-session PaymentIntent confirmed on the
 * default payment method (Stripe: "Charge a saved payment method"). Phase 1
 * is part of the usage statement (sql/functions/usage.sql); this module
 * sends the call (phase 2, idempotency key tgch_<uuid>) and settles it
 * (phase 3, sql/functions/charges.sql).
 */
#ifndef TOLLGATE_CHARGE_H
#define TOLLGATE_CHARGE_H

#include <jansson.h>

#include "core/ctx.h"
#include "store/stripe_requests.h"
#include "store/usage_events.h"

/* charge_run: phases 2 and 3 of charge charge_id, whose recorded call is
 * call. On success (or with Stripe unreachable: the charge stays pending,
 * the fix is allowed and tollgate-worker settles it later with the same
 * key) *out (may be NULL) is the usage event, outcome "charged". A
 * decline: TG_EPAYMENTFAILED (the event is removed, nothing consumed).
 * TG_EDB. */
enum tg_err charge_run(struct tg_ctx *ctx, long long charge_id, const struct stripe_request *call,
                       struct usage_event *out) __attribute__((warn_unused_result));

/* charge_resume: tollgate-worker's retry of a pending charge call. A
 * decline is a final state: TG_OK. */
enum tg_err charge_resume(struct tg_ctx *ctx, const struct stripe_request *call)
    __attribute__((warn_unused_result));

/* charge_apply_intent: settle charge_id from Stripe's PaymentIntent object
 * (borrowed) as Stripe reports it now: succeeded, still processing, or
 * failed. A charge already final is left as it is. TG_EDB. */
enum tg_err charge_apply_intent(struct tg_ctx *ctx, long long charge_id, json_t *intent)
    __attribute__((warn_unused_result));

/* charge_retry_owed: charges customer_id owes (failed after their fix was
 * delivered) are charged again on the current default payment method (new
 * keys: a failed PaymentIntent is final). A success settles the customer.
 * Best effort: a decline leaves the charge owed and ctx without failure.
 * TG_EDB, TG_ENOMEM. */
enum tg_err charge_retry_owed(struct tg_ctx *ctx, const char *customer_id)
    __attribute__((warn_unused_result));

#endif
