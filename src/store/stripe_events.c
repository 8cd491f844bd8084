/*
 * stripe_events: see stripe_events.h.
 */
#include "store/stripe_events.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement store_st = {
    "stripe_events_store",
    "INSERT INTO stripe_events (id, type, api_version, created, livemode, payload)"
    " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO NOTHING RETURNING id",
    6};

/* Oldest first; leased for two minutes (SKIP LOCKED: several workers). */
static const struct db_statement claim_st = {
    "stripe_events_claim",
    "UPDATE stripe_events e"
    "   SET next_attempt_at = now() + interval '2 minutes'"
    " WHERE e.id IN (SELECT id FROM stripe_events"
    "                 WHERE status = 'pending' AND next_attempt_at <= now()"
    "                 ORDER BY created, received_at LIMIT $1"
    "                 FOR UPDATE SKIP LOCKED)"
    " RETURNING e.id, e.type, e.payload::text",
    1};

static const struct db_statement done_st = {
    "stripe_events_done", "SELECT stripe_event_done($1, $2, $3, $4::integer)", 4};

const struct db_statement *const stripe_events_statements[] = {&store_st, &claim_st, &done_st,
                                                                NULL};

enum tg_err stripe_events_store(struct tg_ctx *ctx, const char *id, const char *type,
                                const char *api_version, long long created, bool livemode,
                                const char *payload, bool *duplicate)
{
    const char *p[6] = {id, type, api_version, db_text_ll(ctx, created),
                        livemode ? "true" : "false", payload};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &store_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *duplicate = PQntuples(r) == 0;
    return e;
}

enum tg_err stripe_events_claim(struct tg_ctx *ctx, int limit, struct stripe_event **out,
                                size_t *n)
{
    const char *p[1] = {db_text_ll(ctx, limit)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &claim_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *n = (size_t)PQntuples(r);
    *out = arena_alloc(ctx->arena, (*n + 1) * sizeof(**out));
    if (*out == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    for (size_t i = 0; i < *n; i++) {
        (*out)[i].id = db_str(r, (int)i, 0);
        (*out)[i].type = db_str(r, (int)i, 1);
        (*out)[i].payload = db_str(r, (int)i, 2);
    }
    return TG_OK;
}

enum tg_err stripe_events_done(struct tg_ctx *ctx, const char *id, const char *outcome,
                               const char *error, long max_attempts, const char **status)
{
    const char *p[4] = {id, outcome, error, db_text_ll(ctx, max_attempts)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &done_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *status = PQntuples(r) == 1 && db_str(r, 0, 0) != NULL ? db_str(r, 0, 0) : "unknown";
    return TG_OK;
}
