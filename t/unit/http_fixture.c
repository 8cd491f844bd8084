/* http_fixture: see http_fixture.h. */
#include <criterion/criterion.h>
#include <string.h>

#include "http_fixture.h"
#include "unit.h"

struct arena *arena;
struct config cfg;
struct tg_ctx ctx;
struct http_request req;
struct service svc;

void http_fixture_setup(void)
{
    arena = arena_new(4096);
    cr_assert_not_null(arena);
    memset(&cfg, 0, sizeof(cfg));
    cfg.environment = "development";
    cfg.max_body_bytes = 65536;
    cfg.json_max_depth = 16;
    svc.cfg = &cfg;
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
}

void http_fixture_teardown(void)
{
    arena_free(arena);
    arena = NULL;
    leak_check();
}

enum tg_err http_fixture_parse_json(const char *ct, const char *body, size_t len, size_t depth)
{
    ctx_init(&ctx, arena, &svc, NULL);
    http_request_init(&req, &ctx);
    req.content_type = ct;
    req.body = body;
    req.body_len = len;
    return http_parse_json(&req, depth);
}
