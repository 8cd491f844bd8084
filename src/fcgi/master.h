/*
 * master: the process that owns the FastCGI socket and keeps N workers
 * alive. SIGTERM/SIGINT drain (workers finish their request and, when the
 * socket is ours rather than systemd's, every connection queued on it, then
 * exit; stragglers are killed after a deadline); SIGHUP re-reads the
 * configuration and replaces every worker, new ones first; a worker that
 * dies is restarted, with a pause when workers die right after starting.
 * Under systemd (Type=notify) it reports READY=1 once the workers are
 * started, RELOADING=1 then READY=1 around a reload, STOPPING=1 before a
 * drain, a STATUS= line and watchdog pings (core/notify.h).
 */
#ifndef TOLLGATE_MASTER_H
#define TOLLGATE_MASTER_H

#include "core/config.h"
#include "domain/email.h"

/* master_run: start the workers on listen_fd and run until told to stop.
 * cfg and bl are owned by the master and replaced on reload; config_path
 * (NULL = default) is re-read on SIGHUP. Call notify_init() first for the
 * systemd notifications. socket_path is the path of a socket we made
 * (unlinked when the drain starts), NULL for one systemd passed. Returns the process exit status (0 after a drain). */
int master_run(struct config *cfg, struct email_blocklist *bl, const char *config_path,
               int listen_fd, const char *socket_path);

#endif
