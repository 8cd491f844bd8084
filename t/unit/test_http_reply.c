/*
 * Unit tests for src/http/http.c, the answer side: http_reply_problem
 * (RFC 9457 fields, content type, Allow on 405, every error of the
 * table), http_reply_json, http_add_header, http_fail (details always
 * valid UTF-8), the status line's reason phrases and the level a
 * request's log line gets (http_log_level).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "http/problem.h"
#include "http_fixture.h"

TestSuite(http, .init = http_fixture_setup, .fini = http_fixture_teardown);

static void decref(void *j)
{
    json_decref(j);
}

/* reply_body: the response body parsed; owned by the arena. */
static json_t *reply_body(void)
{
    cr_assert_not_null(req.resp.body);
    cr_assert_eq(strlen(req.resp.body), req.resp.body_len);
    json_error_t e;
    json_t *j = json_loadb(req.resp.body, req.resp.body_len, 0, &e);
    cr_assert_not_null(j, "body is not JSON: %s", req.resp.body);
    cr_assert_eq(arena_defer(arena, decref, j), 0);
    return j;
}

static const char *header(const char *name)
{
    for (size_t i = 0; i < req.resp.nheaders; i++)
        if (strcasecmp(req.resp.headers[i].name, name) == 0)
            return req.resp.headers[i].value;
    return NULL;
}

Test(http, problem_has_rfc9457_fields)
{
    req.request_id = "req-1";
    cr_assert_eq(http_fail(&req, TG_EINVALID, "name: must be %d to %d bytes", 1, 200), TG_EINVALID);
    http_reply_problem(&req, TG_EINVALID);
    cr_assert_eq(req.resp.status, 400);
    cr_assert_str_eq(req.resp.content_type, "application/problem+json");
    json_t *b = reply_body();
    cr_assert_str_eq(json_string_value(json_object_get(b, "type")),
                     PROBLEM_BASE "validation-failed");
    cr_assert_str_eq(json_string_value(json_object_get(b, "title")),
                     tg_strerror(TG_EINVALID));
    cr_assert_eq(json_integer_value(json_object_get(b, "status")), 400);
    cr_assert_str_eq(json_string_value(json_object_get(b, "detail")),
                     "name: must be 1 to 200 bytes");
    cr_assert_str_eq(json_string_value(json_object_get(b, "request_id")), "req-1");
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    http_reply_problem(&req, TG_ENOTFOUND);
    cr_assert_null(json_object_get(reply_body(), "detail"), "no detail, no member");
}

Test(http, problem_for_every_error_matches_the_table)
{
    for (int e = 1; e < TG_ERR_COUNT; e++) {
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        http_reply_problem(&req, (enum tg_err)e);
        const struct problem_info *info = problem_info((enum tg_err)e);
        cr_assert_eq(req.resp.status, info->status, "error %d", e);
        cr_assert_str_eq(req.resp.content_type, "application/problem+json");
        json_t *b = reply_body();
        char type[256];
        snprintf(type, sizeof(type), "%s%s", PROBLEM_BASE, info->slug);
        cr_assert_str_eq(json_string_value(json_object_get(b, "type")), type);
        cr_assert_eq(json_integer_value(json_object_get(b, "status")), info->status);
    }
    http_reply_problem(&req, (enum tg_err)4242);
    cr_assert_eq(req.resp.status, 500, "unknown errors are internal errors");
    cr_assert_str_eq(json_string_value(json_object_get(reply_body(), "type")),
                     PROBLEM_BASE "internal-error");
}

/* A detail is JSON text: invalid UTF-8 in what it quotes, or a character
 * cut at 511 bytes, must not drop it from the answer (found by
 * t/fuzz/fuzz_json_fields: Jansson's error text quotes the raw bytes). */
Test(http, fail_detail_is_always_valid_utf8)
{
    cr_assert_eq(http_fail(&req, TG_EINVALID, "x %s|%s", "\xff\xc3(\xe2\x82", "\xc0\xaf\xed\xa0\x80"),
                 TG_EINVALID);
    cr_assert_str_eq(req.ctx->error.detail, "x ?\?(??|?????");
    http_fail(&req, TG_EINVALID, "%s", "ok: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    cr_assert_str_eq(req.ctx->error.detail, "ok: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf",
                     "well-formed text is kept");
    http_fail(&req, TG_EINVALID, "%s", "\xf4\x90\x80\x80 \xf5 \xe0\x9f\xbf");
    cr_assert_str_eq(req.ctx->error.detail, "???? ? ?\?\?", "above U+10FFFF, overlong");
    char cut[600];
    memset(cut, 'a', 510);
    memcpy(cut + 510, "\xe2\x82\xac", 4); /* the euro sign straddles byte 511 */
    http_fail(&req, TG_EINVALID, "%s", cut);
    cr_assert_eq(strlen(req.ctx->error.detail), 511);
    cr_assert_eq(req.ctx->error.detail[510], '?');
    http_reply_problem(&req, TG_EINVALID);
    cr_assert_not_null(json_string_value(json_object_get(reply_body(), "detail")));
}

