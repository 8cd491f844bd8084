/*
 * http: request parsing and response building; see http.h.
 */
#include "http/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "core/num.h"
#include "http/problem.h"

void http_request_init(struct http_request *req, struct tg_ctx *ctx)
{
    memset(req, 0, sizeof(*req));
    req->arena = ctx->arena;
    req->ctx = ctx;
    req->query = "";
    req->method = "";
    req->path = "";
    req->route_name = "";
    req->remote_addr = "";
    req->content_length = -1;
    req->route_index = -1;
}

/* The parameters tollgate reads. Each may appear at most once. */
enum param {
    P_METHOD,
    P_PATH,
    P_QUERY,
    P_CONTENT_TYPE,
    P_CONTENT_LENGTH,
    P_AUTHORIZATION,
    P_IDEMPOTENCY_KEY,
    P_REQUEST_ID,
    P_REMOTE_ADDR,
    P_STRIPE_SIGNATURE,
    P_HUB_SIGNATURE,
    P_GITHUB_DELIVERY,
    P_GITHUB_EVENT,
    /* Read only to refuse them twice: nginx passes every request header as
     * HTTP_*, and CONTENT_TYPE is the first of several Content-Types. */
    P_HTTP_CONTENT_TYPE,
    P_HTTP_CONTENT_LENGTH,
    P_COUNT
};

static const char *param_names[P_COUNT] = {
    [P_METHOD] = "REQUEST_METHOD",          [P_PATH] = "DOCUMENT_URI",
    [P_QUERY] = "QUERY_STRING",             [P_CONTENT_TYPE] = "CONTENT_TYPE",
    [P_CONTENT_LENGTH] = "CONTENT_LENGTH",  [P_AUTHORIZATION] = "HTTP_AUTHORIZATION",
    [P_IDEMPOTENCY_KEY] = "HTTP_IDEMPOTENCY_KEY", [P_REQUEST_ID] = "REQUEST_ID",
    [P_REMOTE_ADDR] = "REMOTE_ADDR",        [P_STRIPE_SIGNATURE] = "HTTP_STRIPE_SIGNATURE",
    [P_HUB_SIGNATURE] = "HTTP_X_HUB_SIGNATURE_256",
    [P_GITHUB_DELIVERY] = "HTTP_X_GITHUB_DELIVERY", [P_GITHUB_EVENT] = "HTTP_X_GITHUB_EVENT",
    [P_HTTP_CONTENT_TYPE] = "HTTP_CONTENT_TYPE",    [P_HTTP_CONTENT_LENGTH] = "HTTP_CONTENT_LENGTH",
};

static const char *header_names[P_COUNT] = {
    [P_AUTHORIZATION] = "Authorization", [P_IDEMPOTENCY_KEY] = "Idempotency-Key",
    [P_CONTENT_LENGTH] = "Content-Length", [P_CONTENT_TYPE] = "Content-Type",
    [P_STRIPE_SIGNATURE] = "Stripe-Signature", [P_HUB_SIGNATURE] = "X-Hub-Signature-256",
    [P_GITHUB_DELIVERY] = "X-GitHub-Delivery", [P_GITHUB_EVENT] = "X-GitHub-Event",
    [P_HTTP_CONTENT_TYPE] = "Content-Type", [P_HTTP_CONTENT_LENGTH] = "Content-Length",
};

static bool request_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HTTP_REQUEST_ID_MAX)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static const char *new_request_id(struct arena *a)
{
    unsigned char raw[16];
    char hex[33];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return "unknown";
    hash_hex(raw, sizeof(raw), hex);
    const char *id = arena_strdup(a, hex);
    return id != NULL ? id : "unknown";
}


enum tg_err http_parse_params(struct http_request *req, char **envp)
{
    const char *val[P_COUNT] = {0};
    int duplicate = -1;
    for (char **e = envp; e != NULL && *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        if (eq == NULL)
            continue;
        size_t nlen = (size_t)(eq - *e);
        for (int p = 0; p < P_COUNT; p++) {
            if (strlen(param_names[p]) != nlen || memcmp(*e, param_names[p], nlen) != 0)
                continue;
            if (val[p] != NULL && duplicate < 0)
                duplicate = p;
            val[p] = eq + 1;
        }
    }

