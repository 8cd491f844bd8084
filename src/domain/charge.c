/*
 * charge: see charge.h. The one Stripe call: POST /v1/payment_intents with
 * confirm=true and off_session=true, Idempotency-Key = the recorded key
 * (tgch_<uuid>).
 */
#include "domain/charge.h"

#include <string.h>

#include "core/config.h"
#include "core/failpoint.h"
#include "domain/outbox.h"
#include "integration/stripe.h"
#include "store/charges.h"

/* judge_intent: what a PaymentIntent's state means for the charge. */
static struct charge_settlement judge_intent(json_t *pi)
{
    struct charge_settlement s = {"pending", NULL, NULL, NULL};
    s.payment_intent = json_string_value(json_object_get(pi, "id"));
    const char *status = json_string_value(json_object_get(pi, "status"));
    if (status != NULL && strcmp(status, "succeeded") == 0) {
        s.outcome = "succeeded";
    } else if (status == NULL || strcmp(status, "processing") != 0) {
        /* requires_action, requires_payment_method, canceled: not paid. */
        json_t *last = json_object_get(pi, "last_payment_error");
        s.outcome = "failed";
        s.failure_code = json_string_value(json_object_get(last, "code"));
        s.decline_code = json_string_value(json_object_get(last, "decline_code"));
        if (s.failure_code == NULL)
            s.failure_code = status != NULL ? status : "unknown";
    }
    return s;
}

/* judge: what Stripe's answer to the create call means for the charge. */
static struct charge_settlement judge(enum tg_err sent, const struct stripe_result *r)
{
    struct charge_settlement s = {"pending", NULL, NULL, NULL};
    if (sent != TG_OK || r->outcome == STRIPE_UNREACHABLE)
        return s;
    if (r->outcome == STRIPE_OK)
        return judge_intent(r->body);
    json_t *pi = json_object_get(json_object_get(r->body, "error"), "payment_intent");
    s.payment_intent = json_string_value(json_object_get(pi, "id"));
    s.outcome = "failed";
    s.failure_code = r->error_code != NULL ? r->error_code : "invalid_request";
    s.decline_code = r->decline_code;
    return s;
}

/* send: phase 2, the PaymentIntent. */
static enum tg_err send(struct tg_ctx *ctx, long long charge_id, const struct stripe_request *call,
                        struct stripe_result *r)
{
    json_t *p = call->params;
    const struct stripe_param params[] = {
        {"amount", arena_printf(ctx->arena, "%lld",
                                (long long)json_integer_value(json_object_get(p, "amount")))},
        {"currency", json_string_value(json_object_get(p, "currency"))},
        {"customer", json_string_value(json_object_get(p, "customer"))},
        {"payment_method", json_string_value(json_object_get(p, "payment_method"))},
        {"off_session", "true"},
        {"confirm", "true"},
        {"description", json_string_value(json_object_get(p, "description"))},
        {"metadata[tollgate_charge_id]", arena_printf(ctx->arena, "%lld", charge_id)},
    };
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (params[i].value == NULL)
            return ctx_fail(ctx, TG_EINTERNAL, "charge %lld: recorded call lacks %s", charge_id,
                            params[i].key);
    return stripe_call(ctx, "POST", "/v1/payment_intents", params,
                       sizeof(params) / sizeof(params[0]), call->key, r);
}

/* settle: phase 3; *found false when the usage event was taken back. */
static enum tg_err settle(struct tg_ctx *ctx, long long charge_id,
                          const struct charge_settlement *s, json_t *body, bool *found,
                          struct usage_event *out)
{
    struct usage_event ignored;
    return charges_settle(ctx, charge_id, s, body, ctx->svc->cfg->grace_period_days, found,
                          out != NULL ? out : &ignored);
}

enum tg_err charge_run(struct tg_ctx *ctx, long long charge_id, const struct stripe_request *call,
                       struct usage_event *out)
{
    struct stripe_result r;
    bool found = false;
    failpoint("charge.before_send");
    enum tg_err sent = send(ctx, charge_id, call, &r);
    failpoint("charge.after_send");
    if (sent == TG_ENOMEM || sent == TG_EINTERNAL)
        return sent;
    struct charge_settlement s = judge(sent, &r);
    enum tg_err e = settle(ctx, charge_id, &s, r.body, &found, out);
    if (e != TG_OK)
        return e;
    if (strcmp(s.outcome, "failed") == 0 && !found) {
        if (r.outcome == STRIPE_OK) /* e.g. left requiring authentication */
            r.outcome = STRIPE_CARD_ERROR;
        if (r.error_code == NULL)
            r.error_code = s.failure_code;
        return outbox_fail(ctx, &r, "payment_method");
    }
    return TG_OK;
}

enum tg_err charge_resume(struct tg_ctx *ctx, const struct stripe_request *call)
{
    long long charge_id;
    enum tg_err e = charges_by_call(ctx, call->id, &charge_id);
    if (e == TG_ENOTFOUND)
        return ctx_fail(ctx, TG_EINTERNAL, "call %lld has no charge", call->id);
    if (e == TG_OK)
        e = charge_run(ctx, charge_id, call, NULL);
    return e == TG_EPAYMENTFAILED ? TG_OK : e; /* a decline is a final state */
}

enum tg_err charge_apply_intent(struct tg_ctx *ctx, long long charge_id, json_t *intent)
{
    bool found;
    struct charge_settlement s = judge_intent(intent);
    return settle(ctx, charge_id, &s, intent, &found, NULL);
}

enum tg_err charge_retry_owed(struct tg_ctx *ctx, const char *customer_id)
{
    long long *ids;
    size_t n;
    enum tg_err e = charges_owed_retry(ctx, customer_id, &ids, &n);
    for (size_t i = 0; e == TG_OK && i < n; i++) {
        struct stripe_request call;
        e = charges_call(ctx, ids[i], &call);
        if (e == TG_OK)
            e = charge_run(ctx, ids[i], &call, NULL);
        if (e == TG_EPAYMENTFAILED || e == TG_EUPSTREAM)
            e = TG_OK; /* still owed: Stripe's own retries and the next card go on */
    }
    if (e == TG_OK)
        ctx_clear_error(ctx); /* a decline here is not the caller's failure */
    return e;
}
