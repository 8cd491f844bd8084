/*
 * audit: who changes billing state. The audit log itself is written by
 * PostgreSQL triggers (sql/005_operations.sql: append-only, hash-chained,
 * checked by `tollgatectl verify-audit`); they record the database
 * session's actor, which the request path sets here. An API request's
 * actor ("api_key:<prefix>") is set by apikey_authenticate() in the same
 * round trip as authentication.
 */
#ifndef TOLLGATE_AUDIT_H
#define TOLLGATE_AUDIT_H

#include "core/tgerr.h"
#include "http/http.h"

/* audit_set_actor: set the session's actor (tollgate.actor) to actor, e.g.
 * "signup", "github:<delivery>", "stripe:<evt_...>", "worker"; at most 200
 * bytes, no line breaks. Errors: TG_EDB. */
enum tg_err audit_set_actor(struct http_request *req, const char *actor)
    __attribute__((warn_unused_result));

#endif
