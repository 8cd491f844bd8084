/*
 * harness: the helpers of every integration test (see harness.h) and the
 * ledger check that runs around each of them. it_init snapshots the ledger
 * (the highest id and an md5 over all rows up to it, taken under a SHARE
 * lock so no insert is in flight); it_fini then checks that every balance
 * equals the sum of its entries, nothing is negative, every balance_after is
 * the running sum by id, no pre-existing row changed, and tollgatectl
 * verify-ledger agrees. Criterion 2.4 does not count assertions made in a
 * fini, so a violation is printed and the test process aborted: Criterion
 * reports the test as crashed in its teardown and the program exits non-zero.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lib/ledger_check.h"
#include "harness_contract.h"

#define HTTP_TIMEOUT_SECONDS 60L
#define NGINX_LIMIT_RETRIES 50

/* ---- HTTP ---------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t add = size * n;
    if (b->len + add + 1 > b->cap) {
        size_t cap = (b->len + add + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return 0;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static void clear_headers(struct it_response *r)
{
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    r->nheaders = 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct it_response *r = ud;
    size_t len = size * n, keep = len;
    while (keep > 0 && (data[keep - 1] == '\r' || data[keep - 1] == '\n'))
        keep--;
    if (keep >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        clear_headers(r); /* a new response (after 100 Continue) */
        return len;
    }
    if (keep == 0 || r->nheaders == IT_MAX_HEADERS)
        return len;
    r->headers[r->nheaders] = strndup(data, keep);
    if (r->headers[r->nheaders] == NULL)
        return 0;
    r->nheaders++;
    return len;
}

static void set_method(CURL *h, const char *method, const char *body, size_t body_len)
{
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (body == NULL && strcmp(method, "POST") != 0) {
        if (strcmp(method, "GET") == 0)
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        else
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        return;
    }
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? body_len : 0));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

static int request_once(CURL *h, const char *method, const char *url, const struct curl_slist *list,
                        const char *body, size_t body_len, struct it_response *out)
{
    memset(out, 0, sizeof(*out));
    struct buf b = {0};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, HTTP_TIMEOUT_SECONDS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    set_method(h, method, body, body_len);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (b.p == NULL && !b.failed)
        b.p = calloc(1, 1);
    out->body = b.p;
    out->body_len = b.len;
    if (rc != CURLE_OK || b.p == NULL || b.failed) {
        fprintf(stderr, "it_request %s %s: %s\n", method, url, curl_easy_strerror(rc));
        it_response_free(out);
        return -1;
    }
    return 0;
}

/* nginx_limited: nginx's limit_req refused the request (it never reached
 * tollgate). nginx counts every request of one millisecond in full, so even
 * at 100000r/s more than burst (5 for signups) requests landing in the same
 * millisecond are refused; the tests are not about nginx's limits. */
static bool nginx_limited(const struct it_response *r)
{
    return r->status == 429 && it_header(r, "Retry-After") != NULL &&
           strstr(r->body, "\"type\":\"" IT_PROBLEM_BASE "rate-limited\"") != NULL &&
           strstr(r->body, "slow down") != NULL;
}

int it_request(CURL *h, const char *method, const char *path, const char *const *headers,
               const char *body, size_t body_len, struct it_response *out)
{
    memset(out, 0, sizeof(*out));
    const char *base = getenv("TOLLGATE_URL");
    char url[4096];
    if (base == NULL || (size_t)snprintf(url, sizeof(url), "%s%s", base, path) >= sizeof(url)) {
        fprintf(stderr, "it_request: TOLLGATE_URL unset or path too long\n");
        return -1;
    }
    CURL *own = h == NULL ? curl_easy_init() : NULL;
    if (h == NULL && (h = own) == NULL)
        return -1;
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = request_once(h, method, url, list, body, body_len, out);
        if (rc != 0 || attempt == NGINX_LIMIT_RETRIES || !nginx_limited(out))
            break;
        it_response_free(out);
        nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(own);
    if (rc == 0)
        it_contract_record(method, strlen(method), path, strlen(path), false, out);
    return rc;
}

