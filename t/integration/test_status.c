/*
 * test_status: tollgatectl status (src/ctl/status.c, store/overview.c) run
 * as the real program against the stack, its figures checked against
 * known state (issue 11): a dead letter made here counts once more; the
 * stack's four FastCGI workers (t/integration/run: TOLLGATE_WORKERS=4) and
 * tollgate-worker are connected; queues, connections and the schema
 * version equal what the database says; the requests of the last minute
 * count at least those this test just made, and the 5xx among them.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define OUT (64 * 1024)

TestSuite(status, .init = it_init, .fini = it_fini, .timeout = 120);

/* run: tollgatectl args... (NULL-terminated), stdout only, into out (OUT
 * bytes); the exit status. A sanitizer report fails the test. */
static int run(char *out, const char *const *args)
{
    int rc = it_ctl(args, false, out, OUT);
    cr_assert(strstr(out, "Sanitizer") == NULL && strstr(out, "runtime error:") == NULL,
              "tollgatectl %s: sanitizer report:\n%s", args[0], out);
    return rc;
}

#define CTL_STDOUT(out, ...) run(out, (const char *const[]){__VA_ARGS__, NULL})

/* CTL_JSON: tollgatectl args...: asserts exit 0 and returns the parsed
 * output (the caller owns it). */
#define CTL_JSON(...) ctl_json((const char *const[]){__VA_ARGS__, NULL})
static json_t *ctl_json(const char *const *args)
{
    static char out[OUT];
    int rc = run(out, args);
    cr_assert_eq(rc, 0, "tollgatectl %s: exit %d: %s", args[0], rc, out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    cr_assert_not_null(j, "tollgatectl %s: not JSON (%s): %s", args[0], err.text, out);
    return j;
}

/* status_ll: member b of member a of the status JSON j. */
static long long status_ll(json_t *j, const char *a, const char *b)
{
    json_t *v = b != NULL ? json_object_get(json_object_get(j, a), b) : json_object_get(j, a);
    cr_assert(json_is_integer(v), "status: %s.%s is not an integer", a, b ? b : "");
    return (long long)json_integer_value(v);
}

Test(status, reports_known_state)
{
    PGconn *db = it_db();
    char state[6];
    it_db_exec(db, "DELETE FROM stripe_events WHERE id = 'evt_ctl_status_dead'", 0, NULL, state);
    /* Requests of the last minute: at least these 5 (other programs share
     * the stack), and, if no other 5xx, no error. */
    for (int i = 0; i < 5; i++) {
        struct it_response r;
        it_get("/health", NULL, &r);
        cr_assert_eq(r.status, 200);
        it_response_free(&r);
    }
    sleep(1); /* the window ends with the last complete second */
    json_t *before = CTL_JSON("status", "--json");
    long long dead0 = status_ll(before, "dead_letters", NULL);
    json_decref(before);

    it_db_exec(db,
               "INSERT INTO stripe_events (id, type, created, payload, status, attempts)"
               " VALUES ('evt_ctl_status_dead', 'test.dead_letter', 0, '{}', 'dead', 3)",
               0, NULL, state);
    cr_assert_str_eq(state, "", "insert the dead letter: %s", state);
    json_t *j = CTL_JSON("status", "--json");
    cr_assert_eq(status_ll(j, "dead_letters", NULL), dead0 + 1, "one more dead letter");
    cr_assert_eq(status_ll(j, "dead_letters", NULL),
                 it_db_ll(db, "SELECT count(*) FROM stripe_events WHERE status = 'dead'", 0,
                          NULL));
    cr_assert_eq(status_ll(j, "workers", "fcgi"), 4, "the stack's four FastCGI workers");
    cr_assert_geq(status_ll(j, "workers", "worker"), 1, "tollgate-worker is connected");
    long long requests = status_ll(j, "requests", "last_minute");
    long long errors = status_ll(j, "requests", "errors");
    cr_assert_geq(requests, 5, "the five GET /health of this test");
    cr_assert(errors >= 0 && errors <= requests);
    json_t *rate = json_object_get(json_object_get(j, "requests"), "error_rate");
    cr_assert(json_is_real(rate), "with requests, the error rate is a number");
    cr_assert_float_eq(json_real_value(rate), (double)errors / (double)requests, 1e-9);
    cr_assert_eq(status_ll(j, "queues", "stripe_calls_pending"),
                 it_db_ll(db, "SELECT count(*) FROM stripe_requests WHERE status = 'pending'", 0,
                          NULL));
    cr_assert_eq(status_ll(j, "queues", "emails_pending"),
                 it_db_ll(db, "SELECT count(*) FROM email_outbox WHERE status = 'pending'", 0,
                          NULL));
    cr_assert_eq(status_ll(j, "queues", "webhook_events_pending"),
                 it_db_ll(db, "SELECT count(*) FROM stripe_events WHERE status = 'pending'", 0,
                          NULL));
    cr_assert_not_null(json_string_value(json_object_get(json_object_get(j, "webhooks"),
                                                         "last_received")),
                       "an event was just received");
    cr_assert_eq(status_ll(j, "database", "max_connections"),
                 it_db_ll(db, "SELECT current_setting('max_connections')::bigint", 0, NULL));
    long long used = status_ll(j, "database", "connections");
    cr_assert(used >= 6 && used <= status_ll(j, "database", "max_connections"), "%lld", used);
    cr_assert_eq(status_ll(j, "database", "schema_version"),
                 it_db_ll(db, "SELECT max(version) FROM schema_migrations", 0, NULL));
    json_decref(j);

    static char out[OUT];
    cr_assert_eq(CTL_STDOUT(out, "status"), 0, "%s", out);
    char want[64];
    snprintf(want, sizeof(want), "dead letters  %lld\n", dead0 + 1);
    cr_assert_not_null(strstr(out, want), "%s", out);
    cr_assert_not_null(strstr(out, " in the last minute, "), "%s", out);
    cr_assert_not_null(strstr(out, "tollgate-fcgi 4 connected"), "%s", out);
    it_db_exec(db, "DELETE FROM stripe_events WHERE id = 'evt_ctl_status_dead'", 0, NULL, state);
    cr_assert_str_eq(state, "");
    PQfinish(db);
}
