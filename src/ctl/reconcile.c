/*
 * reconcile: tollgatectl reconcile; see ctl.h. Stripe is the source of
 * truth for what happened to money: every subscription and PaymentIntent it
 * lists (GET /v1/subscriptions?status=all, GET /v1/payment_intents, paged
 * with starting_after) is compared with the local row that mirrors it.
 * --fix applies Stripe's state through the same code the webhooks use.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "ctl/ctl.h"
#include "domain/charge.h"
#include "core/config.h"
#include "integration/stripe.h"
#include "store/db.h"
#include "domain/subscription.h"

struct recon {
    struct tg_ctx ctx; /* a copy of the command's */
    PGconn *c;
    FILE *out;
    bool fix;
    int differences, fixed;
};

/* each_object: call fn for every object of a Stripe list at path. */
static int each_object(struct recon *rc, const char *path,
                       void (*fn)(struct recon *, json_t *))
{
    char after[256] = "";
    for (int page = 0; page < 1000; page++) {
        struct stripe_param params[3] = {{"limit", "100"}, {"status", "all"}, {NULL, NULL}};
        size_t n = strcmp(path, "/v1/subscriptions") == 0 ? 2 : 1;
        if (after[0] != '\0')
            params[n++] = (struct stripe_param){"starting_after", after};
        struct stripe_result r;
        if (stripe_call(&rc->ctx, "GET", path, params, n, NULL, &r) !=
                TG_OK ||
            r.outcome != STRIPE_OK) {
            fprintf(stderr, "tollgatectl: GET %s failed (%d)\n", path, r.status);
            return -1;
        }
        json_t *data = json_object_get(r.body, "data"), *obj;
        size_t i;
        json_array_foreach(data, i, obj) fn(rc, obj);
        json_t *last = json_array_get(data, json_array_size(data) - 1);
        if (!json_is_true(json_object_get(r.body, "has_more")) || last == NULL)
            return 0;
        snprintf(after, sizeof(after), "%s", json_string_value(json_object_get(last, "id")));
    }
    return 0;
}

static PGresult *query(struct recon *rc, const char *sql, const char *param)
{
    const char *p[1] = {param};
    PGresult *r = PQexecParams(rc->c, sql, 1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "tollgatectl: %s", PQerrorMessage(rc->c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static void differ(struct recon *rc, const char *what, const char *id, const char *detail)
{
    rc->differences++;
    fprintf(rc->out, "%-13s %-32s %s\n", what, id, detail);
}

static void check_subscription(struct recon *rc, json_t *sub)
{
    const char *id = json_string_value(json_object_get(sub, "id"));
    const char *status = json_string_value(json_object_get(sub, "status"));
    bool at_end = json_is_true(json_object_get(sub, "cancel_at_period_end"));
    PGresult *r = query(rc,
                        "SELECT id, status, cancel_at_period_end FROM subscriptions"
                        " WHERE stripe_subscription_id = $1",
                        id);
    if (r == NULL || id == NULL || status == NULL)
        return;
    if (PQntuples(r) == 0) {
        differ(rc, "subscription", id, "at Stripe only (not made by tollgate?)");
    } else if (strcmp(PQgetvalue(r, 0, 1), status) != 0 ||
               (strcmp(PQgetvalue(r, 0, 2), "t") == 0) != at_end) {
        char detail[160];
        snprintf(detail, sizeof(detail), "local %s%s, Stripe %s%s", PQgetvalue(r, 0, 1),
                 strcmp(PQgetvalue(r, 0, 2), "t") == 0 ? " (cancel at period end)" : "", status,
                 at_end ? " (cancel at period end)" : "");
        differ(rc, "subscription", id, detail);
        if (rc->fix && subscription_apply_stripe(&rc->ctx, PQgetvalue(r, 0, 0), sub, NULL,
                                                 NULL) == TG_OK)
            rc->fixed++;
    }
    PQclear(r);
}

static void check_intent(struct recon *rc, json_t *pi)
{
    const char *id = json_string_value(json_object_get(pi, "id"));
    const char *meta = json_string_value(
        json_object_get(json_object_get(pi, "metadata"), "tollgate_charge_id"));
    const char *status = json_string_value(json_object_get(pi, "status"));
    if (meta == NULL || id == NULL || status == NULL)
        return; /* not a charge of ours */
    PGresult *r = query(rc, "SELECT id, status, coalesce(stripe_payment_intent_id, '')"
                            " FROM charges WHERE id::text = $1", meta);
    if (r == NULL)
        return;
    const char *want = strcmp(status, "succeeded") == 0 ? "succeeded"
                       : strcmp(status, "processing") == 0 ? "pending" : "failed";
    if (PQntuples(r) == 0) {
        differ(rc, "charge", id, "at Stripe only");
    } else if (PQgetvalue(r, 0, 2)[0] != '\0' && strcmp(PQgetvalue(r, 0, 2), id) != 0) {
        /* an earlier attempt of a charge tried again on a new card: superseded */
    } else if (strcmp(PQgetvalue(r, 0, 1), want) != 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "charge %s: local %s, Stripe %s", PQgetvalue(r, 0, 0),
                 PQgetvalue(r, 0, 1), status);
        differ(rc, "charge", id, detail);
        if (rc->fix && strcmp(PQgetvalue(r, 0, 1), "pending") == 0 &&
            charge_apply_intent(&rc->ctx, strtoll(PQgetvalue(r, 0, 0), NULL, 10), pi) == TG_OK)
            rc->fixed++;
    }
    PQclear(r);
}

int ctl_reconcile(struct ctl *ctx, int argc, char **argv)
{
    PGconn *c = ctx->db;
    const struct config *cfg = ctx->cfg;
    FILE *out = ctx->out;
    bool fix = argc == 2 && strcmp(argv[1], "--fix") == 0;
    if (ctl_wants_help(argc, argv) || argc > 2 || (argc == 2 && !fix))
        return ctl_usage("reconcile", "[--fix]", ctl_wants_help(argc, argv));
    if (cfg->stripe_secret_key == NULL) {
        fprintf(stderr, "tollgatectl: Stripe is not configured (stripe_secret_key_file)\n");
        return 1;
    }
    struct recon rc = {.c = c, .out = out, .fix = fix};
    int status = 1;
    if (ctx->tg->svc->stripe == NULL)
        return status;
    rc.ctx = *ctx->tg;
    if (each_object(&rc, "/v1/subscriptions", check_subscription) != 0 ||
        each_object(&rc, "/v1/payment_intents", check_intent) != 0)
        goto out;
    fprintf(out, "%d difference%s%s", rc.differences, rc.differences == 1 ? "" : "s",
            fix ? "" : "\n");
    if (fix)
        fprintf(out, ", %d fixed\n", rc.fixed);
    status = rc.differences > rc.fixed;
out:
    return status;
}
