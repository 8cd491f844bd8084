/*
 * test_edge: what the edge says. Every error nginx produces itself -- a NUL
 * in the request line or %00 in the path, an unsupported Transfer-Encoding,
 * a header of 64 KiB or a thousand headers, a request line over 8 KiB,
 * TRACE, /metrics from an address other than loopback, an unknown path --
 * is an RFC 9457 problem with a documented type, never nginx's HTML page
 * nor a 500/501. Every answer, tollgate's and nginx's, carries
 * X-Content-Type-Options: nosniff. A 201 says in Location what it created.
 * nginx's access log holds no credential: an API key sent as the user name
 * of HTTP Basic is not written out. A request waiting on a hanging Stripe
 * answers within its budget (request_timeout_ms), not after every retry.
 * One test restarts the FastCGI workers, so the program runs its tests one
 * at a time.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "harness_raw.h"
#include "harness_stripe.h"

TestSuite(edge, .init = it_stripe_init, .fini = it_stripe_fini, .timeout = 120);

/* assert_nosniff: r carries exactly one X-Content-Type-Options: nosniff. */
static void assert_nosniff(const struct it_response *r, const char *what)
{
    cr_assert_eq(it_header_count(r, "X-Content-Type-Options"), 1,
                 "%s: one X-Content-Type-Options (status %ld)", what, r->status);
    cr_assert_str_eq(it_header(r, "X-Content-Type-Options"), "nosniff", "%s", what);
}

/* raw_problem: send req raw (from src, or NULL) and check the answer is
 * the problem status/slug with nosniff. */
static void raw_problem(const char *what, const char *req, size_t len, const char *src, long status,
                        const char *slug)
{
    struct it_response r;
    cr_assert_eq(it_raw(req, len, src, &r), 0, "%s: no answer", what);
    cr_assert_eq(r.status, status, "%s -> %ld %s", what, r.status, r.body);
    it_assert_problem(&r, status, slug, NULL);
    assert_nosniff(&r, what);
    it_response_free(&r);
}

static void raw_problem_s(const char *what, const char *req, long status, const char *slug)
{
    raw_problem(what, req, strlen(req), NULL, status, slug);
}

Test(edge, nul_bytes_and_bad_framing_are_400_problems)
{
    static const char nul_line[] = "GET /hea\0lth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_problem("NUL in the request line", nul_line, sizeof(nul_line) - 1, NULL, 400,
                "bad-request");
    raw_problem_s("%00 in the path",
                  "DELETE /api/v1/api_keys/%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                  400, "bad-request");
    raw_problem_s("Transfer-Encoding gzip, chunked",
                  "POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                  "chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n0\r\n\r\n",
                  400, "bad-request");
    raw_problem_s("HTTP/2.0 in the request line",
                  "GET /health HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n", 400,
                  "bad-request");
    raw_problem_s("not HTTP", "HELLO\r\n\r\n", 400, "bad-request");
    /* Through libcurl too: %00 in the path of a real route. */
    struct it_customer c;
    onboard(&c);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *h[] = {auth, NULL};
    struct it_response r;
    it_send("DELETE", "/api/v1/api_keys/%00", h, NULL, 0, &r);
    it_assert_problem(&r, 400, "bad-request", NULL);
    it_response_free(&r);
}