    req->request_id = (val[P_REQUEST_ID] != NULL && request_id_valid(val[P_REQUEST_ID]))
                          ? arena_strdup(req->arena, val[P_REQUEST_ID])
                          : new_request_id(req->arena);
    if (req->request_id == NULL)
        req->request_id = "unknown";
    const char *m = val[P_METHOD] ? val[P_METHOD] : "";
    const char *p = val[P_PATH] ? val[P_PATH] : "";
    req->method = arena_strndup(req->arena, m, strnlen(m, 16));
    req->path = arena_strndup(req->arena, p, strnlen(p, 2048));
    req->query = arena_strdup(req->arena, val[P_QUERY] ? val[P_QUERY] : "");
    req->remote_addr = arena_strdup(req->arena, val[P_REMOTE_ADDR] ? val[P_REMOTE_ADDR] : "");
    req->content_type = arena_strdup(req->arena, val[P_CONTENT_TYPE]);
    req->authorization = arena_strdup(req->arena, val[P_AUTHORIZATION]);
    req->idempotency_key = arena_strdup(req->arena, val[P_IDEMPOTENCY_KEY]);
    req->stripe_signature = arena_strdup(req->arena, val[P_STRIPE_SIGNATURE]);
    req->hub_signature = arena_strdup(req->arena, val[P_HUB_SIGNATURE]);
    req->github_delivery = arena_strdup(req->arena, val[P_GITHUB_DELIVERY]);
    req->github_event = arena_strdup(req->arena, val[P_GITHUB_EVENT]);
    if (req->method == NULL || req->path == NULL || req->query == NULL || req->remote_addr == NULL)
        return TG_ENOMEM;
    const char *const copies[][2] = {
        {val[P_CONTENT_TYPE], req->content_type},   {val[P_AUTHORIZATION], req->authorization},
        {val[P_IDEMPOTENCY_KEY], req->idempotency_key},
        {val[P_STRIPE_SIGNATURE], req->stripe_signature},
        {val[P_HUB_SIGNATURE], req->hub_signature}, {val[P_GITHUB_DELIVERY], req->github_delivery},
        {val[P_GITHUB_EVENT], req->github_event}};
    for (size_t i = 0; i < sizeof(copies) / sizeof(copies[0]); i++)
        if (copies[i][0] != NULL && copies[i][1] == NULL)
            return TG_ENOMEM;
    if (duplicate >= 0)
        return http_fail(req, TG_EBADREQUEST, "header %s given more than once",
                         header_names[duplicate] != NULL ? header_names[duplicate]
                                                         : param_names[duplicate]);
    if (val[P_CONTENT_LENGTH] != NULL && val[P_CONTENT_LENGTH][0] != '\0' &&
        !num_parse(val[P_CONTENT_LENGTH], (size_t)-1, 999999999999999LL, &req->content_length))
        return http_fail(req, TG_EBADREQUEST, "Content-Length is not a decimal number");
    return TG_OK;
}

enum tg_err http_read_body(struct http_request *req, struct http_io io, size_t max)
{
    if (req->content_length <= 0) {
        req->body = "";
        req->body_len = 0;
        return TG_OK;
    }
    if ((unsigned long long)req->content_length > max)
        return http_fail(req, TG_ETOOLARGE, "body is %lld bytes; this endpoint takes at most %zu",
                         req->content_length, max);
    size_t want = (size_t)req->content_length;
    char *buf = arena_alloc(req->arena, want + 1);
    if (buf == NULL)
        return TG_ENOMEM;
    size_t got = 0;
    while (got < want) {
        size_t chunk = want - got > 65536 ? 65536 : want - got;
        int n = io.read(io.ctx, buf + got, (int)chunk);
        if (n <= 0)
            return http_fail(req, TG_EBADREQUEST, "body shorter than Content-Length");
        got += (size_t)n;
    }
    buf[want] = '\0';
    req->body = buf;
    req->body_len = want;
    return TG_OK;
}

size_t http_json_depth(const char *text, size_t len, size_t limit)
{
    size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit)
                    return deepest;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return deepest;
}

static bool is_json_type(const char *ct)
{
    static const char want[] = "application/json";
    if (ct == NULL || strncasecmp(ct, want, sizeof(want) - 1) != 0)
        return false;
    const char *rest = ct + sizeof(want) - 1;
    return *rest == '\0' || *rest == ';' || *rest == ' ';
}

enum tg_err http_parse_json(struct http_request *req, size_t max_depth)
{
    if (!is_json_type(req->content_type))
        return http_fail(req, TG_EBADCONTENTTYPE, "send the body as application/json");
    if (http_json_depth(req->body, req->body_len, max_depth) > max_depth)
        return http_fail(req, TG_EBADJSON, "nesting deeper than %zu levels", max_depth);
    json_error_t jerr;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return http_fail(req, TG_EBADJSON, "%s at line %d column %d", jerr.text, jerr.line,
                         jerr.column);
    if (arena_defer(req->arena, arena_json_decref, j) != 0)
        return TG_ENOMEM;
    if (!json_is_object(j))
        return http_fail(req, TG_EBADJSON, "the body must be a JSON object");
    req->json = j;
    return TG_OK;
}

enum tg_err http_fail(struct http_request *req, enum tg_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum tg_err e = ctx_vfail(req->ctx, err, fmt, ap);
    va_end(ap);
    return e;
}

