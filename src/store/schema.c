/*
 * schema: see schema.h.
 */
#include "store/schema.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement version_st = {
    "schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations", 0};

const struct db_statement *const schema_statements[] = {&version_st, NULL};

enum tg_err schema_version(struct tg_ctx *ctx, long *version)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &version_st, NULL, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    *version = (long)db_ll(r, 0, 0);
    return TG_OK;
}