int it_request_to(const char *base, const char *method, const char *path,
                  const char *const *headers, const char *body, size_t body_len,
                  struct it_response *out)
{
    memset(out, 0, sizeof(*out));
    char url[4096];
    if ((size_t)snprintf(url, sizeof(url), "%s%s", base, path) >= sizeof(url))
        return -1;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return -1;
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    int rc = request_once(h, method, url, list, body, body_len, out);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return rc;
}

void it_response_free(struct it_response *r)
{
    clear_headers(r);
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
}

const char *it_header(const struct it_response *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':') {
            const char *v = r->headers[i] + n + 1;
            return v + strspn(v, " \t");
        }
    return NULL;
}

size_t it_header_count(const struct it_response *r, const char *name)
{
    size_t n = strlen(name), count = 0;
    for (size_t i = 0; i < r->nheaders; i++)
        count += strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':';
    return count;
}

void it_send(const char *method, const char *path, const char *const *headers, const char *body,
             size_t body_len, struct it_response *out)
{
    cr_assert_eq(it_request(NULL, method, path, headers, body, body_len, out), 0, "%s %s failed",
                 method, path);
}

void it_get(const char *path, const char *api_key, struct it_response *out)
{
    char auth[160];
    const char *headers[2] = {NULL, NULL};
    if (api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        headers[0] = auth;
    }
    cr_assert_eq(it_request(NULL, "GET", path, headers, NULL, 0, out), 0, "GET %s failed", path);
}

char *it_metrics_scrape(void)
{
    struct it_response r;
    it_get("/metrics", NULL, &r);
    cr_assert_eq(r.status, 200, "GET /metrics: %ld", r.status);
    char *text = strdup(r.body);
    it_response_free(&r);
    cr_assert_not_null(text);
    return text;
}

double it_metrics_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return 0;
}

void it_post_json(const char *path, const char *api_key, const char *idempotency_key,
                  const char *body, struct it_response *out)
{
    char auth[160], idem[400];
    const char *headers[4] = {"Content-Type: application/json", NULL, NULL, NULL};
    size_t n = 1;
    if (api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        headers[n++] = auth;
    }
    if (idempotency_key != NULL) {
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idempotency_key);
        headers[n++] = idem;
    }
    cr_assert_eq(it_request(NULL, "POST", path, headers, body, strlen(body), out), 0,
                 "POST %s failed", path);
}

void it_post_usage(const struct it_customer *c, const char *idempotency_key, const char *fix_id,
                   struct it_response *out)
{
    json_t *j = json_pack("{s:s, s:s}", "kind", "fix_deployed", "fix_id", fix_id);
    char *body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_not_null(body);
    it_post_json("/api/v1/usage", c->api_key, idempotency_key, body, out);
    free(body);
}

/* ---- JSON ---------------------------------------------------------------- */

json_t *it_json(const struct it_response *r)
{
    json_error_t err;
    json_t *j = json_loadb(r->body, r->body_len, 0, &err);
    cr_assert_not_null(j, "body is not JSON (%s): %s", err.text, r->body);
    return j;
}

json_t *it_jget(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    cr_assert_not_null(v, "member \"%s\" missing", key);
    return v;
}

const char *it_jstr(json_t *obj, const char *key)
{
    json_t *v = it_jget(obj, key);
    cr_assert(json_is_string(v), "member \"%s\" is not a string", key);
    return json_string_value(v);
}

long long it_jint(json_t *obj, const char *key)
{
    json_t *v = it_jget(obj, key);
    cr_assert(json_is_integer(v), "member \"%s\" is not an integer", key);
    return (long long)json_integer_value(v);
}

