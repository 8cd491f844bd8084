/*
 * status: tollgatectl status [--json], the screen an operator reads first
 * (issue 11). Every figure comes from the database in one read-only
 * statement (health_overview, store/overview.h); what the database cannot
 * tell is printed as "unknown" (null in JSON), never estimated. Requests
 * and errors are counted by the workers' shared counters, which only
 * GET /metrics shows (over HTTP, loopback only): tollgatectl does not read
 * them, so both are unknown here.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"
#include "domain/health.h"

#define NAME "status"
#define SYNOPSIS "[--json]"

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  workers: database sessions of tollgate-fcgi workers and of tollgate-worker\n"
          "  requests: last minute and error rate: unknown (see GET /metrics)\n"
          "  queues: Stripe calls pending, e-mails pending, webhook events pending\n"
          "  dead letters: Stripe events whose handler gave up (tollgatectl dead-letters)\n"
          "  webhooks: when the last Stripe event was received and applied\n"
          "  database: connections used of max_connections, schema version\n"
          "  --json: print JSON instead (unknown figures are null)\n",
          stdout);
}

static json_t *as_json(const struct overview *o)
{
    return json_pack(
        "{s:{s:I,s:I}, s:{s:n,s:n}, s:{s:I,s:I,s:I}, s:I, s:{s:o,s:o}, s:{s:I,s:I,s:I}}",
        "workers", "fcgi", (json_int_t)o->fcgi_sessions, "worker", (json_int_t)o->worker_sessions,
        "requests", "last_minute", "error_rate", "queues", "stripe_calls_pending",
        (json_int_t)o->stripe_calls_pending, "emails_pending", (json_int_t)o->emails_pending,
        "webhook_events_pending", (json_int_t)o->webhooks_pending, "dead_letters",
        (json_int_t)o->dead_letters, "webhooks", "last_received",
        ctl_json_utc(o->last_webhook_received), "last_applied",
        ctl_json_utc(o->last_webhook_applied), "database", "connections",
        (json_int_t)o->connections, "max_connections", (json_int_t)o->max_connections,
        "schema_version", (json_int_t)o->schema_version);
}

static void as_text(FILE *out, const struct overview *o)
{
    char rx[CTL_UTC_LEN], ap[CTL_UTC_LEN];
    fprintf(out, "workers       tollgate-fcgi %lld connected, tollgate-worker %lld connected\n",
            o->fcgi_sessions, o->worker_sessions);
    fputs("requests      last minute unknown, error rate unknown (GET /metrics)\n", out);
    fprintf(out, "queues        stripe calls %lld, e-mails %lld, webhook events %lld pending\n",
            o->stripe_calls_pending, o->emails_pending, o->webhooks_pending);
    fprintf(out, "dead letters  %lld\n", o->dead_letters);
    fprintf(out, "webhooks      last received %s, last applied %s\n",
            ctl_utc(o->last_webhook_received, rx), ctl_utc(o->last_webhook_applied, ap));
    fprintf(out, "database      %lld of %lld connections, schema version %lld\n", o->connections,
            o->max_connections, o->schema_version);
}

int ctl_status(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (argc > 2 || (argc == 2 && !json))
        return ctl_usage_error(NAME, SYNOPSIS, "unexpected argument \"%s\"", argv[argc - 1]);
    struct overview o;
    enum tg_err e = health_overview(ctx->tg, &o);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    if (json) {
        json_t *j = as_json(&o);
        if (j == NULL)
            return ctl_fail(ctx, TG_ENOMEM);
        ctl_print_json(ctx->out, j);
    } else {
        as_text(ctx->out, &o);
    }
    return CTL_OK;
}
