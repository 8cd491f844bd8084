/*
 * flag: see flag.h.
 */
#include "domain/flag.h"

#include <string.h>

#include "domain/service.h"
#include "store/db.h"

enum tg_err flag_enabled(struct http_request *req, const char *name, const char *subject,
                         bool *on)
{
    const char *params[2] = {name, subject};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_FEATURE_ENABLED, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *on = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    return TG_OK;
}
