/*
 * charge: see charge.h. The one Stripe call: POST /v1/payment_intents with
 * confirm=true and off_session=true, Idempotency-Key = the recorded key
 * (tgch_<uuid>), metadata tollgate_charge_id and tollgate_request_id (the
 * call's stripe_requests id). Stripe forgets an idempotency key after 24
 * hours ("Idempotent requests"), so a call older than that
 * (outbox_key_forgotten) is not sent again blindly: GET /v1/payment_intents?customer= (its
 * created[gte] bounded by the call's age) is searched first for the
 * PaymentIntent the call may have made, and that one is adopted.
 */
#include "domain/charge.h"

#include <string.h>

#include "core/config.h"
#include "core/failpoint.h"
#include "core/metrics.h"
#include "domain/outbox.h"
#include "integration/stripe.h"
#include "store/charges.h"

/* How far before its call a PaymentIntent may have been created (clocks). */
#define CREATED_SLACK 300
/* Pages of 100 PaymentIntents searched for a call's own. */
#define ADOPT_MAX_PAGES 20

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

/* send: phase 2, the PaymentIntent; with_call adds the call's id to the
 * metadata (false: as 0.2.0 sent it, for a key 0.2.0 used first). */
static enum tg_err send_as(struct tg_ctx *ctx, long long charge_id,
                           const struct stripe_request *call, bool with_call,
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
        {"metadata[tollgate_request_id]", arena_printf(ctx->arena, "%lld", call->id)},
    };
    size_t n = sizeof(params) / sizeof(params[0]) - (with_call ? 0 : 1);
    for (size_t i = 0; i < n; i++)
        if (params[i].value == NULL)
            return ctx_fail(ctx, TG_EINTERNAL, "charge %lld: recorded call lacks %s", charge_id,
                            params[i].key);
    return stripe_call(ctx, "POST", "/v1/payment_intents", params, n, call->key, r);
}

/* send: send_as with the call's id; a key first used by 0.2.0 (without
 * it) makes Stripe refuse other parameters (idempotency_error), and is
 * then sent again as 0.2.0 sent it. */
static enum tg_err send(struct tg_ctx *ctx, long long charge_id, const struct stripe_request *call,
                        struct stripe_result *r)
{
    enum tg_err e = send_as(ctx, charge_id, call, true, r);
    if (e == TG_OK && r->outcome == STRIPE_INVALID && r->error_type != NULL &&
        strcmp(r->error_type, "idempotency_error") == 0)
        e = send_as(ctx, charge_id, call, false, r);
    return e;
}

/* made_by: PaymentIntent pi was made by call (of charge charge_s): its
 * metadata names the call, or -- made by 0.2.0, which did not name it --
 * the charge, and it is no older than the call. */
static bool made_by(json_t *pi, const struct stripe_request *call, const char *call_s,
                    const char *charge_s)
{
    json_t *meta = json_object_get(pi, "metadata");
    const char *req = json_string_value(json_object_get(meta, "tollgate_request_id"));
    const char *ch = json_string_value(json_object_get(meta, "tollgate_charge_id"));
    json_t *created = json_object_get(pi, "created");
    if (req != NULL)
        return strcmp(req, call_s) == 0;
    return ch != NULL && strcmp(ch, charge_s) == 0 && json_is_integer(created) &&
           json_integer_value(created) >= call->created_at - CREATED_SLACK;
}

/* find_made: the PaymentIntent call already made at Stripe, into *pi (NULL
 * when there is none), searching the customer's PaymentIntents created
 * since the call. TG_EUPSTREAM when Stripe cannot say: then nothing may be
 * sent. */
