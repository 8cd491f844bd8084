/*
 * fixture: the shared fixture of the domain tests (see fixture.h): the
 * process's service and contexts, customers onboarded through the domain,
 * plain-SQL helpers, and the ledger check after every test.
 */
#define _GNU_SOURCE
#include "fixture.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "domain/customer.h"
#include "domain/email.h"
#include "integration/stripe.h"
#include "store/db.h"
#include "store/verify.h"
#include "../lib/ledger_check.h"

#define MAX_ARENAS 256
#define MAX_PARAMS 16

/* The process's service and what fixture_fini releases. */
static struct {
    bool loaded;
    struct config cfg;
    struct email_blocklist blocklist;
    struct service svc;
    PGconn *pg;
    struct arena *arenas[MAX_ARENAS];
    size_t narenas;
    struct ledger_snapshot snapshot; /* the ledger before the test */
} fx;

__attribute__((noreturn, format(printf, 1, 2))) static void fixture_abort(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fixture: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* ---- SQL ------------------------------------------------------------------ */

PGconn *fixture_pg(void)
{
    if (fx.pg == NULL) {
        fx.pg = PQconnectdb(fx.loaded ? fx.cfg.database : "");
        if (PQstatus(fx.pg) != CONNECTION_OK)
            fixture_abort("cannot connect to PostgreSQL: %s", PQerrorMessage(fx.pg));
    }
    return fx.pg;
}

/* query: run sql with the n params; NULL on failure (message on stderr). */
static PGresult *query(const char *sql, int n, const char *const *params)
{
    PGconn *db = fixture_pg();
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    fprintf(stderr, "fixture: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return NULL;
}

static PGresult *vquery(const char *sql, va_list ap)
{
    const char *params[MAX_PARAMS];
    int n = 0;
    for (const char *p = va_arg(ap, const char *); p != NULL; p = va_arg(ap, const char *)) {
        cr_assert_lt(n, MAX_PARAMS, "too many parameters");
        params[n++] = p;
    }
    PGresult *r = query(sql, n, params);
    cr_assert_not_null(r, "query failed: %s", sql);
    return r;
}

PGresult *fixture_query(const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PGresult *r = vquery(sql, ap);
    va_end(ap);
    return r;
}

void fixture_exec(const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PQclear(vquery(sql, ap));
    va_end(ap);
}

long long fixture_ll(const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PGresult *r = vquery(sql, ap);
    va_end(ap);
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

void fixture_text(char *out, size_t len, const char *sql, ...)
{
    va_list ap;
    va_start(ap, sql);
    PGresult *r = vquery(sql, ap);
    va_end(ap);
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

long long fixture_hour(void)
{
    return fixture_ll("SELECT extract(epoch FROM date_trunc('hour', clock_timestamp()))::bigint",
                      NULL);
}

long long fixture_balance(const struct fixture_customer *c)
{
    return fixture_ll("SELECT credit_balance FROM customers WHERE id = $1", c->id, NULL);
}

long long fixture_rows(const char *table, const struct fixture_customer *c)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE customer_id = $1", table);
    return fixture_ll(sql, c->id, NULL);
}

size_t fixture_ledger(const struct fixture_customer *c, struct fixture_entry *out, size_t max)
{
    PGresult *r = fixture_query("SELECT id, amount, kind, balance_after, coalesce(reference, '')"
                                "  FROM credit_transactions WHERE customer_id = $1 ORDER BY seq",
                                c->id, NULL);
    size_t n = (size_t)PQntuples(r);
    for (size_t i = 0; i < n && i < max; i++) {
        out[i].id = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        out[i].amount = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
        snprintf(out[i].kind, sizeof(out[i].kind), "%s", PQgetvalue(r, (int)i, 2));
        out[i].balance_after = strtoll(PQgetvalue(r, (int)i, 3), NULL, 10);
        snprintf(out[i].reference, sizeof(out[i].reference), "%s", PQgetvalue(r, (int)i, 4));
    }
    PQclear(r);
    return n;
}

void fixture_add_credits(const struct fixture_customer *c, long long amount)
{
    char amt[32];
    snprintf(amt, sizeof(amt), "%lld", amount);
    fixture_exec("INSERT INTO credit_transactions (customer_id, amount, kind, reference)"
                 " VALUES ($1, $2, 'adjustment', 'domain-test')",
                 c->id, amt, NULL);
}

void fixture_set_balance(const struct fixture_customer *c, long long balance)
{
    long long now = fixture_balance(c);
    if (now != balance)
        fixture_add_credits(c, balance - now);
    cr_assert_eq(fixture_balance(c), balance);
}

void fixture_billing(const struct fixture_customer *c, const char *tier, const char *billing_status)
{
    fixture_exec("UPDATE customers SET stripe_customer_id = 'cus_dt' || replace(id::text, '-', ''),"
                 "       default_payment_method = 'pm_dt' || replace(id::text, '-', ''),"
                 "       billing_consent_at = now(), tier = $2, billing_status = $3"
                 " WHERE id = $1",
                 c->id, tier, billing_status, NULL);
}

void fixture_flag(const char *name, int percent)
{
    char pct[16];
    snprintf(pct, sizeof(pct), "%d", percent);
    cr_assert_eq(fixture_ll("WITH f AS (UPDATE feature_flags SET rollout_percent = $2"
                            "  WHERE name = $1 RETURNING 1) SELECT count(*) FROM f",
                            name, pct, NULL),
                 1, "no flag %s", name);
}

/* ---- the service and contexts --------------------------------------------- */

struct config *fixture_config(void)
{
    return &fx.cfg;
}

static struct arena *new_arena(void)
{
    struct arena *a = arena_new(16384);
    cr_assert_not_null(a);
    cr_assert_lt(fx.narenas, MAX_ARENAS, "too many contexts in one test");
    fx.arenas[fx.narenas++] = a;
    return a;
}

struct tg_ctx *fixture_ctx(void)
{
    struct arena *a = new_arena();
    struct tg_ctx *ctx = arena_alloc(a, sizeof(*ctx));
    cr_assert_not_null(ctx);
    ctx_init(ctx, a, &fx.svc, "domain-test");
    cr_assert_eq(db_connect(ctx), TG_OK, "cannot connect to %s", fx.cfg.database);
    return ctx;
}

struct tg_ctx *fixture_ctx_forked(void)
{
    /* The parent's libpq connections and Stripe client are its own:
     * closing them here would end its sessions, so they are dropped from
     * sight, not finished. */
    fx.svc.db = db_new(fx.cfg.database, fx.cfg.statement_timeout_ms);
    fx.pg = NULL;
    fx.narenas = 0;
    struct arena *a = arena_new(16384);
    if (fx.svc.db == NULL || a == NULL || stripe_open(&fx.cfg, &fx.svc.stripe) != 0)
        return NULL;
    struct tg_ctx *ctx = arena_alloc(a, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx_init(ctx, a, &fx.svc, "domain-test-child");
    return db_connect(ctx) == TG_OK ? ctx : NULL;
}

/* ---- races ---------------------------------------------------------------- */

/* What a racer writes on the results pipe: one record, far below
 * PIPE_BUF, so records of different racers never interleave. */
struct race_record {
    size_t index;
    struct fixture_shot shot;
};

/* racer: the child's side of fixture_race; never returns. */
__attribute__((noreturn)) static void
racer(size_t i, int ready, int go, int results,
      void (*fn)(struct tg_ctx *, size_t, void *, struct fixture_shot *), void *arg)
{
    struct race_record rec = {.index = i};
    struct tg_ctx *ctx = fixture_ctx_forked();
    char byte = 'r', ignored;
    bool ok = write(ready, &byte, 1) == 1;
    close(ready);
    ok = ok && read(go, &ignored, 1) == 0; /* EOF: the parent released everyone */
    if (ctx == NULL) {
        rec.shot.code = TG_EDB;
        snprintf(rec.shot.text, sizeof(rec.shot.text), "no connection");
    } else if (ok) {
        fn(ctx, i, arg, &rec.shot);
    }
    ok = ok && write(results, &rec, sizeof(rec)) == (ssize_t)sizeof(rec);
    _exit(ok ? 0 : 1);
}

void fixture_race(size_t n,
                  void (*fn)(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out),
                  void *arg, struct fixture_shot *shots)
{
    int ready[2], go[2], results[2];
    pid_t pids[FIXTURE_RACE_MAX];
    cr_assert(n >= 1 && n <= FIXTURE_RACE_MAX);
    cr_assert_eq(pipe(ready), 0);
    cr_assert_eq(pipe(go), 0);
    cr_assert_eq(pipe(results), 0);
    fflush(NULL);
    for (size_t i = 0; i < n; i++) {
        pids[i] = fork();
        cr_assert_geq(pids[i], 0, "fork failed");
        if (pids[i] == 0) {
            close(ready[0]);
            close(go[1]);
            close(results[0]);
            racer(i, ready[1], go[0], results[1], fn, arg);
        }
    }
    close(ready[1]);
    close(go[0]);
    close(results[1]);
    /* Everyone connected (or gave up), then all released together. */
    size_t waiting = n;
    char byte;
    while (waiting > 0 && read(ready[0], &byte, 1) == 1)
        waiting--;
    close(ready[0]);
    close(go[1]);

    bool seen[FIXTURE_RACE_MAX] = {false};
    struct race_record rec;
    size_t got = 0;
    while (read(results[0], &rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
        if (rec.index < n && !seen[rec.index]) {
            seen[rec.index] = true;
            shots[rec.index] = rec.shot;
            got++;
        }
    }
    close(results[0]);
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    cr_assert_eq(waiting, 0, "%zu racers never got ready", waiting);
    cr_assert_eq(failed, 0, "%d racers failed", failed);
    cr_assert_eq(got, n, "%zu of %zu racers reported", got, n);
}

/* ---- customers ------------------------------------------------------------ */

void fixture_email(char *buf, size_t len, const char *domain)
{
    static unsigned n;
    unsigned rnd = 0;
    cr_assert_eq(getrandom(&rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
    snprintf(buf, len, "dt-%ld-%u-%08x@%s", (long)getpid(), ++n, rnd, domain);
}

void fixture_customer(struct fixture_customer *c)
{
    memset(c, 0, sizeof(*c));
    fixture_email(c->email, sizeof(c->email), "example.com");
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    struct apikey key;
    enum tg_err e = customer_onboard(ctx, c->email, "Domain Test", "direct", &cu, &key);
    cr_assert_eq(e, TG_OK, "onboarding %s: %s (%s)", c->email, tg_strerror(e),
                 ctx->error.detail ? ctx->error.detail : "");
    snprintf(c->id, sizeof(c->id), "%s", cu.id);
    snprintf(c->api_key, sizeof(c->api_key), "%s", key.key);
    apikey_cleanse(&key);
}

/* ---- init and fini: the ledger check --------------------------------------- */

void fixture_init(void)
{
    char err[512];
    const char *path = getenv("TOLLGATE_CONFIG");
    if (path == NULL)
        fixture_abort("TOLLGATE_CONFIG is not set: run the domain tests with t/domain/run");
    if (fx.loaded)
        fixture_fini();
    memset(&fx, 0, sizeof(fx));
    if (config_load(&fx.cfg, path, err, sizeof(err)) != TG_OK)
        fixture_abort("%s", err);
    fx.loaded = true;
    if (email_blocklist_load(&fx.blocklist, fx.cfg.disposable_domains_file, err, sizeof(err)) != 0)
        fixture_abort("%s", err);
    fx.svc.cfg = &fx.cfg;
    fx.svc.blocklist = &fx.blocklist;
    fx.svc.db = db_new(fx.cfg.database, fx.cfg.statement_timeout_ms);
    if (fx.svc.db == NULL || stripe_open(&fx.cfg, &fx.svc.stripe) != 0)
        fixture_abort("out of memory");

    if (ledger_snapshot_take(fixture_pg(), &fx.snapshot) != 0)
        fixture_abort("cannot take the ledger's snapshot (see above)");
}

static int check_ledger(void)
{
    int bad = ledger_violations(fixture_pg(), &fx.snapshot);
    if (bad < 0)
        fixture_abort("a query of the ledger check failed (see above)");

    /* libtollgate's own check, as tollgatectl verify-ledger runs it. */
    char *report = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&report, &len);
    if (out == NULL)
        fixture_abort("open_memstream failed");
    int rc = verify_ledger(fx.cfg.database, out);
    fclose(out);
    if (rc != 0) {
        fprintf(stderr, "ledger check: verify_ledger: %s", report);
        bad++;
    }
    free(report);
    return bad;
}

void fixture_fini(void)
{
    if (!fx.loaded)
        fixture_abort("fixture_fini without fixture_init");
    int bad = check_ledger();
    /* Put back what a test may have switched off, even when it failed
     * before doing so itself (only rows that change: each update is
     * audited). */
    PGresult *r =
        query("UPDATE feature_flags SET rollout_percent = 100 WHERE rollout_percent <> 100", 0, NULL);
    if (r == NULL)
        fixture_abort("cannot put the feature flags back (see above)");
    PQclear(r);
    for (size_t i = 0; i < fx.narenas; i++)
        arena_free(fx.arenas[i]);
    stripe_free(fx.svc.stripe);
    db_free(fx.svc.db);
    email_blocklist_free(&fx.blocklist);
    config_free(&fx.cfg);
    PQfinish(fx.pg);
    memset(&fx, 0, sizeof(fx));
    if (bad != 0)
        fixture_abort("%d ledger invariant(s) violated after this test (see above)", bad);
}

json_t *fixture_stripe(const char *method, const char *path, const struct stripe_param *p,
                       size_t n)
{
    struct tg_ctx *ctx = fixture_ctx();
    struct stripe_result r;
    char key[64];
    snprintf(key, sizeof(key), "control-%ld-%d", (long)time(NULL), rand());
    cr_assert_eq(stripe_call(ctx, method, path, p, n, strcmp(method, "POST") == 0 ? key : NULL,
                             &r),
                 TG_OK);
    cr_assert_eq(r.outcome, STRIPE_OK, "%s %s: %d", method, path, r.status);
    return r.body;
}

void fixture_stripe_forget(const struct fixture_customer *c)
{
    fixture_exec("UPDATE stripe_requests SET created_at = now() - interval '25 hours',"
                 "       next_attempt_at = now()"
                 " WHERE customer_id = $1 AND status = 'pending'",
                 c->id, NULL);
    fixture_stripe("DELETE", "/_emulator/idempotency_keys", NULL, 0);
}
