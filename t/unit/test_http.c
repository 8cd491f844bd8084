/*
 * Unit tests for src/http/http.c, the request side: http_parse_params over
 * a fake FastCGI envp (fields filled, defaults when absent, duplicate
 * parameters and bad Content-Length refused, request id kept when
 * well-formed and generated otherwise); http_read_body through a fake
 * struct http_io (exact, chunked, over the limit, short, I/O error,
 * absent); http_parse_json (content type, depth limit, duplicate keys,
 * non-objects, invalid UTF-8, NUL); http_json_depth with brackets in
 * strings and escapes; http_query_get (decoding, missing, duplicate,
 * empty, %00, malformed escapes). The answers: test_http_reply.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_fixture.h"

TestSuite(http, .init = http_fixture_setup, .fini = http_fixture_teardown);

static bool is_hex32(const char *s)
{
    return strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}
/* ---- http_parse_params ----------------------------------------------- */

Test(http, params_fill_the_request)
{
    char method[] = "REQUEST_METHOD=POST", path[] = "DOCUMENT_URI=/api/v1/usage";
    char *env[] = {"GATEWAY_INTERFACE=CGI/1.1",
                   method,
                   path,
                   "QUERY_STRING=limit=5&cursor=9",
                   "CONTENT_TYPE=application/json",
                   "CONTENT_LENGTH=42",
                   "HTTP_AUTHORIZATION=Bearer tg_test_abc",
                   "HTTP_IDEMPOTENCY_KEY=deploy-42",
                   "REQUEST_ID=0123456789abcdef0123456789abcdef",
                   "REMOTE_ADDR=192.0.2.7",
                   "HTTP_USER_AGENT=curl/8.0",
                   NULL};
    cr_assert_eq(http_parse_params(&req, env), TG_OK);
    memset(method, 'X', sizeof(method) - 1); /* the request holds copies */
    memset(path, 'X', sizeof(path) - 1);
    cr_assert_str_eq(req.method, "POST");
    cr_assert_str_eq(req.path, "/api/v1/usage");
    cr_assert_str_eq(req.query, "limit=5&cursor=9");
    cr_assert_str_eq(req.content_type, "application/json");
    cr_assert_eq(req.content_length, 42);
    cr_assert_str_eq(req.authorization, "Bearer tg_test_abc");
    cr_assert_str_eq(req.idempotency_key, "deploy-42");
    cr_assert_str_eq(req.request_id, "0123456789abcdef0123456789abcdef");
    cr_assert_str_eq(req.remote_addr, "192.0.2.7");
    cr_assert_null(req.ctx->error.detail);
}

Test(http, absent_params_get_defaults)
{
    char *env[] = {"REQUEST_METHOD=GET",  "DOCUMENT_URI=/health",
                   "NOEQUALSSIGN",        "HTTP_AUTHORIZATIONX=Bearer nope",
                   "XREQUEST_METHOD=PUT", NULL};
    cr_assert_eq(http_parse_params(&req, env), TG_OK);
    cr_assert_str_eq(req.method, "GET");
    cr_assert_str_eq(req.query, "");
    cr_assert_str_eq(req.remote_addr, "");
    cr_assert_null(req.content_type);
    cr_assert_null(req.authorization, "HTTP_AUTHORIZATIONX is another parameter");
    cr_assert_null(req.idempotency_key);
    cr_assert_eq(req.content_length, -1);
    cr_assert(is_hex32(req.request_id), "generated id \"%s\"", req.request_id);
    const char *first = req.request_id;
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    cr_assert_eq(http_parse_params(&req, NULL), TG_OK, "a NULL envp is an empty one");
    cr_assert_str_neq(req.request_id, first, "each generated id is new");
}

