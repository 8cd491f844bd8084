/*
 * ledger: see ledger.h.
 */
#include "domain/ledger.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain/service.h"
#include "store/db.h"

static const char *nullable(PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

void ledger_entry_from_row(PGresult *r, int i, int col, struct ledger_entry *le)
{
    le->id = strtoll(PQgetvalue(r, i, col), NULL, 10);
    le->amount = strtoll(PQgetvalue(r, i, col + 1), NULL, 10);
    le->kind = PQgetvalue(r, i, col + 2);
    le->balance_after = strtoll(PQgetvalue(r, i, col + 3), NULL, 10);
    le->reference = nullable(r, i, col + 4);
    le->description = nullable(r, i, col + 5);
    le->created_at = PQgetvalue(r, i, col + 6);
    le->seq = strtoll(PQgetvalue(r, i, col + 7), NULL, 10);
}

enum tg_err ledger_page(struct http_request *req, const char *customer_id, long long before_seq,
                        int limit, struct ledger_page *out)
{
    char before[24], lim[16];
    snprintf(before, sizeof(before), "%lld", before_seq);
    snprintf(lim, sizeof(lim), "%d", limit + 1); /* one more tells whether there is more */
    const char *params[3] = {customer_id, before_seq > 0 ? before : NULL, lim};
    PGresult *r;
    enum tg_err e = db_exec(req->svc->db, req->arena, DB_LEDGER_PAGE, params, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    int n = PQntuples(r);
    out->has_more = n > limit;
    out->count = (size_t)(n > limit ? limit : n);
    out->entries = NULL;
    if (out->count == 0)
        return TG_OK;
    out->entries = arena_alloc(req->arena, out->count * sizeof(*out->entries));
    if (out->entries == NULL)
        return TG_ENOMEM;
    for (int i = 0; i < (int)out->count; i++)
        ledger_entry_from_row(r, i, 0, &out->entries[i]);
    return TG_OK;
}
