/*
 * fixture: what every domain test shares. The domain tests call the
 * functions of src/domain directly, with a struct tg_ctx, against a
 * throwaway PostgreSQL cluster that t/domain/run starts once for the whole
 * run (migrated by the real `tollgatectl migrate`) and the Stripe emulator;
 * it exports TOLLGATE_CONFIG (their tollgate.conf), the libpq PG* variables
 * and TOLLGATE_STRIPE_URL. No HTTP: nothing here knows of nginx or FastCGI.
 *
 * Each test runs in its own process (Criterion forks one per test) with
 * one process-wide struct service -- the configuration loaded from
 * TOLLGATE_CONFIG, one database connection (store/db.h), the Stripe client
 * and the disposable-domain blocklist -- made by fixture_init and released
 * by fixture_fini. fixture_ctx() hands out a fresh arena and context over
 * it, one per unit of work (a context keeps its error and customer). The
 * tests read and arrange state with plain SQL over a second, libpq
 * connection (fixture_pg): tests may use SQL, src may not.
 *
 * fixture_init also snapshots the ledger; fixture_fini checks the ledger
 * invariants after every test (DESIGN.md section 2) -- each balance equals
 * the sum of its entries, nothing is negative, every balance_after is the
 * running sum, no entry that existed before the test changed, the audit
 * chain is intact, and store/verify.h's verify_ledger (what `tollgatectl
 * verify-ledger` runs) agrees -- and puts the feature flags back on.
 * Criterion 2.4 does not count assertions made in a fini, so a violation
 * is printed and the process aborted: the test is reported as crashed and
 * the program exits non-zero.
 */
#ifndef TOLLGATE_DOMAIN_FIXTURE_H
#define TOLLGATE_DOMAIN_FIXTURE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/ctx.h"
#include "domain/apikey.h"
#include "integration/stripe.h"

/* Suite fixtures: TestSuite(x, .init = fixture_init, .fini = fixture_fini). */
void fixture_init(void);
void fixture_fini(void);

/* fixture_config: the process's configuration (TOLLGATE_CONFIG). A test
 * may change a field (rate_limit_per_hour, grace_period_days, ...) before
 * the work that reads it; it is reloaded for every test. */
struct config *fixture_config(void);

/* fixture_ctx: a fresh arena and context (request id "domain-test") over
 * the process's service, connected (asserted). Released by fixture_fini. */
struct tg_ctx *fixture_ctx(void);

/* fixture_ctx_forked: in a child made by fork(), a context over a new
 * connection and Stripe client of its own. The parent's are forgotten, not
 * closed (the parent still uses them). The child ends with _exit().
 * Returns NULL when it cannot connect. */
struct tg_ctx *fixture_ctx_forked(void);

/* What one racer of fixture_race reports. */
struct fixture_shot {
    enum tg_err code; /* what the domain function returned */
    long long value;  /* e.g. the usage event's id */
    bool flag;        /* e.g. the event was replayed */
    char text[64];    /* e.g. the outcome, or ctx->error.detail */
};

#define FIXTURE_RACE_MAX 32

/* fixture_race: n (1..FIXTURE_RACE_MAX) processes racing: each is forked,
 * makes its own connection and Stripe client (fixture_ctx_forked), waits
 * until all are connected, and then, released at once, runs fn(ctx, i,
 * arg, &shot) for its index i; shots[i] is what racer i reported. fn runs
 * in a child: it must not use Criterion's assertions, only report. A racer
 * that cannot connect reports TG_EDB with text "no connection". Processes,
 * not threads: libtollgate keeps per-process state (core/hash.c's digest
 * context), as each FastCGI worker is one process. */
void fixture_race(size_t n,
                  void (*fn)(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out),
                  void *arg, struct fixture_shot *shots);

/* A customer onboarded through customer_onboard (domain/customer.h). */
struct fixture_customer {
    char id[40]; /* uuid */
    char api_key[APIKEY_MAX_LEN + 1];
    char email[128];
};

/* fixture_email: a fresh address dt-<pid>-<n>-<random>@domain. */
void fixture_email(char *buf, size_t len, const char *domain);

