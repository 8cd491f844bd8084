/*
 * stripe_customer: a tollgate customer's customer object at Stripe
 * (Stripe: "Customers"). Created when first needed -- a payment method
 * added, an invoice previewed -- and recorded on the customer, once.
 */
#ifndef TOLLGATE_STRIPE_CUSTOMER_H
#define TOLLGATE_STRIPE_CUSTOMER_H

#include "core/ctx.h"
#include "store/customers.h"

/* stripe_customer_ensure: c's Stripe customer id (cus_...) in *cus,
 * creating the Stripe customer first if it has none (POST /v1/customers
 * with Idempotency-Key "tgcus_<customer>", so a repeat never makes a
 * second one; if two requests race, the one recorded first is kept).
 * Errors: TG_EUPSTREAM, TG_EINVALID, TG_EDB. */
enum tg_err stripe_customer_ensure(struct tg_ctx *ctx, const struct customer *c, const char **cus)
    __attribute__((warn_unused_result));

#endif
