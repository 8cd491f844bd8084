/*
 * jobs: see jobs.h.
 */
#include "jobs/jobs.h"

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "domain/email_outbox.h"
#include "domain/outbox.h"
#include "domain/audit.h"
#include "domain/stripe_events.h"
#include "domain/service.h"
#include "store/db.h"

#define BATCH 16

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* expire_grace_periods: past_due customers whose grace is over become
 * delinquent. */
static void expire_grace_periods(struct http_request *req)
{
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_GRACE_EXPIRE, NULL, NULL, NULL, &r) != TG_OK)
        return;
    for (int i = 0; i < PQntuples(r); i++)
        log_json(LOG_INFO, json_pack("{s:s, s:s}", "msg", "grace period over: delinquent",
                                     "customer_id", PQgetvalue(r, i, 0)));
}

/* wait_for_work: sleep up to ms, waking early on NOTIFY tollgate_jobs. */
static void wait_for_work(struct db *db, long ms)
{
    PGconn *c = db_conn(db);
    if (c == NULL) {
        nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
        return;
    }
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    if (poll(&pfd, 1, (int)ms) > 0 && PQconsumeInput(c) == 1) {
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL)
            PQfreemem(n);
    }
}

/* listen: subscribe this connection to tollgate_jobs (constant SQL). */
static void listen_for_work(struct db *db)
{
    PGconn *c = db_conn(db);
    if (c != NULL)
        PQclear(PQexec(c, "LISTEN tollgate_jobs"));
}

/* prune_rate_limits: drop the counters of rate-limit windows that are
 * over (the table stays as small as the number of keys active this hour). */
static void prune_rate_limits(struct http_request *req)
{
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_RATE_LIMITS_PRUNE, NULL, NULL, NULL, &r) != TG_OK)
        log_json(LOG_WARN, json_pack("{s:s}", "msg", "pruning rate-limit counters failed"));
}

/* pass: apply due webhook events, resume due Stripe calls, expire grace
 * periods; returns how much work it claimed. */
static size_t pass(struct service *svc, struct arena *a)
{
    struct http_request req;
    http_request_init(&req, a, svc);
    req.request_id = "worker";
    struct outbox_call *calls;
    size_t n = 0;
    if (db_connect(svc->db) != TG_OK)
        return 0;
    listen_for_work(svc->db);
    size_t events = stripe_events_process_due(&req, BATCH);
    /* What follows is the worker's own doing (each event set its actor). */
    if (audit_set_actor(&req, "worker") != TG_OK)
        return events;
    events += email_outbox_process_due(&req, BATCH);
    expire_grace_periods(&req);
    prune_rate_limits(&req);
    if (outbox_claim(&req, BATCH, &calls, &n) != TG_OK)
        return events;
    for (size_t i = 0; i < n && !stopping; i++) {
        req.problem_detail = NULL;
        enum tg_err e = outbox_resume(&req, &calls[i]);
        log_json(e == TG_OK ? LOG_INFO : LOG_WARN,
                 json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:s?}", "msg", "stripe call resumed",
                           "call", (json_int_t)calls[i].id, "operation", calls[i].operation,
                           "idempotency_key", calls[i].key, "attempt", calls[i].attempts + 1,
                           "result", tg_strerror(e), "detail", req.problem_detail));
    }
    return n + events;
}

int jobs_run(const struct config *cfg, long interval_ms, int once)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct arena *a = arena_new(16384);
    struct db *db = db_new(cfg->database, cfg->statement_timeout_ms);
    struct service svc = {.cfg = cfg, .db = db};
    int rc = 0;
    if (a == NULL || db == NULL) {
        rc = 1;
        goto out;
    }
    if (stripe_open(cfg, &svc.stripe) != 0) {
        rc = 1;
        goto out;
    }
    log_msg(LOG_INFO, "worker started");
    while (!stopping) {
        size_t n = pass(&svc, a);
        arena_reset(a);
        if (once)
            break;
        if (n >= BATCH)
            continue; /* more may be due */
        wait_for_work(db, interval_ms);
    }
    log_msg(LOG_INFO, "worker stopped");
out:
    stripe_free(svc.stripe);
    db_free(db);
    arena_free(a);
    return rc;
}