/* A parameter given twice (nginx passes duplicate headers on separately). */
Test(http, duplicate_parameters_are_refused)
{
    static const char *const dup[][2] = {{"HTTP_AUTHORIZATION", "Authorization"},
                                         {"HTTP_IDEMPOTENCY_KEY", "Idempotency-Key"},
                                         {"CONTENT_LENGTH", "Content-Length"},
                                         {"CONTENT_TYPE", "Content-Type"},
                                         {"HTTP_CONTENT_TYPE", "Content-Type"},
                                         {"HTTP_CONTENT_LENGTH", "Content-Length"}};
    for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        char first[128], second[128];
        snprintf(first, sizeof(first), "%s=1", dup[i][0]);
        snprintf(second, sizeof(second), "%s=2", dup[i][0]);
        char *env[] = {"REQUEST_METHOD=POST",  first,  "DOCUMENT_URI=/api/v1/usage",
                       "REQUEST_ID=req-dup-1", second, NULL};
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        cr_assert_eq(http_parse_params(&req, env), TG_EBADREQUEST, "%s twice", dup[i][0]);
        cr_assert_not_null(req.ctx->error.detail);
        cr_assert_not_null(strstr(req.ctx->error.detail, dup[i][1]), "detail \"%s\"",
                           req.ctx->error.detail);
        cr_assert_str_eq(req.request_id, "req-dup-1", "the request id survives the error");
    }
}

