/*
 * feature_flags: see feature_flags.h.
 */
#include "store/feature_flags.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement enabled_st = {"feature_flags_enabled",
                                               "SELECT feature_enabled($1, $2)", 2};

const struct db_statement *const feature_flags_statements[] = {&enabled_st, NULL};

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