json_t *it_assert_json(const struct it_response *r, long status)
{
    cr_assert_eq(r->status, status, "expected HTTP %ld, got %ld: %s", status, r->status, r->body);
    const char *ct = it_header(r, "Content-Type");
    cr_assert(ct != NULL && strncmp(ct, "application/json", 16) == 0,
              "Content-Type is %s, not application/json", ct ? ct : "(none)");
    return it_json(r);
}

void it_assert_problem(const struct it_response *r, long status, const char *slug,
                       const char *detail_has)
{
    cr_assert_eq(r->status, status, "expected HTTP %ld, got %ld: %s", status, r->status, r->body);
    const char *ct = it_header(r, "Content-Type");
    cr_assert(ct != NULL && strncmp(ct, "application/problem+json", 24) == 0,
              "Content-Type is %s, not application/problem+json", ct ? ct : "(none)");
    char type[256];
    snprintf(type, sizeof(type), IT_PROBLEM_BASE "%s", slug);
    json_t *j = it_json(r);
    cr_assert_str_eq(it_jstr(j, "type"), type, "problem type of: %s", r->body);
    cr_assert_gt(strlen(it_jstr(j, "title")), 0, "empty title: %s", r->body);
    cr_assert_eq(it_jint(j, "status"), status, "status member differs: %s", r->body);
    const char *rid = it_jstr(j, "request_id"), *hdr = it_header(r, "X-Request-Id");
    cr_assert_gt(strlen(rid), 0, "empty request_id: %s", r->body);
    cr_assert(hdr != NULL && strcmp(hdr, rid) == 0, "request_id %s differs from X-Request-Id %s",
              rid, hdr ? hdr : "(none)");
    if (detail_has != NULL)
        cr_assert(strstr(it_jstr(j, "detail"), detail_has) != NULL,
                  "detail does not mention \"%s\": %s", detail_has, r->body);
    json_decref(j);
}

/* ---- customers ----------------------------------------------------------- */

void it_unique_email(char *buf, size_t len, const char *domain)
{
    static unsigned counter;
    unsigned rnd = 0;
    cr_assert_eq(getrandom(&rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
    snprintf(buf, len, "it-%ld-%u-%08x@%s", (long)getpid(), ++counter, rnd, domain);
}

void onboard(struct it_customer *c)
{
    memset(c, 0, sizeof(*c));
    it_unique_email(c->email, sizeof(c->email), "example.com");
    json_t *req = json_pack("{s:s, s:s, s:s}", "email", c->email, "name", "Integration Test",
                            "source", "direct");
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    cr_assert_not_null(body);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    free(body);
    json_t *j = it_assert_json(&r, 201);
    snprintf(c->id, sizeof(c->id), "%s", it_jstr(it_jget(j, "customer"), "id"));
    snprintf(c->api_key, sizeof(c->api_key), "%s", it_jstr(j, "api_key"));
    json_decref(j);
    it_response_free(&r);
}

long long it_balance(const struct it_customer *c)
{
    PGconn *db = it_db();
    const char *p[1] = {c->id};
    long long v = it_db_ll(db, "SELECT credit_balance FROM customers WHERE id = $1", 1, p);
    PQfinish(db);
    return v;
}

/* ---- database ------------------------------------------------------------ */

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *it_db(void)
{
    PGconn *db = PQconnectdb("");
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "cannot connect to PostgreSQL: %s",
                 PQerrorMessage(db));
    PQsetNoticeProcessor(db, quiet, NULL); /* e.g. "truncate cascades to ..." */
    return db;
}

long long it_db_ll(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    long long v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

void it_db_exec(PGconn *db, const char *sql, int nparams, const char *const *params, char state[6])
{
    PGresult *r = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    snprintf(state, 6, "%s", s != NULL ? s : "");
    PQclear(r);
}

void it_add_credits(const struct it_customer *c, long long amount)
{
    char amt[32], state[6];
    snprintf(amt, sizeof(amt), "%lld", amount);
    const char *p[2] = {c->id, amt};
    PGconn *db = it_db();
    it_db_exec(db,
               "INSERT INTO credit_transactions (customer_id, amount, kind, reference)"
               " VALUES ($1, $2, 'adjustment', 'test')",
               2, p, state);
    PQfinish(db);
    cr_assert_str_eq(state, "", "adjustment refused: SQLSTATE %s", state);
}

/* ---- processes ----------------------------------------------------------- */

const char *it_env(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && *v != '\0', "%s is not set: run the tests through t/integration/run",
              name);
    return v;
}

static void read_all(int fd, char *output, size_t len)
{
    size_t got = 0;
    char sink[4096];
    for (;;) {
        char *to = got + 1 < len ? output + got : sink;
        size_t room = got + 1 < len ? len - got - 1 : sizeof(sink);
        ssize_t n = read(fd, to, room);
        if (n <= 0)
            break;
        if (to != sink)
            got += (size_t)n;
    }
    if (len > 0)
        output[got] = '\0';
}

int it_run(const char *const *argv, const char *const *env, char *output, size_t len)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return -1;
    }
    read_all(fds[0], output, len);
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int it_stack(const char *function)
{
    char out[4096];
    const char *argv[] = {"bash", "-c",
                          ". \"$TOLLGATE_SRC/scripts/stack.sh\" && \"$0\" \"$TOLLGATE_TEST_DIR\"",
                          function, NULL};
    int rc = it_run(argv, NULL, out, sizeof(out));
    if (rc != 0)
        fprintf(stderr, "%s exited with %d: %s\n", function, rc, out);
    return rc;
}

