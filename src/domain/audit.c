/*
 * audit: see audit.h.
 */
#include "domain/audit.h"

#include "domain/service.h"
#include "store/db.h"

enum tg_err audit_set_actor(struct http_request *req, const char *actor)
{
    const char *params[1] = {actor};
    PGresult *r;
    return db_exec(req->svc->db, req->arena, DB_ACTOR_SET, params, NULL, NULL, &r);
}
