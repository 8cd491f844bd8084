/*
 * webhooks: tollgatectl webhooks; see ctl.h. The rules are the outbound
 * module's (domain/outbound.h): URLs are checked, each endpoint gets its
 * own secret from OpenSSL's RAND_bytes, printed here once and never again,
 * and every change is audited.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/outbound.h"

#define NAME "webhooks"
#define DELIVERIES_DEFAULT 50
#define DELIVERIES_MAX 1000

static int add(struct ctl *ctx, int argc, char **argv)
{
    const char *url = NULL, *events = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v;
        if (ctl_option(argc, argv, &i, "--events", &v)) {
            if (v == NULL)
                return ctl_usage_error(NAME, CTL_WEBHOOKS_SYNOPSIS, "--events needs a value");
            events = v;
        } else if (url == NULL && argv[i][0] != '-') {
            url = argv[i];
        } else {
            return ctl_usage_error(NAME, CTL_WEBHOOKS_SYNOPSIS, "unexpected %s", argv[i]);
        }
    }
    if (url == NULL)
        return ctl_usage_error(NAME, CTL_WEBHOOKS_SYNOPSIS, "add needs a URL");
    struct webhook_endpoint w;
    char secret[OUTBOUND_SECRET_LEN];
    enum tg_err e = outbound_endpoint_add(ctx->tg, url, events, &w, secret);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    fprintf(ctx->out, "endpoint %s\nurl %s\nevents %s\nsecret %s\n", w.id, w.url,
            w.events != NULL ? w.events : "all", secret);
    fprintf(stderr, "tollgatectl: the secret is shown this once: keep it where the receiver "
                    "verifies signatures\n");
    OPENSSL_cleanse(secret, sizeof(secret));
    return CTL_OK;
}

static int list(struct ctl *ctx, bool as_json)
{
    struct webhook_endpoint *w;
    size_t n;
    enum tg_err e = webhook_endpoints_list(ctx->tg, false, &w, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        fprintf(ctx->out, "%-27s %-20s %-20s %s\n", "ENDPOINT", "CREATED", "EVENTS", "URL");
    for (size_t i = 0; i < n; i++) {
        char at[CTL_UTC_LEN];
        if (as_json)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "id", w[i].id, "url", w[i].url,
                               "events", ctl_json_str(w[i].events), "created_at",
                               ctl_json_utc(w[i].created_at), "previous_secret_expires_at",
                               ctl_json_utc(w[i].previous_secret_expires_at)));
        else
            fprintf(ctx->out, "%-27s %-20s %-20s %s\n", w[i].id, ctl_utc(w[i].created_at, at),
                    w[i].events != NULL ? w[i].events : "all", w[i].url);
    }
    if (as_json)
        ctl_print_json(ctx->out, arr);
    return CTL_OK;
}

static int rotate(struct ctl *ctx, const char *id)
{
    struct webhook_endpoint w;
    char secret[OUTBOUND_SECRET_LEN];
    enum tg_err e = outbound_endpoint_rotate(ctx->tg, id, &w, secret);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    char until[CTL_UTC_LEN];
    fprintf(ctx->out, "endpoint %s\nsecret %s\nprevious secret signs until %s\n", w.id, secret,
            ctl_utc(w.previous_secret_expires_at, until));
    OPENSSL_cleanse(secret, sizeof(secret));
    return CTL_OK;
}

static json_t *delivery_json(const struct outbound_delivery *d)
{
    return json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "id",
                     (json_int_t)d->id, "event", d->event_id, "type", d->event_type,
                     "customer", ctl_json_str(d->customer_id), "endpoint", d->endpoint_id,
                     "status", d->status, "attempts", (json_int_t)d->attempts, "last_status",
                     d->last_status > 0 ? json_integer(d->last_status) : json_null(),
                     "last_error", ctl_json_str(d->last_error), "created_at",
                     ctl_json_utc(d->created_at), "next_attempt_at",
                     ctl_json_utc(d->next_attempt_at), "delivered_at",
                     ctl_json_utc(d->delivered_at));
}

static int deliveries(struct ctl *ctx, int argc, char **argv)
{
    bool failed = false, as_json = false;
    long limit = DELIVERIES_DEFAULT;
    for (int i = 2; i < argc; i++) {
        const char *v;
        char *end;
        if (strcmp(argv[i], "--failed") == 0) {
            failed = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (ctl_option(argc, argv, &i, "--limit", &v)) {
            limit = v != NULL ? strtol(v, &end, 10) : 0;
            if (v == NULL || *end != '\0' || limit < 1 || limit > DELIVERIES_MAX)
                return ctl_usage_error(NAME, CTL_WEBHOOKS_SYNOPSIS, "--limit: 1 to %d",
                                       DELIVERIES_MAX);
        } else {
            return ctl_usage_error(NAME, CTL_WEBHOOKS_SYNOPSIS, "unexpected %s", argv[i]);
        }
    }
    struct outbound_delivery *d;
    size_t n;
    enum tg_err e = outbound_deliveries_list(ctx->tg, failed, (int)limit, &d, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        fprintf(ctx->out, "%-8s %-36s %-22s %-9s %8s %6s  %s\n", "ID", "EVENT", "TYPE",
                "STATUS", "ATTEMPTS", "HTTP", "LAST ERROR");
    for (size_t i = 0; i < n; i++) {
        if (as_json)
            json_array_append_new(arr, delivery_json(&d[i]));
        else
            fprintf(ctx->out, "%-8lld %-36s %-22s %-9s %8lld %6lld  %s\n", d[i].id,
                    d[i].event_id, d[i].event_type, d[i].status, d[i].attempts,
                    d[i].last_status, d[i].last_error != NULL ? d[i].last_error : "");
    }
    if (as_json)
        ctl_print_json(ctx->out, arr);
    return CTL_OK;
}

static int replay(struct ctl *ctx, const char *id)
{
    long long *ids;
    size_t n;
    enum tg_err e = outbound_replay(ctx->tg, id, &ids, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    for (size_t i = 0; i < n; i++)
        fprintf(ctx->out, "replaying delivery %lld\n", ids[i]);
    fprintf(ctx->out, "%zu deliver%s queued again; tollgate-worker sends them\n", n,
            n == 1 ? "y" : "ies");
    return CTL_OK;
}

/* one_id: the subcommands that take one ENDPOINT or ID. */
static int one_id(struct ctl *ctx, const char *cmd, const char *id)
{
    enum tg_err e;
    if (strcmp(cmd, "remove") == 0) {
        if ((e = outbound_endpoint_remove(ctx->tg, id)) != TG_OK)
            return ctl_fail(ctx, e);
        fprintf(ctx->out, "removed %s\n", id);
        return CTL_OK;
    }
    if (strcmp(cmd, "test") == 0) {
        const char *event;
        if ((e = outbound_endpoint_test(ctx->tg, id, &event)) != TG_OK)
            return ctl_fail(ctx, e);
        fprintf(ctx->out, "queued test event %s for %s\n", event, id);
        return CTL_OK;
    }
    if (strcmp(cmd, "rotate-secret") == 0)
        return rotate(ctx, id);
    if (strcmp(cmd, "replay") == 0)
        return replay(ctx, id);
    return ctl_usage(NAME, CTL_WEBHOOKS_SYNOPSIS, false);
}

int ctl_webhooks(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv))
        return ctl_usage(NAME, CTL_WEBHOOKS_SYNOPSIS, true);
    if (argc < 2)
        return ctl_usage(NAME, CTL_WEBHOOKS_SYNOPSIS, false);
    const char *cmd = argv[1];
    if (strcmp(cmd, "add") == 0)
        return add(ctx, argc, argv);
    if (strcmp(cmd, "list") == 0 &&
        (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0)))
        return list(ctx, argc == 3);
    if (strcmp(cmd, "deliveries") == 0)
        return deliveries(ctx, argc, argv);
    if (argc == 3)
        return one_id(ctx, cmd, argv[2]);
    return ctl_usage(NAME, CTL_WEBHOOKS_SYNOPSIS, false);
}
