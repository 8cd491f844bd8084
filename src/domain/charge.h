/*
 * charge: paying for a fix when the balance is 0 (DESIGN.md section 2):
 * payg at pricing_tiers.unit_price_cents of payg ($29.00), pro at Pro's
 * overage ($15.00), through one off-session PaymentIntent confirmed on the
 * default payment method (Stripe: "Charge a saved payment method").
 * Phase 1 is in usage_fix_deployed (SQL); this module sends the call and
 * settles it (charge_settle, SQL).
 */
#ifndef TOLLGATE_CHARGE_H
#define TOLLGATE_CHARGE_H

#include "domain/outbox.h"
#include "domain/usage.h"

/* charge_run: phases 2 and 3 of charge charge_id, recorded with its usage
 * event. On success (or with Stripe unreachable: the charge stays pending,
 * the fix is allowed and tollgate-worker settles it later with the same
 * key) *out is the usage event, outcome "charged". A decline:
 * TG_EPAYMENTFAILED (the event is removed, nothing consumed). TG_EDB. */
enum tg_err charge_run(struct http_request *req, long long charge_id, struct usage_event *out)
    __attribute__((warn_unused_result));

/* charge_apply_intent: settle charge_id from Stripe's PaymentIntent object
 * (borrowed), as a webhook reports it: succeeded, still processing, or
 * failed. A charge already final is left as it is. TG_EDB. */
enum tg_err charge_apply_intent(struct http_request *req, long long charge_id, json_t *intent)
    __attribute__((warn_unused_result));

/* charge_resume: tollgate-worker's retry of a pending charge call. */
enum tg_err charge_resume(struct http_request *req, const struct outbox_call *call)
    __attribute__((warn_unused_result));

#endif
