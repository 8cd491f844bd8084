/*
 * test_ctl: the operator's commands of tollgatectl (src/ctl/customers.c,
 * credits.c, api_keys.c, flags.c) run as the real program against the
 * stack's configuration, their effects checked through nginx and the
 * workers. customers list finds a customer by a piece of its e-mail
 * address in any case (also as JSON) and show prints one by id or e-mail
 * address, never a key's hash. credits grant and adjust move the balance
 * the API reports, a change that would make it negative is refused with
 * nothing written, and each change is in the audit log under the operator.
 * api-keys create prints a key that works at once; revoke makes a key
 * answer 401 on every worker from the next request, refuses the last
 * active key without --force and creates no more than 10 active keys.
 * flags: billing_enabled off records a fix that would be charged as
 * "unbilled" with no charge; automated_customer_onboarding off closes
 * signup with 503 signup-closed; both are set back on after each test of
 * that suite, also when it failed, and after the whole program. Usage
 * errors exit 2, failures and refusals 1, --help 0. Around every test: the
 * ledger invariants (harness.c) and, in the flags suite, that every request
 * Stripe received was valid (harness_stripe.c). One test at a time: the
 * flags are global.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_stripe.h"

#define OUT (64 * 1024)

/* run: tollgatectl args... (NULL-terminated) with the stack's
 * configuration; its stdout, and its stderr when with_stderr, into out
 * (OUT bytes). Returns the exit status (-1: killed, e.g. by a sanitizer's
 * abort); a sanitizer report in the output fails the test. */
static int run(bool with_stderr, char *out, const char *const *args)
{
    int rc = it_ctl(args, with_stderr, out, OUT);
    cr_assert(strstr(out, "Sanitizer") == NULL && strstr(out, "runtime error:") == NULL,
              "tollgatectl %s: sanitizer report:\n%s", args[0], out);
    return rc;
}

/* CTL: tollgatectl with stdout and stderr; CTL_STDOUT: stdout only. */
#define CTL(out, ...) run(true, out, (const char *const[]){__VA_ARGS__, NULL})
#define CTL_STDOUT(out, ...) run(false, out, (const char *const[]){__VA_ARGS__, NULL})

/* ctl_json: tollgatectl args... --json: asserts exit 0 and returns the
 * parsed output (the caller owns it). */
