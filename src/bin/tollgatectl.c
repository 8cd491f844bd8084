/*
 * tollgatectl: the operator's command; see tollgatectl(8). The commands
 * are the table below; each lives in src/ctl (or src/store for migrate and
 * verify-ledger). Exit status: 0 success, 1 failure, refusal or a problem
 * found, 2 usage error.
 */
#include <config.h>

#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "ctl/ctl.h"
#include "store/migrate.h"
#include "store/verify.h"

static int cmd_migrate(struct ctl *ctx, int argc, char **argv)
{
    bool dry_run = argc == 2 && strcmp(argv[1], "--dry-run") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !dry_run))
        return ctl_usage("migrate", "[--dry-run]", ctl_wants_help(argc, argv));
    if (dry_run)
        return migrate_dry_run(ctx->cfg->database, ctx->cfg->sql_dir, ctx->out);
    return migrate_run(ctx->cfg->database, ctx->cfg->sql_dir, ctx->out);
}

static int cmd_verify_ledger(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv) || argc != 1)
        return ctl_usage("verify-ledger", "", ctl_wants_help(argc, argv));
    return verify_ledger(ctx->cfg->database, ctx->out);
}

const struct ctl_command ctl_commands[] = {
    {"status", "[--json]",
     "workers, queues, dead letters, webhooks, connections, schema: the first screen", true,
     ctl_status},
    {"migrate", "[--dry-run]",
     "apply pending migrations from sql_dir (--dry-run: say what, change nothing)", false,
     cmd_migrate},
    {"verify-ledger", "",
     "check balances against the ledger (sums, nothing negative, nothing changed)", false,
     cmd_verify_ledger},
    {"dead-letters", "list [--json] | show EVENT | replay EVENT | replay --all",
     "Stripe events whose handler failed too often", true, ctl_dead_letters},
    {"reconcile", "[--fix]", "compare subscriptions and charges with Stripe's", true,
     ctl_reconcile},
    {"check-config", "[--json]", "validate the configuration before a deploy", false,
     ctl_check_config},
    {"verify-audit", "[--json]", "recompute the audit log's hash chain", true, ctl_verify_audit},
    {"reset-staging", "[--json]", "reseed a staging database (refused in production)", false,
     ctl_reset_staging},
    {"customers", "list [--email TEXT] [--limit N] [--json] | show CUSTOMER [--json]",
     "list customers, or show one in full (keys, ledger, audit)", true, ctl_customers},
    {"credits", "grant CUSTOMER AMOUNT --reason TEXT | adjust CUSTOMER AMOUNT --reason TEXT",
     "grant or adjust a customer's credits (audited, never below 0)", true, ctl_credits},
    {"spend-limit", "set CUSTOMER CENTS CURRENCY | remove CUSTOMER",
     "a customer's monthly cap on charges for fixes (audited)", true, ctl_spend_limit},
    {"api-keys", "list CUSTOMER [--json] | create CUSTOMER [--name NAME] | revoke KEY_ID [--force]",
     "list, create and revoke a customer's API keys", true, ctl_api_keys},
    {"flags", "list [--json] | set NAME on|off|PERCENT",
     "feature flags: the billing kill switch, signup", true, ctl_flags},
    {"webhooks", CTL_WEBHOOKS_SYNOPSIS,
     "signed webhooks to the product: endpoints, secrets, deliveries", true, ctl_webhooks},
    {NULL, NULL, NULL, false, NULL},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: tollgatectl [-c FILE] COMMAND [ARGS...]\n"
                "       tollgatectl COMMAND --help\n"
                "commands:\n");
    for (const struct ctl_command *c = ctl_commands; c->name != NULL; c++)
        fprintf(to, "  %-14s %s\n", c->name, c->summary);
    fprintf(to, "options:\n"
                "  -c, --config FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
                "  -V, --version      print the version\n"
                "exit status: 0 success, 1 failure or a problem found, 2 usage error\n");
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'V': puts("tollgatectl " PACKAGE_VERSION); return CTL_OK;
        case 'h': usage(stdout); return CTL_OK;
        default: usage(stderr); return CTL_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        usage(stdout);
        return CTL_OK;
    }
    const struct ctl_command *cmd = ctl_commands;
    while (cmd->name != NULL && strcmp(cmd->name, argv[optind]) != 0)
        cmd++;
    if (cmd->name == NULL) {
        fprintf(stderr, "tollgatectl: unknown command \"%s\"\n", argv[optind]);
        usage(stderr);
        return CTL_USAGE;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    /* --help needs neither the configuration nor the database. */
    if (ctl_wants_help(sub_argc, sub_argv))
        return cmd->run(&(struct ctl){.out = stdout}, sub_argc, sub_argv);

    log_init("tollgatectl");
    setenv("PGAPPNAME", "tollgatectl", 0); /* pg_stat_activity tells the programs apart */
    char err[512];
    struct config cfg;
    if (config_load(&cfg, config_path, err, sizeof(err)) != TG_OK) {
        fprintf(stderr, "tollgatectl: %s\n", err);
        return CTL_FAIL;
    }
    struct ctl ctx = {.cfg = &cfg, .out = stdout};
    int rc = CTL_FAIL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!cmd->needs_db || ctl_open(&ctx, cmd->name))
        rc = cmd->run(&ctx, sub_argc, sub_argv);
    ctl_close(&ctx);
    curl_global_cleanup();
    config_free(&cfg);
    return rc;
}
