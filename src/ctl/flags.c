/*
 * flags: tollgatectl flags list|set; see ctl.h. A flag is on for
 * rollout_percent of its subjects (domain/flag.h, sql/functions/flags.sql):
 * 100 is on, 0 off, anything between a stable share of customers (of
 * signups, by e-mail address). Every request reads the flags from the
 * database, so a change applies on every worker with the next request;
 * flag_set() is audited as flag.set with the operator as actor.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/num.h"
#include "ctl/ctl.h"
#include "domain/flag.h"

#define NAME "flags"
#define SYNOPSIS "list [--json] | set NAME on|off|PERCENT"

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  list: every flag with its state (on, off or the percentage it is on for)\n"
          "  set: on is 100, off is 0; PERCENT (0..100, \"50\" or \"50%\") turns the flag on\n"
          "    for that share of customers, always the same ones\n"
          "  billing_enabled off: usage is still recorded, nothing is charged, new\n"
          "    subscriptions are refused; Stripe's own renewals go on\n"
          "  automated_customer_onboarding off: signups get 503 signup-closed\n"
          "  --json: print JSON instead of a table\n",
          stdout);
}

/* usage_error: "tollgatectl: NAME: <message>" and the usage line; CTL_USAGE. */
#define usage_error(...) ctl_usage_error(NAME, SYNOPSIS, __VA_ARGS__)

/* state: a percentage as the operator says it: on, off or "N%". */
static const char *state(long long percent, char *buf, size_t len)
{
    if (percent >= 100)
        return "on";
    if (percent <= 0)
        return "off";
    snprintf(buf, len, "%lld%%", percent);
    return buf;
}

/* parse_state: "on", "off" (any case), or 0..100 with an optional '%'. */
static bool parse_state(const char *s, long long *percent)
{
    if (strcasecmp(s, "on") == 0) {
        *percent = 100;
        return true;
    }
    if (strcasecmp(s, "off") == 0) {
        *percent = 0;
        return true;
    }
    size_t len = strlen(s);
    if (len > 0 && s[len - 1] == '%')
        len--;
    return num_parse(s, len, 100, percent);
}

static int list(struct ctl *ctx, bool as_json)
{
    struct feature_flag *flags;
    size_t n;
    enum tg_err e = flag_list(ctx->tg, &flags, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *arr = as_json ? json_array() : NULL;
    char buf[8], at[CTL_UTC_LEN];
    if (!as_json)
        fprintf(ctx->out, "%-30s  %-5s  %-20s  %s\n", "NAME", "STATE", "UPDATED", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        const struct feature_flag *f = &flags[i];
        const char *st = state(f->rollout_percent, buf, sizeof(buf));
        if (as_json)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:I, s:s, s:o}", "name", f->name, "state", st,
                               "rollout_percent", (json_int_t)f->rollout_percent, "description",
                               f->description, "updated_at", ctl_json_utc(f->updated_at)));
        else
            fprintf(ctx->out, "%-30s  %-5s  %-20s  %s\n", f->name, st, ctl_utc(f->updated_at, at),
                    f->description);
    }
    if (as_json)
        ctl_print_json(ctx->out, arr);
    return CTL_OK;
}

/* unknown: the message for a flag that does not exist, naming those that do. */
static int unknown(struct ctl *ctx, const char *name)
{
    struct feature_flag *flags;
    size_t n = 0;
    if (flag_list(ctx->tg, &flags, &n) != TG_OK)
        n = 0;
    fprintf(stderr, "tollgatectl: no flag \"%s\"; the flags are: ", name);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%s", i > 0 ? ", " : "", flags[i].name);
    fputs(n == 0 ? "(unknown)\n" : "\n", stderr);
    return CTL_FAIL;
}

static int set(struct ctl *ctx, const char *name, long long percent)
{
    char buf[8], was[8];
    struct feature_flag before, after;
    enum tg_err e = flag_set(ctx->tg, name, (int)percent, &before, &after);
    if (e == TG_ENOTFOUND)
        return unknown(ctx, name);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    snprintf(was, sizeof(was), "%s", state(before.rollout_percent, buf, sizeof(buf)));
    fprintf(ctx->out, "%s is now %s (was %s)\n", after.name,
            state(after.rollout_percent, buf, sizeof(buf)), was);
    if (strcmp(name, "billing_enabled") == 0 && percent == 0)
        fputs("note: with billing off, usage is still recorded but nothing is charged and new "
              "subscriptions are refused; Stripe's own subscription renewals are not stopped "
              "by it\n",
              ctx->out);
    return CTL_OK;
}

int ctl_flags(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    if (argc < 2)
        return usage_error("list or set?");
    if (strcmp(argv[1], "list") == 0) {
        bool as_json = false;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--json") != 0)
                return usage_error(argv[i][0] == '-' ? "unknown option \"%s\""
                                                     : "unexpected argument \"%s\"",
                                   argv[i]);
            as_json = true;
        }
        return list(ctx, as_json);
    }
    if (strcmp(argv[1], "set") != 0)
        return usage_error("unknown subcommand \"%s\"", argv[1]);
    for (int i = 2; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage_error("unknown option \"%s\"", argv[i]);
    if (argc != 4)
        return usage_error("set takes a NAME and on, off or a PERCENT");
    long long percent;
    if (!parse_state(argv[3], &percent))
        return usage_error("the state is on, off or a PERCENT from 0 to 100, not \"%s\"", argv[3]);
    return set(ctx, argv[2], percent);
}
