/*
 * metrics: GET /metrics -- Prometheus text format. Counters, histograms
 * and process figures come from the shared counters file that every
 * FastCGI worker and tollgate-worker add to (core/metrics.c); the
 * database-state gauges (customers and credits by tier, queues, dead
 * letters, billing states, connections) from two cheap statements
 * (store/overview.c, the one tollgatectl status reads, and the tier
 * counts), cached in the shared region for METRICS_DB_CACHE_SECONDS so
 * that many scrapes make one query. nginx serves this route to loopback
 * only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/metrics.h"
#include "domain/customer.h"
#include "domain/health.h"

/* The cached values, in this order. */
enum {
    V_UP,
    V_STRIPE_CALLS,
    V_EMAILS,
    V_WEBHOOKS,
    V_DEAD,
    V_STRIPE_CALLS_AGE,
    V_EMAILS_AGE,
    V_WEBHOOKS_AGE,
    V_GRACE,
    V_DELINQUENT,
    V_CONNECTIONS,
    V_MAX_CONNECTIONS,
    V_TIERS, /* customers then credits of each of tiers[] */
    V_COUNT = V_TIERS + 6
};
static const char *const tiers[] = {"trial", "payg", "pro"};

/* query: the values from the database into v; 1 when it answered. */
static int query(struct http_request *req, int64_t *v)
{
    struct overview o;
    struct customers_tier_count *t = NULL;
    size_t n = 0;
    memset(v, 0, V_COUNT * sizeof(*v));
    if (health_overview(req->ctx, &o) != TG_OK || customer_count_by_tier(req->ctx, &t, &n) != TG_OK)
        return 0;
    int64_t got[] = {1,
                     o.stripe_calls_pending,
                     o.emails_pending,
                     o.webhooks_pending,
                     o.dead_letters,
                     o.stripe_calls_oldest_s,
                     o.emails_oldest_s,
                     o.webhooks_oldest_s,
                     o.customers_grace,
                     o.customers_delinquent,
                     o.connections,
                     o.max_connections};
    memcpy(v, got, sizeof(got));
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (strcmp(t[i].tier, tiers[k]) == 0) {
                v[V_TIERS + k] = t[i].customers;
                v[V_TIERS + 3 + k] = t[i].credits;
            }
    return 1;
}

static void gauge(FILE *out, const char *name, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void write_db_gauges(struct http_request *req, FILE *out)
{
    int64_t v[V_COUNT];
    int c = metrics_db_cached((int64_t)req->ctx->now, v, V_COUNT);
    if (c != 1) {
        int ok = query(req, v);
        if (c == 0)
            metrics_db_store((int64_t)req->ctx->now, v, V_COUNT, ok);
    }
    gauge(out, "tollgate_database_up", "Whether PostgreSQL answered the last query of /metrics.");
    fprintf(out, "tollgate_database_up %lld\n", (long long)v[V_UP]);
    if (!v[V_UP])
        return;
    static const char *const queues[] = {"stripe_calls", "emails", "webhook_events"};
    gauge(out, "tollgate_queue_items", "Items waiting in each queue.");
    for (int i = 0; i < 3; i++)
        fprintf(out, "tollgate_queue_items{queue=\"%s\"} %lld\n", queues[i],
                (long long)v[V_STRIPE_CALLS + i]);
    gauge(out, "tollgate_queue_oldest_age_seconds",
          "Age of the oldest waiting item of each queue (0: empty).");
    for (int i = 0; i < 3; i++)
        fprintf(out, "tollgate_queue_oldest_age_seconds{queue=\"%s\"} %lld\n", queues[i],
                (long long)v[V_STRIPE_CALLS_AGE + i]);
    gauge(out, "tollgate_dead_letters", "Webhook events whose handler gave up.");
    fprintf(out, "tollgate_dead_letters{queue=\"webhook_events\"} %lld\n", (long long)v[V_DEAD]);
    gauge(out, "tollgate_customers_billing_state",
          "Customers in their grace period after a failed payment, and delinquent.");
    fprintf(out,
            "tollgate_customers_billing_state{state=\"grace\"} %lld\n"
            "tollgate_customers_billing_state{state=\"delinquent\"} %lld\n",
            (long long)v[V_GRACE], (long long)v[V_DELINQUENT]);
    gauge(out, "tollgate_database_connections",
          "Sessions connected to PostgreSQL (all databases).");
    fprintf(out, "tollgate_database_connections %lld\n", (long long)v[V_CONNECTIONS]);
    gauge(out, "tollgate_database_connections_max", "PostgreSQL's max_connections.");
    fprintf(out, "tollgate_database_connections_max %lld\n", (long long)v[V_MAX_CONNECTIONS]);
    gauge(out, "tollgate_customers", "Customers, by tier.");
    for (int k = 0; k < 3; k++)
        fprintf(out, "tollgate_customers{tier=\"%s\"} %lld\n", tiers[k], (long long)v[V_TIERS + k]);
    gauge(out, "tollgate_credits_outstanding", "Unused credits held by customers, by tier.");
    for (int k = 0; k < 3; k++)
        fprintf(out, "tollgate_credits_outstanding{tier=\"%s\"} %lld\n", tiers[k],
                (long long)v[V_TIERS + 3 + k]);
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
