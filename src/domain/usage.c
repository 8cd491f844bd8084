/*
 * usage: see usage.h.
 */
#include "domain/usage.h"

#include <string.h>

#include "core/config.h"
#include "core/hash.h"
#include "core/metrics.h"
#include "domain/apikey.h"
#include "domain/charge.h"

#define IN_PROGRESS_RETRY_SECONDS 2

/* count: one usage request of outcome (tollgate_usage_events_total). */
static void count(struct tg_ctx *ctx, const char *outcome)
{
    ctx_count(ctx, metrics_slot(MF_USAGE_EVENTS, outcome, NULL, NULL, NULL), 1);
}

enum tg_err usage_record_fix(struct tg_ctx *ctx, const char *api_key,
                             const char *idempotency_key, const void *request,
                             size_t request_len, const char *fix_id, const char *metadata,
                             struct usage_result *out)
{
    uint8_t key_hash[HASH_SHA256_LEN], request_hash[HASH_SHA256_LEN];
    struct usage_record rec;
    memset(out, 0, sizeof(*out));
    enum tg_err e = apikey_credential(ctx, api_key, key_hash);
    if (e != TG_OK)
        return e;
    if (hash_sha256(request, request_len, request_hash) != 0)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    e = usage_events_record(ctx, key_hash, ctx->svc->cfg->rate_limit_per_hour,
                                        idempotency_key, request_hash, fix_id, metadata, &rec);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EUNAUTHORIZED, "unknown or revoked API key");
    if (e != TG_OK)
        return e;
    out->auth = rec.key;
    ctx->customer_id = rec.key.customer_id;
    ctx->actor = arena_printf(ctx->arena, "api_key:%s", rec.key.key_prefix);

    switch (rec.decision) {
    case USAGE_CREDIT:
        count(ctx, "credit");
        ctx_count(ctx, metrics_slot(MF_CREDITS_CONSUMED, NULL, NULL, NULL, NULL), 1);
        out->event = rec.event;
        return TG_OK;
    case USAGE_UNBILLED:
        count(ctx, "unbilled");
        out->event = rec.event;
        return TG_OK;
    case USAGE_REPLAY:
        count(ctx, "replayed");
        out->event = rec.event;
        out->event.replayed = true;
        return TG_OK;
    case USAGE_CHARGE:
        e = charge_run(ctx, rec.event.charge_id, &rec.call, &out->event);
        if (e == TG_EPAYMENTFAILED)
            count(ctx, "refused"); /* declined before delivery: nothing recorded */
        else if (e == TG_OK)
            count(ctx, "charged"); /* charged, or delivered while Stripe settles it */
        return e;
    case USAGE_KEY_REUSED:
        return ctx_fail(ctx, TG_EIDEMPOTENCYREUSE, "this Idempotency-Key was first used with "
                                                   "another request body");
    case USAGE_IN_PROGRESS:
        ctx_retry_after(ctx, IN_PROGRESS_RETRY_SECONDS);
        return ctx_fail(ctx, TG_ECONFLICT, "the first request with this Idempotency-Key is "
                                           "still being charged; retry in a few seconds");
    case USAGE_DELINQUENT:
        count(ctx, "refused");
        return ctx_fail(ctx, TG_EINSUFFICIENT, "no credits left, and payment is overdue: "
                                               "settle the open invoice to be charged again");
    case USAGE_NO_CREDIT:
        count(ctx, "refused");
        return ctx_fail(ctx, TG_EINSUFFICIENT, "no credits left and no payment method on file: "
                                               "add one to keep deploying fixes");
    case USAGE_RATE_LIMITED:
        return apikey_refuse_limit(ctx, &rec.key);
    }
    return ctx_fail(ctx, TG_EINTERNAL, NULL);
}
