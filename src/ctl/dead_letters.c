/*
 * dead_letters: tollgatectl dead-letters; see ctl.h. The inbox and its
 * rules are the webhook module's (domain/stripe_webhook.h): a replay makes
 * the event pending again with a fresh attempt count, is audited, and
 * wakes tollgate-worker.
 */
#include <jansson.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/stripe_webhook.h"

#define SYNOPSIS "list [--json] | show EVENT | replay EVENT | replay --all"

static int list(struct ctl *ctx, bool as_json)
{
    struct stripe_event_record *ev;
    size_t n;
    enum tg_err e = stripe_webhook_dead_letters(ctx->tg, &ev, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        fprintf(ctx->out, "%-32s %-36s %8s  %s\n", "EVENT", "TYPE", "ATTEMPTS", "LAST ERROR");
    for (size_t i = 0; i < n; i++) {
        const char *error = ev[i].last_error != NULL ? ev[i].last_error : "";
        if (as_json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s, s:o}", "id", ev[i].id,
                                                 "type", ev[i].type, "attempts",
                                                 (json_int_t)ev[i].attempts, "last_error", error,
                                                 "received_at", ctl_json_utc(ev[i].received_at)));
        else
            fprintf(ctx->out, "%-32s %-36s %8lld  %s\n", ev[i].id, ev[i].type, ev[i].attempts,
                    error);
    }
    if (as_json) {
        json_dumpf(arr, ctx->out, JSON_INDENT(2));
        fputc('\n', ctx->out);
        json_decref(arr);
    }
    return CTL_OK;
}

static int show(struct ctl *ctx, const char *id)
{
    struct stripe_event_record ev;
    enum tg_err e = stripe_webhook_event(ctx->tg, id, &ev);
    if (e == TG_ENOTFOUND) {
        fprintf(stderr, "tollgatectl: no event %s\n", id);
        return CTL_FAIL;
    }
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *event = json_loads(ev.payload, 0, NULL);
    ctl_print_json(ctx->out,
                   json_pack("{s:s, s:s, s:s, s:I, s:o, s:s, s:o}", "id", ev.id, "type", ev.type,
                             "status", ev.status, "attempts", (json_int_t)ev.attempts,
                             "last_error",
                             ev.last_error != NULL ? json_string(ev.last_error) : json_null(),
                             "received_at", ev.received_at, "event",
                             event != NULL ? event : json_null()));
    return CTL_OK;
}

static int replay(struct ctl *ctx, const char *id)
{
    const char **ids;
    size_t n;
    enum tg_err e = stripe_webhook_replay(ctx->tg, id, &ids, &n);
    if (e == TG_ENOTFOUND) {
        fprintf(stderr, "tollgatectl: %s is not a dead letter\n", id);
        return CTL_FAIL;
    }
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    for (size_t i = 0; i < n; i++)
        fprintf(ctx->out, "replaying %s\n", ids[i]);
    fprintf(ctx->out, "%zu event%s queued again; tollgate-worker applies them\n", n,
            n == 1 ? "" : "s");
    return CTL_OK;
}

int ctl_dead_letters(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv))
        return ctl_usage("dead-letters", SYNOPSIS, true);
    if (argc >= 2 && strcmp(argv[1], "list") == 0 &&
        (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0)))
        return list(ctx, argc == 3);
    if (argc == 3 && strcmp(argv[1], "show") == 0)
        return show(ctx, argv[2]);
    if (argc == 3 && strcmp(argv[1], "replay") == 0)
        return replay(ctx, strcmp(argv[2], "--all") == 0 ? NULL : argv[2]);
    return ctl_usage("dead-letters", SYNOPSIS, false);
}
