/*
 * stripe_events: see stripe_events.h. Stripe calls made while applying:
 * GET /v1/subscriptions/{id}, GET /v1/invoices/{id},
 * GET /v1/payment_intents/{id} (re-fetching current state; GETs carry no
 * idempotency key).
 */
#include "domain/stripe_events.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "domain/audit.h"
#include "domain/charge.h"
#include "domain/service.h"
#include "domain/subscription.h"
#include "store/db.h"

/* id_of: an expandable field: the id string, or the object's id. */
static const char *id_of(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "id"));
}

/* safe_id: prefix + [A-Za-z0-9_]: can go into a Stripe path. */
static bool safe_id(const char *id, const char *prefix)
{
    size_t n = id != NULL ? strlen(id) : 0, p = strlen(prefix);
    return n > p && n < 256 && strncmp(id, prefix, p) == 0 &&
           strspn(id + p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
               n - p;
}

/* fetch: GET path from Stripe; TG_OK with *obj, TG_ENOTFOUND when Stripe
 * has no such object (not ours to apply: the event is ignored), or an
 * error to retry. */
static enum tg_err fetch(struct http_request *req, const char *path, json_t **obj)
{
    if (req->svc->stripe == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe is not configured");
    struct stripe_result r;
    enum tg_err e = stripe_call(req->svc->stripe, req->arena, "GET", path, NULL, 0, NULL, &r);
    if (e != TG_OK)
        return e == TG_ENOMEM ? e : http_fail(req, e, "GET %s: Stripe unreachable", path);
    if (r.outcome == STRIPE_INVALID && r.status == 404)
        return http_fail(req, TG_ENOTFOUND, "GET %s: no such object at Stripe", path);
    if (r.outcome != STRIPE_OK)
        return http_fail(req, TG_EUPSTREAM, "GET %s: %d %s", path, r.status,
                         r.message ? r.message : "");
    *obj = r.body;
    return TG_OK;
}

/* invoice_subscription: the subscription of an invoice, in either shape
 * (2025-03-31 moved it to parent.subscription_details.subscription). */
static const char *invoice_subscription(json_t *inv)
{
    const char *sub = id_of(json_object_get(inv, "subscription"));
    if (sub == NULL)
        sub = id_of(json_object_get(json_object_get(json_object_get(inv, "parent"),
                                                    "subscription_details"),
                                    "subscription"));
    return sub;
}

/* local_subscription: our subscription id for Stripe's sub (by its id, or
 * by the tollgate id in its metadata while ours is still being created). */
static const char *local_subscription(struct http_request *req, json_t *sub)
{
    const char *meta = json_string_value(
        json_object_get(json_object_get(sub, "metadata"), "tollgate_subscription_id"));
    const char *p[2] = {id_of(sub), meta};
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_SUBSCRIPTION_BY_STRIPE, p, NULL, NULL, &r) != TG_OK ||
        PQntuples(r) != 1)
        return NULL;
    return PQgetvalue(r, 0, 0);
}

/* apply_subscription: re-fetch Stripe's subscription sub_id and apply it,
 * with invoice (paid or not; may be NULL). *ignored when it is not ours. */
static enum tg_err apply_subscription(struct http_request *req, const char *sub_id,
                                      json_t *invoice, bool *ignored)
{
    json_t *sub;
    if (!safe_id(sub_id, "sub_"))
        return http_fail(req, TG_EINVALID, "odd subscription id");
    enum tg_err e = fetch(req, arena_printf(req->arena, "/v1/subscriptions/%s", sub_id), &sub);
    if (e == TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    const char *local = local_subscription(req, sub);
    if (local == NULL) {
        *ignored = true;
        return TG_OK;
    }
    return subscription_apply_stripe(req, local, sub, invoice, NULL);
}

/* customer_billing: run DB_CUSTOMER_PAYMENT_{FAILED,SUCCEEDED} for cus;
 * *changed (may be NULL) when a customer of ours was affected. */
static enum tg_err customer_billing(struct http_request *req, enum db_stmt stmt, const char *cus,
                                    bool *changed)
{
    char grace[32];
    snprintf(grace, sizeof(grace), "%ld days", req->svc->cfg->grace_period_days);
    const char *p[2] = {cus, grace};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, stmt, p, NULL, NULL, &r);
    if (e == TG_OK && changed != NULL)
        *changed = PQntuples(r) > 0;
    return e;
}