#define CTL_JSON(...) ctl_json((const char *const[]){__VA_ARGS__, NULL})
static json_t *ctl_json(const char *const *args)
{
    char *out = malloc(OUT);
    cr_assert_not_null(out);
    int rc = run(false, out, args);
    cr_assert_eq(rc, 0, "tollgatectl %s %s: exit %d: %s", args[0], args[1], rc, out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    cr_assert_not_null(j, "tollgatectl %s %s --json: not JSON (%s): %s", args[0], args[1], err.text,
                       out);
    free(out);
    return j;
}

/* me: GET /api/v1/customers/me with key: the status; the body in j when
 * it is 200 (NULL: not wanted). */
static long me(const char *key, json_t **j)
{
    struct it_response r;
    it_get("/api/v1/customers/me", key, &r);
    long status = r.status;
    if (j != NULL)
        *j = status == 200 ? it_assert_json(&r, 200) : NULL;
    it_response_free(&r);
    return status;
}

/* api_balance: the balance GET /api/v1/customers/me reports. */
static long long api_balance(const struct it_customer *c)
{
    json_t *j;
    cr_assert_eq(me(c->api_key, &j), 200);
    long long b = it_jint(j, "credit_balance");
    json_decref(j);
    return b;
}

/* assert_key_status: n requests with key all answer status (the stack runs
 * four workers: n of 8 reaches each of them in practice). */
static void assert_key_status(const char *key, long status, int n)
{
    for (int i = 0; i < n; i++) {
        long got = me(key, NULL);
        cr_assert_eq(got, status, "request %d with the key: %ld, expected %ld", i + 1, got, status);
    }
}

/* ledger_rows: c's ledger entries. */
static long long ledger_rows(const struct it_customer *c)
{
    return it_db_count(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1");
}

/* local_part: the part of c's e-mail address before '@', upper-cased when
 * upper. */
static void local_part(const struct it_customer *c, bool upper, char *out, size_t len)
{
    snprintf(out, len, "%.*s", (int)strcspn(c->email, "@"), c->email);
    for (char *p = out; upper && *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
}

/* flags_reset: both flags on again (no assertions: also for a test that
 * failed or a runner whose test was killed). */
static void flags_reset(void)
{
    PGconn *db = PQconnectdb("");
    if (PQstatus(db) == CONNECTION_OK)
        PQclear(PQexec(db, "SELECT feature_flag_set(name, 100) FROM feature_flags"
                           " WHERE rollout_percent <> 100"));
    else
        fprintf(stderr, "test_ctl: cannot reset the feature flags: %s", PQerrorMessage(db));
    PQfinish(db);
}

static void flags_fini(void)
{
    flags_reset();
    it_stripe_fini();
}

TestSuite(ctl, .init = it_init, .fini = it_fini, .timeout = 120);
TestSuite(ctl_flags, .init = it_stripe_init, .fini = flags_fini, .timeout = 120);

/* After the last test, also when one was killed before its fini: the
 * programs after this one need signup open and billing on. */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    flags_reset();
}

/* ---- customers ------------------------------------------------------------ */

Test(ctl, customers_list_and_show)
{
    static char out[OUT];
    struct it_customer c;
    onboard(&c);
    char upper[160], lower[160];
    local_part(&c, true, upper, sizeof(upper));
    local_part(&c, false, lower, sizeof(lower));

    /* list --email: any case, a piece of the address. */
    cr_assert_eq(CTL(out, "customers", "list", "--email", upper), 0, "%s", out);
    cr_assert_not_null(strstr(out, c.id), "list --email %s does not show %s:\n%s", upper, c.id,
                       out);
    cr_assert_not_null(strstr(out, c.email), "%s", out);
    cr_assert_not_null(strstr(out, "BALANCE"), "no table heading:\n%s", out);

    json_t *arr = CTL_JSON("customers", "list", "--email", lower + 3, "--limit", "10", "--json");
    cr_assert(json_is_array(arr));
    cr_assert_eq(json_array_size(arr), 1, "one customer has this address: %s", json_dumps(arr, 0));
    json_t *row = json_array_get(arr, 0);
    cr_assert_str_eq(it_jstr(row, "id"), c.id);
    cr_assert_str_eq(it_jstr(row, "email"), c.email);
    cr_assert_str_eq(it_jstr(row, "tier"), "trial");
    cr_assert_str_eq(it_jstr(row, "billing_status"), "none");
    cr_assert_eq(it_jint(row, "credit_balance"), 5);
    json_decref(arr);

    arr = CTL_JSON("customers", "list", "--limit=1", "--json");
    cr_assert_eq(json_array_size(arr), 1, "--limit 1");
    json_decref(arr);
    arr = CTL_JSON("customers", "list", "--email", "no-such-address-at-all", "--json");
    cr_assert_eq(json_array_size(arr), 0);
    json_decref(arr);

    /* show, by id and by e-mail address in another case. */
    cr_assert_eq(CTL(out, "customers", "show", c.id), 0, "%s", out);
    cr_assert_not_null(strstr(out, c.email), "%s", out);
    cr_assert_not_null(strstr(out, "api keys (1)"), "%s", out);
    cr_assert_not_null(strstr(out, "trial_signup"), "%s", out);
    cr_assert_not_null(strstr(out, "customer.created"), "%s", out);
    cr_assert_not_null(strstr(out, "subscription: none"), "%s", out);
    char email_upper[160];
    snprintf(email_upper, sizeof(email_upper), "%s%s", upper, strchr(c.email, '@'));
    cr_assert_eq(CTL(out, "customers", "show", email_upper), 0, "%s", out);
    cr_assert_not_null(strstr(out, c.id), "%s", out);

    json_t *j = CTL_JSON("customers", "show", c.email, "--json");
    cr_assert_str_eq(it_jstr(j, "id"), c.id);
    cr_assert_str_eq(it_jstr(j, "email"), c.email);
    cr_assert_eq(it_jint(j, "credit_balance"), 5);
    cr_assert(json_is_null(it_jget(j, "subscription")));
    cr_assert(json_is_null(it_jget(j, "stripe_customer_id")));
    cr_assert(json_is_null(it_jget(j, "grace_period_ends_at")));
    cr_assert(json_is_null(it_jget(j, "github_account_id")));
    json_t *keys = it_jget(j, "api_keys");
    cr_assert_eq(json_array_size(keys), 1);
    cr_assert_eq(strncmp(c.api_key, it_jstr(json_array_get(keys, 0), "prefix"), 12), 0);
    json_t *ledger = it_jget(j, "ledger");
    cr_assert_eq(json_array_size(ledger), 1);
    cr_assert_str_eq(it_jstr(json_array_get(ledger, 0), "kind"), "trial_signup");
    cr_assert_eq(it_jint(json_array_get(ledger, 0), "amount"), 5);
    json_t *audit = it_jget(j, "audit");
    cr_assert_geq(json_array_size(audit), 1);
    cr_assert_str_eq(it_jstr(json_array_get(audit, json_array_size(audit) - 1), "action"),
                     "customer.created");
    char *dump = json_dumps(j, 0);
    cr_assert_null(strstr(dump, "hash"), "show names a hash: %s", dump);
    cr_assert_null(strstr(dump, c.api_key), "show prints the key: %s", dump);
    free(dump);
    json_decref(j);

    /* Unknown customers: 1. */
    cr_assert_eq(CTL(out, "customers", "show", "00000000-0000-4000-8000-000000000000"), 1, "%s",
                 out);
    cr_assert_not_null(strstr(out, "tollgatectl: "), "%s", out);
    cr_assert_eq(CTL(out, "customers", "show", "nobody-here@example.com"), 1, "%s", out);

    /* Usage errors: 2. */
    const char *bad[][5] = {
        {"list", "--limit", "0", NULL},
        {"list", "--limit", "1001", NULL},
        {"list", "--limit", "5x", NULL},
        {"list", "--limit", "-5", NULL},
        {"list", "--limit", NULL},
        {"list", "--email", "", NULL},
        {"list", "--frobnicate", NULL},
        {"list", "extra", NULL},
        {"show", NULL},
        {"show", c.id, c.email, NULL},
        {"show", c.id, "--email", "x", NULL},
        {"frobnicate", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[7] = {"customers"};
        for (size_t k = 0; bad[i][k] != NULL; k++)
            args[k + 1] = bad[i][k];
        int rc = run(true, out, args);
        cr_assert_eq(rc, 2, "customers %s %s: exit %d, expected 2: %s", bad[i][0],
                     bad[i][1] != NULL ? bad[i][1] : "", rc, out);
        cr_assert_not_null(strstr(out, "usage:"), "%s", out);
    }
    cr_assert_eq(CTL(out, "customers"), 2, "%s", out);
}

/* ---- credits -------------------------------------------------------------- */

Test(ctl, credits_grant_and_adjust)
{
    static char out[OUT];
    struct it_customer c;
    onboard(&c);
    cr_assert_eq(api_balance(&c), 5);
    long long rows = ledger_rows(&c);

    cr_assert_eq(CTL(out, "credits", "grant", c.id, "3", "--reason", "goodwill for ticket 42"), 0,
                 "%s", out);
    cr_assert_not_null(strstr(out, "adjustment #"), "%s", out);
    cr_assert_not_null(strstr(out, ": +3 credits, balance now 8"), "%s", out);
    cr_assert_eq(api_balance(&c), 8);

    /* "-3"-like amounts are amounts, not options; the customer by e-mail. */
    cr_assert_eq(CTL(out, "credits", "adjust", c.email, "-2", "--reason=double grant"), 0, "%s",
                 out);
    cr_assert_not_null(strstr(out, ": -2 credits, balance now 6"), "%s", out);
    cr_assert_eq(api_balance(&c), 6);
    cr_assert_eq(ledger_rows(&c), rows + 2);

    /* Below zero: refused, nothing written. */
    cr_assert_eq(CTL(out, "credits", "adjust", c.id, "-7", "--reason", "too much"), 1, "%s", out);
    cr_assert_not_null(
        strstr(out, "refused: the balance is 6; adjusting by -7 would make it negative"), "%s",
        out);
    cr_assert_eq(api_balance(&c), 6);
    cr_assert_eq(ledger_rows(&c), rows + 2, "a refused adjustment wrote an entry");

    /* Usage errors: 2, nothing written. */
    char long_reason[502];
    memset(long_reason, 'r', 501);
    long_reason[501] = '\0';
    const char *bad[][6] = {
        {"grant", c.id, "0", "--reason", "x", NULL},
        {"grant", c.id, "-1", "--reason", "x", NULL},
        {"grant", c.id, "+1", "--reason", "x", NULL},
        {"grant", c.id, "1.5", "--reason", "x", NULL},
        {"grant", c.id, "3", NULL},
        {"grant", c.id, "3", "--reason", "", NULL},
        {"grant", c.id, "3", "--reason", "   ", NULL},
        {"grant", c.id, "3", "--reason", long_reason, NULL},
        {"grant", c.id, "3", "--reason", NULL},
        {"adjust", c.id, "0", "--reason", "x", NULL},
        {"adjust", c.id, "-0", "--reason", "x", NULL},
        {"adjust", c.id, "--reason", "x", NULL},
        {"adjust", c.id, "1", "2", "--reason", NULL},
        {"adjust", c.id, "1", "--frobnicate", NULL},
        {"refund", c.id, "1", "--reason", "x", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[8] = {"credits"};
        for (size_t k = 0; bad[i][k] != NULL; k++)
            args[k + 1] = bad[i][k];
        int rc = run(true, out, args);
        cr_assert_eq(rc, 2, "case %zu (credits %s ... %s): exit %d, expected 2: %s", i, bad[i][0],
                     bad[i][2] != NULL ? bad[i][2] : "", rc, out);
    }
    cr_assert_eq(api_balance(&c), 6);
    cr_assert_eq(ledger_rows(&c), rows + 2);

    /* A reason of exactly 500 characters is fine. */
    long_reason[500] = '\0';
    cr_assert_eq(CTL(out, "credits", "grant", c.id, "1", "--reason", long_reason), 0, "%s", out);
    cr_assert_eq(api_balance(&c), 7);

    cr_assert_eq(CTL(out, "credits", "grant", "nobody-here@example.com", "1", "--reason", "x"), 1,
                 "%s", out);

    /* Audited, under the operator, with the reason. */
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action = 'credits.adjustment' AND actor LIKE 'operator:%'"),
                 3);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action = 'credits.adjustment'"
                                 " AND after->>'description' = 'goodwill for ticket 42'"
                                 " AND (after->>'amount')::int = 3"),
                 1);
}

/* ---- api-keys ------------------------------------------------------------- */

/* create_key: api-keys create for c; the printed key into key. */
static void create_key(const struct it_customer *c, const char *name, char *key, size_t len)
{
    static char out[OUT];
    int rc = name != NULL ? CTL(out, "api-keys", "create", c->id, "--name", name)
                          : CTL(out, "api-keys", "create", c->id);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_not_null(strstr(out, "shown only this once"), "no warning that it is shown once:\n%s",
                       out);
    const char *k = strstr(out, "key: tg_");
    cr_assert_not_null(k, "no key printed:\n%s", out);
    k += 5;
    snprintf(key, len, "%.*s", (int)strcspn(k, "\n"), k);
    cr_assert_eq(strlen(key), 72, "not a whole key: %s", key);
}

Test(ctl, api_keys_create_list_revoke)
{
    static char out[OUT];
    struct it_customer c;
    onboard(&c);
    char key1[96];
    create_key(&c, "ci deploys", key1, sizeof(key1));
    cr_assert_str_neq(key1, c.api_key);
    json_t *j;
    cr_assert_eq(me(key1, &j), 200, "the new key does not authenticate");
    cr_assert_str_eq(it_jstr(j, "id"), c.id);
    json_decref(j);

    /* list: both keys, which is which by prefix, never a hash. */
    json_t *keys = CTL_JSON("api-keys", "list", c.email, "--json");
    cr_assert_eq(json_array_size(keys), 2, "%s", json_dumps(keys, 0));
    char id0[64] = "", id1[64] = "";
    json_t *k;
    size_t i;
    json_array_foreach(keys, i, k)
    {
        const char *prefix = it_jstr(k, "prefix");
        cr_assert(json_is_null(it_jget(k, "revoked_at")));
        cr_assert_null(json_object_get(k, "key_hash"));
        if (strncmp(key1, prefix, strlen(prefix)) == 0) {
            snprintf(id1, sizeof(id1), "%s", it_jstr(k, "id"));
            cr_assert_str_eq(it_jstr(k, "name"), "ci deploys");
        } else if (strncmp(c.api_key, prefix, strlen(prefix)) == 0) {
            snprintf(id0, sizeof(id0), "%s", it_jstr(k, "id"));
        }
    }
    json_decref(keys);
    cr_assert(id0[0] != '\0' && id1[0] != '\0', "list does not show both keys");
    cr_assert_eq(CTL(out, "api-keys", "list", c.id), 0, "%s", out);
    cr_assert(strstr(out, id0) != NULL && strstr(out, id1) != NULL, "%s", out);
    cr_assert_not_null(strstr(out, "ci deploys"), "%s", out);
    cr_assert_null(strstr(out, key1), "list prints a key:\n%s", out);

    /* revoke: 401 at once, on every worker; the other key keeps working. */
    cr_assert_eq(CTL(out, "api-keys", "revoke", id1), 0, "%s", out);
    cr_assert_not_null(strstr(out, "revoked"), "%s", out);
    assert_key_status(key1, 401, 8);
    assert_key_status(c.api_key, 200, 2);
    cr_assert_eq(CTL(out, "api-keys", "revoke", id1), 0, "revoking twice: %s", out);
    cr_assert_not_null(strstr(out, "already revoked"), "%s", out);

    /* The last active key: refused without --force, and it still works. */
    cr_assert_eq(CTL(out, "api-keys", "revoke", id0), 1, "%s", out);
    cr_assert_not_null(strstr(out, "last active key"), "%s", out);
    cr_assert_not_null(strstr(out, "--force"), "%s", out);
    assert_key_status(c.api_key, 200, 8);
    cr_assert_eq(CTL(out, "api-keys", "revoke", id0, "--force"), 0, "%s", out);
    assert_key_status(c.api_key, 401, 8);

    /* Audited under the operator. */
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action = 'api_key.revoked' AND actor LIKE 'operator:%'"),
                 2);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action = 'api_key.created' AND actor LIKE 'operator:%'"),
                 1);

    /* Errors. */
    cr_assert_eq(CTL(out, "api-keys", "revoke", "not-a-key-id"), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "revoke", "00000000-0000-4000-8000-00000000000g"), 2, "%s",
                 out);
    cr_assert_eq(CTL(out, "api-keys", "revoke", "00000000-0000-4000-8000-000000000000"), 1, "%s",
                 out);
    cr_assert_eq(CTL(out, "api-keys", "revoke"), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "revoke", id0, id1), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "list"), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "list", c.id, "--force"), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "create", c.id, "--name", ""), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "create", c.id, "--name"), 2, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "create", "nobody-here@example.com"), 1, "%s", out);
    cr_assert_eq(CTL(out, "api-keys", "list", "nobody-here@example.com"), 1, "%s", out);
}

