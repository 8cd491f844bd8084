/*
 * spend_limit: a customer's cap on automatic charges for fixes in a
 * calendar month, UTC (issue 14): pay-as-you-go charges and Pro overage,
 * not a subscription's own invoices. Charges that succeeded, are in
 * flight or are owed, and active charge holds, count against it; a fix or
 * hold that would go over it is refused (TG_ESPENDLIMIT) in the same
 * transaction as the charge decision (sql/functions/spend_limits.sql),
 * so parallel charges are counted exactly. Changes are audited
 * (spend_limit.set, spend_limit.removed) with the context's actor.
 */
#ifndef TOLLGATE_SPEND_LIMIT_H
#define TOLLGATE_SPEND_LIMIT_H

#include "core/ctx.h"
#include "store/spend_limits.h"

/* The largest limit accepted, in minor units ($1,000,000,000.00). */
#define SPEND_LIMIT_MAX_CENTS 100000000000LL

/* spend_limit_set: customer_id's limit becomes monthly_cents (0..
 * SPEND_LIMIT_MAX_CENTS; 0: no automatic charges at all) of currency (ISO
 * 4217, lower case, one the tiers are priced in); *out the limit with this
 * month's spend. Errors: TG_EINVALID (amount or currency), TG_ENOTFOUND,
 * TG_EDB. */
enum tg_err spend_limit_set(struct tg_ctx *ctx, const char *customer_id, long long monthly_cents,
                            const char *currency, struct spend_limit *out)
    __attribute__((warn_unused_result));

/* spend_limit_remove: customer_id has no limit any more; *removed false
 * when it had none. Errors: TG_ENOTFOUND, TG_EDB. */
enum tg_err spend_limit_remove(struct tg_ctx *ctx, const char *customer_id, bool *removed)
    __attribute__((warn_unused_result));

#endif
