/*
 * fuzz_http_params: the FastCGI side of a request, as a worker sees it
 * (src/http/http.c): http_parse_params over the parameters, http_query_get
 * for every query parameter a handler reads, http_read_body through a
 * struct http_io, http_parse_json when the body is declared JSON, and the
 * problem answer of whatever failed, which must carry its detail.
 *
 * Input: "NAME=value" parameters separated by '\n' or NUL bytes, then an
 * empty line, then the body (read in chunks of 1, 7 and 4096 bytes in
 * turn). E.g. "REQUEST_METHOD=POST\nCONTENT_LENGTH=2\n\n{}".
 */
#include <jansson.h>
#include <string.h>

#include "core/arena.h"
#include "fuzz.h"
#include "http/http.h"

#define BODY_MAX 65536
#define JSON_DEPTH 16

/* The query parameters the handlers read (src/api/credits.c, billing.c). */
static const char *const query_names[] = {"cursor", "limit", "at_period_end", "plan"};

struct body_reader {
    const char *data;
    size_t len, pos;
    unsigned calls;
};

static int body_read(void *ctx, char *buf, int len)
{
    static const size_t chunks[] = {1, 7, 4096};
    struct body_reader *r = ctx;
    size_t want = chunks[r->calls++ % 3];
    if (want > (size_t)len)
        want = (size_t)len;
    if (want > r->len - r->pos)
        want = r->len - r->pos;
    memcpy(buf, r->data + r->pos, want);
    r->pos += want;
    return (int)want;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parameters end at the first empty line; the body follows. */
    size_t head = size, body_at = size;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == '\n' && data[i + 1] == '\n') {
            head = i;
            body_at = i + 2;
            break;
        }
    char *params = fuzz_strndup(data, head);
    size_t n = 1;
    for (size_t i = 0; i < head; i++)
        if (data[i] == '\n' || data[i] == '\0')
            n++;
    char **envp = calloc(n + 1, sizeof(*envp));
    if (envp == NULL)
        abort();
    size_t k = 0;
    envp[k++] = params;
    for (size_t i = 0; i < head; i++)
        if (params[i] == '\n' || params[i] == '\0') {
            params[i] = '\0';
            envp[k++] = params + i + 1;
        }
    char *body = fuzz_memdup(data + body_at, size - body_at);

    struct arena *a = arena_new(4096);
    if (a == NULL)
        abort();
    struct service svc = {0};
    struct tg_ctx ctx;
    ctx_init(&ctx, a, &svc, "fuzz");
    struct http_request req;
    http_request_init(&req, &ctx);
    enum tg_err e = http_parse_params(&req, envp);
    if (e == TG_OK) {
        fuzz_assert(req.method != NULL && req.path != NULL && req.query != NULL);
        fuzz_assert(req.request_id != NULL && req.request_id[0] != '\0');
        for (size_t i = 0; i < sizeof(query_names) / sizeof(query_names[0]); i++) {
            const char *v = NULL;
            enum tg_err q = http_query_get(&req, query_names[i], &v);
            fuzz_assert(q == TG_OK || q == TG_EINVALID || q == TG_ENOMEM);
        }
        struct body_reader r = {.data = body, .len = size - body_at};
        e = http_read_body(&req, (struct http_io){.ctx = &r, .read = body_read}, BODY_MAX);
        if (e == TG_OK) {
            fuzz_assert(req.body != NULL && req.body[req.body_len] == '\0');
            fuzz_assert(req.body_len == (req.content_length > 0 ? (size_t)req.content_length : 0));
            fuzz_assert(req.body_len <= BODY_MAX);
            if (req.content_type != NULL)
                e = http_parse_json(&req, JSON_DEPTH);
        }
    }
    if (e != TG_OK) {
        const char *detail = req.ctx->error.detail;
        http_reply_problem(&req, e);
        fuzz_assert(req.resp.status >= 400 && req.resp.body != NULL);
        json_t *p = json_loadb(req.resp.body, req.resp.body_len, 0, NULL);
        fuzz_assert(p != NULL);
        fuzz_assert(detail == NULL || json_is_string(json_object_get(p, "detail")));
        json_decref(p);
    }
    arena_free(a);
    free(body);
    free(envp);
    free(params);
    return 0;
}
