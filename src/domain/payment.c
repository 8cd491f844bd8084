/*
 * payment: see payment.h. Stripe calls, in order, each with its own key
 * derived from the recorded call: POST /v1/customers (key tgcus_<customer>,
 * once per customer), POST /v1/payment_methods/{pm}/attach (<key>:attach),
 * POST /v1/customers/{cus} invoice_settings[default_payment_method]
 * (<key>:default); for a customer past due, GET /v1/invoices?status=open
 * and POST /v1/invoices/{id}/pay (<key>:pay:<invoice>), then charges it owes
 * again (POST /v1/payment_intents, a new tgch_ key each).
 */
#include "domain/payment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/failpoint.h"
#include "domain/charge.h"
#include "domain/flag.h"
#include "domain/service.h"
#include "store/db.h"

bool payment_method_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n > 3 && n <= 253 && strncmp(id, "pm_", 3) == 0 &&
           strspn(id + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
               n - 3;
}

enum tg_err payment_stripe_customer(struct http_request *req, const struct customer *c,
                                    const char **stripe_id)
{
    if (c->stripe_customer_id != NULL) {
        *stripe_id = c->stripe_customer_id;
        return TG_OK;
    }
    const struct stripe_param params[] = {
        {"email", c->email}, {"name", c->name}, {"metadata[tollgate_customer_id]", c->id}};
    const char *key = arena_printf(req->arena, "tgcus_%s", c->id);
    struct stripe_result r;
    enum tg_err e = stripe_call(req->svc->stripe, req->arena, "POST", "/v1/customers", params, 3,
                                key, &r);
    if (e == TG_ENOMEM)
        return e;
    if (r.outcome != STRIPE_OK)
        return outbox_fail_from(req, &r, "customer");
    const char *id = json_string_value(json_object_get(r.body, "id"));
    if (id == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe answered a customer without an id");
    const char *p[2] = {c->id, id};
    PGresult *res;
    if ((e = db_exec(req->svc->db, req->arena, DB_CUSTOMER_SET_STRIPE, p, NULL, NULL, &res)) !=
        TG_OK)
        return e;
    *stripe_id = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : id;
    return TG_OK;
}

/* post: one step of call; STRIPE_OK or an error already mapped. */
static enum tg_err post(struct http_request *req, const struct outbox_call *call,
                        const char *step, const char *path, const struct stripe_param *params,
                        size_t n, struct stripe_result *r)
{
    enum tg_err e = stripe_call(req->svc->stripe, req->arena, "POST", path, params, n,
                                outbox_step_key(req, call, step), r);
    if (e == TG_ENOMEM)
        return e;
    return r->outcome == STRIPE_OK ? TG_OK : outbox_fail_from(req, r, "payment_method");
}

/* finish: record the outcome of a failed run: pending for TG_EUPSTREAM
 * (tollgate-worker goes on), failed otherwise. Returns err. */
static enum tg_err finish_failed(struct http_request *req, const struct outbox_call *call,
                                 enum tg_err err, const struct stripe_result *r)
{
    enum tg_err e = outbox_finish(req, call, err == TG_EUPSTREAM ? "pending" : "failed",
                                  r != NULL ? r->body : NULL);
    return e == TG_OK ? err : e;
}

/* pay_open_invoices: a customer who is past due and brings a new card
 * expects the open invoices to be paid with it now, not at Stripe's next
 * retry (POST /v1/invoices/{id}/pay, key <call key>:pay:<invoice>). The
 * invoice.paid webhooks that follow put billing back to active. Best
 * effort: a failure leaves Stripe's own retries to do it. */
static void pay_open_invoices(struct http_request *req, const struct outbox_call *call,
                              const char *cus)
{
    const struct stripe_param list[] = {{"customer", cus}, {"status", "open"}};
    struct stripe_result r;
    if (stripe_call(req->svc->stripe, req->arena, "GET", "/v1/invoices", list, 2, NULL, &r) !=
            TG_OK ||
        r.outcome != STRIPE_OK)
        return;
    size_t i;
    json_t *inv;
    json_array_foreach(json_object_get(r.body, "data"), i, inv)
    {
        const char *id = json_string_value(json_object_get(inv, "id"));
        if (id == NULL || strncmp(id, "in_", 3) != 0 ||
            strspn(id + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
                strlen(id + 3))
            continue;
        struct stripe_result paid;
        if (stripe_call(req->svc->stripe, req->arena, "POST",
                        arena_printf(req->arena, "/v1/invoices/%s/pay", id), NULL, 0,
                        arena_printf(req->arena, "%s:pay:%s", call->key, id), &paid) == TG_ENOMEM)
            return;
    }
}

/* retry_owed_charges: charges that failed after their fix was delivered
 * are owed; with the new card, charge them again (new keys: a failed
 * PaymentIntent is final). A success settles the customer. Best effort. */
static void retry_owed_charges(struct http_request *req, const char *customer_id)
{
    const char *p[1] = {customer_id};
    PGresult *r;
    if (db_exec(req->svc->db, req->arena, DB_CHARGES_OWED_RETRY, p, NULL, NULL, &r) != TG_OK)
        return;
    for (int i = 0; i < PQntuples(r); i++)
        if (charge_run(req, strtoll(PQgetvalue(r, i, 0), NULL, 10), NULL) == TG_ENOMEM)
            return;
    req->problem_detail = NULL; /* a decline here is not this request's failure */
}

enum tg_err payment_method_run(struct http_request *req, const struct outbox_call *call,
                               struct customer *out)
{
    struct customer c;
    struct stripe_result r = {0};
    const char *cus, *pm = json_string_value(json_object_get(call->params, "payment_method"));
    enum tg_err e = customer_get(req, call->customer_id, &c);
    if (e == TG_OK && (pm == NULL || !payment_method_id_valid(pm)))
        e = http_fail(req, TG_EINTERNAL, "recorded call %lld has no payment method", call->id);
    if (e == TG_OK)
        e = payment_stripe_customer(req, &c, &cus);
    if (e != TG_OK)
        return finish_failed(req, call, e, NULL);

    failpoint("payment.before_attach");
    const struct stripe_param attach[] = {{"customer", cus}};
    const char *path = arena_printf(req->arena, "/v1/payment_methods/%s/attach", pm);
    if ((e = post(req, call, "attach", path, attach, 1, &r)) != TG_OK)
        return finish_failed(req, call, e, &r);
    const char *attached = json_string_value(json_object_get(r.body, "id"));
    if (attached == NULL || !payment_method_id_valid(attached))
        return finish_failed(req, call, http_fail(req, TG_EUPSTREAM, "odd answer from Stripe"),
                             &r);

    char id[24];
    snprintf(id, sizeof(id), "%lld", call->id);
    const char *sp[2] = {id, call->customer_id};
    PGresult *res;
    if ((e = db_exec(req->svc->db, req->arena, DB_PAYMENT_METHOD_SUPERSEDED, sp, NULL, NULL,
                     &res)) != TG_OK)
        return e;
    /* Finished late, after the customer added another card: attach this one
     * but leave the newer default alone, at Stripe as here. */
    bool superseded = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    const struct stripe_param dflt[] = {{"invoice_settings[default_payment_method]", attached}};
    if (!superseded &&
        (e = post(req, call, "default", arena_printf(req->arena, "/v1/customers/%s", cus), dflt,
                  1, &r)) != TG_OK)
        return finish_failed(req, call, e, &r);

    failpoint("payment.before_apply");
    const char *p[4] = {id, call->customer_id, attached, "{}"};
    if ((e = db_exec(req->svc->db, req->arena, DB_PAYMENT_METHOD_ADDED, p, NULL, NULL, &res)) !=
        TG_OK)
        return e;
    /* With billing switched off nothing is charged: what is owed stays owed
     * (Stripe's own invoice retries go on) until the next card. */
    bool billing = true;
    if ((e = flag_enabled(req, FLAG_BILLING_ENABLED, call->customer_id, &billing)) != TG_OK)
        return e;
    if (billing &&
        (strcmp(c.billing_status, "past_due") == 0 || strcmp(c.billing_status, "delinquent") == 0)) {
        pay_open_invoices(req, call, cus);
        retry_owed_charges(req, call->customer_id);
    }
    if (out != NULL && PQntuples(res) == 1)
        customer_from_row(res, 0, out);
    return TG_OK;
}

enum tg_err payment_method_add(struct http_request *req, const char *payment_method,
                               struct customer *out)
{
    if (req->svc->stripe == NULL)
        return http_fail(req, TG_EUPSTREAM, "Stripe is not configured on this server");
    json_t *params = json_pack("{s:s}", "payment_method", payment_method);
    if (params == NULL)
        return TG_ENOMEM;
    struct outbox_call call;
    enum tg_err e = outbox_begin(req, req->auth.customer_id, "attach_payment_method", params,
                                 &call);
    json_decref(params);
    return e != TG_OK ? e : payment_method_run(req, &call, out);
}
