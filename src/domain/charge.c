/*
 * charge: see charge.h. The one Stripe call: POST /v1/payment_intents with
 * confirm=true and off_session=true, Idempotency-Key = the recorded key
 * (tgch_<uuid>).
 */
#include "domain/charge.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/failpoint.h"
#include "domain/service.h"
#include "store/db.h"

/* The settled state of one attempt, for charge_settle(). */
struct settlement {
    const char *outcome; /* succeeded | pending | failed */
    const char *payment_intent;
    const char *failure_code;
    const char *decline_code;
};

/* judge_intent: what a PaymentIntent's state means for the charge. */
static struct settlement judge_intent(json_t *pi)
{
    struct settlement s = {"pending", NULL, NULL, NULL};
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
static struct settlement judge(enum tg_err e, const struct stripe_result *r)
{
    struct settlement s = {"pending", NULL, NULL, NULL};
    if (e != TG_OK || r->outcome == STRIPE_UNREACHABLE)
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

/* load_call: the recorded call of charge_id. */
static enum tg_err load_call(struct http_request *req, long long charge_id,
                             struct outbox_call *call)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", charge_id);
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_CHARGE_CALL, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_EINTERNAL, "charge %lld has no recorded call", charge_id);
    call->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    call->key = PQgetvalue(r, 0, 1);
    call->customer_id = PQgetvalue(r, 0, 2);
    call->operation = "charge";
    call->params = json_loads(PQgetvalue(r, 0, 3), 0, NULL);
    if (call->params == NULL)
        return TG_ENOMEM;
    if (arena_defer(req->arena, arena_json_decref, call->params) != 0)
        return TG_ENOMEM;
    return TG_OK;
}

/* send: phase 2, the PaymentIntent. */
static enum tg_err send(struct http_request *req, long long charge_id,
                        const struct outbox_call *call, struct stripe_result *r)
{
    json_t *p = call->params;
    char amount[24], cid[24];
    snprintf(amount, sizeof(amount), "%lld",
             (long long)json_integer_value(json_object_get(p, "amount")));
    snprintf(cid, sizeof(cid), "%lld", charge_id);
    const struct stripe_param params[] = {
        {"amount", amount},
        {"currency", json_string_value(json_object_get(p, "currency"))},
        {"customer", json_string_value(json_object_get(p, "customer"))},
        {"payment_method", json_string_value(json_object_get(p, "payment_method"))},
        {"off_session", "true"},
        {"confirm", "true"},
        {"description", json_string_value(json_object_get(p, "description"))},
        {"metadata[tollgate_charge_id]", cid},
    };
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        if (params[i].value == NULL)
            return http_fail(req, TG_EINTERNAL, "charge %lld: recorded call lacks %s",
                             charge_id, params[i].key);
    if (req->svc->stripe == NULL) {
        r->outcome = STRIPE_UNREACHABLE;
        return TG_EUPSTREAM;
    }
    return stripe_call(req->svc->stripe, req->arena, "POST", "/v1/payment_intents", params,
                       sizeof(params) / sizeof(params[0]), call->key, r);
}

/* settle: phase 3; *removed when the usage event was taken back. */
static enum tg_err settle(struct http_request *req, long long charge_id,
                          const struct settlement *s, json_t *body, long long *event_id)
{
    char id[24], grace[32];
    snprintf(id, sizeof(id), "%lld", charge_id);
    snprintf(grace, sizeof(grace), "%ld days", req->svc->cfg->grace_period_days);
    char *result = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (result != NULL && arena_defer(req->arena, free, result) != 0)
        return TG_ENOMEM;
    const char *p[7] = {id, s->outcome, s->payment_intent, s->failure_code, s->decline_code,
                        result, grace};
    PGresult *res;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_CHARGE_SETTLE, p, NULL, NULL, &res);
    if (e != TG_OK)
        return e;
    *event_id = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    return TG_OK;
}

enum tg_err charge_run(struct http_request *req, long long charge_id, struct usage_event *out)
{
    struct outbox_call call = {0};
    struct stripe_result r = {0};
    long long event_id = 0;
    enum tg_err e = load_call(req, charge_id, &call);
    if (e != TG_OK)
        return e;
    failpoint("charge.before_send");
    enum tg_err sent = send(req, charge_id, &call, &r);
    failpoint("charge.after_send");
    if (sent == TG_ENOMEM || sent == TG_EINTERNAL)
        return sent;
    struct settlement s = judge(sent, &r);
    if ((e = settle(req, charge_id, &s, r.body, &event_id)) != TG_OK)
        return e;
    if (strcmp(s.outcome, "failed") == 0 && event_id == 0) {
        if (r.outcome == STRIPE_OK) /* e.g. left requiring authentication */
            r.outcome = STRIPE_CARD_ERROR;
        if (r.error_code == NULL)
            r.error_code = s.failure_code;
        return outbox_fail_from(req, &r, "payment_method");
    }
    if (out == NULL || event_id == 0)
        return TG_OK;
    return usage_event_get(req, event_id, out);
}

enum tg_err charge_resume(struct http_request *req, const struct outbox_call *call)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", call->id);
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_CHARGE_BY_CALL, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_EINTERNAL, "call %lld has no charge", call->id);
    e = charge_run(req, strtoll(PQgetvalue(r, 0, 0), NULL, 10), NULL);
    return e == TG_EPAYMENTFAILED ? TG_OK : e; /* a decline is a final state */
}

enum tg_err charge_apply_intent(struct http_request *req, long long charge_id, json_t *intent)
{
    long long event_id;
    struct settlement s = judge_intent(intent);
    return settle(req, charge_id, &s, intent, &event_id);
}
