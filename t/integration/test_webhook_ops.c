/*
 * test_webhook_ops: running Stripe webhooks (DESIGN.md section 4). A
 * handler that fails (here: Stripe answers the re-fetch with a 500) is
 * retried by tollgate-worker with backoff and succeeds on the third
 * attempt once Stripe is back; one that keeps failing becomes a dead letter
 * after webhook_max_attempts, which `tollgatectl dead-letters` lists (also
 * as JSON), shows, and replays (exit 1 for an event that is not a dead
 * letter, 2 for bad usage). Two tollgate-workers side by side never apply
 * the same event twice (FOR UPDATE SKIP LOCKED): fifty events, each applied
 * once, each re-fetched from Stripe once. `tollgatectl reconcile` finds a
 * subscription and a charge whose local state differs from Stripe's (exit
 * 1, both named), `--fix` brings them in line without touching the ledger,
 * and then reconcile finds nothing. The emulator's faults and the stack's
 * worker are shared: one test at a time. Around every test: the ledger
 * invariants and that every request Stripe received was valid.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness_webhooks.h"

static void ops_fini(void)
{
    it_worker_start(); /* a test that stopped it may have failed halfway */
    wh_fini();
}

TestSuite(webhook_ops, .init = wh_init, .fini = ops_fini, .timeout = 240);

#define OUT (256 * 1024)

/* subscription_event: a customer.subscription.updated event (fresh id into
 * id) carrying Stripe's subscription object sub (borrowed). */
static char *subscription_event(json_t *sub, char *id, size_t len)
{
    wh_event_id(id, len);
    return wh_event(id, "customer.subscription.updated", sub);
}

/* retry_budget: seconds for a failing event to use up all its attempts
 * (backoff 1 s, 2 s, 4 s ... between them) and some slack. */
static int retry_budget(void)
{
    int s = 20;
    for (long a = 1; a < wh_max_attempts() && a <= 12; a++)
        s += 1 << (a - 1);
    return s;
}

/* ctl: tollgatectl with up to three arguments (NULL-terminated). */
static int ctl(char *out, bool with_stderr, const char *a, const char *b, const char *c)
{
    const char *args[] = {a, b, c, NULL};
    return it_ctl(args, with_stderr, out, OUT);
}