Test(ctl, api_keys_at_most_ten_active)
{
    static char out[OUT];
    struct it_customer c;
    onboard(&c);
    char key[96];
    for (int i = 2; i <= 10; i++)
        create_key(&c, NULL, key, sizeof(key));
    cr_assert_eq(CTL(out, "api-keys", "create", c.id), 1, "an 11th active key: %s", out);
    cr_assert_not_null(strstr(out, "already has 10 active keys"), "%s", out);
    cr_assert_null(strstr(out, "key: tg_"), "%s", out);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM api_keys WHERE customer_id = $1"), 10);
    assert_key_status(key, 200, 1);
}

/* ---- flags ---------------------------------------------------------------- */

/* flag_percent: the flag's rollout_percent in the database. */
static long long flag_percent(const char *name)
{
    PGconn *db = it_db();
    const char *p[1] = {name};
    long long v = it_db_ll(db, "SELECT rollout_percent FROM feature_flags WHERE name = $1", 1, p);
    PQfinish(db);
    return v;
}

/* flag_audits: flag.set rows by an operator that set name to percent. */
static long long flag_audits(const char *name, const char *percent)
{
    PGconn *db = it_db();
    const char *p[2] = {name, percent};
    long long v = it_db_ll(db,
                           "SELECT count(*) FROM audit_log WHERE action = 'flag.set'"
                           " AND actor LIKE 'operator:%' AND before->>'flag' = $1"
                           " AND after->>'rollout_percent' = $2",
                           2, p);
    PQfinish(db);
    return v;
}

