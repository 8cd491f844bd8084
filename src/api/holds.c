/*
 * holds: POST /api/v1/holds (reserve what a fix will cost), GET
 * /api/v1/holds (list, newest first, by cursor), POST
 * /api/v1/holds/{id}/settle and /release (domain/hold.h). The three
 * POSTs authenticate the key in their one statement, as usage does
 * (ROUTE_API_KEY_IN_HANDLER); settle and release are idempotent by the
 * hold's id, so an Idempotency-Key adds nothing to them.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/render.h"
#include "core/num.h"
#include "core/text.h"
#include "domain/hold.h"
#include "http/validate.h"

#define HOLDS_PAGE_DEFAULT 20
#define HOLDS_PAGE_MAX 100

static const char *const hold_kinds[] = {"fix_deployed", NULL};

static const struct valid_field hold_fields[] = {
    {"kind", VALID_STRING, true, 1, 32, hold_kinds},
    {"fix_id", VALID_STRING, true, 1, 200, NULL},
    {"ttl_seconds", VALID_INTEGER, false, 1, HOLD_TTL_MAX, NULL},
};

enum tg_err api_holds_create(struct http_request *req)
{
    json_t *f[3];
    enum tg_err e = valid_object(req, req->json, hold_fields, 3, f);
    if (e != TG_OK)
        return e;
    long ttl = f[2] != NULL ? (long)json_integer_value(f[2]) : HOLD_TTL_DEFAULT;
    struct hold_result res;
    req->auth.checked = true; /* the statement judges the key from here on */
    e = hold_create(req->ctx, api_bearer_key(req), req->idempotency_key, req->body, req->body_len,
                    json_string_value(f[1]), ttl, &res);
    if (res.auth.customer_id != NULL)
        api_set_auth(req, &res.auth);
    if (e != TG_OK)
        return e;
    if (res.replayed && (e = http_add_header(req, "Idempotent-Replayed", "true")) != TG_OK)
        return e;
    return http_reply_json(req, 201, render_hold(&res.hold));
}

/* hold_id: the {id} of the path (not a uuid: the statement finds no
 * such hold, after judging the key as for any other). */
static const char *hold_id(struct http_request *req)
{
    return req->path_param;
}

enum tg_err api_holds_settle(struct http_request *req)
{
    const char *id = hold_id(req);
    struct hold_result res;
    req->auth.checked = true;
    enum tg_err e = hold_settle(req->ctx, api_bearer_key(req), id, &res);
    if (res.auth.customer_id != NULL)
        api_set_auth(req, &res.auth);
    if (e != TG_OK)
        return e;
    json_t *body = render_hold(&res.hold);
    if (body != NULL && json_object_set_new(body, "usage_event",
                                            render_usage_event(&res.event)) != 0) {
        json_decref(body);
        body = NULL;
    }
    return http_reply_json(req, 200, body);
}

enum tg_err api_holds_release(struct http_request *req)
{
    const char *id = hold_id(req);
    struct hold_result res;
    req->auth.checked = true;
    enum tg_err e = hold_release(req->ctx, api_bearer_key(req), id, &res);
    if (res.auth.customer_id != NULL)
        api_set_auth(req, &res.auth);
    if (e != TG_OK)
        return e;
    return http_reply_json(req, 200, render_hold(&res.hold));
}

enum tg_err api_holds_list(struct http_request *req)
{
    const char *status, *cursor, *limit_s;
    enum tg_err e = http_query_get(req, "status", &status);
    if (e == TG_OK)
        e = http_query_get(req, "cursor", &cursor);
    if (e == TG_OK)
        e = http_query_get(req, "limit", &limit_s);
    if (e != TG_OK)
        return e;
    long long limit = HOLDS_PAGE_DEFAULT;
    if (limit_s != NULL && (!num_parse(limit_s, (size_t)-1, HOLDS_PAGE_MAX, &limit) || limit < 1))
        return http_fail(req, TG_EINVALID, "limit: must be from 1 to %d", HOLDS_PAGE_MAX);
    if (cursor != NULL && !text_is_uuid(cursor))
        return http_fail(req, TG_EINVALID, "cursor: pass back a next_cursor from a previous page");
    struct hold *rows;
    size_t n;
    bool more;
    e = hold_list(req->ctx, req->auth.customer_id, status, cursor, (int)limit, &rows, &n, &more);
    if (e != TG_OK)
        return e;
    json_t *data = json_array();
    for (size_t i = 0; data != NULL && i < n; i++)
        if (json_array_append_new(data, render_hold(&rows[i])) != 0) {
            json_decref(data);
            data = NULL;
        }
    json_t *body = json_pack("{s:s, s:o, s:b, s:s?}", "object", "list", "data", data, "has_more",
                             more, "next_cursor", more ? rows[n - 1].id : NULL);
    return http_reply_json(req, 200, body);
}
