/*
 * credits: GET /api/v1/credits/transactions -- the customer's ledger, newest
 * first. Pagination is by cursor: next_cursor (opaque to clients; today the
 * per-customer sequence number of the page's last entry) is passed back as
 * ?cursor= for the next, older page; limit picks the page size (1 to 100).
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/render.h"
#include "core/num.h"
#include "domain/ledger.h"
#include "core/config.h"

/* parse_positive: strict decimal in [1, max]; -1 when not. */
static long long parse_positive(const char *s, long long max)
{
    long long v;
    return num_parse(s, (size_t)-1, max, &v) && v >= 1 ? v : -1;
}

enum tg_err api_credits_transactions(struct http_request *req)
{
    const char *cursor_s, *limit_s;
    enum tg_err e = http_query_get(req, "cursor", &cursor_s);
    if (e == TG_OK)
        e = http_query_get(req, "limit", &limit_s);
    if (e != TG_OK)
        return e;
    long long cursor = 0, limit = req->ctx->svc->cfg->ledger_page_size;
    if (cursor_s != NULL && (cursor = parse_positive(cursor_s, 999999999999999999LL)) < 0)
        return http_fail(req, TG_EINVALID, "cursor: pass back a next_cursor from a previous page");
    if (limit_s != NULL && (limit = parse_positive(limit_s, LEDGER_PAGE_MAX)) < 0)
        return http_fail(req, TG_EINVALID, "limit: must be from 1 to %d", LEDGER_PAGE_MAX);

    struct ledger_page page;
    if ((e = ledger_page(req->ctx, req->auth.customer_id, cursor, (int)limit, &page)) != TG_OK)
        return e;
    json_t *data = json_array();
    for (size_t i = 0; data != NULL && i < page.count; i++)
        if (json_array_append_new(data, render_ledger_entry(&page.entries[i])) != 0) {
            json_decref(data);
            data = NULL;
        }
    char next[24];
    if (page.has_more)
        snprintf(next, sizeof(next), "%lld", page.entries[page.count - 1].seq);
    json_t *body = json_pack("{s:s, s:o, s:b, s:s?}", "object", "list", "data", data, "has_more",
                             page.has_more, "next_cursor", page.has_more ? next : NULL);
    return http_reply_json(req, 200, body);
}
