/*
 * stripe_events: see stripe_events.h.
 */
#include "store/stripe_events.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

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
    " RETURNING e.id, e.type, e.payload::text,"
    "           (extract(epoch FROM e.received_at) * 1000000)::bigint",
    1};

static const struct db_statement done_st = {
    "stripe_events_done", "SELECT stripe_event_done($1, $2, $3, $4::integer)", 4};

#define RECORD_COLS                                                                            \
    "e.id, e.type, e.status, e.attempts, e.last_error, " SQL_TS("e.received_at")

static const struct db_statement dead_st = {
    "stripe_events_dead",
    "SELECT " RECORD_COLS ", NULL FROM stripe_events e WHERE e.status = 'dead'"
    " ORDER BY e.received_at",
    0};

static const struct db_statement get_st = {
    "stripe_events_get",
    "SELECT " RECORD_COLS ", e.payload::text FROM stripe_events e WHERE e.id = $1", 1};

static const struct db_statement replay_st = {
    "stripe_events_replay", "SELECT event_id FROM stripe_event_replay($1)", 1};

const struct db_statement *const stripe_events_statements[] = {
    &store_st, &claim_st, &done_st, &dead_st, &get_st, &replay_st, NULL};

static void record_from_row(const PGresult *r, int i, struct stripe_event_record *ev)
{
    ev->id = db_str(r, i, 0);
    ev->type = db_str(r, i, 1);
    ev->status = db_str(r, i, 2);
    ev->attempts = db_ll(r, i, 3);
    ev->last_error = db_str(r, i, 4);
    ev->received_at = db_str(r, i, 5);
    ev->payload = db_str(r, i, 6);
}

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
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &claim_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        (*out)[i].id = db_str(r, (int)i, 0);
        (*out)[i].type = db_str(r, (int)i, 1);
        (*out)[i].payload = db_str(r, (int)i, 2);
        (*out)[i].received_us = db_ll(r, (int)i, 3);
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

enum tg_err stripe_events_dead(struct tg_ctx *ctx, struct stripe_event_record **out, size_t *n)
{
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &dead_st, NULL, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++)
        record_from_row(r, (int)i, &(*out)[i]);
    return TG_OK;
}

enum tg_err stripe_events_get(struct tg_ctx *ctx, const char *id, struct stripe_event_record *out)
{
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &get_st, p, &r);
    if (e != TG_OK)
        return e;
    record_from_row(r, 0, out);
    return TG_OK;
}

enum tg_err stripe_events_replay(struct tg_ctx *ctx, const char *id, const char ***ids, size_t *n)
{
    const char *p[1] = {id};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &replay_st, p, sizeof(**ids), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *ids = rows;
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = db_str(r, (int)i, 0);
    return TG_OK;
}
