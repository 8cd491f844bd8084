/*
 * tollgatectl: the operator's command. Subcommands: migrate (apply the
 * numbered files of sql_dir, each in its own transaction, recorded in
 * schema_migrations), verify-ledger (check the ledger invariants),
 * dead-letters (Stripe events whose handler kept failing) and reconcile
 * (compare with Stripe). Exit status: 0 success, 1 failure or a problem
 * found, 2 usage error.
 */
#include <config.h>

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "ctl/ctl.h"
#include "core/log.h"
#include "store/migrate.h"
#include "store/verify.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: tollgatectl [-c FILE] COMMAND\n"
                "commands:\n"
                "  migrate         apply pending migrations from sql_dir\n"
                "  verify-ledger   check that every balance equals the sum of its ledger\n"
                "                  entries, none is negative and no entry was changed\n"
                "  dead-letters list [--json] | show EVENT | replay EVENT | replay --all\n"
                "                  Stripe events whose handler failed too often\n"
                "  reconcile [--fix]\n"
                "                  compare subscriptions and charges with Stripe's\n"
                "options:\n"
                "  -c FILE         configuration file (default " CONFIG_DEFAULT_PATH ")\n");
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+c:hV")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'V': puts("tollgatectl " PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    bool simple = strcmp(cmd, "migrate") == 0 || strcmp(cmd, "verify-ledger") == 0;
    if (!simple && strcmp(cmd, "dead-letters") != 0 && strcmp(cmd, "reconcile") != 0) {
        fprintf(stderr, "tollgatectl: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    if (simple && optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    log_init("tollgatectl");
    char err[512];
    struct config cfg;
    if (config_load(&cfg, config_path, err, sizeof(err)) != TG_OK) {
        fprintf(stderr, "tollgatectl: %s\n", err);
        return 1;
    }
    int rc;
    if (strcmp(cmd, "migrate") == 0) {
        rc = migrate_run(cfg.database, cfg.sql_dir, stdout);
    } else if (strcmp(cmd, "verify-ledger") == 0) {
        rc = verify_ledger(cfg.database, stdout);
    } else {
        PGconn *c = PQconnectdb(cfg.database);
        if (PQstatus(c) != CONNECTION_OK) {
            fprintf(stderr, "tollgatectl: cannot connect: %s", PQerrorMessage(c));
            rc = 1;
        } else if (strcmp(cmd, "dead-letters") == 0) {
            rc = ctl_dead_letters(c, argc - optind, argv + optind, stdout);
        } else {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            rc = ctl_reconcile(c, &cfg, argc - optind, argv + optind, stdout);
            curl_global_cleanup();
        }
        PQfinish(c);
    }
    config_free(&cfg);
    return rc;
}
