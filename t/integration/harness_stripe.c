/*
 * harness_stripe: the Stripe helpers of the billing suites (see
 * harness_stripe.h). The emulator is reached directly (not through nginx)
 * at TOLLGATE_STRIPE_URL; the stack's processes are driven through
 * scripts/stack.sh, as t/integration/run does. it_stripe_fini's checks, like
 * harness.c's ledger check, abort the test process on a violation because
 * Criterion 2.4 does not count assertions made in a fini.
 */
#define _GNU_SOURCE
#include "harness_stripe.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKER_OUTPUT (64 * 1024)

static size_t requests_at_start;

void it_pause_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

/* ---- the emulator -------------------------------------------------------- */

/* emulator: one request to the emulator; 0 or -1 (transport error). */
static int emulator(const char *method, const char *path, const char *query, const char *form,
                    struct it_response *out)
{
    const char *base = getenv("TOLLGATE_STRIPE_URL");
    char target[4096];
    if (base == NULL || *base == '\0') {
        memset(out, 0, sizeof(*out));
        fprintf(stderr,
                "TOLLGATE_STRIPE_URL is not set: run the tests through t/integration/run\n");
        return -1;
    }
    snprintf(target, sizeof(target), "%s%s%s", path, query != NULL && *query ? "?" : "",
             query != NULL ? query : "");
    const char *headers[] = {"Authorization: Bearer " IT_STRIPE_KEY,
                             "Content-Type: application/x-www-form-urlencoded", NULL};
    return it_request_to(base, method, target, headers, form, form != NULL ? strlen(form) : 0, out);
}

static json_t *emulator_json(const char *method, const char *path, const char *query,
                             const char *form)
{
    struct it_response r;
    cr_assert_eq(emulator(method, path, query, form, &r), 0, "%s %s: the emulator did not answer",
                 method, path);
    cr_assert_eq(r.status, 200, "emulator %s %s: HTTP %ld: %s", method, path, r.status, r.body);
    json_t *j = it_json(&r);
    it_response_free(&r);
    return j;
}

json_t *it_stripe_get(const char *path, const char *query)
{
    return emulator_json("GET", path, query, NULL);
}

json_t *it_stripe_post(const char *path, const char *form)
{
    return emulator_json("POST", path, NULL, form != NULL ? form : "");
}

void it_stripe_fault(const char *form)
{
    json_decref(it_stripe_post("/_emulator/faults", form));
}

void it_stripe_clear_faults(void)
{
    json_decref(emulator_json("DELETE", "/_emulator/faults", NULL, NULL));
}

void it_webhooks_hold(void)
{
    json_decref(it_stripe_post("/_emulator/webhooks/pause", NULL));
}

static long long events(const char *status)
{
    PGconn *db = it_db();
    const char *p[1] = {status};
    long long n = it_db_ll(db, "SELECT count(*) FROM stripe_events WHERE status = $1", 1, p);
    PQfinish(db);
    return n;
}

static long long pending_events(void)
{
    return events("pending");
}

void it_webhooks_release(void)
{
    long long dead = events("dead");
    json_decref(it_stripe_post("/_emulator/webhooks/resume", NULL));
    json_t *j = it_stripe_post("/_emulator/webhooks/flush", "timeout=30");
    cr_assert_eq(it_jint(j, "pending"), 0, "webhook deliveries still pending after 30 s");
    json_decref(j);
    for (int i = 0; i < 50 && pending_events() > 0; i++) {
        it_worker_pass();
        it_pause_ms(200);
    }
    cr_assert_eq(pending_events(), 0, "received Stripe events still pending after 10 s");
    cr_assert_eq(events("dead"), dead, "a held Stripe event could not be applied (dead letter)");
}

void it_webhooks_resume_quietly(void)
{
    struct it_response r;
    if (emulator("POST", "/_emulator/webhooks/resume", NULL, "", &r) == 0)
        it_response_free(&r);
}

