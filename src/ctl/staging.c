/*
 * staging: tollgatectl reset-staging; see ctl.h and DESIGN.md section 6.
 * Refused in production before the database is even opened. Otherwise
 * customer_reseed_staging() (domain/customer.h) deletes, in one
 * transaction, every customer at @example.com or @test.example.com (the
 * audit log records the reset) and seeds one customer per billing state,
 * each with a fresh API key that is printed once and wiped from memory
 * afterwards. Nothing is printed until the transaction has committed, so
 * a key shown is a key that works.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/customer.h"

#define SYNOPSIS "[--json]"
#define NSTATES CUSTOMER_STAGING_STATES

static void print_text(FILE *out, const struct staging_count *deleted, size_t ndeleted,
                       const struct customer_seeded *s)
{
    fprintf(out, "deleted:");
    for (size_t i = 0; i < ndeleted; i++)
        fprintf(out, "%s %lld %s", i > 0 ? "," : "", deleted[i].deleted, deleted[i].table);
    fprintf(out, "\n\n%-38s %-20s %-5s %-9s %7s  %s\n", "EMAIL", "STATE", "TIER", "BILLING",
            "BALANCE", "API KEY (shown once)");
    for (size_t i = 0; i < NSTATES; i++)
        fprintf(out, "%-38s %-20s %-5s %-9s %7lld  %s\n", s[i].email, s[i].state,
                s[i].customer.tier, s[i].customer.billing_status, s[i].customer.balance,
                s[i].key.key);
}

static void print_json(FILE *out, const struct staging_count *deleted, size_t ndeleted,
                       const struct customer_seeded *s)
{
    json_t *counts = json_object(), *customers = json_array();
    for (size_t i = 0; i < ndeleted; i++)
        json_object_set_new(counts, deleted[i].table, json_integer(deleted[i].deleted));
    for (size_t i = 0; i < NSTATES; i++)
        json_array_append_new(
            customers, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "email", s[i].email, "id",
                                 s[i].customer.id, "state", s[i].state, "tier",
                                 s[i].customer.tier, "billing_status",
                                 s[i].customer.billing_status, "balance",
                                 (json_int_t)s[i].customer.balance, "api_key", s[i].key.key));
    ctl_print_json(out, json_pack("{s:o, s:o}", "deleted", counts, "customers", customers));
}

int ctl_reset_staging(struct ctl *ctx, int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !as_json))
        return ctl_usage("reset-staging", SYNOPSIS, ctl_wants_help(argc, argv));
    const struct config *cfg = ctx->cfg;
    if (config_is_production(cfg)) {
        fprintf(stderr,
                "tollgatectl: refusing to reset a production database "
                "(environment = %s)\n",
                cfg->environment);
        return CTL_FAIL;
    }
    if (!ctl_open(ctx, "reset-staging")) /* the session's audit actor is this operator */
        return CTL_FAIL;
    struct customer_seeded *seeded = calloc(NSTATES, sizeof(*seeded));
    if (seeded == NULL) {
        fprintf(stderr, "tollgatectl: out of memory\n");
        return CTL_FAIL;
    }
    struct staging_count *deleted;
    size_t ndeleted;
    enum tg_err e = customer_reseed_staging(ctx->tg, seeded, &deleted, &ndeleted);
    int rc = CTL_OK;
    if (e != TG_OK)
        rc = ctl_fail(ctx, e);
    else if (as_json)
        print_json(ctx->out, deleted, ndeleted, seeded);
    else
        print_text(ctx->out, deleted, ndeleted, seeded);
    for (size_t i = 0; i < NSTATES; i++)
        apikey_cleanse(&seeded[i].key);
    free(seeded);
    return rc;
}
