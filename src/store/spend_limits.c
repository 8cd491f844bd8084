/*
 * spend_limits: see spend_limits.h.
 */
#include "store/spend_limits.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement set_st = {
    "spend_limits_set",
    "SELECT s.outcome, s.monthly_cents, s.currency, s.spent_cents"
    " FROM spend_limit_set($1::uuid, $2::bigint, $3::text) s",
    3};

const struct db_statement *const spend_limits_statements[] = {&set_st, NULL};

static const char *const outcomes[] = {
    [SPEND_LIMIT_SET] = "set",
    [SPEND_LIMIT_REMOVED] = "removed",
    [SPEND_LIMIT_UNCHANGED] = "unchanged",
    [SPEND_LIMIT_CURRENCY] = "currency",
    [SPEND_LIMIT_NOT_FOUND] = "not_found",
};

enum tg_err spend_limits_set(struct tg_ctx *ctx, const char *customer_id, long long monthly_cents,
                             const char *currency, enum spend_limit_outcome *outcome,
                             struct spend_limit *out)
{
    const char *p[3] = {customer_id, monthly_cents >= 0 ? db_text_ll(ctx, monthly_cents) : NULL,
                        monthly_cents >= 0 ? currency : NULL};
    PGresult *r;
    int o;
    memset(out, 0, sizeof(*out));
    enum tg_err e = db_exec(ctx, &set_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        e = db_outcome(ctx, r, 0, outcomes, (int)(sizeof(outcomes) / sizeof(outcomes[0])), &o);
    if (e != TG_OK)
        return e;
    *outcome = (enum spend_limit_outcome)o;
    out->set = *outcome == SPEND_LIMIT_SET;
    out->monthly_cents = db_ll(r, 0, 1);
    out->currency = db_str(r, 0, 2);
    out->spent_cents = db_ll(r, 0, 3);
    return TG_OK;
}
