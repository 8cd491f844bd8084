/*
 * stripe_requests: see stripe_requests.h.
 */
#include "store/stripe_requests.h"

#include <stdlib.h>

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement begin_st = {
    "stripe_requests_begin",
    "SELECT id, idempotency_key FROM stripe_request_begin($1, $2, $3::jsonb, $4)", 4};

static const struct db_statement finish_st = {
    "stripe_requests_finish", "SELECT stripe_request_finish($1, $2, $3::jsonb)", 3};

/* Lease due calls for two minutes; SKIP LOCKED lets several
 * tollgate-worker processes claim side by side. */
static const struct db_statement claim_st = {
    "stripe_requests_claim",
    "UPDATE stripe_requests r"
    "   SET next_attempt_at = now() + interval '2 minutes', updated_at = now()"
    " WHERE r.id IN (SELECT id FROM stripe_requests"
    "                 WHERE status = 'pending' AND next_attempt_at <= now()"
    "                   AND (attempts > 0 OR"
    "                        created_at <= now() - make_interval(secs => $2))"
    "                 ORDER BY next_attempt_at LIMIT $1"
    "                 FOR UPDATE SKIP LOCKED)"
    " RETURNING r.id, r.idempotency_key, r.customer_id, r.operation,"
    "           r.params::text, r.attempts, extract(epoch FROM r.created_at)::bigint",
    2};

const struct db_statement *const stripe_requests_statements[] = {&begin_st, &finish_st,
                                                                  &claim_st, NULL};

const char *stripe_requests_json(struct tg_ctx *ctx, json_t *j)
{
    if (j == NULL)
        return "null";
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (text == NULL || arena_defer(ctx->arena, free, text) != 0)
        return NULL;
    return text;
}

enum tg_err stripe_requests_params(struct tg_ctx *ctx, const char *text, json_t **out)
{
    *out = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (*out == NULL)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    if (arena_defer(ctx->arena, arena_json_decref, *out) != 0) {
        *out = NULL; /* arena_defer released it */
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    }
    return TG_OK;
}

enum tg_err stripe_requests_begin(struct tg_ctx *ctx, const char *customer_id,
                                  const char *operation, json_t *params,
                                  struct stripe_request *out)
{
    const char *text = stripe_requests_json(ctx, params);
    if (text == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    /* A request with an Idempotency-Key derives the call's key from its
     * record, so its retry resumes this call (ctx.h: idempotency_ref). */
    const char *p[4] = {customer_id, operation, text, ctx->idempotency_ref};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &begin_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    out->id = db_ll(r, 0, 0);
    out->key = db_str(r, 0, 1);
    out->customer_id = customer_id;
    out->operation = operation;
    out->attempts = 0;
    out->created_at = 0;
    /* The params as recorded: the caller's object, one more reference. */
    out->params = json_incref(params);
    if (arena_defer(ctx->arena, arena_json_decref, out->params) != 0) {
        out->params = NULL;
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    }
    return TG_OK;
}

enum tg_err stripe_requests_finish(struct tg_ctx *ctx, long long id, const char *status,
                                   json_t *result)
{
    const char *text = stripe_requests_json(ctx, result);
    if (text == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    const char *p[3] = {db_text_ll(ctx, id), status, text};
    PGresult *r;
    return db_exec(ctx, &finish_st, p, NULL, NULL, &r);
}

enum tg_err stripe_requests_claim(struct tg_ctx *ctx, int limit, long grace_seconds,
                                  struct stripe_request **out, size_t *n)
{
    const char *p[2] = {db_text_ll(ctx, limit), db_text_ll(ctx, grace_seconds)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &claim_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        struct stripe_request *c = &(*out)[i];
        c->id = db_ll(r, (int)i, 0);
        c->key = db_str(r, (int)i, 1);
        c->customer_id = db_str(r, (int)i, 2);
        c->operation = db_str(r, (int)i, 3);
        c->attempts = (int)db_ll(r, (int)i, 5);
        c->created_at = db_ll(r, (int)i, 6);
        if ((e = stripe_requests_params(ctx, db_str(r, (int)i, 4), &c->params)) != TG_OK)
            return e;
    }
    return TG_OK;
}