Test(http, json_error_quoting_invalid_utf8_keeps_its_detail)
{
    static const char body[] = "\"k\\u\xee\xa2\xa2\xa2\xa2\xa2\xa2\xa2\xa2\xa2" "epl";
    cr_assert_eq(http_fixture_parse_json("application/json", body, sizeof(body) - 1, 16), TG_EBADJSON);
    cr_assert_not_null(req.ctx->error.detail);
    http_reply_problem(&req, TG_EBADJSON);
    const char *detail = json_string_value(json_object_get(reply_body(), "detail"));
    cr_assert_not_null(detail, "the detail was dropped");
    cr_assert_not_null(strstr(detail, "invalid escape"), "%s", detail);
}

/* Headers set before are dropped; a 405 gets its Allow header. */
Test(http, problem_headers)
{
    cr_assert_eq(http_add_header(&req, "Location", "/api/v1/customers/me"), TG_OK);
    http_reply_problem(&req, TG_ECONFLICT);
    cr_assert_eq(req.resp.nheaders, 0);
    req.allow = "GET, DELETE";
    cr_assert_eq(http_add_header(&req, "X-Other", "1"), TG_OK);
    http_reply_problem(&req, TG_EMETHOD);
    cr_assert_eq(req.resp.status, 405);
    cr_assert_eq(req.resp.nheaders, 1);
    cr_assert_str_eq(header("Allow"), "GET, DELETE");
}

Test(http, reply_json_is_compact_and_ordered)
{
    json_t *body = json_pack("{s:i,s:s,s:[i,i]}", "zeta", 1, "alpha", "x", "list", 1, 2);
    cr_assert_eq(http_reply_json(&req, 201, body), TG_OK);
    cr_assert_eq(req.resp.status, 201);
    cr_assert_str_eq(req.resp.content_type, "application/json");
    cr_assert_str_eq(req.resp.body, "{\"zeta\":1,\"alpha\":\"x\",\"list\":[1,2]}");
    cr_assert_eq(req.resp.body_len, strlen(req.resp.body));
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    cr_assert_eq(http_reply_json(&req, 200, NULL), TG_ENOMEM, "a failed json_pack");
    cr_assert_eq(req.resp.status, 0);
}

Test(http, add_header_has_a_limit)
{
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        cr_assert_eq(http_add_header(&req, "X-N", "v"), TG_OK);
    cr_assert_eq(http_add_header(&req, "X-Over", "v"), TG_EINTERNAL);
    cr_assert_eq(req.resp.nheaders, HTTP_MAX_HEADERS);
}

/* Every status an error maps to has a reason phrase for the Status line. */
Test(http, status_text)
{
    cr_assert_str_eq(http_status_text(201), "Created");
    cr_assert_str_eq(http_status_text(599), "Unknown");
    for (int e = 1; e < TG_ERR_COUNT; e++) {
        int status = problem_info((enum tg_err)e)->status;
        cr_assert_str_neq(http_status_text(status), "Unknown", "status %d", status);
    }
}

/* Issue 11: a request's log line has the level its answer deserves, and
 * knows which problem it answered with. */
Test(http, log_level_follows_the_problem)
{
    http_reply_problem(&req, TG_EINVALID);
    cr_assert_eq(req.resp.problem, TG_EINVALID, "the answer remembers its problem");
    cr_assert_eq(http_log_level(&req.resp), LOG_INFO, "a 400 is the client's doing");

    http_request_init(&req, &ctx);
    http_reply_problem(&req, TG_ESIGNUPCLOSED);
    cr_assert_eq(req.resp.status, 503);
    cr_assert_eq(http_log_level(&req.resp), LOG_INFO, "signup closed by a flag is no error");

    http_request_init(&req, &ctx);
    http_reply_problem(&req, TG_EDB);
    cr_assert_eq(http_log_level(&req.resp), LOG_ERROR, "the database down is an error");

    http_request_init(&req, &ctx);
    cr_assert_eq(req.resp.problem, TG_OK);
    http_reply_raw(&req, 200, "text/plain", "ok", 2);
    cr_assert_eq(http_log_level(&req.resp), LOG_INFO);
    http_request_init(&req, &ctx);
    http_reply_raw(&req, 502, "text/plain", "no", 2);
    cr_assert_eq(http_log_level(&req.resp), LOG_ERROR, "a 5xx that is no problem is an error");
}
