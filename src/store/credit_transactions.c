/*
 * credit_transactions: see credit_transactions.h.
 */
#include "store/credit_transactions.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"

static const struct db_statement page_st = {
    "credit_transactions_page",
    "SELECT " LEDGER_COLS " FROM credit_transactions t"
    " WHERE t.customer_id = $1 AND ($2::bigint IS NULL OR t.seq < $2::bigint)"
    " ORDER BY t.seq DESC LIMIT $3",
    3};

/* One statement, so the balance and the entries come from one snapshot; a
 * customer without entries gives one row with NULL entry columns. */
static const struct db_statement recent_st = {
    "credit_transactions_recent",
    "SELECT " CUSTOMER_COLS ", " LEDGER_COLS " FROM customers c LEFT JOIN LATERAL"
    " (SELECT * FROM credit_transactions t WHERE t.customer_id = c.id"
    "   ORDER BY t.seq DESC LIMIT $2) t ON true"
    " WHERE c.id = $1 ORDER BY t.seq DESC",
    2};

static const struct db_statement adjust_st = {
    "credit_transactions_adjust",
    "SELECT outcome, entry_id, balance_after FROM credits_adjust($1, $2, $3)", 3};

const struct db_statement *const credit_transactions_statements[] = {&page_st, &recent_st,
                                                                      &adjust_st, NULL};

void credit_transactions_from_row(const PGresult *r, int i, int col, struct ledger_entry *e)
{
    e->id = db_ll(r, i, col);
    e->amount = db_ll(r, i, col + 1);
    e->kind = db_str(r, i, col + 2);
    e->balance_after = db_ll(r, i, col + 3);
    e->reference = db_str(r, i, col + 4);
    e->description = db_str(r, i, col + 5);
    e->created_at = db_str(r, i, col + 6);
    e->seq = db_ll(r, i, col + 7);
}

/* entries: rows [0, count) of r from column col into out->entries. */
static enum tg_err entries(struct tg_ctx *ctx, const PGresult *r, int col, size_t count,
                           struct ledger_page *out)
{
    out->count = count;
    out->entries = NULL;
    if (count == 0)
        return TG_OK;
    out->entries = arena_alloc(ctx->arena, count * sizeof(*out->entries));
    if (out->entries == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    for (size_t i = 0; i < count; i++)
        credit_transactions_from_row(r, (int)i, col, &out->entries[i]);
    return TG_OK;
}

enum tg_err credit_transactions_page(struct tg_ctx *ctx, const char *customer_id,
                                     long long before_seq, int limit, struct ledger_page *out)
{
    /* One more than asked tells whether there is more. */
    const char *p[3] = {customer_id, before_seq > 0 ? db_text_ll(ctx, before_seq) : NULL,
                        db_text_ll(ctx, limit + 1)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &page_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    int n = PQntuples(r);
    out->has_more = n > limit;
    return entries(ctx, r, 0, (size_t)(n > limit ? limit : n), out);
}

enum tg_err credit_transactions_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                                       struct customer *c, struct ledger_page *recent)
{
    const char *p[2] = {customer_id, db_text_ll(ctx, n)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &recent_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    int rows = PQntuples(r);
    if (rows == 0)
        return TG_ENOTFOUND;
    customers_from_row(r, 0, 0, c);
    recent->has_more = false;
    return entries(ctx, r, CUSTOMER_NCOLS,
                   PQgetisnull(r, 0, CUSTOMER_NCOLS) ? 0 : (size_t)rows, recent);
}

enum tg_err credit_transactions_adjust(struct tg_ctx *ctx, const char *customer_id,
                                       long long amount, const char *reason,
                                       enum credit_transactions_adjust_outcome *outcome,
                                       long long *entry_id, long long *balance_after)
{
    const char *p[3] = {customer_id, db_text_ll(ctx, amount), reason};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &adjust_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    static const char *const outcomes[] = {[LEDGER_ADJUSTED] = "adjusted",
                                           [LEDGER_NO_CUSTOMER] = "no_customer",
                                           [LEDGER_INVALID] = "invalid",
                                           [LEDGER_WOULD_GO_NEGATIVE] = "would_go_negative"};
    int o;
    if ((e = db_outcome(ctx, r, 0, outcomes, 4, &o)) != TG_OK)
        return e;
    *outcome = (enum credit_transactions_adjust_outcome)o;
    *entry_id = db_ll(r, 0, 1);
    *balance_after = db_ll(r, 0, 2);
    return TG_OK;
}
