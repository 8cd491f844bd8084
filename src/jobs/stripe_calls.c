/*
 * stripe_calls: see stripe_calls.h.
 */
#include "jobs/stripe_calls.h"

#include <string.h>

#include "core/config.h"
#include "domain/charge.h"
#include "domain/payment.h"
#include "domain/subscription.h"

static enum tg_err resume_payment_method(struct tg_ctx *ctx, const struct stripe_request *call)
{
    return payment_method_run(ctx, call, NULL);
}

static enum tg_err resume_subscription(struct tg_ctx *ctx, const struct stripe_request *call)
{
    return subscription_run(ctx, call, NULL);
}

/* The operations of stripe_requests.operation (its CHECK lists the same
 * names) and the code that finishes each. */
static const struct {
    const char *operation;
    enum tg_err (*resume)(struct tg_ctx *ctx, const struct stripe_request *call);
} operations[] = {
    {"attach_payment_method", resume_payment_method},
    {"charge", charge_resume},
    {"create_subscription", resume_subscription},
    {"cancel_subscription", resume_subscription},
};

enum tg_err stripe_calls_resume(struct tg_ctx *ctx, const struct stripe_request *call)
{
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++)
        if (strcmp(operations[i].operation, call->operation) == 0)
            return operations[i].resume(ctx, call);
    return ctx_fail(ctx, TG_EINTERNAL, "unknown operation %s", call->operation);
}

size_t stripe_calls_process_due(struct tg_ctx *ctx, int limit, volatile const sig_atomic_t *stop)
{
    struct stripe_request *calls;
    size_t n = 0;
    if (stripe_requests_claim(ctx, limit, ctx->svc->cfg->stripe_call_grace_seconds, &calls, &n) !=
        TG_OK)
        return 0;
    for (size_t i = 0; i < n && !*stop; i++) {
        ctx_clear_error(ctx);
        ctx->customer_id = calls[i].customer_id;
        enum tg_err e = stripe_calls_resume(ctx, &calls[i]);
        ctx_log(ctx, e == TG_OK ? LOG_INFO : LOG_WARN,
                json_pack("{s:s, s:I, s:s, s:s, s:i, s:s, s:s?}", "msg", "stripe call resumed",
                          "call", (json_int_t)calls[i].id, "operation", calls[i].operation,
                          "idempotency_key", calls[i].key, "attempt", calls[i].attempts + 1,
                          "result", tg_strerror(e), "detail",
                          e != TG_OK ? ctx->error.detail : NULL));
    }
    ctx->customer_id = NULL;
    return n;
}
