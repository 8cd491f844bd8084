/*
 * staging: see staging.h.
 */
#include "store/staging.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement begin_st = {"staging_begin", "BEGIN", 0};
static const struct db_statement commit_st = {"staging_commit", "COMMIT", 0};
static const struct db_statement rollback_st = {"staging_rollback", "ROLLBACK", 0};

static const struct db_statement reset_st = {
    "staging_reset", "SELECT tbl, deleted FROM staging_reset() ORDER BY tbl", 0};

static const struct db_statement seed_st = {
    "staging_seed",
    "SELECT staging_seed_customer($1, $2, $3, $4, $5, coalesce(nullif($6, ''), 'price_seed_pro'),"
    "                             make_interval(days => $7::integer))",
    7};

/* The customer is read by a second statement: the seeding statement's
 * snapshot does not see what the function inserted. */
static const struct db_statement seeded_st = {
    "staging_seeded",
    "SELECT tier, billing_status, credit_balance FROM customers WHERE id = $1::uuid", 1};

const struct db_statement *const staging_statements[] = {
    &begin_st, &commit_st, &rollback_st, &reset_st, &seed_st, &seeded_st, NULL};

/* seed: s's customer into *out. */
static enum tg_err seed(struct tg_ctx *ctx, const struct staging_seed *s, const char *price,
                        const char *grace_days, struct staging_customer *out)
{
    const char *p[7] = {s->state,      s->email, s->name, (const char *)s->key_hash,
                        s->key_prefix, price,    grace_days};
    const int lengths[7] = {0, 0, 0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[7] = {0, 0, 0, 1, 0, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &seed_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1 || (out->id = db_str(r, 0, 0)) == NULL)
        return ctx_fail(ctx, TG_EINTERNAL, "seeding %s: no customer seeded", s->state);
    const char *id[1] = {out->id};
    if ((e = db_exec(ctx, &seeded_st, id, NULL, NULL, &r)) != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, "seeding %s: the customer is missing", s->state);
    out->tier = db_str(r, 0, 0);
    out->billing_status = db_str(r, 0, 1);
    out->balance = db_ll(r, 0, 2);
    return TG_OK;
}

/* reseed: everything of staging_reseed inside the open transaction. */
static enum tg_err reseed(struct tg_ctx *ctx, const struct staging_seed *seeds, size_t n,
                          const char *price, long grace_days, struct staging_count **deleted,
                          size_t *ndeleted, struct staging_customer *out)
{
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &reset_st, NULL, sizeof(**deleted), &r, &rows, ndeleted);
    if (e != TG_OK)
        return e;
    *deleted = rows;
    for (size_t i = 0; i < *ndeleted; i++) {
        (*deleted)[i].table = db_str(r, (int)i, 0);
        (*deleted)[i].deleted = db_ll(r, (int)i, 1);
    }
    const char *grace = db_text_ll(ctx, grace_days);
    for (size_t i = 0; e == TG_OK && i < n; i++)
        e = seed(ctx, &seeds[i], price != NULL ? price : "", grace, &out[i]);
    return e;
}

enum tg_err staging_reseed(struct tg_ctx *ctx, const struct staging_seed *seeds, size_t n,
                           const char *price, long grace_days, struct staging_count **deleted,
                           size_t *ndeleted, struct staging_customer *out)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &begin_st, NULL, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    e = reseed(ctx, seeds, n, price, grace_days, deleted, ndeleted, out);
    if (e == TG_OK && (e = db_exec(ctx, &commit_st, NULL, NULL, NULL, &r)) == TG_OK)
        return TG_OK;
    /* Keep the failure, not the rollback's. */
    struct tg_error failed = ctx->error;
    if (db_exec(ctx, &rollback_st, NULL, NULL, NULL, &r) != TG_OK)
        ctx_log(ctx, LOG_WARN, json_pack("{s:s}", "msg", "staging: rollback failed"));
    ctx->error = failed;
    return e;
}
