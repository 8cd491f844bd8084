/*
 * payment: payment methods with billing consent (DESIGN.md section 2). The
 * Stripe customer is created when first needed, the payment method is
 * attached and made the default for invoices, and locally billing becomes
 * active, a trial customer moves to payg and +5 trial_billing_added is
 * granted once per customer ever. A decline changes nothing locally.
 */
#ifndef TOLLGATE_PAYMENT_H
#define TOLLGATE_PAYMENT_H

#include <stdbool.h>

#include "domain/customer.h"
#include "domain/outbox.h"

/* payment_method_id_valid: "pm_" + 1..250 of [A-Za-z0-9_]: safe in a path. */
bool payment_method_id_valid(const char *id);

/* payment_method_add: attach payment_method (validated) to req->auth's
 * customer and make it the default; *out is the customer afterwards.
 * Errors: TG_EPAYMENTFAILED (402, Stripe's decline_code in the problem),
 * TG_EINVALID (Stripe refused the id), TG_EUPSTREAM (Stripe unreachable or
 * not configured; tollgate-worker finishes a started attachment), TG_EDB. */
enum tg_err payment_method_add(struct http_request *req, const char *payment_method,
                               struct customer *out) __attribute__((warn_unused_result));

/* payment_method_run: phases 2 and 3 of a recorded attach_payment_method
 * call (also how tollgate-worker resumes one). out may be NULL. */
enum tg_err payment_method_run(struct http_request *req, const struct outbox_call *call,
                               struct customer *out) __attribute__((warn_unused_result));

/* payment_stripe_customer: c's Stripe customer id, creating the Stripe
 * customer first if it has none (key "tgcus_<customer>", so a repeat never
 * makes a second one). TG_EUPSTREAM, TG_EINVALID, TG_EDB. */
enum tg_err payment_stripe_customer(struct http_request *req, const struct customer *c,
                                    const char **stripe_id) __attribute__((warn_unused_result));

#endif
