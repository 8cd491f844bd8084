/*
 * spend_limits: a customer's monthly cap on automatic charges for fixes
 * (sql/functions/spend_limits.sql): setting and removing it, one
 * statement each. The check itself is part of the charge decisions
 * (usage_record, hold_create).
 */
#ifndef TOLLGATE_STORE_SPEND_LIMITS_H
#define TOLLGATE_STORE_SPEND_LIMITS_H

#include <stdbool.h>

#include "core/ctx.h"

/* What spend_limits_set did (spend_limits.sql names them). */
enum spend_limit_outcome {
    SPEND_LIMIT_SET,
    SPEND_LIMIT_REMOVED,
    SPEND_LIMIT_UNCHANGED, /* removing a limit there was not */
    SPEND_LIMIT_CURRENCY,  /* no tier is priced in the currency */
    SPEND_LIMIT_NOT_FOUND, /* no such customer */
};

/* A limit as it is now. */
struct spend_limit {
    bool set;                 /* false: no limit */
    long long monthly_cents;  /* minor units of currency */
    const char *currency;     /* ISO 4217 lower case, borrowed from ctx's arena */
    long long spent_cents;    /* counted against it this month (UTC) */
};

/* spends_limits_set: customer_id's limit becomes monthly_cents in currency,
 * or none when monthly_cents < 0. *outcome says what happened, *out the
 * limit (when SET). TG_EDB. */
enum tg_err spend_limits_set(struct tg_ctx *ctx, const char *customer_id, long long monthly_cents,
                             const char *currency, enum spend_limit_outcome *outcome,
                             struct spend_limit *out) __attribute__((warn_unused_result));

#endif
