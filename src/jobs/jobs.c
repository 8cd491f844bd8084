/*
 * jobs: see jobs.h.
 */
#include "jobs/jobs.h"

#include <signal.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "domain/outbox.h"
#include "domain/service.h"
#include "store/db.h"

#define BATCH 16

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

/* pass: claim due calls and resume each; returns how many were claimed. */
static size_t pass(struct service *svc, struct arena *a)
{
    struct http_request req;
    http_request_init(&req, a, svc);
    req.request_id = "worker";
    struct outbox_call *calls;
    size_t n = 0;
    if (db_connect(svc->db) != TG_OK || outbox_claim(&req, BATCH, &calls, &n) != TG_OK)
        return 0;
    for (size_t i = 0; i < n && !stopping; i++) {
        req.problem_detail = NULL;
        enum tg_err e = outbox_resume(&req, &calls[i]);
        log_json(e == TG_OK ? LOG_INFO : LOG_WARN,
                 json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:s?}", "msg", "stripe call resumed",
                           "call", (json_int_t)calls[i].id, "operation", calls[i].operation,
                           "idempotency_key", calls[i].key, "attempt", calls[i].attempts + 1,
                           "result", tg_strerror(e), "detail", req.problem_detail));
    }
    return n;
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
    if (cfg->stripe_secret_key != NULL) {
        struct stripe_config sc = {.api_base = cfg->stripe_api_base,
                                   .secret_key = cfg->stripe_secret_key,
                                   .connect_timeout_ms = cfg->stripe_connect_timeout_ms,
                                   .timeout_ms = cfg->stripe_timeout_ms,
                                   .max_retries = (int)cfg->stripe_max_retries};
        if ((svc.stripe = stripe_new(&sc)) == NULL) {
            rc = 1;
            goto out;
        }
    }
    log_msg(LOG_INFO, "worker started");
    while (!stopping) {
        size_t n = pass(&svc, a);
        arena_reset(a);
        if (once)
            break;
        if (n == BATCH)
            continue; /* more may be due */
        struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    log_msg(LOG_INFO, "worker stopped");
out:
    stripe_free(svc.stripe);
    db_free(db);
    arena_free(a);
    return rc;
}
