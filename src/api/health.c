/*
 * health: GET /health -- liveness plus a database round trip. 200 when
 * PostgreSQL answers, 503 (still JSON) when it does not; the worker
 * reconnects on the next call, so health recovers with the database.
 */
#include "api/api.h"
#include "domain/service.h"

enum tg_err api_health(struct http_request *req)
{
    PGresult *r = NULL;
    enum tg_err e = db_connect(req->svc->db);
    if (e == TG_OK)
        e = db_exec(req->svc->db, req->arena, DB_HEALTH, NULL, NULL, NULL, &r);
    bool ok = e == TG_OK && PQntuples(r) == 1;
    json_t *body = json_pack("{s:s, s:{s:s, s:s?}}", "status", ok ? "ok" : "unavailable",
                             "database", "status", ok ? "ok" : "unreachable", "schema_version",
                             ok ? PQgetvalue(r, 0, 0) : NULL);
    return http_reply_json(req, ok ? 200 : 503, body);
}
