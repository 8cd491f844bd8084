/*
 * stripe_webhook: see stripe_webhook.h. Stripe calls made while applying:
 * GET /v1/subscriptions/{id}, GET /v1/invoices/{id},
 * GET /v1/payment_intents/{id}, GET /v1/charges/{id},
 * GET /v1/payment_methods/{id} (re-fetching current state; GETs carry no
 * idempotency key). Of a payload only the type and the object's id are
 * used; everything that moves credits, tiers or statuses comes from
 * Stripe's answer (issue 13).
 */
#include "domain/stripe_webhook.h"

#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/metrics.h"
#include "domain/audit.h"
#include "domain/charge.h"
#include "domain/invoice.h"
#include "domain/subscription.h"
#include "integration/stripe.h"
#include "integration/webhook_sig.h"
#include "store/charges.h"
#include "store/customers.h"
#include "store/payment_methods.h"
#include "store/stripe_events.h"
#include "store/subscriptions.h"

/* id_of: an expandable field: the id string, or the object's id. */
static const char *id_of(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "id"));
}

/* fetch: GET path from Stripe; TG_OK with *obj, TG_ENOTFOUND when Stripe
 * has no such object (not ours to apply: the event is ignored), or an
 * error to retry. */
static enum tg_err fetch(struct tg_ctx *ctx, const char *path, json_t **obj)
{
    struct stripe_result r;
    enum tg_err e = stripe_call(ctx, "GET", path, NULL, 0, NULL, &r);
    if (e == TG_ENOMEM)
        return ctx_fail(ctx, e, NULL);
    if (e != TG_OK)
        return ctx_fail(ctx, e, "GET %s: %s", path,
                        ctx->svc->stripe == NULL ? "Stripe is not configured"
                                                 : "Stripe unreachable");
    if (r.outcome == STRIPE_INVALID && r.status == 404)
        return ctx_fail(ctx, TG_ENOTFOUND, "GET %s: no such object at Stripe", path);
    if (r.outcome != STRIPE_OK)
        return ctx_fail(ctx, TG_EUPSTREAM, "GET %s: %d %s", path, r.status,
                        r.message ? r.message : "");
    *obj = r.body;
    return TG_OK;
}

/* apply_subscription: re-fetch Stripe's subscription sub_id and apply it,
 * with invoice (Stripe's, re-fetched; may be NULL). *ignored when it is not
 * ours (the invoice is then not recorded here). */
