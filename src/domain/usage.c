/*
 * usage: see usage.h. The rule itself runs in PostgreSQL as one statement
 * (sql/001_foundation.sql, usage_fix_deployed), which locks the customer's
 * row: that is what makes k credits serve exactly k of N parallel requests.
 */
#include "domain/usage.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/hash.h"
#include "domain/service.h"
#include "store/db.h"

enum tg_err usage_record_fix(struct http_request *req, const char *fix_id, const char *metadata,
                             struct usage_event *out)
{
    uint8_t body_hash[HASH_SHA256_LEN];
    if (hash_sha256(req->body, req->body_len, body_hash) != 0)
        return TG_EINTERNAL;
    const char *params[5] = {req->auth.customer_id, req->idempotency_key,
                             (const char *)body_hash, fix_id, metadata};
    const int lengths[5] = {0, 0, HASH_SHA256_LEN, 0, 0};
    const int formats[5] = {0, 0, 1, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_USAGE_FIX, params, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_EINTERNAL;
    int status = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    switch (status) {
    case 201:
    case 200:
        break;
    case 402:
        return http_fail(req, TG_EINSUFFICIENT, "no credits left and no payment method on "
                                                "file: add one to keep deploying fixes");
    case 422:
        return http_fail(req, TG_EIDEMPOTENCYREUSE, "this Idempotency-Key was first used with "
                                                    "another request body");
    case 404:
        return http_fail(req, TG_EUNAUTHORIZED, "the customer of this key no longer exists");
    default:
        return TG_EINTERNAL;
    }
    out->replayed = status == 200;
    out->id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->kind = "fix_deployed";
    out->outcome = PQgetvalue(r, 0, 2);
    out->balance_after = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    out->ledger_entry_id = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    out->fix_id = PQgetvalue(r, 0, 5);
    out->created_at = PQgetvalue(r, 0, 6);
    return TG_OK;
}

enum tg_err usage_summary(struct http_request *req, const char *customer_id, int n,
                          struct customer *c, struct ledger_page *recent)
{
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", n);
    const char *params[2] = {customer_id, lim};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_USAGE_SUMMARY, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    int rows = PQntuples(r);
    if (rows == 0)
        return http_fail(req, TG_ENOTFOUND, "no such customer");
    customer_from_row(r, 0, c);
    recent->has_more = false;
    recent->count = PQgetisnull(r, 0, CUSTOMER_NCOLS) ? 0 : (size_t)rows;
    recent->entries = NULL;
    if (recent->count == 0)
        return TG_OK;
    recent->entries = arena_alloc(req->arena, recent->count * sizeof(*recent->entries));
    if (recent->entries == NULL)
        return TG_ENOMEM;
    for (int i = 0; i < rows; i++)
        ledger_entry_from_row(r, i, CUSTOMER_NCOLS, &recent->entries[i]);
    return TG_OK;
}
