/*
 * test_concurrency: parallel requests against one customer. With k credits
 * (5 from signup, or more after an adjustment entry) and N parallel POST
 * /api/v1/usage with distinct Idempotency-Keys released together by a
 * barrier, exactly k succeed (201), N-k are refused (402) and the balance
 * ends at 0; N parallel duplicates (same key, same body) all answer 201 with
 * the same body and consume one credit, recorded once; parallel signups
 * with one e-mail in different cases create one customer. Last, in a
 * scratch database migrated by tollgatectl, an adjustment entry racing a
 * fix must still leave every balance_after equal to the running sum by id
 * (what tollgatectl verify-ledger checks). Each thread has its own curl
 * handle; assertions run on the main thread only.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

TestSuite(concurrency, .init = it_init, .fini = it_fini, .timeout = 180);

struct shot {
    pthread_barrier_t *barrier;
    const char *path;
    const char *headers[5];
    char auth[160], idem[96];
    const char *body;
    long status;  /* 0: transport error */
    char *answer; /* malloc'd body */
    bool replayed;
};

static void *fire(void *arg)
{
    struct shot *s = arg;
    CURL *h = curl_easy_init();
    pthread_barrier_wait(s->barrier);
    struct it_response r;
    if (h != NULL &&
        it_request(h, "POST", s->path, s->headers, s->body, strlen(s->body), &r) == 0) {
        s->status = r.status;
        s->answer = strdup(r.body);
        s->replayed = it_header(&r, "Idempotent-Replayed") != NULL;
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

/* fire_all: run every shot on its own thread, all released at once. */
static void fire_all(struct shot *shots, size_t n)
{
    pthread_t *threads = calloc(n, sizeof(*threads));
    pthread_barrier_t barrier;
    cr_assert_not_null(threads);
    cr_assert_eq(pthread_barrier_init(&barrier, NULL, (unsigned)n), 0);
    for (size_t i = 0; i < n; i++) {
        shots[i].barrier = &barrier;
        cr_assert_eq(pthread_create(&threads[i], NULL, fire, &shots[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    free(threads);
    for (size_t i = 0; i < n; i++)
        cr_assert_neq(shots[i].status, 0, "request %zu failed in transport", i);
}

static void free_shots(struct shot *shots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(shots[i].answer);
    free(shots);
}

/* usage_shots: n usage requests for c; distinct keys unless key is given. */
static struct shot *usage_shots(const struct it_customer *c, size_t n, const char *key,
                                const char *body)
{
    struct shot *shots = calloc(n, sizeof(*shots));
    cr_assert_not_null(shots);
    for (size_t i = 0; i < n; i++) {
        struct shot *s = &shots[i];
        snprintf(s->auth, sizeof(s->auth), "Authorization: Bearer %s", c->api_key);
        if (key != NULL)
            snprintf(s->idem, sizeof(s->idem), "Idempotency-Key: %s", key);
        else
            snprintf(s->idem, sizeof(s->idem), "Idempotency-Key: parallel-%zu", i);
        s->path = "/api/v1/usage";
        s->headers[0] = "Content-Type: application/json";
        s->headers[1] = s->auth;
        s->headers[2] = s->idem;
        s->body = body;
    }
    return shots;
}

static long long count_for(const struct it_customer *c, const char *sql)
{
    PGconn *db = it_db();
    const char *p[1] = {c->id};
    long long n = it_db_ll(db, sql, 1, p);
    PQfinish(db);
    return n;
}

/* k_of_n: N parallel distinct fixes against k credits. */
static void k_of_n(const struct it_customer *c, long long k, size_t n)
{
    cr_assert_eq(it_balance(c), k);
    struct shot *shots = usage_shots(c, n, NULL, "{\"kind\":\"fix_deployed\",\"fix_id\":\"par\"}");
    fire_all(shots, n);
    long long created = 0, refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (shots[i].status == 201)
            created++;
        else if (shots[i].status == 402)
            refused++;
        else
            cr_assert_fail("unexpected answer %ld: %s", shots[i].status, shots[i].answer);
    }
    free_shots(shots, n);
    cr_assert_eq(created, k, "%lld of %zu succeeded with %lld credits", created, n, k);
    cr_assert_eq(refused, (long long)n - k);
    cr_assert_eq(it_balance(c), 0);
    cr_assert_eq(count_for(c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"), k);
    cr_assert_eq(count_for(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                              " AND kind = 'fix_deployed'"),
                 k);
}

Test(concurrency, k_credits_serve_exactly_k_of_n)
{
    struct it_customer c;
    onboard(&c);
    k_of_n(&c, 5, 30);
}

Test(concurrency, more_credits_after_an_adjustment)
{
    struct it_customer c;
    onboard(&c);
    it_add_credits(&c, 12);
    k_of_n(&c, 17, 40);
}

Test(concurrency, concurrent_duplicates_take_effect_once)
{
    enum { N = 24 };
    struct it_customer c;
    onboard(&c);
    struct shot *shots =
        usage_shots(&c, N, "same-key", "{\"kind\":\"fix_deployed\",\"fix_id\":\"once\"}");
    fire_all(shots, N);
    size_t firsts = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(shots[i].status, 201, "duplicate %zu: %ld %s", i, shots[i].status,
                     shots[i].answer);
        cr_assert_str_eq(shots[i].answer, shots[0].answer, "every duplicate answers the same");
        firsts += !shots[i].replayed;
    }
    free_shots(shots, N);
    cr_assert_eq(firsts, 1, "one original, the rest replays (%zu originals)", firsts);
    cr_assert_eq(it_balance(&c), 4, "exactly one credit consumed");
    cr_assert_eq(count_for(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"), 1);
    cr_assert_eq(count_for(&c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                               " AND kind = 'fix_deployed'"),
                 1);
}

Test(concurrency, parallel_signups_with_one_email)
{
    enum { N = 5 }; /* within nginx's signup burst */
    char email[160], bodies[N][256];
    it_unique_email(email, sizeof(email), "example.com");
    struct shot *shots = calloc(N, sizeof(*shots));
    cr_assert_not_null(shots);
    for (size_t i = 0; i < N; i++) {
        char variant[160];
        snprintf(variant, sizeof(variant), "%s", email);
        if (i % 2 == 1)
            for (char *p = variant; *p != '@'; p++)
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        snprintf(bodies[i], sizeof(bodies[i]), "{\"email\":\"%s\",\"name\":\"Twin %zu\"}", variant,
                 i);
        shots[i].path = "/api/v1/customers";
        shots[i].headers[0] = "Content-Type: application/json";
        shots[i].body = bodies[i];
    }
    fire_all(shots, N);
    size_t created = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert(shots[i].status == 201 || shots[i].status == 409, "signup %zu: %ld %s", i,
                  shots[i].status, shots[i].answer);
        created += shots[i].status == 201;
    }
    free_shots(shots, N);
    cr_assert_eq(created, 1, "one of %d parallel signups wins", N);
    PGconn *db = it_db();
    const char *p[1] = {email};
    cr_assert_eq(
        it_db_ll(db, "SELECT count(*) FROM customers WHERE lower(email) = lower($1)", 1, p), 1);
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM credit_transactions t JOIN customers c"
                          " ON c.id = t.customer_id WHERE lower(c.email) = lower($1)",
                          1, p),
                 1, "one signup grant");
    PQfinish(db);
}

/* ---- a ledger entry racing a fix, in a scratch database ------------------ */

static char scratch[64];

static PGconn *scratch_db(void)
{
    char conninfo[128];
    snprintf(conninfo, sizeof(conninfo), "dbname=%s", scratch);
    PGconn *db = PQconnectdb(conninfo);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    return db;
}

static void scratch_create(void)
{
    snprintf(scratch, sizeof(scratch), "it_race_%ld", (long)getpid());
    PGconn *db = it_db();
    char sql[128], state[6];
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", scratch);
    it_db_exec(db, sql, 0, NULL, state);
    PQfinish(db);
    cr_assert_str_eq(state, "", "CREATE DATABASE: SQLSTATE %s", state);
    char conf[4096], dbenv[512], ctl[4096], out[4096];
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    snprintf(dbenv, sizeof(dbenv), "TOLLGATE_DATABASE=host=%s port=%s user=%s dbname=%s",
             it_env("PGHOST"), it_env("PGPORT"), it_env("PGUSER"), scratch);
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", it_env("TOLLGATE_BUILD"));
    const char *env[] = {conf, dbenv, NULL};
    const char *migrate[] = {ctl, "migrate", NULL};
    cr_assert_eq(it_run(migrate, env, out, sizeof(out)), 0, "migrate: %s", out);
}

static void scratch_drop(void)
{
    if (scratch[0] == '\0')
        return;
    PGconn *db = PQconnectdb("");
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch);
    PQclear(PQexec(db, sql));
    PQfinish(db);
}

static void scratch_verify(void)
{
    char conf[4096], dbenv[512], ctl[4096], out[4096];
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    snprintf(dbenv, sizeof(dbenv), "TOLLGATE_DATABASE=host=%s port=%s user=%s dbname=%s",
             it_env("PGHOST"), it_env("PGPORT"), it_env("PGUSER"), scratch);
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", it_env("TOLLGATE_BUILD"));
    const char *env[] = {conf, dbenv, NULL};
    const char *verify[] = {ctl, "verify-ledger", NULL};
    cr_assert_eq(it_run(verify, env, out, sizeof(out)), 0, "verify-ledger: %s", out);
}

static void must(PGconn *db, const char *sql, int n, const char *const *p, ExecStatusType want)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), want, "%s: %s", sql, PQerrorMessage(db));
    PQclear(r);
}

/* wait_blocked: until backend pid waits for a lock (at most ~10 s). */
static void wait_blocked(PGconn *watch, int pid)
{
    char pids[16];
    snprintf(pids, sizeof(pids), "%d", pid);
    const char *p[1] = {pids};
    for (int i = 0; i < 500; i++) {
        if (it_db_ll(watch, "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", 1, p) >
            0)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    cr_assert_fail("the adjustment never waited for the customer's lock");
}

Test(concurrency, adjustment_racing_a_fix_keeps_balance_after_in_id_order, .fini = scratch_drop)
{
    scratch_create();
    PGconn *a = scratch_db(), *b = scratch_db(), *watch = scratch_db();
    PGresult *r = PQexec(watch, "SELECT id FROM customer_onboard('race@example.com', 'Race',"
                                " 'direct', sha256('race'::bytea), 'tg_test_race')");
    cr_assert_eq(PQntuples(r), 1, "%s", PQerrorMessage(watch));
    char id[64];
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *p[1] = {id};

    /* A fix holds the customer's row (usage_record locks it first)... */
    must(a, "BEGIN", 0, NULL, PGRES_COMMAND_OK);
    must(a, "SELECT 1 FROM customers WHERE id = $1 FOR UPDATE", 1, p, PGRES_TUPLES_OK);
    /* ...while an adjustment arrives and waits for it... */
    cr_assert_eq(PQsendQueryParams(b,
                                   "INSERT INTO credit_transactions (customer_id, amount, kind,"
                                   " reference) VALUES ($1, 3, 'adjustment', 'race')",
                                   1, NULL, p, NULL, NULL, 0),
                 1);
    wait_blocked(watch, PQbackendPID(b));
    /* ...then the fix is recorded and committed. */
    must(a,
         "SELECT outcome FROM usage_record(sha256('race'::bytea), 0, 'race-key',"
         " sha256('race'::bytea), 'race-fix', NULL)",
         0, NULL, PGRES_TUPLES_OK);
    must(a, "COMMIT", 0, NULL, PGRES_COMMAND_OK);
    while ((r = PQgetResult(b)) != NULL) {
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(b));
        PQclear(r);
    }
    cr_assert_eq(it_db_ll(watch, "SELECT credit_balance FROM customers WHERE id = $1", 1, p), 7);
    long long wrong = it_db_ll(watch,
                               "SELECT count(*) FROM (SELECT balance_after, sum(amount) OVER"
                               " (ORDER BY seq) AS running FROM credit_transactions"
                               " WHERE customer_id = $1) t WHERE balance_after <> running",
                               1, p);
    PQfinish(a);
    PQfinish(b);
    PQfinish(watch);
    cr_assert_eq(wrong, 0, "%lld entries whose balance_after is not the running sum by seq", wrong);
    scratch_verify();
}
