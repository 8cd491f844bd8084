/*
 * Unit tests for src/http/router.c over a route table shaped like the real
 * one: exact paths match their method and set the route name; the first
 * matching route wins (a literal segment listed before "{id}"); "{id}" takes
 * one segment of 1..64 bytes of [A-Za-z0-9_-] (at the end or in the middle of
 * the pattern) and lands in req->path_param; unknown paths give TG_ENOTFOUND
 * without an Allow list; a known path with another method gives TG_EMETHOD
 * with req->allow listing every method of that path, and the problem answer
 * then carries the Allow header.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/ctx.h"
#include "http/router.h"
#include "unit.h"

static enum tg_err handler(struct http_request *r)
{
    (void)r;
    return TG_OK;
}

static const struct route routes[] = {
    {"GET", "/health", "health", ROUTE_PUBLIC, 0, false, false, handler},
    {"POST", "/api/v1/customers", "customers.create", ROUTE_PUBLIC, 4096, false, false, handler},
    {"GET", "/api/v1/customers/me", "customers.me", ROUTE_API_KEY, 0, false, false, handler},
    {"GET", "/api/v1/customers/{id}", "customers.get", ROUTE_API_KEY, 0, false, false, handler},
    {"DELETE", "/api/v1/customers/{id}", "customers.delete", ROUTE_API_KEY, 0, true, false, handler},
    {"GET", "/api/v1/customers/{id}/keys", "keys.list", ROUTE_API_KEY, 0, false, false, handler},
    {"POST", "/api/v1/customers/{id}/keys", "keys.create", ROUTE_API_KEY, 1024, true, false, handler},
    {"POST", "/api/v1/usage", "usage.create", ROUTE_API_KEY, 8192, true, false, handler},
    {NULL, NULL, NULL, ROUTE_PUBLIC, 0, false, false, NULL},
};

static struct arena *arena;
static struct config cfg;
static struct service svc;
static struct tg_ctx ctx;
static struct http_request req;

static void setup(void)
{
    arena = arena_new(4096);
    cr_assert_not_null(arena);
    svc.cfg = &cfg;
}

static void teardown(void)
{
    arena_free(arena);
    leak_check();
}

TestSuite(router, .init = setup, .fini = teardown);

/* match: route method and path; *out gets the route (or NULL). */
static enum tg_err match(const char *method, const char *path, const struct route **out)
{
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    req.method = method;
    req.path = path;
    return router_match(routes, &req, out);
}

Test(router, exact_path_matches)
{
    const struct route *r;
    cr_assert_eq(match("GET", "/health", &r), TG_OK);
    cr_assert_eq(r, &routes[0]);
    cr_assert_str_eq(req.route_name, "health");
    cr_assert_eq(req.route_index, 0);
    cr_assert_null(req.path_param);
    cr_assert_null(req.allow);
    cr_assert_eq(match("POST", "/api/v1/usage", &r), TG_OK);
    cr_assert_eq(r, &routes[7]);
    cr_assert_str_eq(req.route_name, "usage.create");
    cr_assert_eq(req.route_index, 7);
}

Test(router, first_matching_route_wins)
{
    const struct route *r;
    cr_assert_eq(match("GET", "/api/v1/customers/me", &r), TG_OK);
    cr_assert_str_eq(r->name, "customers.me");
    cr_assert_null(req.path_param, "a literal route has no parameter");
}

Test(router, id_segment_is_captured)
{
    const struct route *r;
    cr_assert_eq(match("GET", "/api/v1/customers/cus_12-AB", &r), TG_OK);
    cr_assert_str_eq(r->name, "customers.get");
    cr_assert_str_eq(req.path_param, "cus_12-AB");
    cr_assert_eq(match("DELETE", "/api/v1/customers/x", &r), TG_OK);
    cr_assert_str_eq(r->name, "customers.delete");
    cr_assert_str_eq(req.path_param, "x");
}

Test(router, id_segment_inside_the_pattern)
{
    const struct route *r;
    cr_assert_eq(match("GET", "/api/v1/customers/abc/keys", &r), TG_OK);
    cr_assert_str_eq(r->name, "keys.list");
    cr_assert_str_eq(req.path_param, "abc");
    cr_assert_eq(match("POST", "/api/v1/customers/abc/keys", &r), TG_OK);
    cr_assert_str_eq(r->name, "keys.create");
}

Test(router, path_param_is_an_arena_copy)
{
    char path[] = "/api/v1/customers/abc";
    const struct route *r;
    cr_assert_eq(match("GET", path, &r), TG_OK);
    memset(path, 'Z', sizeof(path) - 1);
    cr_assert_str_eq(req.path_param, "abc");
}

