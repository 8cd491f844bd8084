/*
 * test_flags: the feature flags as API clients see them (DESIGN.md section
 * 3), switched in the database while the stack runs -- no restart, no
 * reload. billing_enabled off (the kill switch): a fix paid by a credit is
 * unchanged, a fix that would be charged is recorded as "unbilled" with no
 * charge, no PaymentIntent at Stripe and no ledger entry, a replay answers
 * the same, a new subscription is refused 503 billing-disabled, and
 * /customers/me and the usage summary say billing is off; switched on
 * again, the next fix is charged. A customer without billing is still
 * refused 402. At a rollout percentage the flag is on for a stable share of
 * customers. automated_customer_onboarding off closes signup with 503
 * signup-closed. Every switch is in the audit log. Around every test: the
 * ledger and audit-chain invariants and the Stripe request validation.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_stripe.h"

static void flag(const char *name, int percent)
{
    PGconn *db = PQconnectdb("");
    char pct[8];
    snprintf(pct, sizeof(pct), "%d", percent);
    const char *p[2] = {name, pct};
    cr_assert_eq(it_db_ll(db, "SELECT count(*) FROM feature_flag_set($1, $2::integer)", 2, p), 1);
    PQfinish(db);
}

/* Whatever a test did, the next one starts with every flag on. */
static void flags_on(void)
{
    flag("billing_enabled", 100);
    flag("automated_customer_onboarding", 100);
}

static void init(void)
{
    it_stripe_init();
    flags_on();
}

static void fini(void)
{
    flags_on();
    it_stripe_fini();
}

TestSuite(flags, .init = init, .fini = fini, .timeout = 120);

static json_t *fix(const struct it_customer *c, const char *key, long status)
{
    struct it_response r;
    it_post_usage(c, key, key, &r);
    json_t *j = it_assert_json(&r, status);
    it_response_free(&r);
    return j;
}

static json_t *get(const struct it_customer *c, const char *path)
{
    struct it_response r;
    it_get(path, c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    return j;
}

Test(flags, kill_switch_records_without_charging)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    long long credits = it_balance(&c);
    flag("billing_enabled", 0);

    /* A credit still pays for a fix. */
    json_t *j = fix(&c, "ks-credit", 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "credit");
    json_decref(j);
    cr_assert_eq(it_balance(&c), credits - 1);

    /* At 0 the fix is recorded and not charged. */
    it_zero_balance(&c);
    j = fix(&c, "ks-free", 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "unbilled");
    cr_assert(json_is_null(it_jget(j, "charge")));
    cr_assert(json_is_null(it_jget(j, "ledger_entry_id")));
    cr_assert_eq(it_jint(j, "credits_remaining"), 0);
    char *first = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"), 0);
    json_t *intents = it_charge_intents(&c);
    cr_assert_eq(json_array_size(intents), 0, "Stripe was not asked");
    json_decref(intents);
    cr_assert_eq(it_balance(&c), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                 " AND outcome = 'unbilled'"),
                 1);

    /* The replay answers the same bytes. */
    struct it_response r;
    it_post_usage(&c, "ks-free", "ks-free", &r);
    cr_assert_eq(r.status, 201);
    cr_assert_str_eq(r.body, first);
    cr_assert_str_eq(it_header(&r, "Idempotent-Replayed"), "true");
    it_response_free(&r);
    free(first);

    /* The customer is told. */
    j = get(&c, "/api/v1/customers/me");
    cr_assert(json_is_false(it_jget(j, "billing_enabled")));
    json_decref(j);
    j = get(&c, "/api/v1/usage/summary");
    char *warnings = json_dumps(it_jget(j, "warnings"), 0);
    cr_assert(strstr(warnings, "billing_disabled") != NULL, "%s", warnings);
    free(warnings);
    json_decref(j);

    /* Nothing that charges may start. */
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    it_assert_problem(&r, 503, "billing-disabled", NULL);
    cr_assert_not_null(it_header(&r, "Retry-After"));
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"), 0);

    /* Back on, without a restart: the next fix is charged. */
    flag("billing_enabled", 100);
    j = fix(&c, "ks-paid", 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged");
    cr_assert_eq(it_jint(it_jget(j, "charge"), "amount_cents"), 2900);
    json_decref(j);
    intents = it_charge_intents(&c);
    cr_assert_eq(json_array_size(intents), 1);
    json_decref(intents);
    j = get(&c, "/api/v1/customers/me");
    cr_assert(json_is_true(it_jget(j, "billing_enabled")));
    json_decref(j);

    PGconn *db = PQconnectdb("");
    cr_assert_geq(it_db_ll(db,
                           "SELECT count(*) FROM audit_log WHERE action = 'flag.set'"
                           " AND before->>'flag' = 'billing_enabled'"
                           " AND (after->>'rollout_percent')::int = 0",
                           0, NULL),
                  1);
    PQfinish(db);
}

Test(flags, kill_switch_still_refuses_without_billing)
{
    struct it_customer c;
    onboard(&c);
    it_zero_balance(&c);
    flag("billing_enabled", 0);
    struct it_response r;
    it_post_usage(&c, "ks-nobilling", "ks-nobilling", &r);
    it_assert_problem(&r, 402, "insufficient-credits", NULL);
    it_response_free(&r);
}

Test(flags, rollout_is_stable_per_customer)
{
    enum { N = 12 };
    struct it_customer c[N];
    for (int i = 0; i < N; i++)
        onboard(&c[i]);
    flag("billing_enabled", 50);
    bool on[N];
    int count = 0;
    for (int i = 0; i < N; i++) {
        json_t *j = get(&c[i], "/api/v1/customers/me");
        on[i] = json_is_true(it_jget(j, "billing_enabled"));
        count += on[i];
        json_decref(j);
        /* The same answer as the database's bucket rule. */
        cr_assert_eq(it_db_count(&c[i], "SELECT count(*) FROM customers WHERE id = $1"
                                        " AND feature_bucket('billing_enabled', id::text) < 50"),
                     on[i]);
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            json_t *j = get(&c[i], "/api/v1/customers/me");
            cr_assert_eq(json_is_true(it_jget(j, "billing_enabled")), on[i], "customer %d", i);
            json_decref(j);
        }
    /* Raising the percentage only adds customers. */
    flag("billing_enabled", 90);
    for (int i = 0; i < N; i++) {
        json_t *j = get(&c[i], "/api/v1/customers/me");
        if (on[i])
            cr_assert(json_is_true(it_jget(j, "billing_enabled")), "customer %d", i);
        json_decref(j);
    }
    cr_log_info("50%%: %d of %d customers on", count, N);
}

Test(flags, signup_closed)
{
    flag("automated_customer_onboarding", 0);
    char email[160], body[400];
    it_unique_email(email, sizeof(email), "tollgate.test");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Closed\"}", email);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    it_assert_problem(&r, 503, "signup-closed", NULL);
    cr_assert_str_eq(it_header(&r, "Retry-After"), "3600");
    it_response_free(&r);
    flag("automated_customer_onboarding", 100);
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    cr_assert_eq(r.status, 201, "open again at once: %s", r.body);
    it_response_free(&r);
}

/* One test at a time: the flags are global. */
IT_SERIAL_MAIN()
