/*
 * worker: one pre-forked FastCGI worker. It owns one PostgreSQL connection
 * and one arena, and serves requests one at a time (libfcgi 2.4) until told
 * to stop; a request in progress is always finished first.
 */
#ifndef TOLLGATE_WORKER_H
#define TOLLGATE_WORKER_H

#include "core/config.h"
#include "domain/email.h"

/* worker_run: accept and serve requests on listen_fd until SIGTERM or
 * SIGINT (then after the request in hand) or SIGUSR1 (then once nothing is
 * queued on listen_fd). cfg and bl are borrowed for the worker's life.
 * Returns the exit status for the process (0 after a clean drain). */
int worker_run(const struct config *cfg, const struct email_blocklist *bl, int listen_fd);

#endif
