/*
 * spend_limit: tollgatectl spend-limit set|remove; see ctl.h. The same
 * domain calls as PUT and DELETE /api/v1/customers/me/spend_limit
 * (domain/spend_limit.h); the audit trigger records the change
 * (spend_limit.set, spend_limit.removed) with the operator as actor.
 */
#include <string.h>

#include "core/num.h"
#include "ctl/ctl.h"
#include "domain/spend_limit.h"

#define NAME "spend-limit"
#define SYNOPSIS "set CUSTOMER CENTS CURRENCY | remove CUSTOMER"

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  set: automatic charges for fixes (pay-as-you-go, Pro overage) in a calendar\n"
          "    month (UTC) may not exceed CENTS, a whole number of minor units of\n"
          "    CURRENCY (e.g. 10000 usd: $100.00; 0: no automatic charges at all)\n"
          "  remove: no limit\n"
          "  CUSTOMER: the customer's id or e-mail address\n",
          stdout);
}

/* usage_error: "tollgatectl: NAME: <message>" and the usage line; CTL_USAGE. */
#define usage_error(...) ctl_usage_error(NAME, SYNOPSIS, __VA_ARGS__)

static int set(struct ctl *ctx, const char *customer, const char *cents_s, const char *currency)
{
    char id[37];
    long long cents;
    if (!num_parse(cents_s, (size_t)-1, SPEND_LIMIT_MAX_CENTS, &cents))
        return usage_error("CENTS must be a whole number from 0 to %lld, not \"%s\"",
                           SPEND_LIMIT_MAX_CENTS, cents_s);
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    struct spend_limit l;
    enum tg_err e = spend_limit_set(ctx->tg, id, cents, currency, &l);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    fprintf(ctx->out, "spend limit of %s: %lld %s a month; %lld counted this month\n", id,
            l.monthly_cents, l.currency, l.spent_cents);
    return CTL_OK;
}

static int remove_limit(struct ctl *ctx, const char *customer)
{
    char id[37];
    bool removed;
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    enum tg_err e = spend_limit_remove(ctx->tg, id, &removed);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    fprintf(ctx->out, removed ? "spend limit of %s removed\n" : "%s had no spend limit\n", id);
    return CTL_OK;
}

int ctl_spend_limit(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    if (argc < 2)
        return usage_error("set or remove?");
    for (int i = 2; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return usage_error("unknown option \"%s\"", argv[i]);
    if (strcmp(argv[1], "set") == 0) {
        if (argc != 5)
            return usage_error("set needs a CUSTOMER, CENTS and a CURRENCY");
        return set(ctx, argv[2], argv[3], argv[4]);
    }
    if (strcmp(argv[1], "remove") == 0) {
        if (argc != 3)
            return usage_error("remove needs a CUSTOMER");
        return remove_limit(ctx, argv[2]);
    }
    return usage_error("unknown subcommand \"%s\"", argv[1]);
}
