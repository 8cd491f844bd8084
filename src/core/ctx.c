/*
 * ctx: see ctx.h.
 */
#include "core/ctx.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "core/text.h"

void ctx_init(struct tg_ctx *ctx, struct arena *a, const struct service *svc,
              const char *request_id)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->arena = a;
    ctx->svc = svc;
    ctx->request_id = request_id;
    ctx->now = time(NULL);
}

static long long monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void ctx_set_budget(struct tg_ctx *ctx, long ms)
{
    ctx->deadline_ms = monotonic_ms() + ms;
}

long long ctx_budget_left_ms(const struct tg_ctx *ctx)
{
    if (ctx->deadline_ms == 0)
        return LLONG_MAX;
    return ctx->deadline_ms - monotonic_ms();
}

void ctx_progress(const struct tg_ctx *ctx)
{
    if (ctx->svc != NULL && ctx->svc->progress != NULL)
        ctx->svc->progress();
}

enum tg_err ctx_fail(struct tg_ctx *ctx, enum tg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum tg_err e = ctx_vfail(ctx, code, fmt, ap);
    va_end(ap);
    return e;
}

enum tg_err ctx_vfail(struct tg_ctx *ctx, enum tg_err code, const char *fmt, va_list ap)
{
    ctx->error.code = code;
    if (fmt == NULL) {
        ctx->error.detail = NULL;
        return code;
    }
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    /* Details quote input (Jansson's error text, field names cut to a
     * length) and may be cut mid-character here; json_string() refuses
     * invalid UTF-8, which would drop the detail from the problem answer
     * and the log line. */
    text_utf8_scrub(buf);
    ctx->error.detail = arena_strdup(ctx->arena, buf);
    return code;
}

void ctx_retry_after(struct tg_ctx *ctx, int seconds)
{
    ctx->error.retry_after = seconds > 0 ? seconds : 0;
}

void ctx_error_member(struct tg_ctx *ctx, const char *name, json_t *value)
{
    if (value == NULL)
        return;
    if (ctx->error.extra == NULL) {
        json_t *extra = json_object();
        if (extra == NULL || arena_defer(ctx->arena, arena_json_decref, extra) != 0) {
            json_decref(value);
            return;
        }
        ctx->error.extra = extra;
    }
    json_object_set_new(ctx->error.extra, name, value);
}

void ctx_clear_error(struct tg_ctx *ctx)
{
    memset(&ctx->error, 0, sizeof(ctx->error));
}

void ctx_log(const struct tg_ctx *ctx, enum log_level level, json_t *line)
{
    if (line == NULL)
        return;
    if (ctx->request_id != NULL)
        json_object_set_new(line, "request_id", json_string(ctx->request_id));
    if (ctx->customer_id != NULL)
        json_object_set_new(line, "customer_id", json_string(ctx->customer_id));
    log_json(level, line);
}

void ctx_count(struct tg_ctx *ctx, int slot, uint64_t n)
{
    if (slot < 0)
        return;
    int max = (int)(sizeof(ctx->metrics_pending) / sizeof(ctx->metrics_pending[0]));
    if (!ctx->metrics_hold || ctx->metrics_npending == max) {
        /* Nothing held, or (never in practice) more than a transaction's
         * worth: counted now rather than lost. */
        metrics_add_slot(slot, n);
        return;
    }
    ctx->metrics_pending[ctx->metrics_npending].slot = slot;
    ctx->metrics_pending[ctx->metrics_npending++].n = n;
}

void ctx_count_hold(struct tg_ctx *ctx)
{
    ctx->metrics_hold = 1;
    ctx->metrics_npending = 0;
}

void ctx_count_commit(struct tg_ctx *ctx)
{
    for (int i = 0; i < ctx->metrics_npending; i++)
        metrics_add_slot(ctx->metrics_pending[i].slot, ctx->metrics_pending[i].n);
    ctx_count_drop(ctx);
}

void ctx_count_drop(struct tg_ctx *ctx)
{
    ctx->metrics_hold = 0;
    ctx->metrics_npending = 0;
}
