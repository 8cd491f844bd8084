/*
 * http_fixture: the request every test of src/http starts from: a fresh
 * arena, a development config (64 KiB body limit, JSON depth 16) and an
 * initialised struct http_request bound to them. Used by t/unit/test_http
 * and t/unit/test_http_reply as TestSuite(x, .init = http_fixture_setup,
 * .fini = http_fixture_teardown); teardown frees the arena and fails the
 * test on a leak (unit.h).
 */
#ifndef TOLLGATE_T_HTTP_FIXTURE_H
#define TOLLGATE_T_HTTP_FIXTURE_H

#include "core/arena.h"
#include "core/config.h"
#include "core/ctx.h"
#include "http/http.h"

extern struct arena *arena;
extern struct config cfg;
extern struct service svc;
extern struct tg_ctx ctx;
extern struct http_request req;

void http_fixture_setup(void);
void http_fixture_teardown(void);

/* http_fixture_parse_json: http_parse_json on a fresh request whose body is
 * len bytes of body (borrowed) sent with Content-Type ct, at most depth
 * levels deep. Returns what http_parse_json returns. */
enum tg_err http_fixture_parse_json(const char *ct, const char *body, size_t len, size_t depth);

#endif
