/*
 * outbox: see outbox.h.
 */
#include "domain/outbox.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/charge.h"
#include "domain/payment.h"
#include "domain/service.h"
#include "domain/subscription.h"
#include "store/db.h"

/* dump: compact JSON text of j in the arena ("null" for NULL). */
static const char *dump(struct http_request *req, json_t *j)
{
    if (j == NULL)
        return "null";
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (text == NULL || arena_defer(req->arena, free, text) != 0)
        return NULL;
    return text;
}

/* load: parse recorded params into an arena-owned object. */
static json_t *load(struct http_request *req, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    if (j != NULL && arena_defer(req->arena, arena_json_decref, j) != 0)
        return NULL;
    return j;
}

enum tg_err outbox_begin(struct http_request *req, const char *customer_id,
                         const char *operation, json_t *params, struct outbox_call *out)
{
    const char *text = dump(req, params);
    if (text == NULL)
        return TG_ENOMEM;
    const char *p[3] = {customer_id, operation, text};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_OUTBOX_BEGIN, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_EINTERNAL;
    out->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->key = PQgetvalue(r, 0, 1);
    out->customer_id = customer_id;
    out->operation = operation;
    out->params = load(req, text);
    out->attempts = 0;
    return out->params != NULL ? TG_OK : TG_ENOMEM;
}

enum tg_err outbox_finish(struct http_request *req, const struct outbox_call *call,
                          const char *status, json_t *result)
{
    char id[24];
    snprintf(id, sizeof(id), "%lld", call->id);
    const char *text = dump(req, result);
    if (text == NULL)
        return TG_ENOMEM;
    const char *p[3] = {id, status, text};
    PGresult *r;
    return db_exec(req->svc->db, req->arena, DB_OUTBOX_FINISH, p, NULL, NULL, &r);
}

const char *outbox_step_key(struct http_request *req, const struct outbox_call *call,
                            const char *step)
{
    return arena_printf(req->arena, "%s:%s", call->key, step);
}

enum tg_err outbox_fail_from(struct http_request *req, const struct stripe_result *r,
                             const char *param)
{
    switch (r->outcome) {
    case STRIPE_CARD_ERROR:
        if (r->error_code != NULL)
            http_problem_set(req, "code", json_string(r->error_code));
        if (r->decline_code != NULL)
            http_problem_set(req, "decline_code", json_string(r->decline_code));
        return http_fail(req, TG_EPAYMENTFAILED, "%s",
                         r->message != NULL ? r->message : "the payment was declined");
    case STRIPE_INVALID:
        return http_fail(req, TG_EINVALID, "%s: %s", param,
                         r->message != NULL ? r->message : "refused by Stripe");
    case STRIPE_UNREACHABLE:
    case STRIPE_OK:
        break;
    }
    return http_fail(req, TG_EUPSTREAM, "Stripe could not be reached; retry shortly");
}

enum tg_err outbox_claim(struct http_request *req, int limit, struct outbox_call **out, size_t *n)
{
    char lim[16], grace[24];
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(grace, sizeof(grace), "%ld", req->svc->cfg->stripe_call_grace_seconds);
    const char *p[2] = {lim, grace};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_OUTBOX_CLAIM, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *n = (size_t)PQntuples(r);
    *out = *n ? arena_alloc(req->arena, *n * sizeof(**out)) : NULL;
    if (*n && *out == NULL)
        return TG_ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        struct outbox_call *c = &(*out)[i];
        c->id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        c->key = PQgetvalue(r, (int)i, 1);
        c->customer_id = PQgetvalue(r, (int)i, 2);
        c->operation = PQgetvalue(r, (int)i, 3);
        c->params = load(req, PQgetvalue(r, (int)i, 4));
        c->attempts = (int)strtol(PQgetvalue(r, (int)i, 5), NULL, 10);
        if (c->params == NULL)
            return TG_ENOMEM;
    }
    return TG_OK;
}

enum tg_err outbox_resume(struct http_request *req, const struct outbox_call *call)
{
    if (strcmp(call->operation, "attach_payment_method") == 0)
        return payment_method_run(req, call, NULL);
    if (strcmp(call->operation, "charge") == 0)
        return charge_resume(req, call);
    if (strcmp(call->operation, "create_subscription") == 0 ||
        strcmp(call->operation, "cancel_subscription") == 0)
        return subscription_run(req, call, NULL);
    return http_fail(req, TG_EINTERNAL, "unknown operation %s", call->operation);
}
