/*
 * ledger: see ledger.h.
 */
#include "domain/ledger.h"

enum tg_err ledger_page(struct tg_ctx *ctx, const char *customer_id, long long before_seq,
                        int limit, struct ledger_page *out)
{
    return credit_transactions_page(ctx, customer_id, before_seq, limit, out);
}

enum tg_err ledger_summary(struct tg_ctx *ctx, const char *customer_id, int n,
                           struct customer *c, struct ledger_page *recent)
{
    enum tg_err e = credit_transactions_recent(ctx, customer_id, n, c, recent);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no such customer") : e;
}

enum tg_err ledger_adjust(struct tg_ctx *ctx, const char *customer_id, long long amount,
                          const char *reason, long long *entry_id, long long *balance_after)
{
    enum credit_transactions_adjust_outcome outcome;
    enum tg_err e = credit_transactions_adjust(ctx, customer_id, amount, reason, &outcome,
                                               entry_id, balance_after);
    if (e != TG_OK)
        return e;
    switch (outcome) {
    case LEDGER_ADJUSTED:
        return TG_OK;
    case LEDGER_NO_CUSTOMER:
        return ctx_fail(ctx, TG_ENOTFOUND, "no such customer");
    case LEDGER_INVALID:
        return ctx_fail(ctx, TG_EINVALID, "an adjustment needs an amount other than 0 and a "
                                          "reason");
    case LEDGER_WOULD_GO_NEGATIVE:
        break;
    }
    return ctx_fail(ctx, TG_ECONFLICT,
                    "the balance is %lld: an adjustment of %lld would make it negative",
                    *balance_after, amount);
}