Test(webhook_ops, a_failing_handler_is_retried_then_dead_lettered_and_replayed)
{
    struct it_customer c;
    char cus[64], sub[64], path[128], fault[256], e1[64], e2[64], status[32], error[512];
    long long attempts;
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    long max = wh_max_attempts();
    cr_assert_geq(max, 3, "the test needs webhook_max_attempts >= 3");

    json_t *obj = it_stripe_get(path, NULL);
    char *body1 = subscription_event(obj, e1, sizeof(e1));
    char *body2 = subscription_event(obj, e2, sizeof(e2));
    json_decref(obj);

    /* Stripe fails the re-fetch twice (no retry inside one attempt:
     * Stripe-Should-Retry false), then answers: processed at attempt 3. */
    size_t first = it_stripe_request_count();
    snprintf(fault, sizeof(fault), "mode=error&status=500&should_retry=false&count=2&path=%s",
             path);
    it_stripe_fault(fault);
    cr_assert_not(wh_deliver(body1, strlen(body1)));
    free(body1);
    wh_wait_final(e1, retry_budget(), status, sizeof(status));
    cr_assert(wh_status(e1, status, sizeof(status), &attempts, error, sizeof(error)));
    cr_assert_str_eq(status, "processed", "after %lld attempts: %s", attempts, error);
    cr_assert_eq(attempts, 3, "processed after %lld attempts, expected 3", attempts);
    cr_assert_eq(wh_requests(first, "GET", path), 3);

    /* Stripe keeps failing: a dead letter after webhook_max_attempts. */
    snprintf(fault, sizeof(fault), "mode=error&status=500&should_retry=false&path=%s", path);
    it_stripe_fault(fault);
    cr_assert_not(wh_deliver(body2, strlen(body2)));
    free(body2);
    wh_wait_final(e2, retry_budget(), status, sizeof(status));
    cr_assert(wh_status(e2, status, sizeof(status), &attempts, error, sizeof(error)));
    cr_assert_str_eq(status, "dead", "after %lld attempts: %s", attempts, error);
    cr_assert_eq(attempts, max, "dead after %lld attempts, webhook_max_attempts is %ld", attempts,
                 max);
    cr_assert(strstr(error, path) != NULL, "last_error does not name the call: %s", error);
    it_pause_ms(2500);
    cr_assert(wh_status(e2, status, sizeof(status), &attempts, NULL, 0));
    cr_assert(strcmp(status, "dead") == 0 && attempts == max, "a dead letter was tried again");

    char *out = malloc(OUT);
    cr_assert_not_null(out);
    cr_assert_eq(ctl(out, false, "dead-letters", "list", NULL), 0, "%s", out);
    char *line = strstr(out, e2);
    cr_assert_not_null(line, "dead-letters list does not show %s:\n%s", e2, out);
    cr_assert(strncmp(strchr(line, ' ') + strspn(strchr(line, ' '), " "),
                      "customer.subscription.updated", 29) == 0,
              "the line does not give the type: %.200s", line);
    cr_assert_null(strstr(out, e1), "a processed event is listed as dead:\n%s", out);

    cr_assert_eq(ctl(out, false, "dead-letters", "list", "--json"), 0, "%s", out);
    json_error_t jerr;
    json_t *list = json_loads(out, 0, &jerr), *item, *mine = NULL;
    cr_assert(json_is_array(list), "list --json is not a JSON array (%s):\n%s", jerr.text, out);
    size_t i;
    json_array_foreach(list, i, item)
    {
        if (strcmp(it_jstr(item, "id"), e2) == 0)
            mine = item;
    }
    cr_assert_not_null(mine, "list --json does not hold %s", e2);
    cr_assert_str_eq(it_jstr(mine, "type"), "customer.subscription.updated");
    cr_assert_eq(it_jint(mine, "attempts"), max);
    cr_assert(strstr(it_jstr(mine, "last_error"), path) != NULL);
    cr_assert_gt(strlen(it_jstr(mine, "received_at")), 0);
    json_decref(list);

    cr_assert_eq(ctl(out, false, "dead-letters", "show", e2), 0, "%s", out);
    json_t *shown = json_loads(out, 0, &jerr);
    cr_assert_not_null(shown, "show is not JSON (%s):\n%s", jerr.text, out);
    cr_assert_str_eq(it_jstr(shown, "id"), e2);
    cr_assert_str_eq(it_jstr(shown, "status"), "dead");
    cr_assert_eq(it_jint(shown, "attempts"), max);
    cr_assert_str_eq(it_jstr(it_jget(shown, "event"), "id"), e2);
    cr_assert_str_eq(it_jstr(it_jget(shown, "event"), "type"), "customer.subscription.updated");
    cr_assert_str_eq(it_jstr(it_jget(it_jget(it_jget(shown, "event"), "data"), "object"), "id"),
                     sub);
    json_decref(shown);

    /* Stripe is back: the replayed dead letter is applied, with a fresh
     * count of attempts. */
    it_stripe_clear_faults();
    cr_assert_eq(ctl(out, false, "dead-letters", "replay", e2), 0, "%s", out);
    cr_assert_not_null(strstr(out, e2), "replay does not say what it replays:\n%s", out);
    wh_wait_final(e2, 20, status, sizeof(status));
    cr_assert(wh_status(e2, status, sizeof(status), &attempts, error, sizeof(error)));
    cr_assert_str_eq(status, "processed", "%s", error);
    cr_assert_eq(attempts, 1);

    cr_assert_eq(ctl(out, true, "dead-letters", "replay", e2), 1,
                 "replaying an event that is no dead letter: %s", out);
    cr_assert_eq(ctl(out, true, "dead-letters", "replay", "evt_itnosuchevent"), 1, "%s", out);
    cr_assert_eq(ctl(out, true, "dead-letters", "show", "evt_itnosuchevent"), 1, "%s", out);
    cr_assert(wh_status(e2, status, sizeof(status), &attempts, NULL, 0));
    cr_assert(strcmp(status, "processed") == 0 && attempts == 1, "a failed replay changed %s", e2);

    static const char *const usage[][3] = {
        {"dead-letters", NULL, NULL},       {"dead-letters", "frobnicate", NULL},
        {"dead-letters", "list", "--yaml"}, {"dead-letters", "show", NULL},
        {"dead-letters", "replay", NULL},   {"dead-letters", "list", "extra"},
    };
    for (size_t k = 0; k < sizeof(usage) / sizeof(usage[0]); k++)
        cr_assert_eq(ctl(out, true, usage[k][0], usage[k][1], usage[k][2]), 2,
                     "tollgatectl %s %s %s: %s", usage[k][0], usage[k][1] ? usage[k][1] : "",
                     usage[k][2] ? usage[k][2] : "", out);
    const char *too_many[] = {"dead-letters", "replay", e2, "again", NULL};
    cr_assert_eq(it_ctl(too_many, true, out, OUT), 2, "%s", out);
    free(out);
}

