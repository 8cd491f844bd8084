/*
 * status: tollgatectl status [--json], the screen an operator reads first
 * (issue 11). Every figure comes from the database in one read-only
 * statement (health_overview, store/overview.h); what the database cannot
 * tell is printed as "unknown" (null in JSON), never estimated. Requests
 * and 5xx answers of the last minute come from the workers' shared
 * counters file (metrics_path, core/metrics.h: metrics_recent), read-only;
 * unknown when it cannot be read (another build's layout, no permission,
 * tollgate-fcgi never started).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/metrics.h"
#include "ctl/ctl.h"
#include "domain/health.h"

#define NAME "status"
#define SYNOPSIS "[--json]"
#define LAST_MINUTE 60 /* seconds */

/* The requests of the last minute, from the counters file. */
struct recent {
    int known; /* 0: the file could not be read (error says why) */
    uint64_t requests, errors;
    int error;
};

static void read_recent(const struct config *cfg, struct recent *r)
{
    memset(r, 0, sizeof(*r));
    r->known = metrics_recent(cfg->metrics_path, (int64_t)time(NULL), LAST_MINUTE, &r->requests,
                              &r->errors) == 0;
    if (!r->known)
        r->error = errno;
}

/* recent_json: {"last_minute": n, "errors": n, "error_rate": x}; null
 * figures when unknown, error_rate null without requests. */
static json_t *recent_json(const struct recent *r)
{
    if (!r->known)
        return json_pack("{s:n,s:n,s:n}", "last_minute", "errors", "error_rate");
    json_t *rate = r->requests > 0 ? json_real((double)r->errors / (double)r->requests)
                                   : json_null();
    return json_pack("{s:I,s:I,s:o}", "last_minute", (json_int_t)r->requests, "errors",
                     (json_int_t)r->errors, "error_rate", rate);
}

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  workers: database sessions of tollgate-fcgi workers and of tollgate-worker\n"
          "  requests: answered in the last minute, and the share of 5xx among them\n"
          "    (from the counters file, metrics_path; unknown when it cannot be read)\n"
          "  queues: Stripe calls pending, e-mails pending, webhook events pending\n"
          "  dead letters: Stripe events whose handler gave up (tollgatectl dead-letters)\n"
          "  webhooks: when the last Stripe event was received and applied\n"
          "  database: connections used of max_connections, schema version\n"
          "  --json: print JSON instead (unknown figures are null)\n",
          stdout);
}

static json_t *as_json(const struct overview *o, const struct recent *r)
{
    return json_pack(
        "{s:{s:I,s:I}, s:o, s:{s:I,s:I,s:I}, s:I, s:{s:o,s:o}, s:{s:I,s:I,s:I}}",
        "workers", "fcgi", (json_int_t)o->fcgi_sessions, "worker", (json_int_t)o->worker_sessions,
        "requests", recent_json(r), "queues", "stripe_calls_pending",
        (json_int_t)o->stripe_calls_pending, "emails_pending", (json_int_t)o->emails_pending,
        "webhook_events_pending", (json_int_t)o->webhooks_pending, "dead_letters",
        (json_int_t)o->dead_letters, "webhooks", "last_received",
        ctl_json_utc(o->last_webhook_received), "last_applied",
        ctl_json_utc(o->last_webhook_applied), "database", "connections",
        (json_int_t)o->connections, "max_connections", (json_int_t)o->max_connections,
        "schema_version", (json_int_t)o->schema_version);
}

static void as_text(FILE *out, const struct overview *o, const struct recent *r)
{
    char rx[CTL_UTC_LEN], ap[CTL_UTC_LEN];
    fprintf(out, "workers       tollgate-fcgi %lld connected, tollgate-worker %lld connected\n",
            o->fcgi_sessions, o->worker_sessions);
    if (!r->known)
        fprintf(out, "requests      last minute unknown (%s), error rate unknown\n",
                strerror(r->error));
    else if (r->requests == 0)
        fputs("requests      none in the last minute\n", out);
    else
        fprintf(out, "requests      %llu in the last minute, %llu of them 5xx (%.1f %%)\n",
                (unsigned long long)r->requests, (unsigned long long)r->errors,
                100.0 * (double)r->errors / (double)r->requests);
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
    struct recent r;
    read_recent(ctx->cfg, &r);
    if (json) {
        json_t *j = as_json(&o, &r);
        if (j == NULL)
            return ctl_fail(ctx, TG_ENOMEM);
        ctl_print_json(ctx->out, j);
    } else {
        as_text(ctx->out, &o, &r);
    }
    return CTL_OK;
}
