/*
 * metrics: GET /metrics -- Prometheus text format. Request counters and
 * latencies come from the workers' shared counters (core/metrics.c); the
 * customer and credit gauges from one database query. nginx serves this
 * route to loopback only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "core/metrics.h"
#include "domain/customer.h"
#include "domain/health.h"

static void write_db_gauges(struct http_request *req, FILE *out)
{
    struct customers_tier_count *tiers = NULL;
    size_t n = 0;
    enum tg_err e = health_connect(req->ctx);
    if (e == TG_OK)
        e = customer_count_by_tier(req->ctx, &tiers, &n);
    fprintf(out, "# HELP tollgate_database_up Whether the worker could query PostgreSQL.\n"
                 "# TYPE tollgate_database_up gauge\n"
                 "tollgate_database_up %d\n", e == TG_OK);
    if (e != TG_OK)
        return;
    fputs("# HELP tollgate_customers Customers, by tier.\n"
          "# TYPE tollgate_customers gauge\n", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "tollgate_customers{tier=\"%s\"} %lld\n", tiers[i].tier, tiers[i].customers);
    fputs("# HELP tollgate_credits_outstanding Unused credits held by customers, by tier.\n"
          "# TYPE tollgate_credits_outstanding gauge\n", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "tollgate_credits_outstanding{tier=\"%s\"} %lld\n", tiers[i].tier,
                tiers[i].credits);
}

enum tg_err api_metrics(struct http_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        return http_fail(req, TG_ENOMEM, "out of memory");
    metrics_write(out);
    write_db_gauges(req, out);
    if (fclose(out) != 0 || text == NULL) {
        free(text);
        return http_fail(req, TG_ENOMEM, "out of memory");
    }
    if (arena_defer(req->arena, free, text) != 0)
        return http_fail(req, TG_ENOMEM, "out of memory");
    http_reply_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return TG_OK;
}
