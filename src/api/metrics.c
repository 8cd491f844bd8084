/*
 * metrics: GET /metrics -- Prometheus text format. Request counters and
 * latencies come from the workers' shared counters (core/metrics.c); the
 * customer and credit gauges from one database query. nginx serves this
 * route to loopback only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "domain/service.h"
#include "core/metrics.h"

static void write_db_gauges(struct http_request *req, FILE *out)
{
    PGresult *r = NULL;
    enum tg_err e = db_connect(req->svc->db);
    if (e == TG_OK)
        e = db_exec(req->svc->db, req->arena, DB_METRICS, NULL, NULL, NULL, &r);
    fprintf(out, "# HELP tollgate_database_up Whether the worker could query PostgreSQL.\n"
                 "# TYPE tollgate_database_up gauge\n"
                 "tollgate_database_up %d\n", e == TG_OK);
    if (e != TG_OK)
        return;
    fputs("# HELP tollgate_customers Customers, by tier.\n"
          "# TYPE tollgate_customers gauge\n", out);
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "tollgate_customers{tier=\"%s\"} %s\n", PQgetvalue(r, i, 0),
                PQgetvalue(r, i, 1));
    fputs("# HELP tollgate_credits_outstanding Unused credits held by customers, by tier.\n"
          "# TYPE tollgate_credits_outstanding gauge\n", out);
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(out, "tollgate_credits_outstanding{tier=\"%s\"} %s\n", PQgetvalue(r, i, 0),
                PQgetvalue(r, i, 2));
}

enum tg_err api_metrics(struct http_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        return TG_ENOMEM;
    metrics_write(out);
    write_db_gauges(req, out);
    if (fclose(out) != 0 || text == NULL) {
        free(text);
        return TG_ENOMEM;
    }
    if (arena_defer(req->arena, free, text) != 0)
        return TG_ENOMEM;
    http_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return TG_OK;
}
