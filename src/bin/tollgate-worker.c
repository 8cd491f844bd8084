/*
 * tollgate-worker: the background process (see src/jobs/jobs.h). Safe to
 * run as several processes on several hosts.
 */
#include <config.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "jobs/jobs.h"
#include "store/schema.h"

static void usage(FILE *to)
{
    fprintf(to, "usage: tollgate-worker [-c FILE] [-1] [-i MS]\n"
                "  -c FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
                "  -1       run one pass and exit\n"
                "  -i MS    pause between passes, in milliseconds (default 1000)\n");
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int once = 0, opt;
    long interval = 1000;
    char *end;
    while ((opt = getopt(argc, argv, "c:1i:hV")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case '1': once = 1; break;
        case 'i':
            interval = strtol(optarg, &end, 10);
            if (*end != '\0' || interval < 10 || interval > 3600000) {
                usage(stderr);
                return 2;
            }
            break;
        case 'V': puts("tollgate-worker " PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    log_init("tollgate-worker");
    /* Sessions name their program (pg_stat_activity, tollgatectl status)
     * unless the environment or the conninfo names another. */
    setenv("PGAPPNAME", "tollgate-worker", 0);
    char err[512];
    struct config cfg;
    if (config_load(&cfg, config_path, err, sizeof(err)) != TG_OK) {
        log_text(LOG_ERROR, "tollgate-worker: %s", err);
        return 1;
    }
    if (!schema_allows_start(cfg.database, "tollgate-worker")) {
        config_free(&cfg);
        return 1;
    }
    if (metrics_open(cfg.metrics_path, "tollgate-worker") != 0)
        log_msg(LOG_WARN, "metrics: cannot map %s (%s); this worker's counts are not shown",
                cfg.metrics_path, strerror(errno));
    notify_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = jobs_run(&cfg, interval, once);
    curl_global_cleanup();
    config_free(&cfg);
    return rc;
}
