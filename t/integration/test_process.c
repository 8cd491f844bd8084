/*
 * test_process: the service as processes. /health answers 200 with
 * {"status":"ok"}; with PostgreSQL stopped it answers 503 and an
 * authenticated request gets a 503 problem, and once PostgreSQL is back
 * /health returns to 200 and usage works again -- the first requests after
 * the restart included. A SIGKILLed worker is replaced by the master;
 * SIGHUP replaces every worker while the service keeps answering. In the
 * database, the ledger refuses UPDATE, DELETE and TRUNCATE and no balance
 * can go negative. These tests stop and signal the shared stack, so the
 * program runs them one at a time (its own main); the database tests
 * restart PostgreSQL and refresh the workers in their fini even when an
 * assertion failed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_PIDS 64

TestSuite(process, .init = it_init, .fini = it_fini, .timeout = 180);

static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

static long expected_workers(void)
{
    const char *w = getenv("TOLLGATE_WORKERS");
    long n = w != NULL ? strtol(w, NULL, 10) : 0;
    return n > 0 ? n : 4;
}

/* master_pid: from TOLLGATE_TEST_DIR/tollgate-fcgi.pid; 0 when unknown. */
static pid_t master_pid(void)
{
    char path[4096], text[32] = "";
    const char *dir = getenv("TOLLGATE_TEST_DIR");
    snprintf(path, sizeof(path), "%s/tollgate-fcgi.pid", dir != NULL ? dir : ".");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(text, sizeof(text), f) == NULL)
        text[0] = '\0';
    fclose(f);
    return (pid_t)strtol(text, NULL, 10);
}

/* workers: the master's children (pgrep -P), at most MAX_PIDS. */
static size_t workers(pid_t master, pid_t *pids)
{
    char mp[32], out[4096];
    snprintf(mp, sizeof(mp), "%ld", (long)master);
    const char *argv[] = {"pgrep", "-P", mp, NULL};
    if (it_run(argv, NULL, out, sizeof(out)) < 0)
        return 0;
    size_t n = 0;
    for (char *p = out, *end; n < MAX_PIDS; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[n++] = (pid_t)v;
    }
    return n;
}

static bool member(pid_t pid, const pid_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == pid)
            return true;
    return false;
}

/* wait_replaced: until the master has exactly the expected number of
 * children and none of old[] is among them or alive (at most ~20 s). */
static bool wait_replaced(pid_t master, const pid_t *old, size_t nold)
{
    for (int i = 0; i < 200; i++) {
        pid_t now[MAX_PIDS];
        size_t n = workers(master, now), stale = 0;
        for (size_t k = 0; k < n; k++)
            stale += member(now[k], old, nold);
        for (size_t k = 0; k < nold; k++)
            stale += kill(old[k], 0) == 0 || errno != ESRCH;
        if (stale == 0 && (long)n == expected_workers())
            return true;
        pause_ms(100);
    }
    return false;
}

static long health(CURL *h)
{
    struct it_response r;
    if (it_request(h, "GET", "/health", NULL, NULL, 0, &r) != 0)
        return 0;
    long status = r.status;
    it_response_free(&r);
    return status;
}

/* reload_workers: SIGHUP the master and wait for a complete new set. */
static bool reload_workers(void)
{
    pid_t master = master_pid(), old[MAX_PIDS];
    size_t nold = master > 0 ? workers(master, old) : 0;
    return master > 0 && kill(master, SIGHUP) == 0 && wait_replaced(master, old, nold);
}

static bool pg_running(void)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/pg/postmaster.pid", getenv("TOLLGATE_TEST_DIR"));
    return stat(path, &st) == 0;
}

/* db_cleanup: whatever the test did, PostgreSQL runs again afterwards and no
 * worker keeps a connection from before the restart. */
static void db_cleanup(void)
{
    if (!pg_running() && it_stack("stack_pg_start") != 0)
        fprintf(stderr, "db_cleanup: PostgreSQL did not start again\n");
    if (!reload_workers())
        fprintf(stderr, "db_cleanup: the workers were not replaced\n");
    for (int i = 0; i < 100 && health(NULL) != 200; i++)
        pause_ms(100);
}

Test(process, health_answers_ok)
{
    struct it_response r;
    it_get("/health", NULL, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "status"), "ok");
    cr_assert_str_eq(it_jstr(it_jget(j, "database"), "status"), "ok");
    cr_assert_not_null(it_header(&r, "X-Request-Id"));
    json_decref(j);
    it_response_free(&r);
}