Test(ctl_flags, list_and_set)
{
    static char out[OUT];
    json_t *flags = CTL_JSON("flags", "list", "--json");
    cr_assert_eq(json_array_size(flags), 2, "%s", json_dumps(flags, 0));
    json_t *f;
    size_t i;
    json_array_foreach(flags, i, f)
    {
        cr_assert_eq(it_jint(f, "rollout_percent"), 100, "%s is not at 100%%", it_jstr(f, "name"));
        cr_assert_str_eq(it_jstr(f, "state"), "on");
        cr_assert_str_neq(it_jstr(f, "description"), "");
    }
    json_decref(flags);
    cr_assert_eq(CTL(out, "flags", "list"), 0, "%s", out);
    cr_assert(strstr(out, "billing_enabled") != NULL &&
                  strstr(out, "automated_customer_onboarding") != NULL,
              "%s", out);

    long long audits = flag_audits("billing_enabled", "50");
    cr_assert_eq(CTL(out, "flags", "set", "billing_enabled", "50%"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "billing_enabled is now 50%"), "%s", out);
    cr_assert_eq(flag_percent("billing_enabled"), 50);
    cr_assert_eq(flag_audits("billing_enabled", "50"), audits + 1, "flag.set is not audited");
    flags = CTL_JSON("flags", "list", "--json");
    json_array_foreach(flags, i, f)
    {
        if (strcmp(it_jstr(f, "name"), "billing_enabled") == 0)
            cr_assert_str_eq(it_jstr(f, "state"), "50%");
    }
    json_decref(flags);
    cr_assert_eq(CTL(out, "flags", "set", "billing_enabled", "25"), 0, "%s", out);
    cr_assert_eq(flag_percent("billing_enabled"), 25);
    cr_assert_eq(CTL(out, "flags", "set", "billing_enabled", "on"), 0, "%s", out);
    cr_assert_eq(flag_percent("billing_enabled"), 100);
    cr_assert_not_null(strstr(out, "billing_enabled is now on (was 25%)"), "%s", out);

    /* An unknown flag: 1, naming the known ones; bad states: 2. */
    cr_assert_eq(CTL(out, "flags", "set", "nope", "on"), 1, "%s", out);
    cr_assert_not_null(strstr(out, "billing_enabled"), "the known flags are not listed: %s", out);
    cr_assert_not_null(strstr(out, "automated_customer_onboarding"), "%s", out);
    const char *bad[][4] = {
        {"set", "billing_enabled", "101", NULL}, {"set", "billing_enabled", "maybe", NULL},
        {"set", "billing_enabled", "-1", NULL},  {"set", "billing_enabled", "50%%", NULL},
        {"set", "billing_enabled", "%", NULL},   {"set", "billing_enabled", "", NULL},
        {"set", "billing_enabled", NULL},        {"set", "billing_enabled", "on", "x"},
        {"list", "--frobnicate", NULL},          {"frobnicate", NULL},
    };
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *args[6] = {"flags"};
        for (size_t k = 0; k < 4 && bad[i][k] != NULL; k++)
            args[k + 1] = bad[i][k];
        int rc = run(true, out, args);
        cr_assert_eq(rc, 2, "flags %s %s %s: exit %d, expected 2: %s", bad[i][0],
                     bad[i][1] != NULL ? bad[i][1] : "",
                     bad[i][1] != NULL && bad[i][2] != NULL ? bad[i][2] : "", rc, out);
    }
    cr_assert_eq(flag_percent("billing_enabled"), 100, "a refused set changed the flag");
}

