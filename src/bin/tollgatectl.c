/*
 * tollgatectl: the operator's command. Subcommands so far: migrate (apply
 * the numbered files of sql_dir, each in its own transaction, recorded in
 * schema_migrations) and verify-ledger (check the ledger invariants).
 * Exit status: 0 success, 1 failure or a problem found, 2 usage error.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
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
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (strcmp(cmd, "migrate") != 0 && strcmp(cmd, "verify-ledger") != 0) {
        fprintf(stderr, "tollgatectl: unknown command \"%s\"\n", cmd);
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
    int rc = strcmp(cmd, "migrate") == 0 ? migrate_run(cfg.database, cfg.sql_dir, stdout)
                                         : verify_ledger(cfg.database, stdout);
    config_free(&cfg);
    return rc;
}