static void assert_health_unavailable(void)
{
    struct it_response r;
    it_get("/health", NULL, &r);
    json_t *j = it_assert_json(&r, 503);
    cr_assert_str_eq(it_jstr(j, "status"), "unavailable");
    json_decref(j);
    it_response_free(&r);
}

/* retry_usage: POST the same fix until it is recorded (at most ~10 s); every
 * other answer must be a 503 problem. */
static void retry_usage(const struct it_customer *c)
{
    for (int i = 0; i < 100; i++) {
        struct it_response r;
        it_post_usage(c, "outage-key", "outage-fix", &r);
        if (r.status == 201) {
            it_response_free(&r);
            return;
        }
        it_assert_problem(&r, 503, "database-unavailable", NULL);
        it_response_free(&r);
        pause_ms(100);
    }
    cr_assert_fail("usage did not work again within 10 s of the restart");
}

Test(process, database_outage_answers_503_and_recovers, .fini = db_cleanup)
{
    struct it_customer c;
    onboard(&c);
    cr_assert_eq(it_stack("stack_pg_stop"), 0);
    cr_assert(!pg_running());
    for (long i = 0; i < expected_workers() + 1; i++) {
        assert_health_unavailable();
        struct it_response r;
        it_get("/api/v1/customers/me", c.api_key, &r);
        it_assert_problem(&r, 503, "database-unavailable", NULL);
        cr_assert_not_null(it_header(&r, "Retry-After"), "a 503 says when to retry");
        it_response_free(&r);
        it_post_usage(&c, "outage-key", "outage-fix", &r);
        it_assert_problem(&r, 503, "database-unavailable", NULL);
        cr_assert_not_null(it_header(&r, "Retry-After"), "a 503 says when to retry");
        it_response_free(&r);
    }
    cr_assert_eq(it_stack("stack_pg_start"), 0);
    long status = 0;
    for (int i = 0; i < 100 && (status = health(NULL)) != 200; i++)
        pause_ms(100);
    cr_assert_eq(status, 200, "/health did not recover within 10 s");
    retry_usage(&c);
    cr_assert_eq(it_balance(&c), 4, "the retried fix was charged once");
    PGconn *db = it_db();
    const char *p[1] = {c.id};
    cr_assert_eq(it_db_ll(db, "SELECT count(*) FROM usage_events WHERE customer_id = $1", 1, p), 1);
    PQfinish(db);
}

Test(process, first_requests_after_a_database_restart_succeed, .fini = db_cleanup)
{
    struct it_customer c;
    onboard(&c);
    /* Every worker holds a connection from before the restart. */
    cr_assert_eq(it_stack("stack_pg_stop"), 0);
    cr_assert_eq(it_stack("stack_pg_start"), 0);
    for (long i = 0; i < 2 * expected_workers(); i++) {
        struct it_response r;
        it_get("/health", NULL, &r);
        cr_assert_eq(r.status, 200, "request %ld after the restart: /health answered %ld %s", i,
                     r.status, r.body);
        it_response_free(&r);
    }
    struct it_response r;
    it_post_usage(&c, "after-restart", "fix", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    it_response_free(&r);
}

/* service_works: a signup and a fix go through. */
static void service_works(void)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_post_usage(&c, "works", "fix", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    it_response_free(&r);
    for (long i = 0; i < 2 * expected_workers(); i++)
        cr_assert_eq(health(NULL), 200);
}

Test(process, killed_worker_is_replaced)
{
    pid_t master = master_pid(), before[MAX_PIDS];
    cr_assert_gt(master, 0, "no master pid file");
    size_t n = workers(master, before);
    cr_assert_eq((long)n, expected_workers(), "%zu workers before", n);
    cr_assert_eq(kill(before[0], SIGKILL), 0);
    cr_assert(wait_replaced(master, before, 1), "worker %ld was not replaced", (long)before[0]);
    pid_t after[MAX_PIDS];
    size_t m = workers(master, after);
    for (size_t i = 1; i < n; i++)
        cr_assert(member(before[i], after, m), "worker %ld should have been left alone",
                  (long)before[i]);
    service_works();
}

struct load {
    volatile bool stop;
    long requests, failures, last_bad;
};

static void *load_health(void *arg)
{
    struct load *l = arg;
    CURL *h = curl_easy_init();
    while (h != NULL && !l->stop) {
        long status = health(h);
        l->requests++;
        if (status != 200) {
            l->failures++;
            l->last_bad = status;
        }
    }
    curl_easy_cleanup(h);
    return NULL;
}

Test(process, sighup_replaces_every_worker)
{
    pid_t master = master_pid(), old[MAX_PIDS];
    cr_assert_gt(master, 0, "no master pid file");
    size_t nold = workers(master, old);
    cr_assert_eq((long)nold, expected_workers());
    struct load l = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, load_health, &l), 0);
    pause_ms(200);
    cr_assert_eq(kill(master, SIGHUP), 0);
    bool replaced = wait_replaced(master, old, nold);
    pause_ms(200);
    l.stop = true;
    pthread_join(t, NULL);
    cr_assert(replaced, "the workers were not all replaced by new ones");
    cr_assert_gt(l.requests, 0);
    cr_assert_eq(l.failures, 0, "%ld of %ld requests failed during the reload (last: %ld)",
                 l.failures, l.requests, l.last_bad);
    cr_assert_eq(kill(master, 0), 0, "the master survives a reload");
    service_works();
}

