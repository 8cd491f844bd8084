/*
 * jobs: see jobs.h.
 */
#include "jobs/jobs.h"

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"
#include "domain/audit.h"
#include "domain/health.h"
#include "domain/idempotency.h"
#include "domain/mail.h"
#include "domain/stripe_webhook.h"
#include "integration/stripe.h"
#include "jobs/stripe_calls.h"
#include "store/api_keys.h"
#include "store/customers.h"
#include "store/db.h"

#define BATCH 16
#define SEAL_CHECK_SECONDS 10
#define IDEMPOTENCY_PURGE_SECONDS 60 /* records are kept a day; a minute's lag is nothing */
#define IDEMPOTENCY_PURGE_BATCH 1000

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* expire_grace_periods: past_due customers whose grace is over become
 * delinquent. */
static void expire_grace_periods(struct tg_ctx *ctx)
{
    const char **ids;
    size_t n;
    if (customers_expire_grace(ctx, &ids, &n) != TG_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        ctx->customer_id = ids[i];
        ctx_log(ctx, LOG_INFO, json_pack("{s:s}", "msg", "grace period over: delinquent"));
    }
    ctx->customer_id = NULL;
}

/* wait_for_work: sleep up to ms, waking early on NOTIFY tollgate_jobs, a
 * connection that went away or a signal; true when woken early. */
static bool wait_for_work(struct db *db, long ms)
{
    PGconn *c = db_conn(db);
    if (c == NULL)
        return nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL) != 0;
    struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
    int ready = poll(&pfd, 1, (int)ms);
    if (ready > 0 && PQconsumeInput(c) == 1) {
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL)
            PQfreemem(n);
    }
    return ready != 0;
}

/* on_progress: svc.progress, called after every step that may block and
 * while idle: STOPPING=1 as soon as a signal asked for it, and the
 * watchdog's ping when due (core/notify.h). */
static void on_progress(void)
{
    if (stopping)
        notify_stopping();
    notify_watchdog();
}

/* idle: wait up to interval_ms for work, in steps that end in time for the
 * watchdog's next ping. */
static void idle(struct db *db, long interval_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        on_progress();
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = interval_ms - ((t.tv_sec - t0.tv_sec) * 1000L +
                                   (t.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left <= 0 || stopping)
            return;
        long due = notify_watchdog_due_ms();
        if (due >= 0 && due < left)
            left = due > 0 ? due : 1;
        if (wait_for_work(db, left))
            return;
    }
}

/* report: the STATUS= line after a pass. */
static void report(unsigned long long jobs, bool connected)
{
    char when[32];
    struct tm tm;
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&now, &tm));
    notify_status("%s%llu jobs done, last pass %s UTC",
                  connected ? "" : "database unreachable; ", jobs, when);
}

/* listen: subscribe this connection to tollgate_jobs (constant SQL). */
static void listen_for_work(struct db *db)
{
    PGconn *c = db_conn(db);
    if (c != NULL)
        PQclear(PQexec(c, "LISTEN tollgate_jobs"));
    on_progress(); /* a statement: see ctx_progress */
}

/* prune_rate_limits: drop the counters of rate-limit windows that are
 * over (the table stays as small as the number of keys active this hour). */
static void prune_rate_limits(struct tg_ctx *ctx)
{
    long long deleted;
    if (api_keys_prune_rate_limits(ctx, &deleted) != TG_OK)
        ctx_log(ctx, LOG_WARN, json_pack("{s:s}", "msg", "pruning rate-limit counters failed"));
}

/* seal_audit_log: seal the audit chains that changed, at most once a
 * minute. The database decides whether a seal is due, so several workers
 * on several hosts still seal once a minute; each asks every
 * SEAL_CHECK_SECONDS, which keeps seals 60 to 70 seconds apart. */
static void seal_audit_log(struct tg_ctx *ctx)
{
    static time_t next;
    if (ctx->now < next)
        return;
    next = ctx->now + SEAL_CHECK_SECONDS;
    bool sealed;
    if (audit_seal(ctx, &sealed, NULL) != TG_OK)
        ctx_log(ctx, LOG_WARN, json_pack("{s:s}", "msg", "sealing the audit log failed"));
}

/* purge_idempotency_keys: drop the Idempotency-Key records past their
 * retention and the secret answers past theirs (domain/idempotency.h),
 * at most once a minute, a batch at a time. */
static void purge_idempotency_keys(struct tg_ctx *ctx)
{
    static time_t next;
    if (ctx->now < next)
        return;
    next = ctx->now + IDEMPOTENCY_PURGE_SECONDS;
    long long n;
    if (idempotency_purge(ctx, IDEMPOTENCY_PURGE_BATCH, &n) != TG_OK)
        ctx_log(ctx, LOG_WARN, json_pack("{s:s}", "msg", "purging Idempotency-Keys failed"));
    else if (n >= IDEMPOTENCY_PURGE_BATCH)
        next = 0; /* more to go: again next pass */
}

/* pass: apply due webhook events, send due mail, expire grace periods,
 * seal the audit log, purge old Idempotency-Keys, resume due Stripe calls;
 * returns how much work it
 * claimed, and in *connected whether the database could be reached. */
/* job_done: the heartbeat of job (tollgate_worker_job_*): it ran now,
 * failing when it left an error of its own in ctx (which is cleared). */
static void job_done(struct tg_ctx *ctx, const char *job)
{
    metrics_set(MF_JOB_LAST_RUN, (int64_t)time(NULL), job, NULL);
    metrics_add(MF_JOB_RUNS, 1, job, ctx->error.code == TG_OK ? "ok" : "error", NULL, NULL);
    ctx_clear_error(ctx);
}

static size_t pass(struct service *svc, struct arena *a, bool *connected)
{
    struct tg_ctx ctx;
    ctx_init(&ctx, a, svc, "worker");
    metrics_publish_self();
    *connected = health_connect(&ctx) == TG_OK;
    if (!*connected)
        return 0;
    listen_for_work(svc->db);
    size_t events = stripe_webhook_process_due(&ctx, BATCH);
    job_done(&ctx, "webhook_events");
    /* What follows is the worker's own doing (each event set its actor). */
    if (audit_set_actor(&ctx, "worker") != TG_OK)
        return events;
    events += mail_send_due(&ctx, BATCH);
    job_done(&ctx, "emails");
    expire_grace_periods(&ctx);
    job_done(&ctx, "grace_periods");
    prune_rate_limits(&ctx);
    job_done(&ctx, "rate_limits");
    seal_audit_log(&ctx);
    job_done(&ctx, "audit_seal");
    purge_idempotency_keys(&ctx);
    job_done(&ctx, "idempotency_purge");
    events += stripe_calls_process_due(&ctx, BATCH, &stopping);
    job_done(&ctx, "stripe_calls");
    return events;
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
    struct service svc = {.cfg = cfg, .db = db, .progress = on_progress};
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
    notify_ready();
    unsigned long long done = 0;
    while (!stopping) {
        bool connected;
        size_t n = pass(&svc, a, &connected);
        arena_reset(a);
        done += n;
        report(done, connected);
        if (once)
            break;
        if (n >= BATCH)
            on_progress(); /* more may be due: straight on */
        else
            idle(db, interval_ms);
    }
    notify_stopping();
    log_msg(LOG_INFO, "worker stopped");
out:
    stripe_free(svc.stripe);
    db_free(db);
    arena_free(a);
    return rc;
}
