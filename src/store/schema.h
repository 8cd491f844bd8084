/*
 * schema: what the running code asks of the schema itself (the health
 * check). Migrations are store/migrate.h.
 */
#ifndef TOLLGATE_STORE_SCHEMA_H
#define TOLLGATE_STORE_SCHEMA_H

#include "core/ctx.h"

/* schema_version: the highest migration applied. TG_EDB. */
enum tg_err schema_version(struct tg_ctx *ctx, long *version) __attribute__((warn_unused_result));

#endif
