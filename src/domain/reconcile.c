/*
 * reconcile: see reconcile.h. Stripe's lists are read with GET
 * /v1/subscriptions?status=all and GET /v1/payment_intents, paged with
 * starting_after (Stripe: "Pagination").
 */
#include "domain/reconcile.h"

#include <string.h>

#include "domain/charge.h"
#include "domain/subscription.h"
#include "integration/stripe.h"
#include "store/charges.h"
#include "store/subscriptions.h"

#define PAGES_MAX 1000 /* of 100 objects: a list longer than that is not read to its end */

struct recon {
    struct tg_ctx *ctx;
    bool fix;
    void (*report)(void *arg, const struct reconcile_difference *d);
    void *arg;
    struct reconcile_summary *sum;
};

static void differ(struct recon *rc, const char *what, const char *id, const char *detail,
                   bool fixed)
{
    rc->sum->differences++;
    rc->sum->fixed += fixed;
    if (rc->report != NULL)
        rc->report(rc->arg, &(struct reconcile_difference){what, id, detail, fixed});
}

/* fixed: whether a fix that returned e worked; a failed one is forgotten
 * (the difference stays, and reconciliation goes on). */
static bool fixed(struct recon *rc, enum tg_err e)
{
    if (e != TG_OK)
        ctx_clear_error(rc->ctx);
    return e == TG_OK;
}

static enum tg_err check_subscription(struct recon *rc, json_t *sub)
{
    const char *id = json_string_value(json_object_get(sub, "id"));
    const char *status = json_string_value(json_object_get(sub, "status"));
    bool at_end = json_is_true(json_object_get(sub, "cancel_at_period_end"));
    if (id == NULL || status == NULL)
        return TG_OK;
    struct subscription ours;
    enum tg_err e = subscriptions_get_by_stripe(rc->ctx, id, &ours);
    if (e == TG_ENOTFOUND) {
        differ(rc, "subscription", id, "at Stripe only (not made by tollgate?)", false);
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    if (strcmp(ours.status, status) == 0 && ours.cancel_at_period_end == at_end)
        return TG_OK;
    char detail[160];
    snprintf(detail, sizeof(detail), "local %s%s, Stripe %s%s", ours.status,
             ours.cancel_at_period_end ? " (cancel at period end)" : "", status,
             at_end ? " (cancel at period end)" : "");
    differ(rc, "subscription", id, detail,
           rc->fix && fixed(rc, subscription_apply_stripe(rc->ctx, ours.id, sub, NULL, NULL)));
    return TG_OK;
}

static enum tg_err check_intent(struct recon *rc, json_t *pi)
{
    const char *id = json_string_value(json_object_get(pi, "id"));
    const char *meta = json_string_value(
        json_object_get(json_object_get(pi, "metadata"), "tollgate_charge_id"));
    const char *status = json_string_value(json_object_get(pi, "status"));
    if (meta == NULL || id == NULL || status == NULL)
        return TG_OK; /* not a charge of ours */
    struct charge_state ours;
    enum tg_err e = charges_get(rc->ctx, meta, &ours);
    if (e == TG_ENOTFOUND) {
        differ(rc, "charge", id, "at Stripe only", false);
        return TG_OK;
    }
    if (e != TG_OK)
        return e;
    if (ours.payment_intent != NULL && strcmp(ours.payment_intent, id) != 0)
        return TG_OK; /* an earlier attempt of a charge tried again on a new card */
    const char *want = strcmp(status, "succeeded") == 0    ? "succeeded"
                       : strcmp(status, "processing") == 0 ? "pending"
                                                           : "failed";
    if (strcmp(ours.status, want) == 0)
        return TG_OK;
    char detail[160];
    snprintf(detail, sizeof(detail), "charge %lld: local %s, Stripe %s", ours.id, ours.status,
             status);
    differ(rc, "charge", id, detail,
           rc->fix && strcmp(ours.status, "pending") == 0 &&
               fixed(rc, charge_apply_intent(rc->ctx, ours.id, pi)));
    return TG_OK;
}

/* each_object: check every object of the Stripe list at path. */
static enum tg_err each_object(struct recon *rc, const char *path,
                               enum tg_err (*check)(struct recon *, json_t *))
{
    char after[256] = "";
    bool subscriptions = strcmp(path, "/v1/subscriptions") == 0;
    for (int page = 0; page < PAGES_MAX; page++) {
        struct stripe_param params[3] = {{"limit", "100"}, {"status", "all"}, {NULL, NULL}};
        size_t n = subscriptions ? 2 : 1;
        if (after[0] != '\0')
            params[n++] = (struct stripe_param){"starting_after", after};
        struct stripe_result r = {0};
        if (stripe_call(rc->ctx, "GET", path, params, n, NULL, &r) != TG_OK ||
            r.outcome != STRIPE_OK)
            return ctx_fail(rc->ctx, TG_EUPSTREAM, "GET %s failed (%d)", path, r.status);
        json_t *data = json_object_get(r.body, "data"), *obj;
        size_t i;
        json_array_foreach(data, i, obj)
        {
            enum tg_err e = check(rc, obj);
            if (e != TG_OK)
                return e;
        }
        json_t *last = json_array_get(data, json_array_size(data) - 1);
        const char *last_id = json_string_value(json_object_get(last, "id"));
        if (!json_is_true(json_object_get(r.body, "has_more")) || last_id == NULL)
            return TG_OK;
        snprintf(after, sizeof(after), "%s", last_id);
    }
    return TG_OK;
}

enum tg_err reconcile_run(struct tg_ctx *ctx, bool fix,
                          void (*report)(void *arg, const struct reconcile_difference *d),
                          void *arg, struct reconcile_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (ctx->svc->stripe == NULL)
        return ctx_fail(ctx, TG_ECONFIG, "Stripe is not configured (stripe_secret_key_file)");
    struct recon rc = {ctx, fix, report, arg, out};
    enum tg_err e = each_object(&rc, "/v1/subscriptions", check_subscription);
    return e != TG_OK ? e : each_object(&rc, "/v1/payment_intents", check_intent);
}
