/*
 * customer: onboarding and reading customers. Onboarding creates the
 * customer, its first API key and the trial credits in one transaction
 * (DESIGN.md section 2: signup +5 trial_signup, tier trial).
 */
#ifndef TOLLGATE_CUSTOMER_H
#define TOLLGATE_CUSTOMER_H

#include <stddef.h>

#include "core/ctx.h"
#include "domain/apikey.h"
#include "store/customers.h"

/* The accepted signup sources. NULL-terminated. */
extern const char *const customer_sources[];

/* customer_onboard: validate email (syntax, disposable blocklist) and create
 * the customer with name and source, a new API key (returned in *key: the
 * caller shows it once and must apikey_cleanse() it) and the trial credits.
 * Errors: TG_EINVALID (syntax), TG_EDISPOSABLE, TG_ESIGNUPCLOSED (the
 * automated_customer_onboarding flag is off for this address; retry-after
 * an hour), TG_ECONFLICT (e-mail already registered, case-insensitively),
 * TG_EDB. */
enum tg_err customer_onboard(struct tg_ctx *ctx, const char *email, const char *name,
                             const char *source, struct customer *out, struct apikey *key)
    __attribute__((warn_unused_result));

/* customer_get: the customer with id. TG_ENOTFOUND, TG_EDB. */
enum tg_err customer_get(struct tg_ctx *ctx, const char *id, struct customer *out)
    __attribute__((warn_unused_result));

/* customer_count_by_tier: customers and unused credits per tier (for
 * /metrics), *n entries in *out. TG_EDB. */
enum tg_err customer_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                   size_t *n) __attribute__((warn_unused_result));

#endif
