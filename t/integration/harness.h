/*
 * harness: what every integration test shares. The tests talk to a real
 * stack (nginx, tollgate-fcgi workers, PostgreSQL) started by
 * t/integration/run, which exports TOLLGATE_URL, TOLLGATE_TEST_DIR,
 * TOLLGATE_SRC, TOLLGATE_BUILD and the libpq PG* variables. Here: an HTTP
 * client over libcurl, Jansson and libpq helpers that assert as they go,
 * onboarding of fresh customers, and it_init/it_fini, the suite fixtures that
 * check the ledger invariants around every test.
 */
#ifndef TOLLGATE_IT_HARNESS_H
#define TOLLGATE_IT_HARNESS_H

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define IT_PROBLEM_BASE "https://tollgate.dev/problems/"
#define IT_MAX_HEADERS 48

/* One HTTP answer. Everything is malloc'd; release with it_response_free. */
struct it_response {
    long status;
    char *body; /* NUL-terminated; "" when empty */
    size_t body_len;
    char *headers[IT_MAX_HEADERS]; /* "Name: value", CRLF stripped */
    size_t nheaders;
};

/* A customer created through POST /api/v1/customers. */
struct it_customer {
    char id[64];
    char api_key[96];
    char email[160];
};

/* Suite fixtures: TestSuite(x, .init = it_init, .fini = it_fini). */
void it_init(void);
void it_fini(void);

/* it_request: send method path (relative to TOLLGATE_URL) with the given
 * "Name: value" headers (NULL-terminated list, may be NULL) and body (NULL:
 * none). h: a handle to reuse (one per thread), or NULL. Returns 0, or -1 on
 * a transport error (message on stderr); *out is always initialized. A 429
 * from nginx's per-IP limit_req is retried (see harness.c): it never reached
 * tollgate, and the tests are not about nginx's limits. */
int it_request(CURL *h, const char *method, const char *path, const char *const *headers,
               const char *body, size_t body_len, struct it_response *out);
void it_response_free(struct it_response *r);
/* it_request_to: one request to base (an http://host:port) + path on a fresh
 * handle, without it_request's nginx retries (for other servers than the
 * stack's nginx, e.g. the Stripe emulator). Returns 0 or -1 as it_request. */
int it_request_to(const char *base, const char *method, const char *path,
                  const char *const *headers, const char *body, size_t body_len,
                  struct it_response *out);
/* it_send: it_request on a fresh handle that asserts the transport worked. */
void it_send(const char *method, const char *path, const char *const *headers, const char *body,
             size_t body_len, struct it_response *out);

/* Asserting shortcuts: GET with an optional API key; POST a JSON body with
 * an optional API key and Idempotency-Key. */
void it_get(const char *path, const char *api_key, struct it_response *out);
void it_post_json(const char *path, const char *api_key, const char *idempotency_key,
                  const char *body, struct it_response *out);
/* it_metrics_scrape: GET /metrics (asserted 200); the caller frees the
 * text. it_metrics_value: the sample of series (name and labels exactly
 * as written, e.g. tollgate_dead_letters{queue="webhook_events"}) in
 * text; 0 when absent (a counter not yet counted). */
char *it_metrics_scrape(void);
double it_metrics_value(const char *text, const char *series);

/* it_post_usage: POST /api/v1/usage {"kind":"fix_deployed","fix_id":fix_id}. */
void it_post_usage(const struct it_customer *c, const char *idempotency_key, const char *fix_id,
                   struct it_response *out);

/* it_header: value of the first header called name (any case), or NULL;
 * it_header_count: how many there are. */
const char *it_header(const struct it_response *r, const char *name);
size_t it_header_count(const struct it_response *r, const char *name);

/* JSON helpers; each asserts what it needs. The returned json_t is owned by
 * the caller; strings borrowed from an object live as long as it does. */
json_t *it_json(const struct it_response *r);
const char *it_jstr(json_t *obj, const char *key);
long long it_jint(json_t *obj, const char *key);
json_t *it_jget(json_t *obj, const char *key);

/* it_assert_json: 200-like answer: status and application/json. Returns the
 * parsed body. */
json_t *it_assert_json(const struct it_response *r, long status);

/* it_assert_problem: r is an RFC 9457 problem: the status, content type
 * application/problem+json, type IT_PROBLEM_BASE slug, a title, a status
 * member equal to the HTTP status and a request_id equal to X-Request-Id.
 * detail_has: a substring the detail must contain, or NULL. */
void it_assert_problem(const struct it_response *r, long status, const char *slug,
                       const char *detail_has);

/* Customers. it_unique_email: it-<pid>-<n>-<random>@domain. */
void it_unique_email(char *buf, size_t len, const char *domain);
void onboard(struct it_customer *c);
long long it_balance(const struct it_customer *c);

/* Database. it_db: a connection from the PG* environment (assert). */
PGconn *it_db(void);
/* it_db_ll: the single integer the query returns (NULL counts as 0). */
long long it_db_ll(PGconn *db, const char *sql, int nparams, const char *const *params);
/* it_db_exec: run sql; returns the SQLSTATE of the error ("" on success)
 * in state (6 bytes). */
void it_db_exec(PGconn *db, const char *sql, int nparams, const char *const *params, char state[6]);
/* it_add_credits: append an adjustment entry of amount to the customer. */
void it_add_credits(const struct it_customer *c, long long amount);

/* it_env: a required environment variable (assert). */
const char *it_env(const char *name);
/* it_run: run argv (NULL-terminated) with extra "NAME=value" environment
 * entries (NULL-terminated, may be NULL), stdout and stderr into output
 * (NUL-terminated, truncated to len). Returns the exit status, or -1. */
int it_run(const char *const *argv, const char *const *env, char *output, size_t len);
/* it_stack: run a scripts/stack.sh function on TOLLGATE_TEST_DIR. */
int it_stack(const char *function);

/* it_ctl: run tollgatectl args... (NULL-terminated, at most 19) with the
 * stack's configuration; its stdout (and stderr too when with_stderr) into
 * out (len bytes). Returns the exit status. */
int it_ctl(const char *const *args, bool with_stderr, char *out, size_t len);

/* IT_SERIAL_MAIN: the program's main(), running its tests one at a time
 * (criterion_options.jobs = 1), for suites that restart processes or change
 * state every test shares (flags, faults, the audit log). Use once, at file
 * scope, with a comment saying why. */
#define IT_SERIAL_MAIN()                                                                       \
    int main(int argc, char *argv[])                                                           \
    {                                                                                          \
        struct criterion_test_set *tests = criterion_initialize();                             \
        criterion_options.jobs = 1;                                                            \
        int result = 0;                                                                        \
        if (criterion_handle_args(argc, argv, true))                                           \
            result = !criterion_run_all_tests(tests);                                          \
        criterion_finalize(tests);                                                             \
        return result;                                                                         \
    }

#endif
