/*
 * subscriptions: see subscriptions.h.
 */
#include "store/subscriptions.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

/* The columns of a subscription, in the order from_row reads them. */
#define SUBSCRIPTION_COLS                                                                      \
    "s.id, s.customer_id, s.plan, s.status, s.stripe_subscription_id, s.stripe_price_id, "     \
    SQL_TS("s.current_period_start") ", " SQL_TS("s.current_period_end")                       \
    ", s.cancel_at_period_end, " SQL_TS("s.canceled_at") ", " SQL_TS("s.created_at")

static const struct db_statement begin_st = {
    "subscriptions_begin",
    "SELECT outcome, subscription_id, request_id, idempotency_key, stripe_customer_id,"
    " payment_method FROM subscription_begin($1, $2, $3, $4)",
    4};

static const struct db_statement apply_st = {
    "subscriptions_apply",
    "SELECT " SUBSCRIPTION_COLS ", o.prev_status, o.prev_cancel_at_period_end, o.prev_tier,"
    " o.tier"
    " FROM subscription_apply_observed($1, $2, $3, to_timestamp($4::bigint),"
    " to_timestamp($5::bigint), $6::boolean, to_timestamp($7::bigint), $8, $9::boolean) o,"
    " LATERAL (SELECT (o.sub).*) s",
    9};

static const struct db_statement current_st = {
    "subscriptions_current",
    "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s WHERE s.customer_id = $1"
    "   AND subscription_is_live(s.status)",
    1};

static const struct db_statement by_call_st = {
    "subscriptions_by_call",
    "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s WHERE s.stripe_request_id = $1", 1};

static const struct db_statement by_stripe_st = {
    "subscriptions_by_stripe",
    "SELECT id FROM subscriptions WHERE stripe_subscription_id = $1"
    " UNION ALL"
    " SELECT id FROM subscriptions WHERE id = " SQL_UUID_ID("$2")
    " AND stripe_subscription_id IS NULL"
    " LIMIT 1",
    2};

static const struct db_statement get_by_stripe_st = {
    "subscriptions_get_by_stripe",
    "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s WHERE s.stripe_subscription_id = $1", 1};

const struct db_statement *const subscriptions_statements[] = {
    &begin_st, &apply_st, &current_st, &by_call_st, &by_stripe_st, &get_by_stripe_st, NULL};

static void from_row(const PGresult *r, struct subscription *s)
{
    s->id = db_str(r, 0, 0);
    s->customer_id = db_str(r, 0, 1);
    s->plan = db_str(r, 0, 2);
    s->status = db_str(r, 0, 3);
    s->stripe_subscription_id = db_str(r, 0, 4);
    s->stripe_price_id = db_str(r, 0, 5);
    s->current_period_start = db_str(r, 0, 6);
    s->current_period_end = db_str(r, 0, 7);
    s->cancel_at_period_end = db_bool(r, 0, 8);
    s->canceled_at = db_str(r, 0, 9);
    s->created_at = db_str(r, 0, 10);
}

/* one: run st with params p; TG_ENOTFOUND without a row. */
static enum tg_err one(struct tg_ctx *ctx, const struct db_statement *st, const char *const *p,
                       struct subscription *out)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_ENOTFOUND;
    if (out != NULL)
        from_row(r, out);
    return TG_OK;
}

enum tg_err subscriptions_begin(struct tg_ctx *ctx, const char *customer_id, const char *plan,
                                const char *price, enum subscriptions_begin_outcome *outcome,
                                const char **subscription_id, struct stripe_request *call)
{
    /* ctx->idempotency_ref: a retry of a request that died resumes its
     * call (sql/functions/subscriptions.sql). */
    const char *p[4] = {customer_id, plan, price, ctx->idempotency_ref};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &begin_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    static const char *const outcomes[] = {
        [SUBSCRIPTIONS_BEGUN] = "begun",
        [SUBSCRIPTIONS_ALREADY_SUBSCRIBED] = "already_subscribed",
        [SUBSCRIPTIONS_NO_PAYMENT_METHOD] = "no_payment_method"};
    int o;
    if ((e = db_outcome(ctx, r, 0, outcomes, 3, &o)) != TG_OK)
        return e;
    *outcome = (enum subscriptions_begin_outcome)o;
    if (*outcome != SUBSCRIPTIONS_BEGUN)
        return TG_OK;
    *subscription_id = db_str(r, 0, 1);
    call->id = db_ll(r, 0, 2);
    call->key = db_str(r, 0, 3);
    call->customer_id = customer_id;
    call->operation = "create_subscription";
    call->attempts = 0;
    call->created_at = 0;
    /* What subscription_begin() recorded as the call's params. */
    call->params = json_pack("{s:s, s:s, s:s}", "customer", db_str(r, 0, 4), "price", price,
                             "default_payment_method", db_str(r, 0, 5));
    if (call->params == NULL || arena_defer(ctx->arena, arena_json_decref, call->params) != 0)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    return TG_OK;
}

enum tg_err subscriptions_apply(struct tg_ctx *ctx, const char *id,
                                const struct subscription_state *st, struct subscription *out,
                                struct subscriptions_change *change)
{
    const char *p[9] = {
        id,
        st->stripe_id,
        st->status,
        st->period_start > 0 ? db_text_ll(ctx, st->period_start) : NULL,
        st->period_end > 0 ? db_text_ll(ctx, st->period_end) : NULL,
        st->cancel_at_period_end ? "true" : "false",
        st->canceled_at > 0 ? db_text_ll(ctx, st->canceled_at) : NULL,
        st->invoice_id,
        st->invoice_paid ? "true" : "false",
    };
    PGresult *r;
    enum tg_err e = db_exec(ctx, &apply_st, p, NULL, NULL, &r);
    if (e == TG_OK && out != NULL && PQntuples(r) == 1)
        from_row(r, out);
    if (e == TG_OK && change != NULL && PQntuples(r) == 1)
        *change = (struct subscriptions_change){db_str(r, 0, 11), db_bool(r, 0, 12),
                                                db_str(r, 0, 13), db_str(r, 0, 14)};
    return e;
}

enum tg_err subscriptions_current(struct tg_ctx *ctx, const char *customer_id,
                                  struct subscription *out)
{
    const char *p[1] = {customer_id};
    return one(ctx, &current_st, p, out);
}

enum tg_err subscriptions_by_call(struct tg_ctx *ctx, long long call_id,
                                  struct subscription *out)
{
    const char *p[1] = {db_text_ll(ctx, call_id)};
    return one(ctx, &by_call_st, p, out);
}

enum tg_err subscriptions_get_by_stripe(struct tg_ctx *ctx, const char *sub_id,
                                        struct subscription *out)
{
    const char *p[1] = {sub_id};
    return one(ctx, &get_by_stripe_st, p, out);
}

enum tg_err subscriptions_by_stripe(struct tg_ctx *ctx, const char *sub_id,
                                    const char *metadata_id, const char **id)
{
    const char *p[2] = {sub_id, metadata_id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &by_stripe_st, p, &r);
    if (e != TG_OK)
        return e;
    *id = db_str(r, 0, 0);
    return TG_OK;
}