/* ---- tollgatectl --------------------------------------------------------- */

int it_ctl(const char *const *args, bool with_stderr, char *out, size_t len)
{
    char ctl[4096], conf[4096];
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", it_env("TOLLGATE_BUILD"));
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    const char *argv[24] = {
        "sh", "-c", with_stderr ? "exec \"$0\" \"$@\"" : "exec \"$0\" \"$@\" 2>/dev/null", ctl};
    size_t n = 4;
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert_lt(n, sizeof(argv) / sizeof(argv[0]) - 1, "too many arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    const char *env[] = {conf, NULL};
    return it_run(argv, env, out, len);
}

/* ---- ledger invariants --------------------------------------------------- */

static struct ledger_snapshot snapshot;

__attribute__((noreturn, format(printf, 1, 2))) static void fixture_abort(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ledger check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static PGconn *fixture_db(void)
{
    PGconn *db = PQconnectdb("");
    if (PQstatus(db) != CONNECTION_OK)
        fixture_abort("cannot connect to PostgreSQL: %s", PQerrorMessage(db));
    return db;
}

void it_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        fixture_abort("curl_global_init failed");
    PGconn *db = fixture_db();
    if (ledger_snapshot_take(db, &snapshot) != 0)
        fixture_abort("cannot take the ledger's snapshot (see above)");
    PQfinish(db);
}

static int check_tollgatectl(void)
{
    char ctl[4096], conf[4096], out[4096];
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", getenv("TOLLGATE_BUILD"));
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", getenv("TOLLGATE_TEST_DIR"));
    const char *argv[] = {ctl, "verify-ledger", NULL};
    const char *env[] = {conf, NULL};
    int rc = it_run(argv, env, out, sizeof(out));
    if (rc != 0)
        fprintf(stderr, "ledger check: tollgatectl verify-ledger exited with %d:\n%s", rc, out);
    return rc != 0;
}

void it_fini(void)
{
    if (getenv("TOLLGATE_BUILD") == NULL || getenv("TOLLGATE_TEST_DIR") == NULL)
        fixture_abort("TOLLGATE_BUILD and TOLLGATE_TEST_DIR must be set");
    PGconn *db = fixture_db();
    int bad = ledger_violations(db, &snapshot);
    PQfinish(db);
    if (bad < 0)
        fixture_abort("a query of the check failed (see above)");
    bad += check_tollgatectl();
    if (bad != 0)
        fixture_abort("%d ledger invariant(s) violated after this test (see above)", bad);
    curl_global_cleanup();
}
