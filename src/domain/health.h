/*
 * health: whether this process can serve -- its database answers, and at
 * which schema version (GET /health, and the worker's own check).
 */
#ifndef TOLLGATE_HEALTH_H
#define TOLLGATE_HEALTH_H

#include "core/ctx.h"
#include "store/overview.h"

/* health_connect: make sure the process's database connection is up
 * (reconnecting when it was lost): work that needs the database calls it
 * first. TG_EDB with a detail for the client. */
enum tg_err health_connect(struct tg_ctx *ctx) __attribute__((warn_unused_result));

/* health_check: connect if needed and read the schema version into
 * *schema_version. TG_EDB when PostgreSQL does not answer. */
enum tg_err health_check(struct tg_ctx *ctx, long *schema_version)
    __attribute__((warn_unused_result));

/* health_overview: connect if needed and read what the database tells of
 * the running service (store/overview.h: sessions, queues, dead letters,
 * webhooks, connections, schema) into *out, for tollgatectl status.
 * Strings are owned by ctx's arena. TG_EDB. */
enum tg_err health_overview(struct tg_ctx *ctx, struct overview *out)
    __attribute__((warn_unused_result));

#endif