/* fixture_customer: onboard a customer with a fresh @example.com address
 * (asserted): tier trial, 5 credits, one API key. */
void fixture_customer(struct fixture_customer *c);

/* ---- SQL (plain libpq) ---------------------------------------------------- */

/* fixture_pg: the process's libpq connection for the tests' own SQL. */
PGconn *fixture_pg(void);

/* fixture_query: run sql with text parameters (a NULL-terminated list of
 * strings), asserting success; the caller PQclear()s the result. */
PGresult *fixture_query(const char *sql, ...) __attribute__((sentinel));
/* fixture_exec: fixture_query, result dropped. */
void fixture_exec(const char *sql, ...) __attribute__((sentinel));
/* fixture_ll: the single integer sql answers (NULL counts as 0). */
long long fixture_ll(const char *sql, ...) __attribute__((sentinel));
/* fixture_text: the single value sql answers into out ("" for NULL). */
void fixture_text(char *out, size_t len, const char *sql, ...) __attribute__((sentinel));

/* fixture_hour: the database's clock hour (unix seconds of its start): the
 * per-key rate limit counts per clock hour, so a test of the limit checks
 * that the hour did not turn while it ran. */
long long fixture_hour(void);

/* fixture_balance: customers.credit_balance of c. */
long long fixture_balance(const struct fixture_customer *c);
/* fixture_rows: rows of table (a table with a customer_id column) that
 * belong to c. */
long long fixture_rows(const char *table, const struct fixture_customer *c);

/* One ledger entry as the test reads it. */
struct fixture_entry {
    long long id;
    long long amount;
    char kind[40];
    long long balance_after;
    char reference[80]; /* "" when none */
};

/* fixture_ledger: c's entries, oldest first (by seq), at most max into
 * out; returns how many there are in all. */
size_t fixture_ledger(const struct fixture_customer *c, struct fixture_entry *out, size_t max);

/* fixture_add_credits: an 'adjustment' entry of amount (either sign) for c,
 * inserted with SQL (asserted). fixture_set_balance: whatever adjustment
 * brings c's balance to balance. */
void fixture_add_credits(const struct fixture_customer *c, long long amount);
void fixture_set_balance(const struct fixture_customer *c, long long balance);

/* fixture_billing: make c chargeable on paper, with SQL: a Stripe customer
 * and default payment method of its own (fake ids, never sent to Stripe),
 * tier and billing_status as given. */
void fixture_billing(const struct fixture_customer *c, const char *tier,
                     const char *billing_status);

/* fixture_stripe: method on the Stripe emulator's path (a control route such
 * as /_emulator/faults, or /v1/... to read what Stripe holds) with the n
 * form parameters p; a POST gets a fresh idempotency key. Asserts a 2xx.
 * Returns the parsed body, owned by a fixture_ctx() arena. */
json_t *fixture_stripe(const char *method, const char *path, const struct stripe_param *p,
                       size_t n);

/* fixture_stripe_forget: make c's pending Stripe calls look 25 hours old
 * (and due now) and tell the emulator to forget every idempotency key, as
 * Stripe does after 24 hours (docs: "Idempotent requests"), so a resumed
 * call must adopt what it made instead of repeating it. */
void fixture_stripe_forget(const struct fixture_customer *c);

/* fixture_flag: set a feature flag's rollout percentage with SQL (the
 * flags are shared by every test: fixture_fini puts them back to 100). */
void fixture_flag(const char *name, int percent);

/* FIXTURE_SERIAL_MAIN: the program's main(), running its tests one at a
 * time. The tests share one database, and some switch a feature flag off
 * for everyone (billing_enabled, automated_customer_onboarding): run in
 * parallel, a test of the same program could see it. Use once, at file
 * scope. */
#define FIXTURE_SERIAL_MAIN()                                                                      \
    int main(int argc, char *argv[])                                                               \
    {                                                                                              \
        struct criterion_test_set *tests = criterion_initialize();                                 \
        criterion_options.jobs = 1;                                                                \
        int result = 0;                                                                            \
        if (criterion_handle_args(argc, argv, true))                                               \
            result = !criterion_run_all_tests(tests);                                              \
        criterion_finalize(tests);                                                                 \
        return result;                                                                             \
    }

#endif
