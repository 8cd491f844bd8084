/*
 * health: GET /health -- liveness plus a database round trip. 200 when
 * PostgreSQL answers, 503 (still JSON) when it does not; the worker
 * reconnects on the next call, so health recovers with the database.
 */
#include <stdio.h>

#include "api/api.h"
#include "domain/health.h"

enum tg_err api_health(struct http_request *req)
{
    long version = 0;
    bool ok = health_check(req->ctx, &version) == TG_OK;
    char text[24];
    snprintf(text, sizeof(text), "%ld", version);
    json_t *body = json_pack("{s:s, s:{s:s, s:s?}}", "status", ok ? "ok" : "unavailable",
                             "database", "status", ok ? "ok" : "unreachable", "schema_version",
                             ok ? text : NULL);
    return http_reply_json(req, ok ? 200 : 503, body);
}
