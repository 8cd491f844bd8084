/*
 * payment_methods: a payment method added with billing consent, and one
 * detached at Stripe (sql/functions/payment_methods.sql).
 */
#ifndef TOLLGATE_STORE_PAYMENT_METHODS_H
#define TOLLGATE_STORE_PAYMENT_METHODS_H

#include <stdbool.h>

#include "core/ctx.h"
#include "store/customers.h"

/* payment_methods_superseded: an attachment of customer_id recorded after
 * call call_id has succeeded already, so call_id must not change the
 * default. TG_EDB. */
enum tg_err payment_methods_superseded(struct tg_ctx *ctx, long long call_id,
                                       const char *customer_id, bool *superseded)
    __attribute__((warn_unused_result));

/* payment_methods_added: phase 3 of call call_id, which attached pm to
 * customer_id: pm becomes the default (unless superseded), billing active,
 * trial moves to payg, and the payg bonus is granted once per customer
 * ever. *out is the customer afterwards. TG_EDB. */
enum tg_err payment_methods_added(struct tg_ctx *ctx, long long call_id, const char *customer_id,
                                  const char *pm, struct customer *out)
    __attribute__((warn_unused_result));

/* payment_methods_detached: pm was detached at Stripe: it is nobody's
 * default any more. *found when it was someone's. TG_EDB. */
enum tg_err payment_methods_detached(struct tg_ctx *ctx, const char *pm, bool *found)
    __attribute__((warn_unused_result));

#endif