/* A FastCGI connection that sends nothing (a web server that gave up, a
 * port scanner) is held by the worker that accepted it for up to two
 * seconds (libfcgi waits that long for its first bytes). A reload that
 * stops that worker meanwhile must still stop it: libfcgi's own shutdown
 * flag sent it round its accept loop forever at full CPU. */
Test(process, sighup_replaces_a_worker_holding_an_idle_connection)
{
    pid_t master = master_pid(), old[MAX_PIDS];
    cr_assert_gt(master, 0, "no master pid file");
    size_t nold = workers(master, old);
    cr_assert_eq((long)nold, expected_workers());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fcgi.sock",
                     it_env("TOLLGATE_TEST_DIR"));
    cr_assert(n > 0 && (size_t)n < sizeof(sa.sun_path));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
    pause_ms(300); /* a worker has accepted it and waits for its first bytes */
    cr_assert_eq(kill(master, SIGHUP), 0);
    bool replaced = wait_replaced(master, old, nold);
    close(fd);
    cr_assert(replaced, "a worker told to stop while holding an idle connection did not stop");
    service_works();
}

/* refused: run sql in a transaction that is rolled back; the SQLSTATE. */
static void refused(PGconn *db, const char *sql, int n, const char *const *p, const char *want)
{
    char state[6];
    PQclear(PQexec(db, "BEGIN"));
    it_db_exec(db, sql, n, p, state);
    PQclear(PQexec(db, "ROLLBACK"));
    cr_assert_str_eq(state, want, "%s: SQLSTATE %s, expected %s", sql, state, want);
}

Test(process, ledger_is_append_only)
{
    struct it_customer c;
    onboard(&c);
    PGconn *db = it_db();
    const char *p[1] = {c.id};
    long long id =
        it_db_ll(db, "SELECT min(id) FROM credit_transactions WHERE customer_id = $1", 1, p);
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    const char *q[1] = {ids};
    refused(db, "UPDATE credit_transactions SET amount = 500 WHERE id = $1", 1, q, "42501");
    refused(db, "UPDATE credit_transactions SET description = 'x' WHERE id = $1", 1, q, "42501");
    refused(db, "DELETE FROM credit_transactions WHERE id = $1", 1, q, "42501");
    refused(db, "TRUNCATE credit_transactions CASCADE", 0, NULL, "42501");
    cr_assert_eq(it_db_ll(db, "SELECT amount FROM credit_transactions WHERE id = $1", 1, q), 5);
    PQfinish(db);
    cr_assert_eq(it_balance(&c), 5);
}

Test(process, balance_cannot_go_negative)
{
    struct it_customer c;
    onboard(&c);
    PGconn *db = it_db();
    const char *p[1] = {c.id};
    refused(db, "UPDATE customers SET credit_balance = -1 WHERE id = $1", 1, p, "23514");
    refused(db,
            "INSERT INTO credit_transactions (customer_id, amount, kind, reference)"
            " VALUES ($1, -6, 'adjustment', 'test')",
            1, p, "23514");
    PQfinish(db);
    cr_assert_eq(it_balance(&c), 5);
}

/* One test at a time: they stop PostgreSQL and signal the workers. */
IT_SERIAL_MAIN()
