/*
 * payment_methods: see payment_methods.h.
 */
#include "store/payment_methods.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"

static const struct db_statement superseded_st = {
    "payment_methods_superseded", "SELECT payment_method_superseded($1, $2)", 2};

static const struct db_statement added_st = {
    "payment_methods_added",
    "SELECT " CUSTOMER_COLS " FROM payment_method_added($1, $2, $3, '{}'::jsonb) c", 3};

static const struct db_statement detached_st = {
    "payment_methods_detached",
    "UPDATE customers SET default_payment_method = NULL, updated_at = now()"
    " WHERE default_payment_method = $1 RETURNING id",
    1};

const struct db_statement *const payment_methods_statements[] = {&superseded_st, &added_st,
                                                                  &detached_st, NULL};

enum tg_err payment_methods_superseded(struct tg_ctx *ctx, long long call_id,
                                       const char *customer_id, bool *superseded)
{
    const char *p[2] = {db_text_ll(ctx, call_id), customer_id};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &superseded_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *superseded = PQntuples(r) == 1 && db_bool(r, 0, 0);
    return e;
}

enum tg_err payment_methods_added(struct tg_ctx *ctx, long long call_id, const char *customer_id,
                                  const char *pm, struct customer *out)
{
    const char *p[3] = {db_text_ll(ctx, call_id), customer_id, pm};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &added_st, p, &r);
    if (e != TG_OK)
        return e;
    customers_from_row(r, 0, 0, out);
    return TG_OK;
}

enum tg_err payment_methods_detached(struct tg_ctx *ctx, const char *pm, bool *found)
{
    const char *p[1] = {pm};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &detached_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *found = PQntuples(r) > 0;
    return e;
}
