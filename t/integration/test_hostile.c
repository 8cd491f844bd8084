/*
 * test_hostile: every route of the route table (src/api/dispatch.c) times
 * every kind of hostile request, sent raw through nginx: malformed JSON,
 * duplicated keys, nesting 2000 deep, a body over every limit, invalid
 * UTF-8, numbers out of range or at the edges of 64 bits, NUL bytes (in
 * the body, the path, the request line and a header), the wrong
 * Content-Type, request smuggling
 * pairs (Content-Length with Transfer-Encoding, two Content-Lengths, an
 * unsupported Transfer-Encoding) and duplicated headers (Authorization,
 * Idempotency-Key, Content-Type), headers over nginx's buffers. Each must
 * be answered in time with a 4xx RFC 9457 problem -- tollgate's or nginx's
 * -- never a 5xx; no FastCGI worker may be restarted, and nothing may be
 * written (the row counts of every table a request can write are the same
 * after the table as before). test_bad_input checks the refusals' details
 * on the signup and usage routes; this is the breadth. The program runs
 * its test alone (IT_SERIAL_MAIN): it compares whole-table counts.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_raw.h"

TestSuite(hostile, .init = it_init, .fini = it_fini, .timeout = 600);

/* A route as the table declares it; {id} is replaced by a key id. */
struct route {
    const char *method, *path;
};