Test(ctl_flags, billing_off_records_usage_unbilled)
{
    static char out[OUT];
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_zero_balance(&c);
    long long rows = ledger_rows(&c), audits = flag_audits("billing_enabled", "0");

    cr_assert_eq(CTL(out, "flags", "set", "billing_enabled", "off"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "billing_enabled is now off"), "%s", out);
    cr_assert_not_null(strstr(out, "nothing is charged"), "no reminder of the kill switch: %s",
                       out);
    cr_assert_not_null(strstr(out, "renewals"), "%s", out);
    cr_assert_eq(flag_audits("billing_enabled", "0"), audits + 1, "flag.set is not audited");

    /* A fix that would be charged: recorded, not charged. */
    struct it_response r;
    it_post_usage(&c, "unbilled-1", "fix-unbilled-1", &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "unbilled", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"), 0,
                 "a charge row with billing off");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                 " AND outcome = 'unbilled'"),
                 1);
    cr_assert_eq(ledger_rows(&c), rows, "an unbilled fix wrote a ledger entry");
    json_t *pis = it_charge_intents(&c);
    cr_assert_eq(json_array_size(pis), 0, "a PaymentIntent with billing off");
    json_decref(pis);

    /* Back on: the next fix is charged again. */
    cr_assert_eq(CTL(out, "flags", "set", "billing_enabled", "on"), 0, "%s", out);
    it_post_usage(&c, "billed-1", "fix-billed-1", &r);
    j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
}

