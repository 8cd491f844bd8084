/*
 * worker: the FastCGI accept loop; see worker.h. Shutdown: SIGTERM sets a
 * flag and closes this process's copy of the listening socket (close() is
 * async-signal-safe; the master and the other workers keep theirs). With
 * FCGI_FAIL_ACCEPT_ON_INTR and no SA_RESTART, a worker blocked in accept()
 * returns at once; one waiting for an accepted connection's first bytes
 * gives it up and its next accept() fails on the closed socket; one busy
 * with a request finishes it and then leaves the loop.
 *
 * FCGX_ShutdownPending() is not used: libfcgi 2.4.2's OS_Accept, once the
 * flag is set, skips accept() but goes on testing the descriptor of the
 * connection it closed before, polling and closing it forever at full CPU
 * (t/integration/test_process: sighup_replaces_a_worker_holding_an_idle_
 * connection).
 */
#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/arena.h"
#include "core/log.h"
#include "integration/stripe.h"
#include "core/metrics.h"
#include "store/db.h"

#define ARENA_CHUNK 16384

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t listen_fd_open = -1; /* closed by on_stop */

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
    int fd = listen_fd_open;
    listen_fd_open = -1;
    if (fd >= 0)
        close(fd);
}

static void install_signals(int listen_fd)
{
    listen_fd_open = listen_fd;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: accept() must return */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the master reloads and replaces us */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

static int fcgx_read(void *ctx, char *buf, int len)
{
    return FCGX_GetStr(buf, len, ((FCGX_Request *)ctx)->in);
}

/* respond: the CGI header block, then the body. The headers are written
 * into one buffer and handed to libfcgi once (its printf costs more than
 * the rest of the answer). */
static void respond(FCGX_Request *fr, const struct http_response *resp)
{
    char head[2048];
    size_t n = 0;
    int w = snprintf(head, sizeof(head), "Status: %d %s\r\nContent-Type: %s\r\n", resp->status,
                     http_status_text(resp->status), resp->content_type);
    n = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < resp->nheaders && n < sizeof(head); i++) {
        w = snprintf(head + n, sizeof(head) - n, "%s: %s\r\n", resp->headers[i].name,
                     resp->headers[i].value);
        n += w > 0 ? (size_t)w : 0;
    }
    if (n + 2 >= sizeof(head)) { /* headers of that size are a bug: answer plainly */
        static const char fallback[] = "Status: 500 Internal Server Error\r\n"
                                       "Content-Type: text/plain\r\n\r\n";
        FCGX_PutStr(fallback, (int)sizeof(fallback) - 1, fr->out);
        return;
    }
    memcpy(head + n, "\r\n", 2);
    FCGX_PutStr(head, (int)(n + 2), fr->out);
    FCGX_PutStr(resp->body, (int)resp->body_len, fr->out);
}

static long long elapsed_us(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long long)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
}

static void log_request(const struct http_request *req, long long us)
{
    json_t *line = json_pack("{s:s, s:s, s:s, s:i, s:I, s:s}", "msg", "request", "method",
                             req->method, "path", req->path, "status", req->resp.status,
                             "duration_us", (json_int_t)us, "route", req->route_name);
    if (line != NULL && req->auth.ok)
        json_object_set_new(line, "api_key_prefix", json_string(req->auth.key_prefix));
    if (line != NULL && req->resp.status >= 400 && req->ctx->error.detail != NULL)
        json_object_set_new(line, "detail", json_string(req->ctx->error.detail));
    ctx_log(req->ctx, req->resp.status >= 500 ? LOG_ERROR : LOG_INFO, line);
}

int worker_run(const struct config *cfg, const struct email_blocklist *bl, int listen_fd)
{
    install_signals(listen_fd);
    struct arena *arena = arena_new(ARENA_CHUNK);
    struct db *db = db_new(cfg->database, cfg->statement_timeout_ms);
    if (arena == NULL || db == NULL) {
        log_msg(LOG_ERROR, "worker: out of memory at start");
        arena_free(arena);
        db_free(db);
        return 1;
    }
    struct service svc = {.cfg = cfg, .db = db, .blocklist = bl};
    struct tg_ctx start;
    ctx_init(&start, arena, &svc, "worker-start");
    if (db_connect(&start) != TG_OK)
        log_msg(LOG_WARN, "worker: database not reachable yet; will retry per request");
    arena_reset(arena);
    if (stripe_open(cfg, &svc.stripe) != 0)
        log_msg(LOG_ERROR, "worker: cannot start the Stripe client");

    FCGX_Request fr;
    if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
        log_msg(LOG_ERROR, "worker: FCGX_InitRequest failed");
        arena_free(arena);
        db_free(db);
        return 1;
    }
    while (!stopping) {
        if (FCGX_Accept_r(&fr) < 0) {
            /* Interrupted by a signal (check the flag), or accept failed
             * (e.g. out of descriptors): do not spin on it. */
            if (!stopping)
                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
            continue;
        }
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct tg_ctx ctx;
        struct http_request req;
        ctx_init(&ctx, arena, &svc, NULL);
        ctx_set_budget(&ctx, cfg->request_timeout_ms); /* below nginx's read timeout */
        http_request_init(&req, &ctx);
        api_serve(&req, fr.envp, (struct http_io){.ctx = &fr, .read = fcgx_read});
        respond(&fr, &req.resp);
        FCGX_Finish_r(&fr);
        long long us = elapsed_us(&t0);
        metrics_observe(req.route_index, req.resp.status, us);
        log_request(&req, us);
        arena_reset(arena);
    }
    FCGX_Free(&fr, 1);
    stripe_free(svc.stripe);
    db_free(db);
    arena_free(arena);
    return 0;
}
