/*
 * audit: who changes billing state. The audit log itself is written by
 * PostgreSQL triggers (sql/functions/audit.sql: append-only,
 * hash-chained, checked by `tollgatectl verify-audit`); they record the
 * database session's actor, which the work sets here. An API request's
 * actor ("api_key:<prefix>") is set by authentication, in the same round
 * trip.
 */
#ifndef TOLLGATE_AUDIT_H
#define TOLLGATE_AUDIT_H

#include "core/ctx.h"

/* audit_set_actor: set the actor of ctx's work, and of the database
 * session, to actor, e.g. "signup", "github:<delivery>",
 * "stripe:<evt_...>", "worker", "operator:<login>"; at most 200 bytes, no
 * line breaks. Errors: TG_EDB. */
enum tg_err audit_set_actor(struct tg_ctx *ctx, const char *actor)
    __attribute__((warn_unused_result));

#endif
