/*
 * tollgate-fcgi: the FastCGI server behind nginx. Loads the configuration,
 * opens the socket (or takes it from systemd socket activation) and hands
 * over to the master, which pre-forks the workers.
 */
#include <config.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcgiapp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "api/api.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "domain/email.h"
#include "fcgi/master.h"
#include "store/schema.h"

#define LISTEN_BACKLOG 1024

static void usage(FILE *to)
{
    fprintf(to, "usage: tollgate-fcgi [-c FILE] [-t]\n"
                "  -c FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
                "  -t       check the configuration and exit\n"
                "  -V       print the version and exit\n");
}

/* open_listener: the socket systemd passed us, or a new unix socket at
 * cfg->fcgi_socket (mode 0660: nginx reaches it through the group), then
 * *owned is set. */
static int open_listener(const struct config *cfg, bool *owned)
{
    *owned = false;
    int n = sd_listen_fds(1);
    if (n == 1)
        return SD_LISTEN_FDS_START;
    if (n > 1) {
        log_msg(LOG_ERROR, "socket activation passed %d sockets; expected one", n);
        return -1;
    }
    mode_t old = umask(0117);
    int fd = FCGX_OpenSocket(cfg->fcgi_socket, LISTEN_BACKLOG);
    umask(old);
    if (fd < 0)
        log_msg(LOG_ERROR, "cannot listen on %s", cfg->fcgi_socket);
    *owned = fd >= 0;
    return fd;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "c:thV")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 't': check_only = true; break;
        case 'V': puts("tollgate-fcgi " PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    log_init("tollgate-fcgi");
    /* Sessions name their program (pg_stat_activity, tollgatectl status)
     * unless the environment or the conninfo names another. */
    setenv("PGAPPNAME", "tollgate-fcgi", 0);

    char err[512];
    struct config cfg;
    struct email_blocklist bl;
    if (config_load(&cfg, config_path, err, sizeof(err)) != TG_OK) {
        log_text(LOG_ERROR, "tollgate-fcgi: %s", err);
        return 1;
    }
    if (email_blocklist_load(&bl, cfg.disposable_domains_file, err, sizeof(err)) != 0) {
        log_text(LOG_ERROR, "tollgate-fcgi: %s", err);
        config_free(&cfg);
        return 1;
    }
    if (check_only) {
        printf("configuration ok (%zu disposable domains)\n", bl.count);
        email_blocklist_free(&bl);
        config_free(&cfg);
        return 0;
    }
    if (!schema_allows_start(cfg.database, "tollgate-fcgi")) {
        email_blocklist_free(&bl);
        config_free(&cfg);
        return 1;
    }
    notify_init(); /* the master speaks to systemd; its workers never do */
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before fork: not thread-safe */
    if (FCGX_Init() != 0) {
        log_text(LOG_ERROR, "tollgate-fcgi: FCGX_Init failed");
        return 1;
    }
    static const char *route_names[METRICS_MAX_ROUTES];
    int nroutes = 0;
    while (api_routes[nroutes].method != NULL && nroutes < METRICS_MAX_ROUTES) {
        route_names[nroutes] = api_routes[nroutes].name;
        nroutes++;
    }
    metrics_set_routes(route_names, nroutes);
    if (metrics_open(cfg.metrics_path, "tollgate-fcgi") != 0)
        log_msg(LOG_WARN, "metrics: cannot map %s (%s); /metrics shows database gauges only",
                cfg.metrics_path, strerror(errno));
    metrics_fcgi_pid((int)getpid(), 1);
    bool owned;
    int fd = open_listener(&cfg, &owned);
    int rc = fd < 0 ? 1 : master_run(&cfg, &bl, config_path, fd, owned ? cfg.fcgi_socket : NULL);
    email_blocklist_free(&bl);
    config_free(&cfg);
    return rc;
}
