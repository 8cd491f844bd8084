/*
 * Unit tests for src/api/dispatch.c: api_bearer_key reads the API key of
 * "Authorization: Bearer <key>" (the scheme in any case), answers "" for
 * another scheme or a header without one, so that the domain refuses its
 * shape, and NULL when there is no header; the route table declares
 * what the pipeline relies on; and an Idempotency-Key is read as the draft
 * reads it (api/idempotency.c): an sf-string and the bare key alike.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "api/api.h"
#include "core/ctx.h"

static struct arena *arena;
static struct service svc;
static struct tg_ctx ctx;
static struct http_request req;

static void setup(void)
{
    arena = arena_new(4096);
    cr_assert_not_null(arena);
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
}

static void teardown(void)
{
    arena_free(arena);
}

TestSuite(dispatch, .init = setup, .fini = teardown);

static const char *key_of(const char *header)
{
    http_request_init(&req, &ctx);
    req.authorization = header;
    return api_bearer_key(&req);
}

Test(dispatch, bearer_key)
{
    static const char key[] =
        "tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    cr_assert_null(key_of(NULL));
    cr_assert_str_eq(key_of("Bearer tg_test_0123456789abcdef0123456789abcdef0123456789abcdef"
                            "0123456789abcdef"),
                     key);
    cr_assert_str_eq(key_of("bearer tg_test_0123456789abcdef0123456789abcdef0123456789abcdef"
                            "0123456789abcdef"),
                     key, "the scheme is case-insensitive (RFC 9110 11.1)");
    cr_assert_str_eq(key_of("Bearer "), "");
    cr_assert_str_eq(key_of("Bearer  x"), " x", "extra spaces stay: the key's shape refuses them");
    static const char *const other[] = {
        "",
        "Bearer",
        "Basic dGdfdGVzdF86",
        "Token tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        cr_assert_str_eq(key_of(other[i]), "", "\"%s\" is not a Bearer credential", other[i]);
}

/* The pipeline authenticates in the handler only where the handler's
 * statement does it (usage, and the POSTs of holds), and every route that
 * needs a key says so. */
Test(dispatch, route_table)
{
    size_t in_handler = 0;
    for (const struct route *r = api_routes; r->method != NULL; r++) {
        if (r->auth == ROUTE_API_KEY_IN_HANDLER) {
            in_handler++;
            cr_assert(strcmp(r->path, "/api/v1/usage") == 0 ||
                          strncmp(r->path, "/api/v1/holds", 13) == 0,
                      "%s", r->path);
            cr_assert_eq(r->idempotency_key, strstr(r->path, "{id}") == NULL, "%s", r->path);
        }
        if (strncmp(r->path, "/api/v1/", 8) == 0 && strcmp(r->path, "/api/v1/customers") != 0)
            cr_assert_neq(r->auth, ROUTE_PUBLIC, "%s %s", r->method, r->path);
    }
    cr_assert_eq(in_handler, 4);
}

/* An sf-string ("abc", with \" and \\ escapes) and the bare abc are the
 * same key; after unquoting a key is 1..255 visible ASCII. */
Test(dispatch, idempotency_key_syntax)
{
    static const char *const same[][2] = {
        {"abc", "abc"},       {"\"abc\"", "abc"},     {"\"a\\\"b\"", "a\"b"},
        {"\"a\\\\b\"", "a\\b"}, {"a\"b", "a\"b"}, {"\"", "\""},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        const char *k = api_idempotency_key_parse(arena, same[i][0]);
        cr_assert_not_null(k, "%s refused", same[i][0]);
        cr_assert_str_eq(k, same[i][1], "%s", same[i][0]);
    }
    static const char *const bad[] = {"",        "\"\"",      "a b",      "\"a b\"", "\"abc",
                                      "\"a\\x\"", "\"a\"b\"", "\"a\\\"", "k\x7f", "\t"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_null(api_idempotency_key_parse(arena, bad[i]), "[%s] accepted", bad[i]);
    cr_assert_null(api_idempotency_key_parse(arena, NULL));
    char big[300];
    memset(big, 'k', 255);
    big[255] = '\0';
    cr_assert_not_null(api_idempotency_key_parse(arena, big));
    big[255] = 'k';
    big[256] = '\0';
    cr_assert_null(api_idempotency_key_parse(arena, big));
    /* 255 characters inside the quotes are fine. */
    big[0] = '"';
    memset(big + 1, 'k', 255);
    big[256] = '"';
    big[257] = '\0';
    cr_assert_not_null(api_idempotency_key_parse(arena, big));
}

/* Every state-changing route but those that authenticate in their own
 * statement (usage, holds: their own record, or idempotent by the hold's
 * id) keeps answers; no GET does. */
Test(dispatch, idempotent_routes)
{
    for (const struct route *r = api_routes; r->method != NULL; r++) {
        bool changes = strcmp(r->method, "GET") != 0 && strncmp(r->path, "/api/v1/", 8) == 0 &&
                       r->auth != ROUTE_API_KEY_IN_HANDLER;
        cr_assert_eq(api_idempotency_route(r), changes, "%s %s", r->method, r->path);
    }
}
