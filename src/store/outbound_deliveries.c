/*
 * outbound_deliveries: see outbound_deliveries.h.
 */
#include "store/outbound_deliveries.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

static const struct db_statement claim_st = {
    "outbound_deliveries_claim",
    "SELECT delivery_id, attempts, event_id, event_type, body, endpoint_id, url, secret,"
    " previous_secret FROM outbound_claim($1::integer, $2::integer)",
    2};

static const struct db_statement done_st = {
    "outbound_deliveries_done",
    "SELECT s FROM outbound_delivery_done($1::bigint, $2::boolean, $3::integer, $4,"
    " $5::bigint) s",
    5};

static const struct db_statement list_st = {
    "outbound_deliveries_list",
    "SELECT d.id, e.id, e.type, e.customer_id, d.endpoint_id, d.status, d.attempts,"
    " d.last_status, d.last_error, " SQL_TS("d.created_at") ","
    " CASE WHEN d.status = 'pending' THEN " SQL_TS("d.next_attempt_at") " END, "
    SQL_TS("d.delivered_at")
    " FROM outbound_deliveries d JOIN outbound_events e ON e.seq = d.event_seq"
    " WHERE NOT $1::boolean OR d.status = 'dead' OR (d.status = 'pending' AND d.attempts > 0"
    "       AND d.last_attempt_at IS NOT NULL AND (d.last_status IS NOT NULL"
    "            OR d.last_error IS NOT NULL))"
    " ORDER BY d.id DESC LIMIT $2::integer",
    2};

static const struct db_statement replay_st = {
    "outbound_deliveries_replay", "SELECT delivery_id FROM outbound_replay($1)", 1};

const struct db_statement *const outbound_deliveries_statements[] = {
    &claim_st, &done_st, &list_st, &replay_st, NULL};

enum tg_err outbound_deliveries_claim(struct tg_ctx *ctx, int limit, long lease_ms,
                                      struct outbound_claim **out, size_t *n)
{
    const char *p[2] = {db_text_ll(ctx, limit), db_text_ll(ctx, lease_ms)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &claim_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        struct outbound_claim *c = &(*out)[i];
        c->id = db_ll(r, (int)i, 0);
        c->attempts = db_ll(r, (int)i, 1);
        c->event_id = db_str(r, (int)i, 2);
        c->event_type = db_str(r, (int)i, 3);
        c->body = db_str(r, (int)i, 4);
        c->endpoint_id = db_str(r, (int)i, 5);
        c->url = db_str(r, (int)i, 6);
        c->secret = db_str(r, (int)i, 7);
        c->previous_secret = db_str(r, (int)i, 8);
    }
    return TG_OK;
}

enum tg_err outbound_deliveries_done(struct tg_ctx *ctx, long long id, bool delivered,
                                     long http_status, const char *error,
                                     long horizon_seconds, const char **status)
{
    const char *p[5] = {db_text_ll(ctx, id), delivered ? "true" : "false",
                        http_status > 0 ? db_text_ll(ctx, http_status) : NULL,
                        error != NULL && error[0] != '\0' ? error : NULL,
                        db_text_ll(ctx, horizon_seconds)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &done_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *status = PQntuples(r) == 1 && db_str(r, 0, 0) != NULL ? db_str(r, 0, 0) : "unknown";
    return TG_OK;
}

enum tg_err outbound_deliveries_list(struct tg_ctx *ctx, bool failed_only, int limit,
                                     struct outbound_delivery **out, size_t *n)
{
    const char *p[2] = {failed_only ? "true" : "false", db_text_ll(ctx, limit)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &list_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        struct outbound_delivery *d = &(*out)[i];
        int k = (int)i;
        d->id = db_ll(r, k, 0);
        d->event_id = db_str(r, k, 1);
        d->event_type = db_str(r, k, 2);
        d->customer_id = db_str(r, k, 3);
        d->endpoint_id = db_str(r, k, 4);
        d->status = db_str(r, k, 5);
        d->attempts = db_ll(r, k, 6);
        d->last_status = db_ll(r, k, 7);
        d->last_error = db_str(r, k, 8);
        d->created_at = db_str(r, k, 9);
        d->next_attempt_at = db_str(r, k, 10);
        d->delivered_at = db_str(r, k, 11);
    }
    return TG_OK;
}

enum tg_err outbound_deliveries_replay(struct tg_ctx *ctx, const char *id, long long **ids,
                                       size_t *n)
{
    const char *p[1] = {id};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &replay_st, p, sizeof(**ids), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *ids = rows;
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = db_ll(r, (int)i, 0);
    return TG_OK;
}