void http_reply_raw(struct http_request *req, int status, const char *content_type,
                    const char *body, size_t len)
{
    req->resp.status = status;
    req->resp.content_type = content_type;
    req->resp.body = body;
    req->resp.body_len = len;
}

enum tg_err http_reply_json(struct http_request *req, int status, json_t *body)
{
    if (body == NULL)
        return TG_ENOMEM;
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(body);
    if (text == NULL)
        return TG_ENOMEM;
    if (arena_defer(req->arena, free, text) != 0)
        return TG_ENOMEM;
    http_reply_raw(req, status, "application/json", text, strlen(text));
    return TG_OK;
}

enum log_level http_log_level(const struct http_response *resp)
{
    if (resp->problem != TG_OK)
        return problem_log_level(resp->problem);
    return resp->status >= 500 ? LOG_ERROR : LOG_INFO;
}

void http_reply_problem(struct http_request *req, enum tg_err err)
{
    static const char fallback[] =
        "{\"type\":\"" PROBLEM_BASE "out-of-memory\",\"title\":\"Service temporarily out "
        "of memory\",\"status\":503}";
    const struct problem_info *info = problem_info(err);
    /* The context's failure describes err only when it is err's. */
    const struct tg_error *why = req->ctx->error.code == err ? &req->ctx->error : NULL;
    json_t *p = json_pack("{s:s+,s:s,s:i}", "type", PROBLEM_BASE, info->slug, "title",
                          tg_strerror(err), "status", info->status);
    req->resp.problem = err;
    if (p != NULL && why != NULL && why->detail != NULL)
        json_object_set_new(p, "detail", json_string(why->detail));
    if (p != NULL && req->request_id != NULL)
        json_object_set_new(p, "request_id", json_string(req->request_id));
    if (p != NULL && why != NULL && why->extra != NULL)
        json_object_update_missing(p, why->extra);
    req->resp.nheaders = 0;
    if (err == TG_EMETHOD && req->allow != NULL)
        (void)http_add_header(req, "Allow", req->allow);
    const char *retry = why != NULL && why->retry_after > 0
                            ? arena_printf(req->arena, "%d", why->retry_after)
                            : NULL;
    if (retry != NULL || info->status == 503)
        (void)http_add_header(req, "Retry-After", retry != NULL ? retry : "5");
    if (info->status == 401) /* RFC 9110 11.6.1; RFC 6750 section 3 */
        (void)http_add_header(req, "WWW-Authenticate", "Bearer realm=\"tollgate\"");
    if (http_reply_json(req, info->status, p) != TG_OK) {
        http_reply_raw(req, 503, "application/problem+json", fallback, sizeof(fallback) - 1);
        return;
    }
    req->resp.content_type = "application/problem+json";
}

enum tg_err http_add_header(struct http_request *req, const char *name, const char *value)
{
    if (req->resp.nheaders >= HTTP_MAX_HEADERS)
        return TG_EINTERNAL;
    req->resp.headers[req->resp.nheaders].name = name;
    req->resp.headers[req->resp.nheaders].value = value;
    req->resp.nheaders++;
    return TG_OK;
}

/* escapes_valid: every '%' in s[0..len) starts a %XX hex escape. */
static bool escapes_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' && (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2])))
            return false;
    return true;
}

enum tg_err http_query_get(struct http_request *req, const char *name, const char **out)
{
    size_t nlen = strlen(name);
    *out = NULL;
    for (const char *p = req->query; *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            if (*out != NULL)
                return http_fail(req, TG_EINVALID, "query parameter %s given twice", name);
            const char *raw = p + nlen + 1;
            size_t rawlen = len - nlen - 1;
            if (!escapes_valid(raw, rawlen))
                return http_fail(req, TG_EINVALID, "query parameter %s: malformed %%-escape",
                                 name);
            int dlen = 0;
            /* curl reads a length of 0 as "up to the NUL": the rest of the
             * query. An empty value is just "". */
            char *d = rawlen == 0 ? NULL : curl_easy_unescape(NULL, raw, (int)rawlen, &dlen);
            if (rawlen == 0) {
                if ((*out = arena_strdup(req->arena, "")) == NULL)
                    return TG_ENOMEM;
                goto next;
            }
            if (d == NULL)
                return TG_ENOMEM;
            *out = arena_strndup(req->arena, d, (size_t)dlen);
            curl_free(d);
            if (*out == NULL)
                return TG_ENOMEM;
            if (strlen(*out) != (size_t)dlen)
                return http_fail(req, TG_EINVALID, "query parameter %s holds a NUL byte", name);
        } else if (len == nlen && memcmp(p, name, nlen) == 0) {
            return http_fail(req, TG_EINVALID, "query parameter %s has no value", name);
        }
    next:
        p += len;
        if (*p == '&')
            p++;
    }
    return TG_OK;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}
