/*
 * Integration tests of the logs (issue 11): one request id from the edge
 * to Stripe -- nginx's $request_id (X-Request-Id) is the request_id of
 * tollgate's line for the request and of its Stripe call's line, and of
 * nginx's JSON access line; every line a request causes names its
 * customer once authenticated; a failed request logs its problem type at
 * the level it deserves (a refusal the client caused is info, not error).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "harness_stripe.h"

TestSuite(logs, .init = it_stripe_init, .fini = it_stripe_fini, .timeout = 120);

/* scan: the first line of file (relative to the stack's directory) that is
 * a JSON object whose member key is value and, when msg is not NULL, whose
 * "msg" is msg (a new reference), or NULL. Lines that are no JSON fail
 * the test when all_json. */
static json_t *scan(const char *file, const char *key, const char *value, const char *msg,
                    bool all_json)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", it_env("TOLLGATE_TEST_DIR"), file);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char line[65536];
    json_t *found = NULL;
    while (found == NULL && fgets(line, sizeof(line), f) != NULL) {
        /* A request line nginx refused may hold a NUL: escape=json
         * writes \u0000, which is valid JSON (RFC 8259, 7). */
        json_t *j = json_loads(line, JSON_ALLOW_NUL, NULL);
        if (all_json)
            cr_assert(json_is_object(j), "%s: not a JSON object: %s", file, line);
        const char *v = json_string_value(json_object_get(j, key));
        const char *m = json_string_value(json_object_get(j, "msg"));
        if (v != NULL && strcmp(v, value) == 0 && (msg == NULL || (m && strcmp(m, msg) == 0)))
            found = j;
        else
            json_decref(j);
    }
    fclose(f);
    return found;
}

/* find_line: scan, waiting up to 3 s (a worker writes its request's line
 * after the answer; nginx when the request ends); asserts a line is found. */
static json_t *find_line(const char *file, const char *key, const char *value, const char *msg,
                         bool all_json)
{
    for (int i = 0; i < 30; i++) {
        json_t *j = scan(file, key, value, msg, all_json);
        if (j != NULL)
            return j;
        struct timespec t = {0, 100 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    cr_assert_fail("%s: no line with %s %s (msg %s)", file, key, value, msg ? msg : "any");
    return NULL;
}

Test(logs, one_request_id_from_the_edge_to_stripe)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    const char *h = it_header(&r, "X-Request-Id");
    cr_assert_not_null(h, "nginx returns its request id");
    char rid[128];
    snprintf(rid, sizeof(rid), "%s", h);
    it_response_free(&r);
    cr_assert_gt(strlen(rid), 0);

    json_t *req = find_line("tollgate-fcgi.log", "request_id", rid, "request", false);
    cr_assert_str_eq(it_jstr(req, "customer_id"), c.id, "the request line names the customer");
    cr_assert_eq(it_jint(req, "status"), 200);
    cr_assert_str_eq(it_jstr(req, "level"), "info");
    json_decref(req);

    json_t *call = find_line("tollgate-fcgi.log", "request_id", rid, "stripe call", false);
    cr_assert_str_eq(it_jstr(call, "customer_id"), c.id, "the Stripe call names the customer");
    json_decref(call);

    /* nginx's access log: JSON lines, the same id. */
    json_t *edge = find_line("nginx/access.log", "request_id", rid, NULL, true);
    cr_assert_str_eq(it_jstr(edge, "status"), "200");
    cr_assert_str_eq(it_jstr(edge, "request"), "POST /api/v1/customers/me/payment_method HTTP/1.1");
    cr_assert_null(json_object_get(edge, "remote_user"), "no credential in the access log");
    json_decref(edge);
}

Test(logs, a_refusal_logs_its_problem_at_info)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    /* usage without its required Idempotency-Key: 400, after authentication */
    it_post_json("/api/v1/usage", c.api_key, NULL, "{\"kind\":\"fix_deployed\",\"fix_id\":\"f1\"}",
                 &r);
    it_assert_problem(&r, 400, "idempotency-key-required", NULL);
    char rid[128];
    snprintf(rid, sizeof(rid), "%s", it_header(&r, "X-Request-Id"));
    it_response_free(&r);

    json_t *line = find_line("tollgate-fcgi.log", "request_id", rid, "request", false);
    cr_assert_str_eq(it_jstr(line, "problem"), IT_PROBLEM_BASE "idempotency-key-required");
    cr_assert_str_eq(it_jstr(line, "level"), "info", "a client's mistake is no error");
    cr_assert_str_eq(it_jstr(line, "customer_id"), c.id);
    cr_assert_eq(it_jint(line, "status"), 400);
    json_decref(line);
}

/* An answer nginx makes itself goes through an internal redirect to its
 * error page, which turns the method into GET: the access line must still
 * say what the client sent (its request line). */
Test(logs, an_edge_error_logs_the_request_as_sent)
{
    struct it_customer c;
    onboard(&c);
    size_t n = 80 * 1024; /* over the 64 KiB the API locations take */
    char *body = malloc(n + 1);
    cr_assert_not_null(body);
    memset(body, 'x', n);
    body[n] = '\0';
    struct it_response r;
    it_post_json("/api/v1/usage", c.api_key, "edge-log-1", body, &r);
    free(body);
    cr_assert_eq(r.status, 413, "%s", r.body);
    const char *h = it_header(&r, "X-Request-Id");
    cr_assert_not_null(h, "nginx's own errors carry the request id too");
    char rid[128];
    snprintf(rid, sizeof(rid), "%s", h);
    it_response_free(&r);

    json_t *edge = find_line("nginx/access.log", "request_id", rid, NULL, true);
    cr_assert_str_eq(it_jstr(edge, "status"), "413");
    cr_assert_str_eq(it_jstr(edge, "request"), "POST /api/v1/usage HTTP/1.1");
    json_decref(edge);
}
