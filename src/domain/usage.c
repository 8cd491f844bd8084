/*
 * usage: see usage.h. The rule itself runs in PostgreSQL as one statement
 * (sql/002_billing.sql, usage_fix_deployed), which locks the customer's
 * row: that is what makes k credits serve exactly k of N parallel requests.
 */
#include "domain/usage.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "domain/charge.h"
#include "domain/service.h"
#include "store/db.h"

/* The columns of DB_USAGE_FIX and DB_USAGE_EVENT_GET (statements.c). */
enum { U_STATUS, U_ID, U_OUTCOME, U_BALANCE, U_LEDGER, U_FIX, U_CREATED, U_CHARGE, U_REASON,
       U_AMOUNT, U_CURRENCY };

static long long ll(PGresult *r, int col)
{
    return PQgetisnull(r, 0, col) ? 0 : strtoll(PQgetvalue(r, 0, col), NULL, 10);
}

static void from_row(PGresult *r, struct usage_event *out)
{
    out->id = ll(r, U_ID);
    out->kind = "fix_deployed";
    out->outcome = PQgetvalue(r, 0, U_OUTCOME);
    out->balance_after = ll(r, U_BALANCE);
    out->ledger_entry_id = ll(r, U_LEDGER);
    out->fix_id = PQgetvalue(r, 0, U_FIX);
    out->created_at = PQgetvalue(r, 0, U_CREATED);
    out->charge_id = ll(r, U_CHARGE);
    out->amount_cents = ll(r, U_AMOUNT);
    out->currency = PQgetisnull(r, 0, U_CURRENCY) ? NULL : PQgetvalue(r, 0, U_CURRENCY);
}

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
    int status = (int)ll(r, U_STATUS);
    const char *reason = PQgetisnull(r, 0, U_REASON) ? "" : PQgetvalue(r, 0, U_REASON);
    switch (status) {
    case 201:
    case 200:
        from_row(r, out);
        out->replayed = status == 200;
        return TG_OK;
    case 202: /* phase 1 of a charge is committed: run it */
        return charge_run(req, ll(r, U_CHARGE), out);
    case 402:
        if (strcmp(reason, "delinquent") == 0)
            return http_fail(req, TG_EINSUFFICIENT, "no credits left, and payment is overdue: "
                                                    "settle the open invoice to be charged again");
        return http_fail(req, TG_EINSUFFICIENT, "no credits left and no payment method on "
                                                "file: add one to keep deploying fixes");
    case 409:
        req->retry_after = "2";
        return http_fail(req, TG_ECONFLICT, "the first request with this Idempotency-Key is "
                                            "still being charged; retry in a few seconds");
    case 422:
        return http_fail(req, TG_EIDEMPOTENCYREUSE, "this Idempotency-Key was first used with "
                                                    "another request body");
    case 404:
        return http_fail(req, TG_EUNAUTHORIZED, "the customer of this key no longer exists");
    default:
        return TG_EINTERNAL;
    }
}

enum tg_err usage_event_get(struct http_request *req, long long id, struct usage_event *out)
{
    char text[24];
    snprintf(text, sizeof(text), "%lld", id);
    const char *params[1] = {text};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_USAGE_EVENT_GET, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return http_fail(req, TG_ENOTFOUND, "no such usage event");
    from_row(r, out);
    out->replayed = false;
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
