/*
 * outbox: see outbox.h.
 */
#include "domain/outbox.h"

const char *outbox_step_key(struct tg_ctx *ctx, const struct stripe_request *call,
                            const char *step)
{
    return arena_printf(ctx->arena, "%s:%s", call->key, step);
}

/* Stripe keeps keys 24 hours; an hour of margin for clocks and leases. */
#define KEY_FORGOTTEN_AFTER (23 * 3600)

bool outbox_key_forgotten(const struct tg_ctx *ctx, const struct stripe_request *call)
{
    return call->created_at > 0 && (long long)ctx->now - call->created_at > KEY_FORGOTTEN_AFTER;
}

enum tg_err outbox_fail(struct tg_ctx *ctx, const struct stripe_result *r, const char *param)
{
    switch (r->outcome) {
    case STRIPE_CARD_ERROR:
        if (r->error_code != NULL)
            ctx_error_member(ctx, "code", json_string(r->error_code));
        if (r->decline_code != NULL)
            ctx_error_member(ctx, "decline_code", json_string(r->decline_code));
        return ctx_fail(ctx, TG_EPAYMENTFAILED, "%s",
                        r->message != NULL ? r->message : "the payment was declined");
    case STRIPE_INVALID:
        return ctx_fail(ctx, TG_EINVALID, "%s: %s", param,
                        r->message != NULL ? r->message : "refused by Stripe");
    case STRIPE_UNREACHABLE:
    case STRIPE_OK:
        break;
    }
    if (ctx->svc->stripe == NULL)
        return ctx_fail(ctx, TG_EUPSTREAM, "Stripe is not configured on this server");
    return ctx_fail(ctx, TG_EUPSTREAM, "Stripe could not be reached; retry shortly");
}

enum tg_err outbox_finish(struct tg_ctx *ctx, const struct stripe_request *call,
                          const char *status, json_t *result)
{
    return stripe_requests_finish(ctx, call->id, status, result);
}

enum tg_err outbox_finish_failed(struct tg_ctx *ctx, const struct stripe_request *call,
                                 enum tg_err err, json_t *result)
{
    struct tg_error kept = ctx->error;
    enum tg_err e = outbox_finish(ctx, call, err == TG_EUPSTREAM ? "pending" : "failed", result);
    if (e != TG_OK)
        return e;
    ctx->error = kept;
    return err;
}