Test(ctl_flags, onboarding_off_closes_signup)
{
    static char out[OUT];
    long long audits = flag_audits("automated_customer_onboarding", "0");
    cr_assert_eq(CTL(out, "flags", "set", "automated_customer_onboarding", "off"), 0, "%s", out);
    cr_assert_eq(flag_percent("automated_customer_onboarding"), 0);
    cr_assert_eq(flag_audits("automated_customer_onboarding", "0"), audits + 1);
    char email[160], body[256];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Closed\",\"source\":\"direct\"}",
             email);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    it_assert_problem(&r, 503, "signup-closed", NULL);
    it_response_free(&r);
    PGconn *db = it_db();
    const char *p[1] = {email};
    cr_assert_eq(it_db_ll(db, "SELECT count(*) FROM customers WHERE email = $1", 1, p), 0);
    PQfinish(db);

    cr_assert_eq(CTL(out, "flags", "set", "automated_customer_onboarding", "on"), 0, "%s", out);
    struct it_customer c;
    onboard(&c); /* signup is open again */
}

/* ---- --help ----------------------------------------------------------------- */

Test(ctl, every_command_answers_help)
{
    static char out[OUT];
    const char *commands[] = {"customers", "credits", "api-keys", "flags"};
    static char st[OUT];
    cr_assert_eq(CTL_STDOUT(st, "status", "--help"), 0, "%s", st);
    cr_assert_eq(strncmp(st, "usage: tollgatectl status", 25), 0, "%s", st);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        cr_assert_eq(CTL_STDOUT(out, commands[i], "--help"), 0, "%s --help: %s", commands[i], out);
        cr_assert_eq(strncmp(out, "usage: tollgatectl ", 19), 0, "%s --help: %s", commands[i], out);
        cr_assert_eq(CTL_STDOUT(out, commands[i], "list", "-h"), 0, "%s list -h: %s", commands[i],
                     out);
        cr_assert_not_null(strstr(out, "usage:"), "%s", out);
        /* No subcommand: a usage error, the usage on stderr. */
        cr_assert_eq(CTL(out, commands[i]), 2, "%s: %s", commands[i], out);
        cr_assert_not_null(strstr(out, "usage:"), "%s", out);
    }
    cr_assert_eq(CTL_STDOUT(out, "--help"), 0, "%s", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        cr_assert_not_null(strstr(out, commands[i]), "tollgatectl --help lacks %s:\n%s",
                           commands[i], out);
}

/* One test at a time: the flags are global. */
IT_SERIAL_MAIN()