static enum tg_err on_invoice_paid(struct http_request *req, json_t *inv, bool *ignored)
{
    const char *sub = invoice_subscription(inv), *cus = id_of(json_object_get(inv, "customer"));
    enum tg_err e = TG_OK;
    bool settled = false;
    *ignored = sub == NULL;
    if (sub != NULL)
        e = apply_subscription(req, sub, inv, ignored);
    if (e == TG_OK && cus != NULL)
        e = customer_billing(req, DB_CUSTOMER_PAYMENT_SUCCEEDED, cus, &settled);
    if (settled)
        *ignored = false;
    return e;
}

static enum tg_err on_invoice_failed(struct http_request *req, json_t *inv, bool *ignored)
{
    const char *id = id_of(inv), *cus = id_of(json_object_get(inv, "customer"));
    json_t *now;
    if (!safe_id(id, "in_") || cus == NULL)
        return http_fail(req, TG_EINVALID, "invoice without id or customer");
    enum tg_err e = fetch(req, arena_printf(req->arena, "/v1/invoices/%s", id), &now);
    if (e == TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    const char *status = json_string_value(json_object_get(now, "status"));
    if (status != NULL && (strcmp(status, "paid") == 0 || strcmp(status, "void") == 0)) {
        *ignored = true; /* settled since: a later success already counted */
        return TG_OK;
    }
    bool ours = false;
    if ((e = customer_billing(req, DB_CUSTOMER_PAYMENT_FAILED, cus, &ours)) != TG_OK)
        return e;
    *ignored = !ours;
    const char *sub = invoice_subscription(now);
    return sub != NULL ? apply_subscription(req, sub, NULL, ignored) : TG_OK;
}

static enum tg_err on_payment_intent(struct http_request *req, json_t *pi, bool *ignored)
{
    const char *id = id_of(pi);
    const char *meta = json_string_value(
        json_object_get(json_object_get(pi, "metadata"), "tollgate_charge_id"));
    const char *p[2] = {id, meta};
    PGresult *r;
    json_t *now;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_CHARGE_BY_INTENT, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1 || !safe_id(id, "pi_")) {
        *ignored = true;
        return TG_OK;
    }
    if ((e = fetch(req, arena_printf(req->arena, "/v1/payment_intents/%s", id), &now)) ==
        TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    return charge_apply_intent(req, strtoll(PQgetvalue(r, 0, 0), NULL, 10), now);
}

/* on_simple: charge.refunded and payment_method.detached: one statement. */
static enum tg_err on_simple(struct http_request *req, enum db_stmt stmt, const char *a,
                             const char *b, bool *ignored)
{
    const char *p[2] = {a, b};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, stmt, p, NULL, NULL, &r);
    if (e == TG_OK && PQntuples(r) == 0)
        *ignored = true;
    return e;
}

