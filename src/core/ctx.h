/*
 * ctx: the context every domain and store function takes -- whose work it
 * is (request id, customer, audit actor), what it may use (the arena, the
 * process's services), the clock, and the failure, if any, as a value.
 * It knows nothing of HTTP: a FastCGI request, a tollgate-worker job and a
 * tollgatectl command each make one, and only the transport turns
 * ctx->error into a status and a problem answer.
 *
 *     struct tg_ctx ctx;
 *     ctx_init(&ctx, arena, &svc, "job:stripe_event");
 *     if (usage_record_fix(&ctx, ...) != TG_OK)
 *         log or map ctx.error
 */
#ifndef TOLLGATE_CTX_H
#define TOLLGATE_CTX_H

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/tgerr.h"

struct config;
struct db;
struct stripe;
struct email_blocklist;

/* struct service: what one process shares -- configuration, its database
 * connection, the Stripe client and loaded data files. Built once per
 * process (a FastCGI worker, tollgate-worker, tollgatectl) and borrowed by
 * every context. */
struct service {
    const struct config *cfg;
    struct db *db;
    struct stripe *stripe;                   /* NULL when Stripe is not configured */
    const struct email_blocklist *blocklist; /* NULL: no disposable-domain list */
    void (*progress)(void); /* NULL, or called after each step that may block (a statement,
                             * a Stripe attempt, a mail): tollgate-worker's watchdog */
};

struct tg_ctx {
    struct arena *arena;       /* owns everything the work allocates */
    const struct service *svc; /* borrowed */
    const char *request_id;    /* in every log line; "worker", "ctl:<command>", or the
                                * HTTP request's id */
    const char *customer_id;   /* the customer the work is for, once known; logged */
    const char *actor;         /* audit actor, once set (domain/audit.h) */
    time_t now;                /* the clock of this unit of work, unix seconds */
    long long deadline_ms;     /* CLOCK_MONOTONIC ms by which the work must be answered
                                * (ctx_set_budget); 0: none (jobs, tollgatectl) */
    struct tg_error error;     /* the last failure; code TG_OK when none */
    const char *idempotency_ref; /* NULL, or while a request with an Idempotency-Key
                                  * runs, its record's id: Stripe calls begun for it
                                  * take keys derived from it, so that its retry
                                  * repeats none (store/stripe_requests.h) */
    /* Counts of the work (ctx_count) while a transaction is open: added to
     * the shared counters at its COMMIT, dropped at its ROLLBACK, so that
     * /metrics counts only what was committed. */
    int metrics_hold;
    int metrics_npending;
    struct {
        int slot;
        uint64_t n;
    } metrics_pending[8];
};

/* ctx_init: a context for one unit of work over arena a (borrowed) and
 * svc (borrowed); request_id is borrowed (static or arena-owned). */
void ctx_init(struct tg_ctx *ctx, struct arena *a, const struct service *svc,
              const char *request_id);

/* ctx_fail: record a failure of code with a printf-style detail for the
 * client (never a secret), and return code, so a function can write
 * `return ctx_fail(ctx, TG_EINVALID, "email: not an address");`. The
 * detail is cut to 511 bytes and made valid UTF-8 (text_utf8_scrub). fmt
 * NULL records no detail. An earlier retry_after and extra members are
 * kept. */
enum tg_err ctx_fail(struct tg_ctx *ctx, enum tg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ctx_vfail: ctx_fail with the arguments in ap (for wrappers). */
enum tg_err ctx_vfail(struct tg_ctx *ctx, enum tg_err code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ctx_retry_after: tell the client to come back in seconds (> 0). */
void ctx_retry_after(struct tg_ctx *ctx, int seconds);

/* ctx_error_member: add extension member name = value (stolen) to the
 * failure, e.g. Stripe's decline_code (RFC 9457 section 3.2). Ignored (and
 * value released) when out of memory or value is NULL. */
void ctx_error_member(struct tg_ctx *ctx, const char *name, json_t *value);

/* ctx_clear_error: forget the recorded failure (a step that may fail
 * without failing the whole). */
void ctx_clear_error(struct tg_ctx *ctx);

/* ctx_set_budget: the work must be answered within ms milliseconds from
 * now (the request budget, config request_timeout_ms); steps that wait on
 * others (Stripe) cut their time-outs and retries to what is left. */
void ctx_set_budget(struct tg_ctx *ctx, long ms);

/* ctx_budget_left_ms: milliseconds left of the budget (0 or less when it
 * is spent), or LLONG_MAX when the work has none. */
long long ctx_budget_left_ms(const struct tg_ctx *ctx);

/* ctx_progress: a step that may block (bounded by its own time-out) is
 * over: call svc->progress, if any, so a watchdog sees the work moving on
 * however long the whole takes. */
void ctx_progress(const struct tg_ctx *ctx);

/* ctx_count: add n to the shared counter series slot (metrics_slot) for
 * this work: at once, or, while a transaction is open (ctx_count_hold),
 * at its commit. */
void ctx_count(struct tg_ctx *ctx, int slot, uint64_t n);

/* ctx_count_hold: a transaction began: hold the counts from here on.
 * ctx_count_commit: it committed: add them. ctx_count_drop: it rolled
 * back: forget them. */
void ctx_count_hold(struct tg_ctx *ctx);
void ctx_count_commit(struct tg_ctx *ctx);
void ctx_count_drop(struct tg_ctx *ctx);

/* ctx_log: log line (stolen) with the context's request_id and, once
 * known, customer_id added. */
void ctx_log(const struct tg_ctx *ctx, enum log_level level, json_t *line);

#endif