static enum tg_err find_made(struct tg_ctx *ctx, long long charge_id,
                             const struct stripe_request *call, json_t **pi)
{
    const char *cus = json_string_value(json_object_get(call->params, "customer"));
    const char *call_s = arena_printf(ctx->arena, "%lld", call->id);
    const char *charge_s = arena_printf(ctx->arena, "%lld", charge_id);
    struct stripe_param q[] = {
        {"customer", cus},
        {"limit", "100"},
        {"created[gte]", arena_printf(ctx->arena, "%lld", call->created_at - CREATED_SLACK)},
        {"starting_after", NULL}};
    *pi = NULL;
    if (cus == NULL || call_s == NULL || charge_s == NULL || q[2].value == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    for (int page = 0; page < ADOPT_MAX_PAGES; page++) {
        struct stripe_result r;
        enum tg_err e = stripe_call(ctx, "GET", "/v1/payment_intents", q, q[3].value ? 4 : 3,
                                    NULL, &r);
        if (e == TG_ENOMEM)
            return ctx_fail(ctx, e, NULL);
        if (e != TG_OK || r.outcome != STRIPE_OK)
            return ctx_fail(ctx, TG_EUPSTREAM, "listing PaymentIntents: %d", r.status);
        json_t *data = json_object_get(r.body, "data"), *it;
        size_t i;
        json_array_foreach(data, i, it)
        {
            if (made_by(it, call, call_s, charge_s)) {
                *pi = it;
                return TG_OK;
            }
        }
        if (!json_is_true(json_object_get(r.body, "has_more")) || json_array_size(data) == 0)
            return TG_OK;
        q[3].value = json_string_value(json_object_get(json_array_get(data, i - 1), "id"));
    }
    return ctx_fail(ctx, TG_EUPSTREAM, "too many PaymentIntents to search");
}

/* adopt_or_send: phase 2. A call Stripe may have forgotten the key of is
 * first looked for at Stripe; found, its PaymentIntent is the answer (as
 * if the call had just returned it); Stripe unable to say, the call stays
 * pending (*r unreachable). Otherwise the call is sent. */
static enum tg_err adopt_or_send(struct tg_ctx *ctx, long long charge_id,
                                 const struct stripe_request *call, struct stripe_result *r)
{
    if (!outbox_key_forgotten(ctx, call))
        return send(ctx, charge_id, call, r);
    json_t *pi;
    enum tg_err e = find_made(ctx, charge_id, call, &pi);
    if (e == TG_ENOMEM)
        return e;
    if (e != TG_OK) {
        *r = (struct stripe_result){.outcome = STRIPE_UNREACHABLE};
        return TG_OK;
    }
    ctx_log(ctx, LOG_INFO,
            json_pack("{s:s, s:I, s:I, s:s?}", "msg", "stripe call older than its key",
                      "call", (json_int_t)call->id, "charge", (json_int_t)charge_id, "adopted",
                      pi != NULL ? json_string_value(json_object_get(pi, "id")) : NULL));
    if (pi == NULL)
        return send(ctx, charge_id, call, r);
    *r = (struct stripe_result){.outcome = STRIPE_OK, .status = 200, .body = pi};
    return TG_OK;
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

/* count_settled: the metrics of a charge settled as s (not pending):
 * the payment with its amount, a decline's code, and, when its fix was
 * paid with it (event charged), the credit bought and consumed. */
static void count_settled(struct tg_ctx *ctx, const struct stripe_request *call,
                          const struct charge_settlement *s, bool found,
                          const struct usage_event *ev)
{
    if (strcmp(s->outcome, "pending") == 0)
        return;
    json_t *amount = json_object_get(call->params, "amount");
    const char *currency = json_string_value(json_object_get(call->params, "currency"));
    ctx_count(ctx, metrics_slot(MF_PAYMENTS, "fix_charge", s->outcome, NULL, NULL), 1);
    if (json_is_integer(amount) && json_integer_value(amount) > 0)
        ctx_count(ctx, metrics_slot(MF_PAYMENT_AMOUNT, "fix_charge", s->outcome, currency, NULL),
                  (uint64_t)json_integer_value(amount));
    if (strcmp(s->outcome, "failed") == 0)
        ctx_count(ctx, metrics_slot(MF_PAYMENT_FAILURES, "fix_charge",
                                    s->decline_code != NULL ? s->decline_code : s->failure_code,
                                    NULL, NULL),
                  1);
    if (found && ev->outcome != NULL && strcmp(ev->outcome, "charged") == 0) {
        ctx_count(ctx, metrics_slot(MF_CREDITS_GRANTED, "purchased", NULL, NULL, NULL), 1);
        ctx_count(ctx, metrics_slot(MF_CREDITS_CONSUMED, NULL, NULL, NULL, NULL), 1);
    }
}

enum tg_err charge_run(struct tg_ctx *ctx, long long charge_id, const struct stripe_request *call,
                       struct usage_event *out)
{
    struct usage_event local;
    if (out == NULL)
        out = &local;
    struct stripe_result r;
    bool found = false;
    failpoint("charge.before_send");
    enum tg_err sent = adopt_or_send(ctx, charge_id, call, &r);
    failpoint("charge.after_send");
    if (sent == TG_ENOMEM || sent == TG_EINTERNAL)
        return sent;
    struct charge_settlement s = judge(sent, &r);
    memset(out, 0, sizeof(*out));
    enum tg_err e = settle(ctx, charge_id, &s, r.body, &found, out);
    if (e != TG_OK)
        return e;
    count_settled(ctx, call, &s, found, out);
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
