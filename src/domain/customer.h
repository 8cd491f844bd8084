/*
 * customer: onboarding and reading customers. Onboarding creates the
 * customer, its first API key and the trial credits in one transaction
 * (DESIGN.md section 2: signup +5 trial_signup, tier trial). Operators
 * find, list and inspect customers here too (tollgatectl customers).
 */
#ifndef TOLLGATE_CUSTOMER_H
#define TOLLGATE_CUSTOMER_H

#include <stddef.h>

#include "core/ctx.h"
#include "domain/apikey.h"
#include "store/customers.h"
#include "store/staging.h"

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

/* The highest low-balance threshold a customer may set, in credits (the
 * bound of customers.low_balance_threshold and of the configuration). */
#define CUSTOMER_THRESHOLD_MAX 1000000

/* customer_set_low_balance_threshold: customer id's low-balance threshold
 * becomes threshold credits (0 .. CUSTOMER_THRESHOLD_MAX): credits.low,
 * .depleted and .recovered fire against it (issue 14;
 * sql/functions/credit_thresholds.sql), at once if the balance now stands
 * on the other side. Audited. *out is the customer after it. Errors:
 * TG_EINVALID (out of bounds), TG_ENOTFOUND, TG_EDB. */
enum tg_err customer_set_low_balance_threshold(struct tg_ctx *ctx, const char *id,
                                               long long threshold, struct customer *out)
    __attribute__((warn_unused_result));

/* customer_find: the id of the customer named by who -- its id (a uuid)
 * or its e-mail address, any case -- into *id (arena-owned). Errors:
 * TG_ENOTFOUND, TG_EDB. */
enum tg_err customer_find(struct tg_ctx *ctx, const char *who, const char **id)
    __attribute__((warn_unused_result));

/* customer_list: the newest customers, at most limit (1..1000); with
 * email_part not NULL only those whose e-mail address contains it, any
 * case. *out (*n) arena-owned. Errors: TG_EDB, TG_ENOMEM. */
enum tg_err customer_list(struct tg_ctx *ctx, const char *email_part, long limit,
                          struct customer **out, size_t *n) __attribute__((warn_unused_result));

/* customer_account: everything about the customer with id (a uuid) an
 * operator sees. Errors: TG_ENOTFOUND, TG_EDB. */
enum tg_err customer_account(struct tg_ctx *ctx, const char *id, struct customer_account *out)
    __attribute__((warn_unused_result));

/* The billing states reset-staging seeds, one customer each (DESIGN.md
 * section 6). */
#define CUSTOMER_STAGING_STATES 10

/* A customer seeded by customer_reseed_staging. */
struct customer_seeded {
    const char *state;      /* trial, trial_with_billing, ... (static) */
    const char *email;      /* <state>@test.example.com, arena-owned */
    struct staging_customer customer;
    struct apikey key;      /* its key: show it once, then apikey_cleanse() */
};

/* customer_reseed_staging: delete every customer at @example.com and
 * @test.example.com with what belongs to them, and seed one customer in
 * each of the CUSTOMER_STAGING_STATES billing states into out (trial,
 * trial_with_billing, trial_exhausted, payg, pro, pro_partly_used,
 * pro_past_due, pro_cancelled, pro_cancel_scheduled, pro_rolled_over),
 * each with a new API key, all in one transaction; the Pro ones on the
 * configured Pro price, the past-due one in a grace period of the
 * configured length. *deleted (*ndeleted, arena-owned) counts what was
 * deleted, per table. The caller refuses in production. Errors: TG_EDB,
 * TG_ENOMEM, TG_EINTERNAL (no key from OpenSSL); nothing is changed then
 * and no key is left in out. */
enum tg_err customer_reseed_staging(struct tg_ctx *ctx,
                                    struct customer_seeded out[CUSTOMER_STAGING_STATES],
                                    struct staging_count **deleted, size_t *ndeleted)
    __attribute__((warn_unused_result));

/* customer_count_by_tier: customers and unused credits per tier (for
 * /metrics), *n entries in *out. TG_EDB. */
enum tg_err customer_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                   size_t *n) __attribute__((warn_unused_result));

#endif