json_t *it_stripe_requests(size_t first)
{
    json_t *log = it_stripe_get("/_emulator/requests", NULL);
    json_t *data = json_object_get(log, "data"), *out = json_array();
    cr_assert(json_is_array(data), "the emulator's request log has no data");
    for (size_t i = first; i < json_array_size(data); i++)
        json_array_append(out, json_array_get(data, i));
    json_decref(log);
    return out;
}

size_t it_stripe_request_count(void)
{
    json_t *all = it_stripe_requests(0);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

size_t it_stripe_count(const char *path, const char *stripe_customer)
{
    char query[256];
    snprintf(query, sizeof(query), "customer=%s&limit=100%s", stripe_customer,
             strcmp(path, "/v1/subscriptions") == 0 ? "&status=all" : "");
    json_t *list = it_stripe_get(path, query);
    cr_assert(json_is_false(json_object_get(list, "has_more")), "more than 100 in %s", path);
    size_t n = json_array_size(it_jget(list, "data"));
    json_decref(list);
    return n;
}

/* ---- fixtures ------------------------------------------------------------ */

__attribute__((noreturn, format(printf, 1, 2))) static void stripe_abort(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stripe check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* log_snapshot: the emulator's request log (aborts when unreachable). */
static json_t *log_snapshot(void)
{
    struct it_response r;
    if (emulator("GET", "/_emulator/requests", NULL, NULL, &r) != 0 || r.status != 200)
        stripe_abort("GET /_emulator/requests failed (HTTP %ld)", r.status);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    it_response_free(&r);
    if (!json_is_array(json_object_get(j, "data")))
        stripe_abort("the emulator's request log is not a list");
    return j;
}

void it_stripe_init(void)
{
    it_init();
    json_t *log = log_snapshot();
    requests_at_start = json_array_size(json_object_get(log, "data"));
    json_decref(log);
}

/* invalid_requests: print and count the logged requests from first on that
 * did not validate against Stripe's spec. */
static int invalid_requests(json_t *data, size_t first)
{
    int bad = 0;
    for (size_t i = first; i < json_array_size(data); i++) {
        json_t *e = json_array_get(data, i), *err = json_object_get(e, "validation_error");
        if (json_is_true(json_object_get(e, "valid")) && json_is_null(err))
            continue;
        char *text = json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(stderr, "stripe check: %s %s (Idempotency-Key %s) did not validate: %s%s\n",
                json_string_value(json_object_get(e, "method")),
                json_string_value(json_object_get(e, "path")),
                json_string_value(json_object_get(e, "idempotency_key")), text != NULL ? text : "?",
                json_is_null(json_object_get(e, "valid")) ? " (the emulator has no spec)" : "");
        free(text);
        bad++;
    }
    return bad;
}

void it_stripe_fini(void)
{
    struct it_response r;
    if (emulator("DELETE", "/_emulator/faults", NULL, NULL, &r) != 0 || r.status != 200)
        stripe_abort("DELETE /_emulator/faults failed (HTTP %ld)", r.status);
    it_response_free(&r);
    json_t *log = log_snapshot();
    int bad = invalid_requests(json_object_get(log, "data"), requests_at_start);
    json_decref(log);
    if (bad != 0)
        stripe_abort("%d request(s) to Stripe during this test were not valid (see above)", bad);
    it_fini();
}

/* ---- customers ----------------------------------------------------------- */

void it_add_card(const struct it_customer *c, const char *payment_method, bool consent,
                 struct it_response *out)
{
    json_t *j =
        json_pack("{s:s, s:b}", "payment_method", payment_method, "billing_consent", consent);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_not_null(body);
    it_post_json("/api/v1/customers/me/payment_method", c->api_key, NULL, body, out);
    free(body);
}

void it_customer_with_card(struct it_customer *c, const char *payment_method)
{
    onboard(c);
    struct it_response r;
    it_add_card(c, payment_method, true, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "tier"), "payg", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
}

/* db_str: the one value sql returns with params into out; false if NULL. */
static bool db_str(const char *sql, int n, const char *const *params, char *out, size_t len)
{
    PGconn *db = it_db();
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    cr_assert(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    bool set = !PQgetisnull(r, 0, 0);
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(db);
    return set;
}

void it_db_str(const struct it_customer *c, const char *sql, char *out, size_t len)
{
    const char *p[1] = {c->id};
    db_str(sql, 1, p, out, len);
}

void it_stripe_customer(const struct it_customer *c, char *out, size_t len)
{
    const char *p[1] = {c->id};
    cr_assert(db_str("SELECT stripe_customer_id FROM customers WHERE id = $1", 1, p, out, len),
              "customer %s has no Stripe customer", c->id);
}

json_t *it_charge_intents(const struct it_customer *c)
{
    char cus[64], query[128];
    it_stripe_customer(c, cus, sizeof(cus));
    snprintf(query, sizeof(query), "customer=%s&limit=100", cus);
    json_t *list = it_stripe_get("/v1/payment_intents", query), *out = json_array(), *pi;
    cr_assert(json_is_false(json_object_get(list, "has_more")), "more than 100 PaymentIntents");
    size_t i;
    json_array_foreach(it_jget(list, "data"), i, pi)
    {
        if (json_is_string(json_object_get(json_object_get(pi, "metadata"), "tollgate_charge_id")))
            json_array_append(out, pi);
    }
    json_decref(list);
    return out;
}

void it_charge_key(const struct it_customer *c, const char *usage_key, char *out, size_t len)
{
    const char *p[2] = {c->id, usage_key};
    cr_assert(db_str("SELECT max(r.idempotency_key) FROM usage_events u"
                     " JOIN charges ch ON ch.id = u.charge_id"
                     " JOIN stripe_requests r ON r.id = ch.stripe_request_id"
                     " WHERE u.customer_id = $1 AND u.idempotency_key = $2",
                     2, p, out, len),
              "no charge for usage key %s", usage_key);
}

void it_zero_balance(const struct it_customer *c)
{
    long long b = it_balance(c);
    if (b > 0)
        it_add_credits(c, -b);
    cr_assert_eq(it_balance(c), 0);
}

long long it_db_count(const struct it_customer *c, const char *sql)
{
    PGconn *db = it_db();
    const char *p[1] = {c->id};
    long long n = it_db_ll(db, sql, 1, p);
    PQfinish(db);
    return n;
}

/* ---- processes ----------------------------------------------------------- */

bool it_failpoints(void)
{
    const char *v = getenv("TOLLGATE_FAILPOINTS");
    return v != NULL && strcmp(v, "1") == 0;
}

/* The shell prelude of stack(): scripts/stack.sh, DIR and BUILD, and
 * stop_pidfile, stack_stop_pid's TERM-wait-KILL that also counts a zombie
 * as stopped: a process whose starter has exited is reaped by init, which
 * may take a second or more, and stack_stop_pid waits for that. */
static const char prelude[] =
    ". \"$TOLLGATE_SRC/scripts/stack.sh\" || exit 1; DIR=$TOLLGATE_TEST_DIR;"
    " BUILD=$TOLLGATE_BUILD;"
    " stop_pidfile() { local f=$1 pid i st; [ -f \"$f\" ] || return 0; pid=$(cat \"$f\");"
    " kill -TERM \"$pid\" 2>/dev/null || { rm -f \"$f\"; return 0; };"
    " for i in $(seq 1 200); do st=$(ps -o stat= -p \"$pid\" 2>/dev/null) || break;"
    " case $st in Z*) break ;; esac; sleep 0.05; done;"
    " kill -KILL \"$pid\" 2>/dev/null; rm -f \"$f\"; };";

/* stack: run a shell snippet after the prelude; 0 or the exit status (the
 * output is printed when it fails). env: extra NAME=value (may be NULL). */
static int stack(const char *snippet, const char *const *env)
{
    char script[4096], out[8192];
    snprintf(script, sizeof(script), "%s %s", prelude, snippet);
    const char *argv[] = {"bash", "-c", script, NULL};
    int rc = it_run(argv, env, out, sizeof(out));
    if (rc != 0)
        fprintf(stderr, "%s: exited with %d: %s\n", snippet, rc, out);
    return rc;
}

static long health(void)
{
    struct it_response r;
    if (it_request(NULL, "GET", "/health", NULL, NULL, 0, &r) != 0)
        return 0;
    long status = r.status;
    it_response_free(&r);
    return status;
}

void it_fcgi_restart(const char *failpoint)
{
    char fp[128];
    snprintf(fp, sizeof(fp), "TOLLGATE_FAILPOINT=%s", failpoint != NULL ? failpoint : "");
    const char *env[] = {fp, NULL};
    cr_assert_eq(stack(failpoint != NULL
                           ? "stop_pidfile \"$DIR/tollgate-fcgi.pid\" &&"
                             " stack_fcgi_start \"$DIR\" \"$BUILD\""
                           : "unset TOLLGATE_FAILPOINT; stop_pidfile \"$DIR/tollgate-fcgi.pid\" &&"
                             " stack_fcgi_start \"$DIR\" \"$BUILD\"",
                       env),
                 0, "the FastCGI workers did not restart (failpoint %s)",
                 failpoint != NULL ? failpoint : "none");
    long status = 0;
    for (int i = 0; i < 100 && (status = health()) != 200; i++)
        it_pause_ms(100);
    cr_assert_eq(status, 200, "/health answers %ld after the restart", status);
}

int it_worker_try_stop(void)
{
    return stack("stop_pidfile \"$DIR/tollgate-worker.pid\"", NULL);
}

int it_worker_try_start(void)
{
    return stack("[ -f \"$DIR/tollgate-worker.pid\" ] &&"
                 " kill -0 \"$(cat \"$DIR/tollgate-worker.pid\")\" 2>/dev/null ||"
                 " stack_worker_start \"$DIR\" \"$BUILD\"",
                 NULL);
}

void it_worker_stop(void)
{
    cr_assert_eq(it_worker_try_stop(), 0, "the background tollgate-worker did not stop");
}

void it_worker_start(void)
{
    cr_assert_eq(it_worker_try_start(), 0, "the background tollgate-worker did not start");
}

void it_worker_pause(void)
{
    if (it_worker_try_stop() != 0)
        fprintf(stderr, "warning: the background tollgate-worker did not stop\n");
}

void it_worker_resume(void)
{
    if (it_worker_try_start() != 0)
        fprintf(stderr, "warning: the background tollgate-worker did not start\n");
}

void it_worker_pass(void)
{
    char bin[4096], conf[4096];
    snprintf(bin, sizeof(bin), "%s/tollgate-worker", it_env("TOLLGATE_BUILD"));
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    const char *argv[] = {bin, "-1", NULL};
    const char *env[] = {conf, NULL};
    char *out = malloc(WORKER_OUTPUT);
    cr_assert_not_null(out);
    int rc = it_run(argv, env, out, WORKER_OUTPUT);
    bool report = strstr(out, "Sanitizer") != NULL || strstr(out, "runtime error:") != NULL;
    if (rc != 0 || report)
        fprintf(stderr, "tollgate-worker -1 exited with %d:\n%s\n", rc, out);
    free(out);
    cr_assert(rc == 0 && !report, "tollgate-worker -1 failed (exit status %d)", rc);
}

long long it_pending_calls(const struct it_customer *c)
{
    PGconn *db = it_db();
    const char *p[1] = {c != NULL ? c->id : NULL};
    long long n = it_db_ll(db,
                           "SELECT count(*) FROM stripe_requests WHERE status = 'pending'"
                           " AND ($1::uuid IS NULL OR customer_id = $1::uuid)",
                           1, p);
    PQfinish(db);
    return n;
}

bool it_worker_drain(const struct it_customer *c, int seconds)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (it_pending_calls(c) == 0)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= seconds)
            return false;
        it_worker_pass();
        it_pause_ms(200);
    }
}
