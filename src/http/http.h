/*
 * http: the request and response of one FastCGI request, and the helpers
 * handlers answer with. A request and everything hanging off it is owned by
 * req->arena and released in one arena_reset() at the end of the accept
 * loop; nothing here outlives the request. The request's work runs in
 * req->ctx (core/ctx.h): a failure recorded there, by this layer or by the
 * domain, becomes the RFC 9457 problem answer (http_reply_problem).
 */
#ifndef TOLLGATE_HTTP_H
#define TOLLGATE_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/ctx.h"
#include "core/tgerr.h"

#define HTTP_MAX_HEADERS 8
#define HTTP_REQUEST_ID_MAX 64
#define HTTP_IDEMPOTENCY_KEY_MAX 255

struct http_header {
    const char *name;
    const char *value;
};

struct http_response {
    int status;                 /* 0 until a reply is set */
    const char *content_type;
    const char *body;           /* arena-owned */
    size_t body_len;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t nheaders;
    enum tg_err problem;        /* the answer's problem (http_reply_problem), else TG_OK */
};

/* Who called, once authenticated: for the log line and the RateLimit
 * headers. */
struct http_auth {
    bool checked; /* a statement judged the key (or would have: no key, malformed) */
    bool ok;
    const char *customer_id; /* uuid text */
    const char *api_key_id;  /* uuid text */
    const char *key_prefix;  /* display prefix, safe to log */
    long rate_limit;         /* requests the key may make per clock hour; 0 = unlimited */
    long long rate_used;     /* requests made this hour, this one included */
    int rate_reset;          /* seconds until the hour's window resets */
};

/* How the body is read: the FastCGI stream in production, a buffer in tests.
 * read() returns bytes read (0 at end), or -1 on error. */
struct http_io {
    void *ctx;
    int (*read)(void *ctx, char *buf, int len);
};

struct http_request {
    struct arena *arena;
    struct tg_ctx *ctx;           /* borrowed: the work's context; its error is the problem */

    /* From the FastCGI parameters (arena copies). */
    const char *request_id;
    const char *method;
    const char *path;             /* normalized by nginx ($document_uri) */
    const char *query;            /* "" when none */
    const char *content_type;     /* NULL when absent */
    const char *authorization;    /* NULL when absent */
    const char *idempotency_key;  /* NULL when absent */
    const char *stripe_signature; /* Stripe-Signature, NULL when absent */
    const char *hub_signature;    /* X-Hub-Signature-256 (GitHub) */
    const char *github_delivery;  /* X-GitHub-Delivery */
    const char *github_event;     /* X-GitHub-Event */
    const char *remote_addr;
    long long content_length;     /* -1 when absent */

    /* Set while serving. */
    const char *route_name;       /* for logs and metrics; "" when unrouted */
    int route_index;              /* index in the route table; -1 when unrouted */
    const char *path_param;       /* the {id} segment of the path, if any */
    const char *body;             /* NUL-terminated, arena-owned */
    size_t body_len;
    json_t *json;                 /* parsed body; arena-owned, borrowed */
    struct http_auth auth;
    const char *allow;            /* methods for the Allow header of a 405 */

    struct http_response resp;
};

/* http_log_level: the level of the log line of a request answered with
 * resp: a problem's (problem_log_level: refusals a client caused or an
 * operator chose are not errors), otherwise error for a 5xx and info for
 * anything else. */
enum log_level http_log_level(const struct http_response *resp);

/* http_request_init: reset req for a new request whose work runs in ctx
 * (borrowed; its arena owns the request). */
void http_request_init(struct http_request *req, struct tg_ctx *ctx);

/* http_parse_params: fill the request fields from FastCGI params envp
 * ("NAME=value" strings, NULL-terminated). A parameter tollgate reads given
 * twice (nginx 1.22 passes duplicate headers on separately) or a malformed
 * Content-Length: TG_EBADREQUEST with a detail set. A missing or malformed
 * REQUEST_ID is replaced by a new random one. */
enum tg_err http_parse_params(struct http_request *req, char **envp)
    __attribute__((warn_unused_result));

/* http_read_body: read exactly content_length bytes through io into
 * req->body. Over max bytes: TG_ETOOLARGE (nothing read); short read or I/O
 * error: TG_EBADREQUEST. A missing Content-Length is an empty body. */
enum tg_err http_read_body(struct http_request *req, struct http_io io, size_t max)
    __attribute__((warn_unused_result));

/* http_parse_json: parse req->body into req->json, which must be an object.
 * Refuses nesting deeper than max_depth, duplicate keys, invalid UTF-8 and
 * NUL bytes: TG_EBADJSON with a detail naming the position. A content type
 * other than application/json: TG_EBADCONTENTTYPE. */
enum tg_err http_parse_json(struct http_request *req, size_t max_depth)
    __attribute__((warn_unused_result));

/* http_json_depth: the deepest nesting of [] and {} in text (strings are
 * skipped), stopping early once it exceeds limit. Exposed for tests. */
size_t http_json_depth(const char *text, size_t len, size_t limit);

/* http_fail: record err with a detail in the request's context (the
 * problem answer) and return err, so a handler can write
 * `return http_fail(req, TG_EINVALID, "...", ...)`. The detail is cut to
 * 511 bytes and is always valid UTF-8 (ctx_fail). */
enum tg_err http_fail(struct http_request *req, enum tg_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http_reply_json: answer status with body (stolen: the reference passes to
 * the request), serialized compactly in insertion order. TG_ENOMEM when it
 * cannot be serialized. */
enum tg_err http_reply_json(struct http_request *req, int status, json_t *body)
    __attribute__((warn_unused_result));

/* http_reply_raw: answer status with an arena-owned body of the given type. */
void http_reply_raw(struct http_request *req, int status, const char *content_type,
                    const char *body, size_t len);

/* http_reply_problem: answer with RFC 9457 problem+json for err (status,
 * type and title from http/problem.h), with the detail, Retry-After and
 * extension members of the context's error when it is err's; headers set
 * before are dropped, a 405 gets its Allow header, a 401 its
 * WWW-Authenticate, and every 503 a Retry-After. Never fails: falls back
 * to a static body when out of memory. */
void http_reply_problem(struct http_request *req, enum tg_err err);

/* http_add_header: add a response header (name and value arena-owned or
 * static). TG_EINTERNAL when HTTP_MAX_HEADERS are already set. */
enum tg_err http_add_header(struct http_request *req, const char *name, const char *value);

/* http_query_get: the percent-decoded value of query parameter name in
 * *out (NULL when absent). Given twice, or not decodable: TG_EINVALID. */
enum tg_err http_query_get(struct http_request *req, const char *name, const char **out)
    __attribute__((warn_unused_result));

/* http_status_text: the reason phrase of an HTTP status ("Created"). */
const char *http_status_text(int status);

#endif
