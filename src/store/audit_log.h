/*
 * audit_log: who changes billing state. The log itself is written by
 * PostgreSQL triggers (sql/functions/audit.sql) with the database
 * session's actor, which the code sets here.
 */
#ifndef TOLLGATE_STORE_AUDIT_LOG_H
#define TOLLGATE_STORE_AUDIT_LOG_H

#include "core/ctx.h"

/* audit_log_set_actor: set the session's actor (tollgate.actor). TG_EDB. */
enum tg_err audit_log_set_actor(struct tg_ctx *ctx, const char *actor)
    __attribute__((warn_unused_result));

#endif