static const struct route routes[] = {
    {"GET", "/health"},
    {"POST", "/api/v1/customers"},
    {"GET", "/api/v1/api_keys"},
    {"POST", "/api/v1/api_keys"},
    {"DELETE", "/api/v1/api_keys/{id}"},
    {"GET", "/api/v1/customers/me"},
    {"POST", "/api/v1/usage"},
    {"GET", "/api/v1/usage/summary"},
    {"GET", "/api/v1/credits/transactions"},
    {"POST", "/api/v1/customers/me/payment_method"},
    {"POST", "/api/v1/subscriptions"},
    {"GET", "/api/v1/subscriptions/current"},
    {"DELETE", "/api/v1/subscriptions/current"},
    {"GET", "/api/v1/subscriptions/preview"},
    {"POST", "/api/v1/credentials"},
    {"POST", "/webhooks/stripe"},
    {"POST", "/webhooks/github"},
    {"GET", "/metrics"},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* What a case changes in an otherwise well-formed request. */
enum shape {
    BODY,         /* body given, Content-Type application/json */
    BODY_AS_TEXT, /* body given as text/plain */
    PATH_SUFFIX,  /* extra bytes appended to the path */
    HEADERS,      /* extra header lines, no body */
    HEADERS_BODY, /* extra header lines and the body given, framing by them */
};

struct hostile {
    const char *name;
    enum shape shape;
    const char *data; /* body, path suffix or header lines */
    size_t len;       /* of data; 0: strlen */
    long expect;      /* the one status every route must answer; 0: a 4xx
                       * problem from {400, 413, 415}, by route */
};

#define S(x) x, sizeof(x) - 1

static const struct hostile cases[] = {
    {"malformed JSON", BODY, S("{\"kind\":\"fix_deployed\","), 0},
    {"duplicated keys", BODY, S("{\"name\":\"a\",\"name\":\"b\"}"), 0},
    {"invalid UTF-8", BODY, S("{\"name\":\"\xff\xfe\xc0\xaf\"}"), 0},
    {"numbers out of range", BODY, S("{\"limit\":1e999999,\"n\":123456789012345678901234567890}"),
     0},
    {"an integer past 64 bits", BODY, S("{\"ttl_seconds\":99999999999999999999}"), 0},
    {"the largest integer", BODY, S("{\"ttl_seconds\":9223372036854775807}"), 0},
    {"the smallest integer", BODY, S("{\"ttl_seconds\":-9223372036854775808}"), 0},
    {"a fraction for an integer", BODY, S("{\"ttl_seconds\":1.5}"), 0},
    {"a NUL byte in the body", BODY, S("{\"name\":\"a\0b\"}"), 0},
    {"an escaped NUL", BODY, S("{\"name\":\"a\\u0000b\"}"), 0},
    {"a JSON array", BODY, S("[1,2,3]"), 0},
    {"the wrong Content-Type", BODY_AS_TEXT, S("{}"), 0},
    {"%00 in the path", PATH_SUFFIX, S("%00"), 400},
    {"a NUL in the request line", PATH_SUFFIX, S("\0x"), 400},
    {"a NUL in a header", HEADERS, S("X-Note: a\0b\r\n"), 400},
    {"Content-Length with Transfer-Encoding", HEADERS_BODY,
     S("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"), 400},
    {"two Content-Lengths", HEADERS_BODY, S("Content-Length: 2\r\nContent-Length: 30\r\n"), 400},
    {"Transfer-Encoding gzip, chunked", HEADERS_BODY, S("Transfer-Encoding: gzip, chunked\r\n"),
     400},
    {"two Transfer-Encodings", HEADERS_BODY,
     S("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400},
    {"two Authorization headers", HEADERS, S("Authorization: Bearer tg_test_0\r\n"), 400},
    {"two Idempotency-Keys", HEADERS, S("Idempotency-Key: hostile-2\r\n"), 400},
    {"two Hosts", HEADERS, S("Host: y\r\n"), 400},
    {"two Content-Types", HEADERS_BODY,
     S("Content-Length: 2\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\n"), 400},
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The tables a request can write; none may grow or shrink. */
static const char *const tables[] = {
    "customers", "api_keys",      "credit_transactions", "usage_events",
    "charges",   "subscriptions", "stripe_requests",     "stripe_events",
    "audit_log", "email_outbox",  "github_deliveries",
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

static void counts(PGconn *db, long long *out)
{
    for (size_t i = 0; i < NTABLES; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tables[i]);
        out[i] = it_db_ll(db, sql, 0, NULL);
    }
}

/* A growing request text. */
struct text {
    char *p;
    size_t len;
};

static void add(struct text *t, const char *data, size_t len)
{
    t->p = realloc(t->p, t->len + len + 1);
    cr_assert_not_null(t->p);
    memcpy(t->p + t->len, data, len);
    t->len += len;
    t->p[t->len] = '\0';
}

static void adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

/* build: the request of case k on route r for the customer's key. The
 * well-formed part is complete (Host, Authorization, Idempotency-Key,
 * Connection: close); the case adds or replaces one thing. */
static void build(struct text *t, const struct route *r, const struct hostile *k,
                  const struct it_customer *c, const char *key_id, const char *body,
                  size_t body_len)
{
    char line[512];
    const char *brace = strstr(r->path, "{id}");
    t->len = 0;
    snprintf(line, sizeof(line), "%s %.*s%s", r->method,
             brace != NULL ? (int)(brace - r->path) : (int)strlen(r->path), r->path,
             brace != NULL ? key_id : "");
    adds(t, line);
    if (k->shape == PATH_SUFFIX)
        add(t, k->data, k->len);
    snprintf(line, sizeof(line),
             " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
             "Authorization: Bearer %s\r\nIdempotency-Key: hostile-1\r\n",
             c->api_key);
    adds(t, line);
    if (k->shape == HEADERS || k->shape == HEADERS_BODY)
        add(t, k->data, k->len);
    if (k->shape == BODY || k->shape == BODY_AS_TEXT) {
        snprintf(line, sizeof(line), "Content-Type: %s\r\nContent-Length: %zu\r\n",
                 k->shape == BODY ? "application/json" : "text/plain", body_len);
        adds(t, line);
    }
    adds(t, "\r\n");
    if (k->shape == BODY || k->shape == BODY_AS_TEXT || k->shape == HEADERS_BODY)
        add(t, body, body_len);
}

/* judge: the answer to case k on route r is a timely 4xx problem. */
static void judge(const struct route *r, const struct hostile *k, const struct text *t)
{
    struct it_response a;
    int rc = it_raw(t->p, t->len, NULL, &a);
    cr_assert_eq(rc, 0, "%s %s, %s: no answer in time", r->method, r->path, k->name);
    cr_assert(a.status >= 400 && a.status < 500, "%s %s, %s -> %ld %s", r->method, r->path, k->name,
              a.status, a.body);
    if (k->expect != 0)
        cr_assert_eq(a.status, k->expect, "%s %s, %s -> %ld, want %ld: %s", r->method, r->path,
                     k->name, a.status, k->expect, a.body);
    else
        cr_assert(a.status == 400 || a.status == 413 || a.status == 415, "%s %s, %s -> %ld: %s",
                  r->method, r->path, k->name, a.status, a.body);
    const char *ct = it_header(&a, "Content-Type");
    cr_assert(ct != NULL && strncmp(ct, "application/problem+json", 24) == 0,
              "%s %s, %s: Content-Type %s", r->method, r->path, k->name, ct ? ct : "(none)");
    json_t *p = json_loadb(a.body, a.body_len, 0, NULL);
    cr_assert(json_is_object(p), "%s %s, %s: %s", r->method, r->path, k->name, a.body);
    const char *type = json_string_value(json_object_get(p, "type"));
    cr_assert(type != NULL && strncmp(type, IT_PROBLEM_BASE, strlen(IT_PROBLEM_BASE)) == 0,
              "%s %s, %s: type %s", r->method, r->path, k->name, type ? type : "(none)");
    cr_assert_eq(json_integer_value(json_object_get(p, "status")), a.status);
    json_decref(p);
    it_response_free(&a);
}

/* second_key: the id of a second API key of c (the {id} of DELETE
 * /api/v1/api_keys/{id}: a request that got through would revoke it). */
static void second_key(const struct it_customer *c, char *out, size_t len)
{
    struct it_response r;
    it_post_json("/api/v1/api_keys", c->api_key, NULL, "{\"name\":\"hostile\"}", &r);
    json_t *j = it_assert_json(&r, 201);
    snprintf(out, len, "%s", it_jstr(j, "id"));
    json_decref(j);
    it_response_free(&r);
}

/* run_table: the n cases cs on every route, for a fresh customer; then
 * nothing written, no worker replaced, no credit consumed. */
static void run_table(const struct hostile *cs, size_t n, const char *label)
{
    struct it_customer c;
    onboard(&c);
    char key_id[64];
    second_key(&c, key_id, sizeof(key_id));
    PGconn *db = it_db();
    long long before[NTABLES], after[NTABLES];
    pid_t w0[IT_MAX_WORKERS], w1[IT_MAX_WORKERS];
    size_t nw0 = it_workers(w0);
    counts(db, before);
    struct text t = {0};
    for (size_t k = 0; k < n; k++)
        for (size_t r = 0; r < NROUTES; r++) {
            bool framed = cs[k].shape == HEADERS_BODY;
            build(&t, &routes[r], &cs[k], &c, key_id, framed ? "{}" : cs[k].data,
                  framed ? 2 : cs[k].len);
            judge(&routes[r], &cs[k], &t);
        }
    free(t.p);
    counts(db, after);
    for (size_t i = 0; i < NTABLES; i++)
        cr_assert_eq(after[i], before[i], "%s: %s went from %lld to %lld rows", label, tables[i],
                     before[i], after[i]);
    size_t nw1 = it_workers(w1);
    cr_assert_eq(nw1, nw0, "%s: %zu workers before, %zu after", label, nw0, nw1);
    cr_assert_eq(memcmp(w0, w1, nw0 * sizeof(pid_t)), 0, "%s: a worker was restarted", label);
    cr_assert_eq(it_balance(&c), 5, "%s: nothing was consumed", label);
    PQfinish(db);
}

Test(hostile, every_route_every_case)
{
    run_table(cases, NCASES, "the cases");
}

/* Large bodies: nesting 2000 deep (within the 4 KiB of the smallest
 * route limit, so that the JSON parser meets it), and a body over nginx's
 * 1 MiB webhook limit, so over every route's. */
Test(hostile, deep_and_oversized_bodies)
{
    size_t deep_len = 4000, big_len = 1100 * 1024;
    char *deep = malloc(deep_len), *big = malloc(big_len);
    cr_assert(deep != NULL && big != NULL);
    memset(deep, '[', deep_len / 2);
    memset(deep + deep_len / 2, ']', deep_len / 2);
    big[0] = '"';
    memset(big + 1, 'x', big_len - 2);
    big[big_len - 1] = '"';
    const struct hostile large[] = {
        {"nesting 2000 deep", BODY, deep, deep_len, 0},
        {"a body over 1 MiB", BODY, big, big_len, 413},
    };
    run_table(large, 2, "large bodies");
    free(deep);
    free(big);
}

/* The table compares whole-table counts: nothing else may run meanwhile. */
IT_SERIAL_MAIN()
