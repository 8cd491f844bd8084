/*
 * worker: the FastCGI accept loop; see worker.h. The worker accepts its
 * connections itself (accept() on the shared listening socket, which carries
 * a short SO_RCVTIMEO so that a blocked accept wakes up to look at the stop
 * flags) and hands each one to libfcgi through FCGX_Request.ipcFd, so a
 * signal never interrupts libfcgi: the handlers only set a flag and are
 * installed with SA_RESTART, and a request being read, served or written is
 * always finished. The bounds are time, not signals: a new connection has
 * 2 s to send its first bytes (as in libfcgi), a read waits 10 s at most.
 *
 * Stopping: SIGTERM or SIGINT stop after the request in progress (a reload
 * replaces the worker, or systemd holds the socket and the next master
 * takes the connections still queued on it). SIGUSR1, sent by a master that
 * owns its socket and has unlinked its path, drains: the worker goes on
 * accepting until the queue is empty, so no connection nginx already made
 * is reset.
 *
 * libfcgi's own accept (OS_Accept) is not used: interrupted while it waits
 * for an accepted connection's first bytes, it closes that connection, and
 * with FCGX_ShutdownPending() it polls a closed descriptor forever
 * (t/integration/test_process: sighup_replaces_a_worker_holding_an_idle_
 * connection).
 */
#include "fcgi/worker.h"

#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/arena.h"
#include "core/log.h"
#include "integration/stripe.h"
#include "core/metrics.h"
#include "http/problem.h"
#include "store/db.h"

#define ARENA_CHUNK 16384

#define ACCEPT_WAKE_MS 200 /* a blocked accept looks at the stop flags this often */
#define FIRST_BYTES_MS 2000
#define READ_TIMEOUT_S 10

static volatile sig_atomic_t stopping; /* SIGTERM, SIGINT: after this request */
static volatile sig_atomic_t draining; /* SIGUSR1: once the queue is empty */

static void on_stop(int sig)
{
    if (sig == SIGUSR1)
        draining = 1;
    else
        stopping = 1;
}

static void install_signals(int listen_fd)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART; /* reads and writes of a request go on */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* the master reloads and replaces us */
    /* accept() on a socket with a receive timeout is never restarted and
     * returns EAGAIN after the timeout: the loop sees the flags in time. */
    struct timeval wake = {.tv_sec = 0, .tv_usec = ACCEPT_WAKE_MS * 1000};
    if (setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof(wake)) != 0)
        log_msg(LOG_WARN, "worker: SO_RCVTIMEO on the socket: %s", strerror(errno));
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

/* queue_empty: true when no connection waits on listen_fd right now. */
static bool queue_empty(int listen_fd)
{
    struct pollfd p = {.fd = listen_fd, .events = POLLIN};
    return poll(&p, 1, 0) <= 0 || (p.revents & POLLIN) == 0;
}

/* first_bytes: wait up to FIRST_BYTES_MS for a new connection to send
 * something (libfcgi's own accept waits as long); false if it did not. A
 * signal does not cut the wait short: the connection is served. */
static bool first_bytes(int fd)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (waited >= FIRST_BYTES_MS)
            return false;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, (int)(FIRST_BYTES_MS - waited));
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

/* accept_next: the next connection on listen_fd that sent its first bytes
 * (a new descriptor whose reads time out after READ_TIMEOUT_S), or -1 when
 * the worker is to stop: at once after SIGTERM, once nothing is queued
 * after SIGUSR1. */
static int accept_next(int listen_fd)
{
    for (;;) {
        if (stopping || (draining && queue_empty(listen_fd)))
            return -1;
        int fd = accept(listen_fd, NULL, NULL);
        if (fd >= 0) {
            /* A peer that stalls mid-request must not hold us forever:
             * reads are restarted after signals (SA_RESTART). */
            struct timeval rt = {.tv_sec = READ_TIMEOUT_S};
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
            if (first_bytes(fd))
                return fd;
            close(fd);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            continue;
        /* e.g. out of descriptors: do not spin on it */
        log_msg(LOG_WARN, "worker: accept: %s", strerror(errno));
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
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
    if (line != NULL && req->resp.problem != TG_OK)
        json_object_set_new(line, "problem",
                            json_pack("s+", PROBLEM_BASE, problem_info(req->resp.problem)->slug));
    if (line != NULL && req->resp.status >= 400 && req->ctx->error.detail != NULL)
        json_object_set_new(line, "detail", json_string(req->ctx->error.detail));
    ctx_log(req->ctx, http_log_level(&req->resp), line);
}

/* serve: one accepted request, answered and finished; everything it
 * allocated is released. */
static void serve(FCGX_Request *fr, struct arena *arena, struct service *svc)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct tg_ctx ctx;
    struct http_request req;
    ctx_init(&ctx, arena, svc, NULL);
    ctx_set_budget(&ctx, svc->cfg->request_timeout_ms); /* below nginx's read timeout */
    http_request_init(&req, &ctx);
    api_serve(&req, fr->envp, (struct http_io){.ctx = fr, .read = fcgx_read});
    respond(fr, &req.resp);
    FCGX_Finish_r(fr);
    long long us = elapsed_us(&t0);
    metrics_observe(req.route_index, req.resp.status, us);
    log_request(&req, us);
    arena_reset(arena);
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
    for (;;) {
        if (fr.ipcFd < 0) { /* else nginx kept the connection (FCGI_KEEP_CONN) */
            fr.ipcFd = accept_next(listen_fd);
            if (fr.ipcFd < 0)
                break;
        } else if (stopping || draining) {
            break;
        }
        /* FCGX_Accept_r reads the request from ipcFd; keepConnection
         * stops the FCGX_Finish_r it starts with from closing it (it is
         * then set from the request's FCGI_KEEP_CONN flag). If the
         * connection is not FastCGI, libfcgi closes it and its own accept
         * gives up on the socket's receive timeout. */
        fr.keepConnection = 1;
        if (FCGX_Accept_r(&fr) >= 0)
            serve(&fr, arena, &svc);
    }
    FCGX_Free(&fr, 1);
    stripe_free(svc.stripe);
    db_free(db);
    arena_free(arena);
    return 0;
}