/* ---- two workers --------------------------------------------------------- */

/* spawn_worker: a second tollgate-worker with the stack's configuration,
 * its output appended to log; it dies with the test process. */
static pid_t spawn_worker(const char *log)
{
    char bin[4096], conf[4096];
    snprintf(bin, sizeof(bin), "%s/tollgate-worker", it_env("TOLLGATE_BUILD"));
    snprintf(conf, sizeof(conf), "%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("TOLLGATE_CONFIG", conf, 1);
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    cr_assert_gt(pid, 0, "fork failed");
    return pid;
}

static void stop_worker(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        it_pause_ms(100);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* applications: how many "stripe event" lines of log are about id. */
static int applications(const char *log, const char *id)
{
    char needle[96];
    snprintf(needle, sizeof(needle), "\"event\":\"%s\"", id);
    int n = 0;
    for (const char *p = strstr(log, needle); p != NULL; p = strstr(p + 1, needle)) {
        const char *bol = p;
        while (bol > log && bol[-1] != '\n')
            bol--;
        n += strncmp(bol, "{\"msg\":\"stripe event\"", 21) == 0;
    }
    return n;
}

Test(webhook_ops, two_workers_never_apply_the_same_event)
{
    enum { EVENTS = 50 };
    struct it_customer c;
    char cus[64], sub[64], path[128], fault[256], ids[EVENTS][64], log2[4096], log1[4096];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    snprintf(log1, sizeof(log1), "%s/tollgate-worker.log", it_env("TOLLGATE_TEST_DIR"));
    snprintf(log2, sizeof(log2), "%s/tollgate-worker-second.log", it_env("TOLLGATE_TEST_DIR"));

    /* Fifty events queue up while no worker runs ... */
    json_t *obj = it_stripe_get(path, NULL);
    it_worker_stop();
    size_t first = it_stripe_request_count();
    for (int i = 0; i < EVENTS; i++) {
        char *body = subscription_event(obj, ids[i], sizeof(ids[i]));
        cr_assert_not(wh_deliver(body, strlen(body)));
        free(body);
    }
    json_decref(obj);
    PGconn *db = it_db();
    const char *p[1] = {cus};
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM stripe_events WHERE status = 'pending'"
                          " AND attempts = 0 AND type = 'customer.subscription.updated'"
                          " AND payload->'data'->'object'->>'customer' = $1",
                          1, p),
                 EVENTS);

    /* ... then two workers start at once. Each re-fetch takes 100 ms, so
     * both hold claimed batches (16 events) at the same time. */
    snprintf(fault, sizeof(fault), "mode=latency&delay_ms=100&path=%s", path);
    it_stripe_fault(fault);
    pid_t second = spawn_worker(log2);
    it_worker_start();
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long left;
    do {
        it_pause_ms(200);
        left = it_db_ll(db,
                        "SELECT count(*) FROM stripe_events WHERE status = 'pending'"
                        " AND payload->'data'->'object'->>'customer' = $1",
                        1, p);
    } while (left > 0 && wh_elapsed(&start) < 90);
    PQfinish(db);
    stop_worker(second);
    cr_assert_eq(left, 0, "%lld events still pending", left);

    char *one = read_file(log1), *two = read_file(log2);
    int by_first = 0, by_second = 0;
    for (int i = 0; i < EVENTS; i++) {
        char status[32];
        long long attempts;
        cr_assert(wh_status(ids[i], status, sizeof(status), &attempts, NULL, 0));
        cr_assert_str_eq(status, "processed", "event %d", i);
        cr_assert_eq(attempts, 1, "event %s was attempted %lld times", ids[i], attempts);
        int a = applications(one, ids[i]), b = applications(two, ids[i]);
        cr_assert_eq(a + b, 1, "event %s was applied %d times (%d + %d)", ids[i], a + b, a, b);
        by_first += a;
        by_second += b;
    }
    cr_assert(by_first > 0 && by_second > 0,
              "the workers did not share the work (%d and %d): nothing was shown", by_first,
              by_second);
    cr_assert_eq(wh_requests(first, "GET", path), EVENTS, "one re-fetch per event");
    cr_assert(strstr(two, "Sanitizer") == NULL && strstr(two, "runtime error:") == NULL,
              "the second worker reported:\n%s", two);
    free(one);
    free(two);
}