/* request_with: "GET path HTTP/1.1" with the extra header lines; free it. */
static char *request_with(const char *path, const char *extra)
{
    char *s = NULL;
    cr_assert(
        asprintf(&s, "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path, extra) > 0);
    return s;
}

Test(edge, oversized_headers_and_uri_are_problems)
{
    size_t n = 64 * 1024;
    char *value = malloc(n + 32);
    cr_assert_not_null(value);
    memcpy(value, "X-Big: ", 7);
    memset(value + 7, 'a', n);
    memcpy(value + 7 + n, "\r\n", 3);
    char *req = request_with("/health", value);
    raw_problem_s("a 64 KiB header", req, 431, "headers-too-large");
    free(req);
    free(value);

    size_t size = 1000 * 48 + 1, used = 0;
    char *many = malloc(size);
    cr_assert_not_null(many);
    for (int i = 0; i < 1000; i++)
        used += (size_t)snprintf(many + used, size - used, "X-H%04d: %036d\r\n", i, i);
    req = request_with("/health", many);
    raw_problem_s("1000 headers", req, 431, "headers-too-large");
    free(req);
    free(many);

    char *path = malloc(20 * 1024);
    cr_assert_not_null(path);
    memcpy(path, "/api/v1/", 8);
    memset(path + 8, 'a', 20 * 1024 - 9);
    path[20 * 1024 - 1] = '\0';
    req = request_with(path, "");
    raw_problem_s("a 20 KiB request line", req, 414, "uri-too-long");
    free(req);
    free(path);
}

Test(edge, nginx_refusals_are_problems)
{
    raw_problem_s("TRACE", "TRACE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405,
                  "method-not-allowed");
    static const char metrics[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_problem("/metrics from 127.0.0.2", metrics, sizeof(metrics) - 1, "127.0.0.2", 403,
                "forbidden");
    raw_problem_s("an unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                  404, "not-found");
    raw_problem_s(
        "an error page itself",
        "GET /_tollgate/errors/forbidden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404,
        "not-found");
    struct it_response r;
    cr_assert_eq(it_raw(metrics, sizeof(metrics) - 1, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "/metrics from loopback: %ld", r.status);
    assert_nosniff(&r, "/metrics");
    it_response_free(&r);
}

Test(edge, every_answer_says_nosniff)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_get("/health", NULL, &r);
    assert_nosniff(&r, "GET /health 200");
    it_response_free(&r);
    it_get("/api/v1/customers/me", c.api_key, &r);
    assert_nosniff(&r, "GET /api/v1/customers/me 200");
    it_response_free(&r);
    it_get("/api/v1/customers/me", NULL, &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    assert_nosniff(&r, "tollgate's 401");
    it_response_free(&r);
    it_post_json("/api/v1/usage", c.api_key, "edge-nosniff",
                 "{\"kind\":\"fix_deployed\","
                 "\"fix_id\":\"f\"}",
                 &r);
    cr_assert_eq(r.status, 201);
    assert_nosniff(&r, "POST /api/v1/usage 201");
    it_response_free(&r);
    char *big = malloc(70 * 1024);
    cr_assert_not_null(big);
    memset(big, ' ', 70 * 1024);
    const char *h[] = {"Content-Type: application/json", NULL};
    it_send("POST", "/api/v1/customers", h, big, 70 * 1024, &r);
    it_assert_problem(&r, 413, "body-too-large", NULL);
    assert_nosniff(&r, "nginx's 413");
    it_response_free(&r);
    free(big);
}

/* location_is: one Location header, ending with suffix. */
static void location_is(const struct it_response *r, const char *suffix, const char *what)
{
    cr_assert_eq(it_header_count(r, "Location"), 1, "%s: one Location", what);
    const char *loc = it_header(r, "Location");
    size_t n = strlen(loc), s = strlen(suffix);
    cr_assert(n >= s && strcmp(loc + n - s, suffix) == 0, "%s: Location %s, want ...%s", what, loc,
              suffix);
}

Test(edge, created_answers_say_where)
{
    char email[160], body[256];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Edge\"}", email);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    json_t *j = it_assert_json(&r, 201);
    location_is(&r, "/api/v1/customers/me", "signup");
    it_response_free(&r);
    struct it_customer c = {0};
    snprintf(c.api_key, sizeof(c.api_key), "%s", it_jstr(j, "api_key"));
    snprintf(c.id, sizeof(c.id), "%s", it_jstr(it_jget(j, "customer"), "id"));
    json_decref(j);

    it_post_json("/api/v1/api_keys", c.api_key, NULL, "{\"name\":\"ci\"}", &r);
    j = it_assert_json(&r, 201);
    char want[128];
    snprintf(want, sizeof(want), "/api/v1/api_keys/%s", it_jstr(j, "id"));
    location_is(&r, want, "api key");
    json_decref(j);
    it_response_free(&r);

    it_customer_with_card(&c, "pm_card_visa");
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    json_decref(it_assert_json(&r, 201));
    location_is(&r, "/api/v1/subscriptions/current", "subscription");
    it_response_free(&r);
}

Test(edge, access_log_holds_no_credential)
{
    struct it_customer c;
    onboard(&c);
    /* The API key as the user name of HTTP Basic, and as a bearer token. */
    char user[200], b64[300], auth[400];
    snprintf(user, sizeof(user), "%s:", c.api_key);
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(user), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)user[i] << 16;
        v |= i + 1 < n ? (unsigned char)user[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned char)user[i + 2] : 0;
        b64[o++] = tbl[(v >> 18) & 63];
        b64[o++] = tbl[(v >> 12) & 63];
        b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    b64[o] = '\0';
    snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
    const char *h[] = {auth, NULL};
    struct it_response r;
    it_send("GET", "/api/v1/customers/me", h, NULL, 0, &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
    it_get("/api/v1/customers/me", c.api_key, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);

    /* nginx writes the line when the request ends: it is there now. */
    char path[4096];
    snprintf(path, sizeof(path), "%s/nginx/access.log", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char line[8192];
    size_t lines = 0;
    const char *secret = c.api_key + strlen("tg_test_");
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        cr_assert_null(strstr(line, secret), "the API key is in the access log: %s", line);
        cr_assert_null(strstr(line, b64), "the Basic credential is in the access log: %s", line);
    }
    fclose(f);
    cr_assert_gt(lines, 0, "the access log is written");
}

static void budget_fini(void)
{
    unsetenv("TOLLGATE_REQUEST_TIMEOUT_MS");
    it_stripe_clear_faults();
    it_fcgi_restart(NULL);
}

/* Stripe hangs: each attempt times out after 1.5 s (t/integration/run),
 * and a retry follows. With a budget of 1 s the first attempt is cut to
 * what is left of it and no retry starts: the request answers 503 within
 * its budget, and its call is left to tollgate-worker. */
Test(edge, a_request_answers_within_its_budget, .fini = budget_fini)
{
    setenv("TOLLGATE_REQUEST_TIMEOUT_MS", "1000", 1);
    it_fcgi_restart(NULL);
    struct it_customer c;
    onboard(&c);
    it_stripe_fault("mode=hang");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    it_assert_problem(&r, 503, "payment-provider-unavailable", NULL);
    it_response_free(&r);
    cr_assert(ms < 1400, "answered after %ld ms, budget 1000 ms (one attempt: 1500 ms)", ms);
}

/* One test restarts the workers with another budget: nothing may run
 * meanwhile. */
IT_SERIAL_MAIN()