Test(http, content_length)
{
    static const struct {
        const char *text;
        long long value; /* -2: refused */
    } cases[] = {
        {"0", 0},     {"7", 7},
        {"007", 7},   {"123456789012345", 123456789012345LL},
        {"", -1},     {"abc", -2},
        {"-1", -2},   {"1.5", -2},
        {" 12", -2},  {"12 ", -2},
        {"0x10", -2}, {"+5", -2},
        {"1e3", -2},  {"1234567890123456", -2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cl[64];
        snprintf(cl, sizeof(cl), "CONTENT_LENGTH=%s", cases[i].text);
        char *env[] = {"REQUEST_METHOD=POST", cl, NULL};
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        enum tg_err e = http_parse_params(&req, env);
        if (cases[i].value == -2) {
            cr_assert_eq(e, TG_EBADREQUEST, "\"%s\" accepted", cases[i].text);
            cr_assert_not_null(strstr(req.ctx->error.detail, "Content-Length"));
        } else {
            cr_assert_eq(e, TG_OK, "\"%s\" refused", cases[i].text);
            cr_assert_eq(req.content_length, cases[i].value, "\"%s\"", cases[i].text);
        }
    }
}

/* A well-formed Request-Id (from nginx's $request_id or the client) is kept;
 * anything else is replaced by 32 new hex digits. */
Test(http, request_id_kept_or_generated)
{
    static const struct {
        const char *id;
        bool kept;
    } cases[] = {
        {"a", true},
        {"req_1-B", true},
        {"0123456789abcdef0123456789abcdef", true},
        {"", false},
        {"has space", false},
        {"semi;colon", false},
        {"new\nline", false},
        {"quote\"", false},
        {"caf\xc3\xa9", false},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true},   /* 64 */
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false}, /* 65 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char p[128];
        snprintf(p, sizeof(p), "REQUEST_ID=%s", cases[i].id);
        char *env[] = {p, NULL};
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        cr_assert_eq(http_parse_params(&req, env), TG_OK, "\"%s\"", cases[i].id);
        if (cases[i].kept)
            cr_assert_str_eq(req.request_id, cases[i].id);
        else
            cr_assert(is_hex32(req.request_id), "\"%s\" gave \"%s\"", cases[i].id, req.request_id);
    }
}

/* ---- http_read_body -------------------------------------------------- */

struct fake_io {
    const char *data;
    size_t len, pos;
    int chunk;   /* most bytes one read returns */
    int fail_at; /* return -1 on this call (1-based); 0 = never */
    int calls;
};

static int fake_read(void *ctx, char *buf, int len)
{
    struct fake_io *f = ctx;
    f->calls++;
    if (f->fail_at != 0 && f->calls == f->fail_at)
        return -1;
    cr_assert_gt(len, 0);
    size_t n = f->len - f->pos;
    if (n > (size_t)len)
        n = (size_t)len;
    if (f->chunk > 0 && n > (size_t)f->chunk)
        n = (size_t)f->chunk;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (int)n;
}

static struct http_io io_of(struct fake_io *f)
{
    return (struct http_io){.ctx = f, .read = fake_read};
}

Test(http, body_is_read_exactly)
{
    static const struct {
        const char *data; /* what the stream holds */
        long long content_length;
        size_t max;
        int chunk;
    } cases[] = {
        {"{\"a\":1}", 7, 7, 0},                               /* exactly max */
        {"0123456789abcdefghijklmnopqrstuvwxyz", 36, 100, 5}, /* in pieces */
        {"helloEXTRA", 5, 100, 0}, /* more than announced: only Content-Length */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake_io f = {
            .data = cases[i].data, .len = strlen(cases[i].data), .chunk = cases[i].chunk};
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        req.content_length = cases[i].content_length;
        cr_assert_eq(http_read_body(&req, io_of(&f), cases[i].max), TG_OK, "case %zu", i);
        cr_assert_eq(req.body_len, (size_t)cases[i].content_length);
        cr_assert_eq(strlen(req.body), req.body_len, "NUL-terminated");
        cr_assert_eq(memcmp(req.body, cases[i].data, req.body_len), 0);
        cr_assert_eq(f.pos, req.body_len, "case %zu: read past Content-Length", i);
    }
}

Test(http, large_body)
{
    size_t n = 200000;
    char *data = arena_alloc(arena, n);
    cr_assert_not_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    struct fake_io f = {.data = data, .len = n};
    req.content_length = (long long)n;
    cr_assert_eq(http_read_body(&req, io_of(&f), n), TG_OK);
    cr_assert_eq(req.body_len, n);
    cr_assert_eq(memcmp(req.body, data, n), 0);
    cr_assert_eq(req.body[n], '\0');
}

Test(http, body_refusals)
{
    static const struct {
        const char *data;
        long long content_length;
        size_t max;
        int chunk, fail_at;
        enum tg_err want;
        bool unread; /* refused before reading anything */
    } bad[] = {
        {"12345678", 8, 7, 0, 0, TG_ETOOLARGE, true},
        {"", 999999999999999LL, 65536, 0, 0, TG_ETOOLARGE, true},
        {"abc", 10, 100, 0, 0, TG_EBADREQUEST, false},        /* short */
        {"abcdefghij", 10, 100, 4, 2, TG_EBADREQUEST, false}, /* I/O error */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fake_io f = {.data = bad[i].data,
                            .len = strlen(bad[i].data),
                            .chunk = bad[i].chunk,
                            .fail_at = bad[i].fail_at};
        ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
        req.content_length = bad[i].content_length;
        cr_assert_eq(http_read_body(&req, io_of(&f), bad[i].max), bad[i].want, "case %zu", i);
        cr_assert_null(req.body, "case %zu", i);
        cr_assert_not_null(req.ctx->error.detail, "case %zu", i);
        if (bad[i].unread)
            cr_assert_eq(f.calls, 0, "case %zu: nothing may be read", i);
    }
}

Test(http, absent_or_zero_length_is_empty_body)
{
    struct fake_io f = {.data = "ignored", .len = 7};
    cr_assert_eq(req.content_length, -1);
    cr_assert_eq(http_read_body(&req, io_of(&f), 100), TG_OK);
    cr_assert_str_eq(req.body, "");
    cr_assert_eq(req.body_len, 0);
    req.content_length = 0;
    cr_assert_eq(http_read_body(&req, io_of(&f), 0), TG_OK);
    cr_assert_eq(req.body_len, 0);
    cr_assert_eq(f.calls, 0);
}

/* ---- http_parse_json and http_json_depth ------------------------------ */

#define PARSE(ct, body, depth) http_fixture_parse_json(ct, body, sizeof(body) - 1, depth)

Test(http, json_object_and_content_types)
{
    static const char *const ok[] = {"application/json", "application/json; charset=utf-8",
                                     "application/json;charset=UTF-8", "Application/JSON"};
    static const char *const bad[] = {"text/plain",
                                      "application/jsonp",
                                      "application/json-seq",
                                      "application/x-www-form-urlencoded",
                                      "application/problem+json",
                                      "",
                                      "json",
                                      "application/js"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(PARSE(ok[i], "{\"name\":\"Ada\",\"n\":[1,2]}", 16), TG_OK, "\"%s\"", ok[i]);
        cr_assert_str_eq(json_string_value(json_object_get(req.json, "name")), "Ada");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(PARSE(bad[i], "{}", 16), TG_EBADCONTENTTYPE, "\"%s\"", bad[i]);
        cr_assert_null(req.json);
    }
    cr_assert_eq(PARSE(NULL, "{}", 16), TG_EBADCONTENTTYPE, "no Content-Type");
}

Test(http, json_depth_limit)
{
    cr_assert_eq(PARSE("application/json", "{\"a\":{\"b\":{\"c\":1}}}", 3), TG_OK);
    cr_assert_eq(PARSE("application/json", "{\"a\":{\"b\":{\"c\":[1]}}}", 3), TG_EBADJSON);
    cr_assert_null(req.json);
    cr_assert_not_null(req.ctx->error.detail);
    cr_assert_not_null(strstr(req.ctx->error.detail, "3"), "%s", req.ctx->error.detail);
    /* brackets inside strings do not count */
    cr_assert_eq(PARSE("application/json", "{\"a\":\"[[[[{{{{\"}", 1), TG_OK);
}

Test(http, json_refusals)
{
    static const struct {
        const char *body;
        size_t len;
        const char *why;
    } bad[] = {
        {"{\"a\":1,\"a\":2}", 13, "duplicate key"},
        {"[1,2]", 5, "array"},
        {"\"text\"", 6, "string"},
        {"42", 2, "number"},
        {"null", 4, "null"},
        {"", 0, "empty"},
        {"{\"a\":1", 6, "truncated"},
        {"{\"a\":1} {}", 10, "trailing data"},
        {"{\"a\":\"\xff\"}", 9, "invalid UTF-8"},
        {"{\"a\":\"\xc0\xaf\"}", 10, "overlong UTF-8"},
        {"{\"a\":\"\xed\xa0\x80\"}", 11, "UTF-16 surrogate in UTF-8"},
        {"{\"\xfe\":1}", 7, "invalid UTF-8 key"},
        {"{\"a\":\"\\u0000\"}", 14, "escaped NUL"},
        {"{\"a\":\"x\0y\"}", 11, "raw NUL"},
        {"{\"a\":1}\0", 8, "NUL after the object"},
        {"{'a':1}", 7, "single quotes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(http_fixture_parse_json("application/json", bad[i].body, bad[i].len, 16), TG_EBADJSON,
                     "%s accepted", bad[i].why);
        cr_assert_null(req.json, "%s", bad[i].why);
        cr_assert_not_null(req.ctx->error.detail, "%s: no detail", bad[i].why);
    }
}

Test(http, json_depth)
{
#define DEPTH(s, limit) http_json_depth(s, sizeof(s) - 1, limit)
    cr_assert_eq(DEPTH("", 10), 0);
    cr_assert_eq(DEPTH("42", 10), 0);
    cr_assert_eq(DEPTH("{}", 10), 1);
    cr_assert_eq(DEPTH("[[]]", 10), 2);
    cr_assert_eq(DEPTH("[[],[],{}]", 10), 2, "siblings do not add up");
    cr_assert_eq(DEPTH("{\"a\":[{\"b\":[]}],\"c\":{}}", 10), 4);
    cr_assert_eq(DEPTH("]]]}[", 10), 1, "stray closers do not go below zero");
    /* brackets in strings do not count */
    cr_assert_eq(DEPTH("{\"a\":\"[[[[{{{{\"}", 10), 1);
    cr_assert_eq(DEPTH("{\"a\":\"]]]]\",\"b\":[[1]]}", 10), 3);
    /* an escaped quote does not end the string */
    cr_assert_eq(DEPTH("{\"a\":\"\\\"[[[[\"}", 10), 1);
    cr_assert_eq(DEPTH("[\"\\\\\\\"[\"]", 10), 1);
    /* an escaped backslash does not escape the closing quote */
    cr_assert_eq(DEPTH("{\"a\\\\\":[[1]]}", 10), 3);
    cr_assert_eq(DEPTH("[\"\\\\\\\\\",[[]]]", 10), 3);
}

Test(http, json_depth_respects_len_and_limit)
{
    cr_assert_eq(http_json_depth("[[[[", 2, 10), 2);
    size_t d = DEPTH("[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", 3);
    cr_assert_gt(d, 3, "over the limit must report more than the limit");
#undef DEPTH
}

/* ---- http_query_get -------------------------------------------------- */

static enum tg_err query(const char *q, const char *name, const char **out)
{
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    req.query = q;
    return http_query_get(&req, name, out);
}

Test(http, query_values)
{
    static const struct {
        const char *query, *name, *want; /* want NULL: absent */
    } cases[] = {
        {"a=1&b=22&c=333", "a", "1"},
        {"a=1&b=22&c=333", "b", "22"},
        {"a=1&b=22&c=333", "c", "333"},
        {"&&a=1&", "a", "1"},
        {"a=x=y", "a", "x=y"},
        {"", "a", NULL},
        {"ab=1&ba=2&xa=3", "a", NULL}, /* names are matched whole */
        {"a=1", "ab", NULL},
        {"A=1", "a", NULL}, /* and are case-sensitive */
        {"q=hello%20world%2F%26%3d", "q", "hello world/&="},
        {"q=%C3%A9t%c3%a9", "q", "\xc3\xa9t\xc3\xa9"},
        {"q=a+b", "q", "a+b"}, /* '+' is a space only in HTML forms */
        {"b=2&a=", "a", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *v = "sentinel";
        cr_assert_eq(query(cases[i].query, cases[i].name, &v), TG_OK, "\"%s\"", cases[i].query);
        if (cases[i].want == NULL)
            cr_assert_null(v, "\"%s\" %s", cases[i].query, cases[i].name);
        else
            cr_assert_str_eq(v, cases[i].want, "\"%s\" %s", cases[i].query, cases[i].name);
    }
}

/* An empty value followed by another parameter: the value is "", not the
 * rest of the query string. */
Test(http, query_empty_value_is_empty_string)
{
    const char *v = NULL;
    cr_assert_eq(query("a=&b=2", "a", &v), TG_OK);
    cr_assert_not_null(v);
    cr_assert_str_eq(v, "");
}

Test(http, query_refusals)
{
    static const char *const bad[][2] = {
        {"b=2&a", "a"},                   /* no value */
        {"limit=1&x=2&limit=3", "limit"}, /* given twice */
        {"limit=1&limit=1", "limit"},     /* even with equal values */
        {"cursor=12%00", "cursor"},       /* NUL byte */
        {"cursor=%00", "cursor"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *v;
        cr_assert_eq(query(bad[i][0], bad[i][1], &v), TG_EINVALID, "\"%s\"", bad[i][0]);
        cr_assert_not_null(req.ctx->error.detail);
        cr_assert_not_null(strstr(req.ctx->error.detail, bad[i][1]), "%s", req.ctx->error.detail);
    }
}

/* http.h: "not decodable: TG_EINVALID" (RFC 3986 2.1: "%" HEXDIG HEXDIG). */
Test(http, query_malformed_percent_escape_is_invalid)
{
    static const char *const bad[] = {"q=%zz", "q=%4", "q=%", "q=100%", "q=%G1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *v = NULL;
        cr_expect_eq(query(bad[i], "q", &v), TG_EINVALID, "\"%s\" gave \"%s\"", bad[i],
                     v ? v : "(null)");
    }
}
