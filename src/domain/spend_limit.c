/*
 * spend_limit: see spend_limit.h.
 */
#include "domain/spend_limit.h"

#include <string.h>

/* iso_currency: three lower-case letters. */
static bool iso_currency(const char *s)
{
    return s != NULL && strlen(s) == 3 && strspn(s, "abcdefghijklmnopqrstuvwxyz") == 3;
}

enum tg_err spend_limit_set(struct tg_ctx *ctx, const char *customer_id, long long monthly_cents,
                            const char *currency, struct spend_limit *out)
{
    enum spend_limit_outcome o;
    if (monthly_cents < 0 || monthly_cents > SPEND_LIMIT_MAX_CENTS)
        return ctx_fail(ctx, TG_EINVALID, "monthly_cents: must be from 0 to %lld",
                        SPEND_LIMIT_MAX_CENTS);
    if (!iso_currency(currency))
        return ctx_fail(ctx, TG_EINVALID, "currency: an ISO 4217 code in lower case, e.g. usd");
    enum tg_err e = spend_limits_set(ctx, customer_id, monthly_cents, currency, &o, out);
    if (e != TG_OK)
        return e;
    switch (o) {
    case SPEND_LIMIT_SET:
        return TG_OK;
    case SPEND_LIMIT_CURRENCY:
        return ctx_fail(ctx, TG_EINVALID, "currency: fixes are not charged in %s", currency);
    case SPEND_LIMIT_NOT_FOUND:
        return ctx_fail(ctx, TG_ENOTFOUND, "no such customer");
    default:
        return ctx_fail(ctx, TG_EINTERNAL, "spend_limit_set: outcome %d", (int)o);
    }
}

enum tg_err spend_limit_remove(struct tg_ctx *ctx, const char *customer_id, bool *removed)
{
    enum spend_limit_outcome o;
    struct spend_limit ignored;
    enum tg_err e = spend_limits_set(ctx, customer_id, -1, NULL, &o, &ignored);
    if (e != TG_OK)
        return e;
    *removed = o == SPEND_LIMIT_REMOVED;
    if (o == SPEND_LIMIT_NOT_FOUND)
        return ctx_fail(ctx, TG_ENOTFOUND, "no such customer");
    if (o != SPEND_LIMIT_REMOVED && o != SPEND_LIMIT_UNCHANGED)
        return ctx_fail(ctx, TG_EINTERNAL, "spend_limit_remove: outcome %d", (int)o);
    return TG_OK;
}
