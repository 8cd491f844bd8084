/*
 * github_deliveries: see github_deliveries.h.
 */
#include "store/github_deliveries.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement record_st = {
    "github_deliveries_record",
    "SELECT github_delivery_record($1, $2, $3, $4::bigint, $5::jsonb, $6)", 6};

static const struct db_statement purchased_st = {
    "github_deliveries_purchased",
    "SELECT outcome, customer_id FROM github_marketplace_purchased("
    "$1, $2::jsonb, $3::bigint, $4, $5, $6, $7, $8, $9::bytea, $10, $11)",
    11};

static const struct db_statement update_st = {
    "github_deliveries_update",
    "SELECT outcome, customer_id FROM github_marketplace_update("
    "$1, $2, $3::jsonb, $4::bigint, $5, $6, $7)",
    7};

const struct db_statement *const github_deliveries_statements[] = {&record_st, &purchased_st,
                                                                    &update_st, NULL};

enum tg_err github_deliveries_record(struct tg_ctx *ctx, const char *delivery, const char *event,
                                     const char *action, long long account_id,
                                     const char *payload, const char *note, bool *duplicate)
{
    const char *p[6] = {delivery, event, action,
                        account_id > 0 ? db_text_ll(ctx, account_id) : NULL, payload, note};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &record_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    *duplicate = !db_bool(r, 0, 0);
    return TG_OK;
}

static enum tg_err outcome(struct tg_ctx *ctx, PGresult *r, struct github_outcome *out)
{
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    out->outcome = db_str(r, 0, 0);
    out->customer_id = db_str(r, 0, 1);
    return TG_OK;
}

enum tg_err github_deliveries_purchased(struct tg_ctx *ctx, const struct github_purchase *g,
                                        const char *email,
                                        const uint8_t key_hash[HASH_SHA256_LEN],
                                        const char *key_prefix, const char *key,
                                        struct github_outcome *out)
{
    const char *p[11] = {g->delivery, g->payload,        db_text_ll(ctx, g->account_id),
                         g->login,    g->account_type,   g->plan,
                         g->effective_date, email,       (const char *)key_hash,
                         key_prefix,  key};
    const int lengths[11] = {[8] = HASH_SHA256_LEN};
    const int formats[11] = {[8] = 1};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &purchased_st, p, lengths, formats, &r);
    return e != TG_OK ? e : outcome(ctx, r, out);
}

enum tg_err github_deliveries_update(struct tg_ctx *ctx, const struct github_purchase *g,
                                     const char *action, struct github_outcome *out)
{
    const char *p[7] = {g->delivery, action,  g->payload,        db_text_ll(ctx, g->account_id),
                        g->login,    g->plan, g->effective_date};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &update_st, p, NULL, NULL, &r);
    return e != TG_OK ? e : outcome(ctx, r, out);
}
