/*
 * charges: see charges.h.
 */
#include "store/charges.h"

#include <stdlib.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"
#include "store/sql.h"

static const struct db_statement settle_st = {
    "charges_settle",
    "SELECT " USAGE_EVENT_COLS
    " FROM charge_settle($1, $2, $3, $4, $5, $6::jsonb, $7::interval) u",
    7};

static const struct db_statement call_st = {
    "charges_call",
    "SELECT r.id, r.idempotency_key, r.customer_id, r.params::text,"
    " extract(epoch FROM r.created_at)::bigint"
    " FROM charges c JOIN stripe_requests r ON r.id = c.stripe_request_id"
    " WHERE c.id = $1",
    1};

static const struct db_statement by_call_st = {
    "charges_by_call", "SELECT id FROM charges WHERE stripe_request_id = $1", 1};

static const struct db_statement by_intent_st = {
    "charges_by_intent",
    "SELECT id FROM charges WHERE stripe_payment_intent_id = $1"
    " UNION ALL SELECT id FROM charges WHERE id = " SQL_BIGINT_ID("$2")
    " LIMIT 1",
    2};

static const struct db_statement refund_st = {
    "charges_record_refund",
    "UPDATE charges SET amount_refunded_cents = $2::bigint,"
    " updated_at = now() WHERE stripe_payment_intent_id = $1"
    " RETURNING id",
    2};

static const struct db_statement owed_retry_st = {
    "charges_owed_retry", "SELECT charge_id FROM charges_owed_retry($1)", 1};

static const struct db_statement get_st = {
    "charges_get",
    "SELECT id, status, stripe_payment_intent_id FROM charges WHERE id = " SQL_BIGINT_ID("$1"),
    1};

const struct db_statement *const charges_statements[] = {
    &settle_st, &call_st, &by_call_st, &by_intent_st, &refund_st, &owed_retry_st, &get_st, NULL};

enum tg_err charges_settle(struct tg_ctx *ctx, long long charge_id,
                           const struct charge_settlement *s, json_t *result, long grace_days,
                           bool *found, struct usage_event *out)
{
    const char *text = result != NULL ? stripe_requests_json(ctx, result) : NULL;
    if (result != NULL && text == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    const char *p[7] = {db_text_ll(ctx, charge_id), s->outcome, s->payment_intent,
                        s->failure_code, s->decline_code, text,
                        arena_printf(ctx->arena, "%ld days", grace_days)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &settle_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *found = PQntuples(r) == 1;
    if (*found)
        usage_events_from_row(r, 0, 0, out);
    return TG_OK;
}

enum tg_err charges_call(struct tg_ctx *ctx, long long charge_id, struct stripe_request *out)
{
    const char *p[1] = {db_text_ll(ctx, charge_id)};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &call_st, p, &r);
    if (e != TG_OK)
        return e;
    out->id = db_ll(r, 0, 0);
    out->key = db_str(r, 0, 1);
    out->customer_id = db_str(r, 0, 2);
    out->operation = "charge";
    out->attempts = 0;
    out->created_at = db_ll(r, 0, 4);
    return stripe_requests_params(ctx, db_str(r, 0, 3), &out->params);
}

/* one_id: run st with params p and read one bigint. */
static enum tg_err one_id(struct tg_ctx *ctx, const struct db_statement *st,
                          const char *const *p, long long *id)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) < 1)
        return TG_ENOTFOUND;
    *id = db_ll(r, 0, 0);
    return TG_OK;
}

enum tg_err charges_by_call(struct tg_ctx *ctx, long long call_id, long long *charge_id)
{
    const char *p[1] = {db_text_ll(ctx, call_id)};
    return one_id(ctx, &by_call_st, p, charge_id);
}

enum tg_err charges_by_intent(struct tg_ctx *ctx, const char *pi, const char *metadata_id,
                              long long *charge_id)
{
    const char *p[2] = {pi, metadata_id};
    return one_id(ctx, &by_intent_st, p, charge_id);
}

enum tg_err charges_record_refund(struct tg_ctx *ctx, const char *pi, long long refunded_cents,
                                  bool *found)
{
    const char *p[2] = {pi, db_text_ll(ctx, refunded_cents)};
    long long id;
    enum tg_err e = one_id(ctx, &refund_st, p, &id);
    *found = e == TG_OK;
    return e == TG_ENOTFOUND ? TG_OK : e;
}

enum tg_err charges_owed_retry(struct tg_ctx *ctx, const char *customer_id, long long **ids,
                               size_t *n)
{
    const char *p[1] = {customer_id};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &owed_retry_st, p, sizeof(**ids), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *ids = rows;
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = db_ll(r, (int)i, 0);
    return TG_OK;
}

enum tg_err charges_get(struct tg_ctx *ctx, const char *id, struct charge_state *out)
{
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &get_st, p, &r);
    if (e != TG_OK)
        return e;
    out->id = db_ll(r, 0, 0);
    out->status = db_str(r, 0, 1);
    out->payment_intent = db_str(r, 0, 2);
    return TG_OK;
}
