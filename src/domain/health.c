/*
 * health: see health.h.
 */
#include "domain/health.h"

#include "store/db.h"
#include "store/schema.h"

enum tg_err health_connect(struct tg_ctx *ctx)
{
    return db_connect(ctx);
}

enum tg_err health_check(struct tg_ctx *ctx, long *version)
{
    enum tg_err e = db_connect(ctx);
    return e != TG_OK ? e : schema_version(ctx, version);
}

enum tg_err health_overview(struct tg_ctx *ctx, struct overview *out)
{
    enum tg_err e = db_connect(ctx);
    return e != TG_OK ? e : overview_read(ctx, out);
}