enum tg_err stripe_events_apply(struct http_request *req, json_t *event, bool *ignored)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *obj = json_object_get(json_object_get(event, "data"), "object");
    *ignored = false;
    if (type == NULL || !json_is_object(obj))
        return http_fail(req, TG_EINVALID, "not a Stripe event");
    if (strncmp(type, "customer.subscription.", 22) == 0)
        return apply_subscription(req, id_of(obj), NULL, ignored);
    if (strcmp(type, "invoice.paid") == 0 || strcmp(type, "invoice.payment_succeeded") == 0)
        return on_invoice_paid(req, obj, ignored);
    if (strcmp(type, "invoice.payment_failed") == 0)
        return on_invoice_failed(req, obj, ignored);
    if (strcmp(type, "payment_intent.succeeded") == 0 ||
        strcmp(type, "payment_intent.payment_failed") == 0)
        return on_payment_intent(req, obj, ignored);
    if (strcmp(type, "charge.refunded") == 0) {
        char refunded[24];
        snprintf(refunded, sizeof(refunded), "%lld",
                 (long long)json_integer_value(json_object_get(obj, "amount_refunded")));
        return on_simple(req, DB_CHARGE_REFUNDED, id_of(json_object_get(obj, "payment_intent")),
                         refunded, ignored);
    }
    if (strcmp(type, "payment_method.detached") == 0)
        return on_simple(req, DB_PAYMENT_METHOD_DETACHED, id_of(obj), NULL, ignored);
    *ignored = true; /* payment_method.attached and the rest: nothing to do */
    return TG_OK;
}

enum tg_err stripe_events_store(struct http_request *req, json_t *event, const char *body,
                                bool *duplicate)
{
    const char *id = json_string_value(json_object_get(event, "id"));
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *created = json_object_get(event, "created");
    json_t *version = json_object_get(event, "api_version");
    if (!safe_id(id, "evt_") || type == NULL || strlen(type) > 100 || !json_is_integer(created) ||
        !json_is_object(json_object_get(json_object_get(event, "data"), "object")) ||
        (version != NULL && !json_is_null(version) && !json_is_string(version)))
        return http_fail(req, TG_EINVALID, "not a Stripe event (id, type, created, "
                                           "data.object)");
    char when[24];
    snprintf(when, sizeof(when), "%lld", (long long)json_integer_value(created));
    const char *p[6] = {id, type, json_string_value(version), when,
                        json_is_true(json_object_get(event, "livemode")) ? "true" : "false", body};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_EVENT_STORE, p, NULL, NULL, &r);
    if (e == TG_OK)
        *duplicate = PQntuples(r) == 0;
    return e;
}

/* done: record one attempt's outcome; returns the new status. */
static const char *done(struct http_request *req, const char *id, const char *status,
                        const char *error)
{
    char max[16];
    snprintf(max, sizeof(max), "%ld", req->svc->cfg->webhook_max_attempts);
    const char *p[4] = {id, status, error, max};
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_EVENT_DONE, p, NULL, NULL, &r) != TG_OK ||
        PQntuples(r) != 1)
        return "unknown";
    return PQgetvalue(r, 0, 0);
}

size_t stripe_events_process_due(struct http_request *req, int limit)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[1] = {lim};
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_EVENT_CLAIM, p, NULL, NULL, &r) != TG_OK)
        return 0;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++) {
        const char *id = PQgetvalue(r, i, 0), *type = PQgetvalue(r, i, 1);
        json_t *event = json_loads(PQgetvalue(r, i, 2), 0, NULL);
        bool ignored = false;
        req->problem_detail = NULL;
        enum tg_err e = audit_set_actor(req, arena_printf(req->arena, "stripe:%s", id));
        if (e == TG_OK)
            e = event != NULL ? stripe_events_apply(req, event, &ignored) : TG_EINVALID;
        json_decref(event);
        const char *status =
            done(req, id, e != TG_OK ? "error" : (ignored ? "ignored" : "processed"),
                 e != TG_OK ? (req->problem_detail ? req->problem_detail : tg_strerror(e)) : NULL);
        log_json(e == TG_OK ? LOG_INFO : LOG_WARN,
                 json_pack("{s:s, s:s, s:s, s:s, s:s?}", "msg", "stripe event", "event", id,
                           "type", type, "status", status, "error",
                           e != TG_OK ? req->problem_detail : NULL));
    }
    return (size_t)n;
}
