/*
 * audit_log: see audit_log.h.
 */
#include "store/audit_log.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement set_actor_st = {
    "audit_log_set_actor", "SELECT set_config('tollgate.actor', $1, false)", 1};

const struct db_statement *const audit_log_statements[] = {&set_actor_st, NULL};

enum tg_err audit_log_set_actor(struct tg_ctx *ctx, const char *actor)
{
    const char *p[1] = {actor};
    PGresult *r;
    return db_exec(ctx, &set_actor_st, p, NULL, NULL, &r);
}