static enum tg_err apply_subscription(struct tg_ctx *ctx, const char *sub_id, json_t *invoice,
                                      bool *ignored)
{
    json_t *sub;
    const char *local;
    if (!stripe_id_valid(sub_id, "sub_"))
        return ctx_fail(ctx, TG_EINVALID, "odd subscription id");
    enum tg_err e = fetch(ctx, arena_printf(ctx->arena, "/v1/subscriptions/%s", sub_id), &sub);
    if (e == TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    const char *meta = json_string_value(
        json_object_get(json_object_get(sub, "metadata"), "tollgate_subscription_id"));
    e = subscriptions_by_stripe(ctx, id_of(sub), meta, &local);
    if (e == TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    return subscription_apply_stripe(ctx, local, sub, invoice, NULL);
}

/* fetch_invoice: Stripe's invoice named by payload; TG_ENOTFOUND (an id
 * Stripe does not know: recorded as rejected, *ignored) is answered TG_OK
 * with *inv NULL. */
static enum tg_err fetch_invoice(struct tg_ctx *ctx, json_t *payload, json_t **inv,
                                 bool *ignored)
{
    const char *id = id_of(payload);
    *inv = NULL;
    *ignored = true;
    if (!stripe_id_valid(id, "in_"))
        return TG_OK; /* nothing Stripe could answer for: ignored */
    enum tg_err e = fetch(ctx, arena_printf(ctx->arena, "/v1/invoices/%s", id), inv);
    if (e == TG_ENOTFOUND) {
        ctx_clear_error(ctx);
        return invoice_reject(ctx, id, "Stripe has no such invoice");
    }
    *ignored = false;
    return e;
}

/* on_invoice_paid: invoice.paid and invoice.payment_succeeded. The invoice
 * is re-fetched: its subscription re-applied, the invoice judged and
 * recorded (invoice_apply: a paid Pro payment grants once per invoice id),
 * and, when Stripe says it is paid, its customer settled if nothing else
 * is owed. */
static enum tg_err on_invoice_paid(struct tg_ctx *ctx, json_t *payload, bool *ignored)
{
    json_t *inv;
    enum tg_err e = fetch_invoice(ctx, payload, &inv, ignored);
    if (e != TG_OK || inv == NULL)
        return e;
    const char *sub = invoice_subscription_id(inv), *cus = id_of(json_object_get(inv, "customer"));
    const char *status = json_string_value(json_object_get(inv, "status"));
    bool settled = false;
    *ignored = true;
    if (sub != NULL)
        e = apply_subscription(ctx, sub, inv, ignored);
    if (e == TG_OK && *ignored) /* no subscription of ours: recorded, grants nothing */
        e = invoice_apply(ctx, NULL, inv);
    if (e == TG_OK && cus != NULL && status != NULL && strcmp(status, "paid") == 0)
        e = customers_payment_succeeded(ctx, cus, &settled);
    if (settled)
        *ignored = false;
    return e;
}

static enum tg_err on_invoice_failed(struct tg_ctx *ctx, json_t *payload, bool *ignored)
{
    json_t *now;
    enum tg_err e = fetch_invoice(ctx, payload, &now, ignored);
    if (e != TG_OK || now == NULL)
        return e;
    const char *cus = id_of(json_object_get(now, "customer")); /* Stripe's, not the payload's */
    if (cus == NULL) {
        *ignored = true;
        return TG_OK;
    }
    const char *status = json_string_value(json_object_get(now, "status"));
    if (status != NULL && (strcmp(status, "paid") == 0 || strcmp(status, "void") == 0)) {
        *ignored = true; /* settled since: a later success already counted */
        return TG_OK;
    }
    bool ours = false;
    if ((e = customers_payment_failed(ctx, cus, ctx->svc->cfg->grace_period_days, &ours)) !=
        TG_OK)
        return e;
    *ignored = !ours;
    if (ours && (e = invoice_report_failed(ctx, cus, now)) != TG_OK)
        return e;
    if (ours)
        invoice_count_failed(ctx, now);
    const char *sub = invoice_subscription_id(now);
    return sub != NULL ? apply_subscription(ctx, sub, NULL, ignored) : TG_OK;
}

static enum tg_err on_payment_intent(struct tg_ctx *ctx, json_t *pi, bool *ignored)
{
    const char *id = id_of(pi);
    const char *meta = json_string_value(
        json_object_get(json_object_get(pi, "metadata"), "tollgate_charge_id"));
    long long charge_id;
    json_t *now;
    enum tg_err e = charges_by_intent(ctx, id, meta, &charge_id);
    if (e == TG_ENOTFOUND || (e == TG_OK && !stripe_id_valid(id, "pi_"))) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    e = fetch(ctx, arena_printf(ctx->arena, "/v1/payment_intents/%s", id), &now);
    if (e == TG_ENOTFOUND) {
        *ignored = true;
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    /* Whose charge it is, as Stripe has it: a payload may pair a real
     * PaymentIntent with another charge's id. */
    meta = json_string_value(
        json_object_get(json_object_get(now, "metadata"), "tollgate_charge_id"));
    long long owner;
    e = charges_by_intent(ctx, id_of(now), meta, &owner);
    if (e == TG_ENOTFOUND || (e == TG_OK && owner != charge_id)) {
        *ignored = true;
        return TG_OK;
    }
    return e != TG_OK ? e : charge_apply_intent(ctx, charge_id, now);
}

/* on_charge_refunded: the refunded amount of Stripe's charge (re-fetched),
 * on the charge of ours its PaymentIntent settled. */
static enum tg_err on_charge_refunded(struct tg_ctx *ctx, json_t *payload, bool *ignored)
{
    const char *id = id_of(payload);
    json_t *ch;
    bool found = false;
    *ignored = true;
    if (!stripe_id_valid(id, "ch_") && !stripe_id_valid(id, "py_"))
        return TG_OK;
    enum tg_err e = fetch(ctx, arena_printf(ctx->arena, "/v1/charges/%s", id), &ch);
    if (e == TG_ENOTFOUND) {
        ctx_clear_error(ctx);
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    const char *pi = id_of(json_object_get(ch, "payment_intent"));
    json_t *refunded = json_object_get(ch, "amount_refunded");
    if (pi == NULL || !json_is_integer(refunded) || json_integer_value(refunded) < 0)
        return TG_OK;
    e = charges_record_refund(ctx, pi, (long long)json_integer_value(refunded), &found);
    *ignored = !found;
    return e;
}

/* on_payment_method_detached: clear a default payment method that Stripe
 * (re-fetched) says is attached to no customer any more. */
static enum tg_err on_payment_method_detached(struct tg_ctx *ctx, json_t *payload, bool *ignored)
{
    const char *id = id_of(payload);
    json_t *pm;
    bool found = false;
    *ignored = true;
    if (!stripe_id_valid(id, "pm_"))
        return TG_OK;
    enum tg_err e = fetch(ctx, arena_printf(ctx->arena, "/v1/payment_methods/%s", id), &pm);
    if (e == TG_ENOTFOUND) {
        ctx_clear_error(ctx);
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    json_t *cus = json_object_get(pm, "customer");
    if (cus != NULL && !json_is_null(cus))
        return TG_OK; /* attached (again): nothing was detached */
    e = payment_methods_detached(ctx, id, &found);
    *ignored = !found;
    return e;
}

enum tg_err stripe_webhook_apply(struct tg_ctx *ctx, json_t *event, bool *ignored)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *obj = json_object_get(json_object_get(event, "data"), "object");
    *ignored = false;
    if (type == NULL || !json_is_object(obj))
        return ctx_fail(ctx, TG_EINVALID, "not a Stripe event");
    if (strncmp(type, "customer.subscription.", 22) == 0)
        return apply_subscription(ctx, id_of(obj), NULL, ignored);
    if (strcmp(type, "invoice.paid") == 0 || strcmp(type, "invoice.payment_succeeded") == 0)
        return on_invoice_paid(ctx, obj, ignored);
    if (strcmp(type, "invoice.payment_failed") == 0)
        return on_invoice_failed(ctx, obj, ignored);
    if (strcmp(type, "payment_intent.succeeded") == 0 ||
        strcmp(type, "payment_intent.payment_failed") == 0)
        return on_payment_intent(ctx, obj, ignored);
    if (strcmp(type, "charge.refunded") == 0)
        return on_charge_refunded(ctx, obj, ignored);
    if (strcmp(type, "payment_method.detached") == 0)
        return on_payment_method_detached(ctx, obj, ignored);
    *ignored = true; /* payment_method.attached and the rest: nothing to do */
    return TG_OK;
}

void stripe_webhook_rejected(const char *reason)
{
    metrics_add(MF_WEBHOOKS_RECEIVED, 1, "stripe", "other", "rejected", reason);
}

enum tg_err stripe_webhook_verify(struct tg_ctx *ctx, const char *signature, const char *body,
                                  size_t len)
{
    const struct config *cfg = ctx->svc->cfg;
    if (cfg->stripe_webhook_secret == NULL) {
        stripe_webhook_rejected("unconfigured");
        return ctx_fail(ctx, TG_EUNAVAILABLE, "Stripe webhooks are not configured here");
    }
    enum webhook_sig v = webhook_sig_stripe(cfg->stripe_webhook_secret, signature, body, len,
                                            (long long)ctx->now, cfg->webhook_tolerance_seconds);
    if (v != WEBHOOK_SIG_OK) {
        stripe_webhook_rejected(v == WEBHOOK_SIG_TOO_OLD   ? "too_old"
                                : v == WEBHOOK_SIG_TOO_NEW ? "too_new"
                                                           : "signature");
        return ctx_fail(ctx, TG_EWEBHOOKSIGNATURE, "%s", webhook_sig_str(v));
    }
    return TG_OK;
}

enum tg_err stripe_webhook_receive(struct tg_ctx *ctx, json_t *event, const char *body,
                                   bool *duplicate)
{
    const char *id = json_string_value(json_object_get(event, "id"));
    const char *type = json_string_value(json_object_get(event, "type"));
    json_t *created = json_object_get(event, "created");
    json_t *version = json_object_get(event, "api_version");
    if (!stripe_id_valid(id, "evt_") || type == NULL || strlen(type) > 100 || !json_is_integer(created) ||
        !json_is_object(json_object_get(json_object_get(event, "data"), "object")) ||
        (version != NULL && !json_is_null(version) && !json_is_string(version)))
    {
        stripe_webhook_rejected("malformed");
        return ctx_fail(ctx, TG_EINVALID, "not a Stripe event (id, type, created, "
                                          "data.object)");
    }
    enum tg_err e = stripe_events_store(ctx, id, type, json_string_value(version),
                                        (long long)json_integer_value(created),
                                        json_is_true(json_object_get(event, "livemode")), body,
                                        duplicate);
    if (e == TG_OK)
        metrics_add(MF_WEBHOOKS_RECEIVED, 1, "stripe", type, *duplicate ? "duplicate" : "stored",
                    "");
    return e;
}

/* apply_one: apply stored event ev as its own actor; the error as text
 * for the record, NULL when it was applied. */
static const char *apply_one(struct tg_ctx *ctx, const struct stripe_event *ev, bool *ignored)
{
    ctx_clear_error(ctx);
    enum tg_err e = audit_set_actor(ctx, arena_printf(ctx->arena, "stripe:%s", ev->id));
    json_t *event = NULL;
    if (e == TG_OK) {
        event = json_loads(ev->payload, 0, NULL);
        e = event != NULL ? stripe_webhook_apply(ctx, event, ignored)
                          : ctx_fail(ctx, TG_EINVALID, "stored payload is not JSON");
    }
    json_decref(event);
    if (e == TG_OK)
        return NULL;
    return ctx->error.detail != NULL ? ctx->error.detail : tg_strerror(e);
}

/* count_applied: the metrics of event ev, now in status (stripe_events:
 * processed, ignored, pending again, dead): its outcome and, when final,
 * its lag from receipt. */
static void count_applied(const struct stripe_event *ev, const char *status)
{
    const char *outcome = strcmp(status, "processed") == 0 ? "applied"
                          : strcmp(status, "ignored") == 0 ? "ignored"
                          : strcmp(status, "dead") == 0    ? "dead_letter"
                                                           : "retry";
    metrics_add(MF_WEBHOOKS_APPLIED, 1, "stripe", ev->type, outcome, NULL);
    if (strcmp(outcome, "retry") != 0 && ev->received_us > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        metrics_observe_us(MF_WEBHOOK_LAG, "stripe",
                           (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - ev->received_us);
    }
}

size_t stripe_webhook_process_due(struct tg_ctx *ctx, int limit)
{
    struct stripe_event *events;
    size_t n;
    if (stripe_events_claim(ctx, limit, &events, &n) != TG_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        bool ignored = false;
        const char *status = "unknown";
        const char *error = apply_one(ctx, &events[i], &ignored);
        if (stripe_events_done(ctx, events[i].id,
                               error != NULL ? "error" : (ignored ? "ignored" : "processed"),
                               error, ctx->svc->cfg->webhook_max_attempts, &status) != TG_OK)
            status = "unknown";
        else
            count_applied(&events[i], status);
        ctx_log(ctx, error == NULL ? LOG_INFO : LOG_WARN,
                json_pack("{s:s, s:s, s:s, s:s, s:s?}", "msg", "stripe event", "event",
                          events[i].id, "type", events[i].type, "status", status, "error", error));
    }
    return n;
}

enum tg_err stripe_webhook_dead_letters(struct tg_ctx *ctx, struct stripe_event_record **out,
                                        size_t *n)
{
    return stripe_events_dead(ctx, out, n);
}

enum tg_err stripe_webhook_event(struct tg_ctx *ctx, const char *id,
                                 struct stripe_event_record *out)
{
    return stripe_events_get(ctx, id, out);
}

enum tg_err stripe_webhook_replay(struct tg_ctx *ctx, const char *id, const char ***ids,
                                  size_t *n)
{
    enum tg_err e = stripe_events_replay(ctx, id, ids, n);
    if (e == TG_OK && *n == 0 && id != NULL)
        return ctx_fail(ctx, TG_ENOTFOUND, "%s is not a dead letter", id);
    return e;
}
