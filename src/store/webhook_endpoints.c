/*
 * webhook_endpoints: see webhook_endpoints.h.
 */
#include "store/webhook_endpoints.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

#define COLS                                                                                 \
    "w.id, w.url, array_to_string(w.events, ','), " SQL_TS("w.created_at") ", "              \
    SQL_TS("w.removed_at") ", CASE WHEN w.previous_secret_expires_at > now() THEN "          \
    SQL_TS("w.previous_secret_expires_at") " END"

static const struct db_statement add_st = {
    "webhook_endpoints_add",
    "SELECT " COLS " FROM webhook_endpoint_add($1, string_to_array($2, ','), $3) w", 3};

static const struct db_statement remove_st = {
    "webhook_endpoints_remove", "SELECT w.id FROM webhook_endpoint_remove($1) w", 1};

static const struct db_statement rotate_st = {
    "webhook_endpoints_rotate",
    "SELECT " COLS " FROM webhook_endpoint_rotate($1, $2, $3::bigint * interval '1 second') w",
    3};

static const struct db_statement list_st = {
    "webhook_endpoints_list",
    "SELECT " COLS " FROM webhook_endpoints w WHERE $1::boolean OR w.removed_at IS NULL"
    " ORDER BY w.created_at, w.id",
    1};

static const struct db_statement test_st = {
    "webhook_endpoints_test", "SELECT e FROM outbound_emit_test($1) e", 1};

const struct db_statement *const webhook_endpoints_statements[] = {
    &add_st, &remove_st, &rotate_st, &list_st, &test_st, NULL};

static void from_row(const PGresult *r, int i, struct webhook_endpoint *w)
{
    w->id = db_str(r, i, 0);
    w->url = db_str(r, i, 1);
    w->events = db_str(r, i, 2);
    w->created_at = db_str(r, i, 3);
    w->removed_at = db_str(r, i, 4);
    w->previous_secret_expires_at = db_str(r, i, 5);
}

enum tg_err webhook_endpoints_add(struct tg_ctx *ctx, const char *url, const char *events,
                                  const char *secret, struct webhook_endpoint *out)
{
    const char *p[3] = {url, events, secret};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &add_st, p, &r);
    if (e == TG_OK)
        from_row(r, 0, out);
    return e == TG_ENOTFOUND ? TG_EDB : e;
}

enum tg_err webhook_endpoints_remove(struct tg_ctx *ctx, const char *id)
{
    const char *p[1] = {id};
    PGresult *r;
    return db_exec_one(ctx, &remove_st, p, &r);
}

enum tg_err webhook_endpoints_rotate(struct tg_ctx *ctx, const char *id, const char *secret,
                                     long overlap_seconds, struct webhook_endpoint *out)
{
    const char *p[3] = {id, secret, db_text_ll(ctx, overlap_seconds)};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &rotate_st, p, &r);
    if (e == TG_OK)
        from_row(r, 0, out);
    return e;
}

enum tg_err webhook_endpoints_list(struct tg_ctx *ctx, bool with_removed,
                                   struct webhook_endpoint **out, size_t *n)
{
    const char *p[1] = {with_removed ? "true" : "false"};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &list_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++)
        from_row(r, (int)i, &(*out)[i]);
    return TG_OK;
}

enum tg_err webhook_endpoints_test(struct tg_ctx *ctx, const char *id, const char **event_id)
{
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &test_st, p, &r);
    if (e == TG_OK)
        *event_id = db_str(r, 0, 0);
    return e;
}