Test(router, id_segment_length_limits)
{
    char path[200];
    const struct route *r;
    int n = snprintf(path, sizeof(path), "/api/v1/customers/");
    memset(path + n, 'a', 64);
    path[n + 64] = '\0';
    cr_assert_eq(match("GET", path, &r), TG_OK, "64 bytes");
    cr_assert_eq(strlen(req.path_param), 64);
    path[n + 64] = 'a';
    path[n + 65] = '\0';
    cr_assert_eq(match("GET", path, &r), TG_ENOTFOUND, "65 bytes");
    cr_assert_null(r);
}

Test(router, id_segment_character_rules)
{
    static const char *const bad[] = {
        "/api/v1/customers/",        "/api/v1/customers/a.b",   "/api/v1/customers/a%20b",
        "/api/v1/customers/a b",     "/api/v1/customers/a/b",   "/api/v1/customers/caf\xc3\xa9",
        "/api/v1/customers/a/keys/", "/api/v1/customers//keys", "/api/v1/customers/a:b",
        "/api/v1/customers/a/keysx", "/api/v1/customers/..",    "/api/v1/customers/a?b",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct route *r = (const struct route *)1;
        cr_assert_eq(match("GET", bad[i], &r), TG_ENOTFOUND, "\"%s\"", bad[i]);
        cr_assert_null(r);
        cr_assert_null(req.path_param);
    }
}

Test(router, unknown_path_is_not_found)
{
    static const char *const paths[] = {"/",        "",        "/nope",           "/health/",
                                        "/healthz", "/HEALTH", "/api/v1/usage/x", "/api/v1",
                                        "//health"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const struct route *r;
        cr_assert_eq(match("GET", paths[i], &r), TG_ENOTFOUND, "\"%s\"", paths[i]);
        cr_assert_null(r);
        cr_assert_null(req.allow, "a 404 has no Allow list");
        cr_assert_str_eq(req.route_name, "");
        cr_assert_eq(req.route_index, -1);
        cr_assert_not_null(req.ctx->error.detail);
    }
}

Test(router, other_method_is_not_allowed_with_allow_list)
{
    const struct route *r;
    cr_assert_eq(match("POST", "/health", &r), TG_EMETHOD);
    cr_assert_null(r);
    cr_assert_str_eq(req.allow, "GET, HEAD");
    cr_assert_eq(match("PUT", "/api/v1/customers/abc", &r), TG_EMETHOD);
    cr_assert_str_eq(req.allow, "GET, HEAD, DELETE");
    cr_assert_not_null(req.ctx->error.detail);
    cr_assert_not_null(strstr(req.ctx->error.detail, "GET, HEAD, DELETE"), "%s", req.ctx->error.detail);
    cr_assert_eq(match("DELETE", "/api/v1/customers/abc/keys", &r), TG_EMETHOD);
    cr_assert_str_eq(req.allow, "GET, HEAD, POST");
    cr_assert_eq(match("GET", "/api/v1/customers", &r), TG_EMETHOD);
    cr_assert_str_eq(req.allow, "POST");
}

/* "/api/v1/customers/me" matches the literal route and both {id} routes;
 * Allow names each method once (RFC 9110 10.2.1: the set of methods). */
Test(router, allow_names_each_method_once)
{
    const struct route *r;
    cr_assert_eq(match("POST", "/api/v1/customers/me", &r), TG_EMETHOD);
    cr_assert_str_eq(req.allow, "GET, HEAD, DELETE");
}

/* HEAD is served by the GET route (nginx drops the body). */
Test(router, head_is_served_by_get_routes)
{
    const struct route *r;
    cr_assert_eq(match("HEAD", "/api/v1/customers/abc", &r), TG_OK);
    cr_assert_str_eq(r->name, "customers.get");
    cr_assert_str_eq(req.path_param, "abc");
    cr_assert_eq(match("HEAD", "/api/v1/usage", &r), TG_EMETHOD, "no GET route there");
    cr_assert_str_eq(req.allow, "POST");
}

Test(router, methods_are_case_sensitive)
{
    const struct route *r;
    cr_assert_eq(match("get", "/health", &r), TG_EMETHOD);
    cr_assert_eq(match("", "/health", &r), TG_EMETHOD);
}

Test(router, not_allowed_answer_carries_allow_header)
{
    const struct route *r;
    enum tg_err e = match("PATCH", "/api/v1/customers/abc", &r);
    cr_assert_eq(e, TG_EMETHOD);
    http_reply_problem(&req, e);
    cr_assert_eq(req.resp.status, 405);
    bool found = false;
    for (size_t i = 0; i < req.resp.nheaders; i++)
        if (strcasecmp(req.resp.headers[i].name, "Allow") == 0) {
            cr_assert_str_eq(req.resp.headers[i].value, "GET, HEAD, DELETE");
            found = true;
        }
    cr_assert(found, "405 without an Allow header");
}