/* ---- reconcile ------------------------------------------------------------ */

/* differences: the count on reconcile's summary line ("N differences"). */
static long differences(const char *out)
{
    for (const char *p = out; *p != '\0';) {
        char *end;
        long n = strtol(p, &end, 10);
        if (end != p && strncmp(end, " difference", 11) == 0)
            return n;
        const char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return -1;
}

Test(webhook_ops, reconcile_finds_and_fixes_what_the_webhooks_missed)
{
    struct it_customer c;
    char cus[64], sub[64], pi[64], baseline[OUT / 4];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    it_zero_balance(&c);
    struct it_response r;
    it_post_usage(&c, "reconcile-1", "fix-reconcile-1", &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    it_db_str(&c,
              "SELECT stripe_payment_intent_id FROM charges WHERE customer_id = $1"
              " AND status = 'succeeded'",
              pi, sizeof(pi));
    cr_assert_eq(strncmp(pi, "pi_", 3), 0, "no succeeded charge: %s", pi);
    wh_settle(cus, 20);

    char *out = malloc(OUT);
    cr_assert_not_null(out);
    int rc0 = ctl(out, false, "reconcile", NULL, NULL);
    long before = differences(out);
    cr_assert_geq(before, 0, "no summary line:\n%s", out);
    cr_assert_null(strstr(out, sub), "differs before anything was changed:\n%s", out);
    cr_assert_null(strstr(out, pi), "differs before anything was changed:\n%s", out);
    snprintf(baseline, sizeof(baseline), "%s", out);

    /* The local side loses what two webhooks would have said. */
    PGconn *db = it_db();
    const char *ps[1] = {sub}, *pc[1] = {c.id};
    char st[6];
    it_db_exec(db, "UPDATE subscriptions SET status = 'past_due' WHERE stripe_subscription_id = $1",
               1, ps, st);
    cr_assert_str_eq(st, "");
    it_db_exec(db, "UPDATE charges SET status = 'pending' WHERE customer_id = $1", 1, pc, st);
    cr_assert_str_eq(st, "");
    PQfinish(db);

    cr_assert_eq(ctl(out, false, "reconcile", NULL, NULL), 1, "%s", out);
    cr_assert_eq(differences(out), before + 2, "%s", out);
    const char *line = strstr(out, sub);
    cr_assert_not_null(line, "the subscription is not named:\n%s", out);
    cr_assert(strstr(line, "past_due") != NULL && strstr(line, "active") != NULL,
              "the subscription's line does not give both states:\n%s", out);
    cr_assert_not_null(strstr(out, pi), "the charge is not named:\n%s", out);

    cr_assert_eq(ctl(out, false, "reconcile", "--fix", NULL), before == 0 ? 0 : 1, "%s", out);
    cr_assert_not_null(strstr(out, "2 fixed"), "%s", out);
    char got[64];
    it_db_str(&c, "SELECT status FROM subscriptions WHERE customer_id = $1", got, sizeof(got));
    cr_assert_str_eq(got, "active");
    it_db_str(&c, "SELECT status FROM charges WHERE customer_id = $1", got, sizeof(got));
    cr_assert_str_eq(got, "succeeded");
    cr_assert_eq(it_balance(&c), 0, "the fix moved credits");
    cr_assert_eq(wh_entries(&c, "purchased"), 1);
    cr_assert_eq(wh_entries(&c, "fix_deployed"), 1);
    it_db_str(&c, "SELECT outcome FROM usage_events WHERE customer_id = $1", got, sizeof(got));
    cr_assert_str_eq(got, "charged");

    int rc = ctl(out, false, "reconcile", NULL, NULL);
    cr_assert_null(strstr(out, sub), "still differs after --fix:\n%s", out);
    cr_assert_null(strstr(out, pi), "still differs after --fix:\n%s", out);
    cr_assert_eq(differences(out), before, "%s", out);
    /* And with nothing changed by hand, tollgate and Stripe agree. */
    cr_assert_eq(before, 0, "reconcile found differences nobody made (exit %d):\n%s", rc0,
                 baseline);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(ctl(out, true, "reconcile", "--frobnicate", NULL), 2, "%s", out);
    free(out);
}

/* One test at a time: the emulator's faults and the stack's worker are shared. */
IT_SERIAL_MAIN()
