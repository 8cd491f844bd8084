/*
 * feature_flags: see feature_flags.h.
 */
#include "store/feature_flags.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

#define FLAG_COLS "f.name, f.rollout_percent, f.description, " SQL_TS("f.updated_at")

static const struct db_statement enabled_st = {"feature_flags_enabled",
                                               "SELECT feature_enabled($1, $2)", 2};

static const struct db_statement list_st = {
    "feature_flags_list", "SELECT " FLAG_COLS " FROM feature_flags f ORDER BY f.name", 0};

static const struct db_statement get_st = {
    "feature_flags_get", "SELECT " FLAG_COLS " FROM feature_flags f WHERE f.name = $1", 1};

static const struct db_statement set_st = {
    "feature_flags_set", "SELECT " FLAG_COLS " FROM feature_flag_set($1, $2::integer) f", 2};

const struct db_statement *const feature_flags_statements[] = {&enabled_st, &list_st, &get_st,
                                                                &set_st, NULL};

static void from_row(const PGresult *r, int i, struct feature_flag *f)
{
    f->name = db_str(r, i, 0);
    f->rollout_percent = (int)db_ll(r, i, 1);
    f->description = db_str(r, i, 2);
    f->updated_at = db_str(r, i, 3);
}

enum tg_err feature_flags_enabled(struct tg_ctx *ctx, const char *name, const char *subject,
                                  bool *on)
{
    const char *p[2] = {name, subject};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &enabled_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *on = PQntuples(r) == 1 && db_bool(r, 0, 0);
    return e;
}

enum tg_err feature_flags_list(struct tg_ctx *ctx, struct feature_flag **out, size_t *n)
{
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &list_st, NULL, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++)
        from_row(r, (int)i, &(*out)[i]);
    return TG_OK;
}

/* one: st with params p, exactly one flag; TG_ENOTFOUND without a row. */
static enum tg_err one(struct tg_ctx *ctx, const struct db_statement *st, const char *const *p,
                       struct feature_flag *out)
{
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, st, p, &r);
    if (e != TG_OK)
        return e;
    from_row(r, 0, out);
    return TG_OK;
}

enum tg_err feature_flags_get(struct tg_ctx *ctx, const char *name, struct feature_flag *out)
{
    const char *p[1] = {name};
    return one(ctx, &get_st, p, out);
}

enum tg_err feature_flags_set(struct tg_ctx *ctx, const char *name, int percent,
                              struct feature_flag *out)
{
    const char *p[2] = {name, db_text_ll(ctx, percent)};
    return one(ctx, &set_st, p, out);
}
