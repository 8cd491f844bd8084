/*
 * test_stripe_faults: Stripe misbehaving, through the emulator's injected
 * faults (DESIGN.md section 4). A 500 once and a 429 with
 * Stripe-Should-Retry are retried with the same Idempotency-Key, so the call
 * succeeds and Stripe holds one object; a slow Stripe within the timeout is
 * just slow. A charge whose PaymentIntent call hangs is allowed (201,
 * charged) with the charge left pending, a duplicate of that request
 * meanwhile gets 409, and tollgate-worker later settles it with the first
 * attempt's key: one PaymentIntent. A request Stripe executed but whose
 * answer was lost, or that Stripe executed only after the client's timeout,
 * is repeated with the same key and replayed, never charged twice. A charge
 * left pending while Stripe is down and declined later leaves the customer
 * past_due with a grace period, until a new card pays it. With Stripe down,
 * adding a card is a 503 that grants nothing, and the worker completes the
 * recorded attachment once Stripe is back (the bonus once) without
 * replacing a card the client added meanwhile; subscribing likewise leaves
 * a 'creating' subscription that the worker makes active (+60 once, one
 * subscription at Stripe). Where the worker settles a call, Stripe's
 * webhooks are held until it has, then delivered, and change nothing.
 * Faults are global to the emulator and the background tollgate-worker is
 * stopped while the program runs (only the tests' own passes finish Stripe
 * calls), so the program runs one test at a time. Around every test: the
 * ledger invariants and that every request Stripe received validated
 * against its spec.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_stripe.h"

static void faults_fini(void)
{
    it_webhooks_resume_quietly(); /* a test may have failed holding them */
    it_stripe_fini();
}

TestSuite(faults, .init = it_stripe_init, .fini = faults_fini, .timeout = 120);

/* Only the tests' own tollgate-worker passes finish Stripe calls. */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    it_worker_pause();
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    it_worker_resume();
}

/* calls: the logged requests to Stripe from first on whose path starts
 * with prefix and whose Idempotency-Key is key. */
static json_t *calls(size_t first, const char *prefix, const char *key)
{
    json_t *all = it_stripe_requests(first), *out = json_array(), *e;
    size_t i;
    json_array_foreach(all, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *k = json_string_value(json_object_get(e, "idempotency_key"));
        if (path != NULL && strncmp(path, prefix, strlen(prefix)) == 0 && k != NULL &&
            strcmp(k, key) == 0)
            json_array_append(out, e);
    }
    json_decref(all);
    return out;
}

/* calls_to: how many POSTs (any key) were logged from first on to a path
 * that starts with prefix. */
static size_t calls_to(size_t first, const char *prefix)
{
    json_t *all = it_stripe_requests(first), *e;
    size_t i, n = 0;
    json_array_foreach(all, i, e)
    {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *method = json_string_value(json_object_get(e, "method"));
        n += path != NULL && strncmp(path, prefix, strlen(prefix)) == 0 && method != NULL &&
             strcmp(method, "POST") == 0;
    }
    json_decref(all);
    return n;
}

/* charge_fix: POST a fix for c (balance 0) as key; expect 201 charged. */
static void charge_fix(const struct it_customer *c, const char *key, struct it_response *r)
{
    it_post_usage(c, key, key, r);
    json_t *j = it_assert_json(r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged", "%s", r->body);
    cr_assert_eq(it_jint(it_jget(j, "charge"), "amount_cents"), 2900);
    json_decref(j);
}

static const char *charge_status(const struct it_customer *c, char *buf, size_t len)
{
    it_db_str(c, "SELECT string_agg(status, ',' ORDER BY id) FROM charges WHERE customer_id = $1",
              buf, len);
    return buf;
}

static size_t payment_intents(const struct it_customer *c)
{
    json_t *pis = it_charge_intents(c);
    size_t n = json_array_size(pis);
    json_decref(pis);
    return n;
}

/* payg_at_zero: a payg customer with a card and no credits left. */
static void payg_at_zero(struct it_customer *c, const char *payment_method)
{
    it_customer_with_card(c, payment_method);
    it_zero_balance(c);
}

Test(faults, server_error_once_is_retried_with_the_same_key)
{
    struct it_customer c;
    payg_at_zero(&c, "pm_card_visa");
    size_t first = it_stripe_request_count();
    it_stripe_fault("mode=error&status=500&path=/v1/payment_intents&count=1");
    struct it_response r;
    charge_fix(&c, "after-500", &r);
    it_response_free(&r);
    char buf[256], key[96];
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "succeeded");
    it_charge_key(&c, "after-500", key, sizeof(key));
    json_t *sent = calls(first, "/v1/payment_intents", key);
    cr_assert_eq(json_array_size(sent), 2, "the 500, then the retry with the same key");
    cr_assert_eq(it_jint(json_array_get(sent, 0), "status"), 500);
    cr_assert_eq(it_jint(json_array_get(sent, 1), "status"), 200);
    json_decref(sent);
    cr_assert_eq(calls_to(first, "/v1/payment_intents"), 2, "no other key was used");
    cr_assert_eq(payment_intents(&c), 1);
}

Test(faults, rate_limit_with_should_retry_is_retried)
{
    struct it_customer c;
    onboard(&c);
    size_t first = it_stripe_request_count();
    it_stripe_fault("mode=error&status=429&should_retry=true&path=/v1/payment_methods&count=1");
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "tier"), "payg");
    cr_assert_eq(it_jint(j, "credit_balance"), 10);
    json_decref(j);
    it_response_free(&r);
    char key[96], cus[64];
    it_db_str(&c, "SELECT idempotency_key || ':attach' FROM stripe_requests WHERE customer_id = $1",
              key, sizeof(key));
    json_t *sent = calls(first, "/v1/payment_methods/", key);
    cr_assert_eq(json_array_size(sent), 2, "the 429, then the retry with the same key");
    cr_assert_eq(it_jint(json_array_get(sent, 0), "status"), 429);
    cr_assert_eq(it_jint(json_array_get(sent, 1), "status"), 200);
    json_decref(sent);
    it_stripe_customer(&c, cus, sizeof(cus));
    char query[128];
    snprintf(query, sizeof(query), "customer=%s&type=card", cus);
    j = it_stripe_get("/v1/payment_methods", query);
    cr_assert_eq(json_array_size(it_jget(j, "data")), 1, "one card attached");
    json_decref(j);
}

Test(faults, slow_stripe_within_the_timeout_is_only_slow)
{
    it_stripe_fault("mode=latency&delay_ms=300");
    struct it_customer c;
    payg_at_zero(&c, "pm_card_visa");
    struct it_response r;
    charge_fix(&c, "slow", &r);
    it_response_free(&r);
    char buf[256];
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "succeeded");
    cr_assert_eq(payment_intents(&c), 1);
    cr_assert_eq(it_pending_calls(&c), 0);
}

/* settle_pending: the charge is pending with Stripe down or hanging; clear
 * the fault, run the worker until it is settled; returns the charge's key. */
static void settle_pending(const struct it_customer *c, const char *usage_key, char *key,
                           size_t len)
{
    char buf[256];
    it_charge_key(c, usage_key, key, len);
    cr_assert_str_eq(charge_status(c, buf, sizeof(buf)), "pending");
    cr_assert_eq(it_pending_calls(c), 1, "the call is left to tollgate-worker");
    it_stripe_clear_faults();
    cr_assert(it_worker_drain(c, 15), "tollgate-worker did not finish the charge");
}

struct in_flight {
    const struct it_customer *c;
    const char *key;
    struct it_response r;
    int rc;
};

static void *post_fix(void *arg)
{
    struct in_flight *f = arg;
    json_t *j = json_pack("{s:s, s:s}", "kind", "fix_deployed", "fix_id", f->key);
    char *body = json_dumps(j, JSON_COMPACT), auth[160], idem[160];
    json_decref(j);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", f->c->api_key);
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", f->key);
    const char *headers[] = {"Content-Type: application/json", auth, idem, NULL};
    f->rc = body != NULL
                ? it_request(NULL, "POST", "/api/v1/usage", headers, body, strlen(body), &f->r)
                : -1;
    free(body);
    return NULL;
}

/* wait_processing: until c's usage event key is 'processing' (5 s). */
static bool wait_processing(const struct it_customer *c, const char *key)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM usage_events WHERE customer_id = $1"
             " AND idempotency_key = '%s' AND outcome = 'processing'",
             key);
    for (int i = 0; i < 100; i++) {
        if (it_db_count(c, sql) == 1)
            return true;
        it_pause_ms(50);
    }
    return false;
}

Test(faults, hanging_charge_is_allowed_and_settled_by_the_worker)
{
    struct it_customer c;
    payg_at_zero(&c, "pm_card_visa");
    it_webhooks_hold();
    size_t first = it_stripe_request_count();
    it_stripe_fault("mode=hang&path=/v1/payment_intents");
    struct in_flight f = {.c = &c, .key = "hang"};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, post_fix, &f), 0);
    bool seen = wait_processing(&c, "hang");
    struct it_response dup, again;
    it_post_usage(&c, "hang", "hang", &dup);
    pthread_join(t, NULL);
    cr_assert(seen, "the charge never was with Stripe");
    cr_assert_eq(f.rc, 0);
    it_assert_problem(&dup, 409, "conflict", "Idempotency-Key");
    it_response_free(&dup);
    json_t *j = it_assert_json(&f.r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged", "allowed while Stripe hangs: %s", f.r.body);
    json_decref(j);
    cr_assert_eq(it_balance(&c), 0);

    char key[96], buf[256];
    settle_pending(&c, "hang", key, sizeof(key));
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "succeeded");
    cr_assert_eq(payment_intents(&c), 1, "one PaymentIntent");
    json_t *sent = calls(first, "/v1/payment_intents", key);
    cr_assert_geq(json_array_size(sent), 2, "the hung attempts and the worker's");
    cr_assert_eq(calls_to(first, "/v1/payment_intents"), json_array_size(sent),
                 "every attempt, the worker's too, used the first attempt's key");
    json_decref(sent);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM credit_transactions"
                                 " WHERE customer_id = $1 AND kind = 'purchased'"),
                 1, "the worker adds no second purchase");
    it_webhooks_release();
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "succeeded");
    cr_assert_eq(payment_intents(&c), 1);
    it_post_usage(&c, "hang", "hang", &again);
    cr_assert_eq(again.status, 201);
    cr_assert_str_eq(again.body, f.r.body, "a replay answers the first bytes");
    it_response_free(&again);
    it_response_free(&f.r);
}

/* assert_charged_once: the charge of usage_key ends succeeded through
 * exactly one PaymentIntent, every attempt with the same key; returns how
 * many attempts Stripe answered from its idempotency store. */
static size_t assert_charged_once(const struct it_customer *c, const char *usage_key, size_t first)
{
    char key[96], buf[256];
    cr_assert(it_worker_drain(c, 15), "tollgate-worker did not finish the charge");
    cr_assert_str_eq(charge_status(c, buf, sizeof(buf)), "succeeded");
    cr_assert_eq(payment_intents(c), 1, "one PaymentIntent, not %zu", payment_intents(c));
    cr_assert_eq(it_db_count(c, "SELECT count(*) FROM credit_transactions"
                                " WHERE customer_id = $1 AND kind = 'purchased'"),
                 1);
    it_charge_key(c, usage_key, key, sizeof(key));
    json_t *sent = calls(first, "/v1/payment_intents", key), *e;
    size_t i, replayed = 0;
    json_array_foreach(sent, i, e) replayed += json_is_true(json_object_get(e, "replayed"));
    cr_assert_geq(json_array_size(sent), 2, "the first attempt and a retry");
    cr_assert_eq(calls_to(first, "/v1/payment_intents"), json_array_size(sent),
                 "no attempt used another key");
    json_decref(sent);
    it_webhooks_release(); /* Stripe's events, late, change nothing */
    cr_assert_str_eq(charge_status(c, buf, sizeof(buf)), "succeeded");
    cr_assert_eq(it_db_count(c, "SELECT count(*) FROM credit_transactions"
                                " WHERE customer_id = $1 AND kind = 'purchased'"),
                 1);
    return replayed;
}

Test(faults, lost_answer_is_replayed_not_charged_again)
{
    struct it_customer c;
    payg_at_zero(&c, "pm_card_visa");
    it_webhooks_hold();
    size_t first = it_stripe_request_count();
    it_stripe_fault("mode=reset&phase=after&path=/v1/payment_intents&count=1");
    struct it_response r;
    charge_fix(&c, "lost-answer", &r);
    it_response_free(&r);
    cr_assert_geq(assert_charged_once(&c, "lost-answer", first), 1,
                  "the retry got Stripe's stored answer");
}

Test(faults, call_executed_after_the_timeout_is_charged_once)
{
    struct it_customer c;
    payg_at_zero(&c, "pm_card_visa");
    it_webhooks_hold();
    size_t first = it_stripe_request_count();
    /* Stripe executes the first attempt after the client gave up on it. */
    it_stripe_fault("mode=latency&delay_ms=2500&path=/v1/payment_intents&count=1");
    struct it_response r;
    charge_fix(&c, "late", &r);
    it_response_free(&r);
    (void)assert_charged_once(&c, "late", first);
}

/* assert_reconciled: tollgatectl reconcile (Stripe against tollgate) names
 * none of c's PaymentIntents: the declined first attempt of a charge paid
 * later is history, not a difference. */
static void assert_reconciled(const struct it_customer *c)
{
    char ctl[4096], conf[4096], out[16384], found[512] = "";
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", it_env("TOLLGATE_BUILD"));
    snprintf(conf, sizeof(conf), "TOLLGATE_CONFIG=%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    const char *argv[] = {ctl, "reconcile", NULL}, *env[] = {conf, NULL};
    cr_assert_geq(it_run(argv, env, out, sizeof(out)), 0, "tollgatectl reconcile did not run");
    json_t *pis = it_charge_intents(c), *pi;
    size_t i;
    json_array_foreach(pis, i, pi)
    {
        const char *id = json_string_value(json_object_get(pi, "id"));
        const char *line = id != NULL ? strstr(out, id) : NULL;
        if (line != NULL && found[0] == '\0')
            snprintf(found, sizeof(found), "%.*s", (int)strcspn(line, "\n"), line);
    }
    json_decref(pis);
    cr_assert_str_empty(found, "reconcile reports: %s", found);
}

/* A charge left pending while Stripe is down and declined later leaves the
 * customer past_due; a new card pays what is owed and settles the account. */
Test(faults, pending_charge_declined_later_makes_past_due_until_paid)
{
    struct it_customer c;
    payg_at_zero(&c, "pm_card_chargeCustomerFail");
    it_webhooks_hold();
    it_stripe_fault("mode=error&status=500&path=/v1/payment_intents"); /* Stripe down */
    struct it_response r;
    charge_fix(&c, "owed", &r);
    it_response_free(&r);
    char key[96], buf[256];
    settle_pending(&c, "owed", key, sizeof(key));
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "failed");
    it_webhooks_release();
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "failed");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                 " AND billing_status = 'past_due'"
                                 " AND grace_period_ends_at > now() + interval '6 days'"),
                 1, "past_due with a grace period of 7 days");
    it_get("/api/v1/usage/summary", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert(strstr(r.body, "\"past_due\"") != NULL, "a past_due warning: %s", r.body);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                 " AND outcome = 'charged'"),
                 1, "the fix was delivered and stays recorded");

    it_add_card(&c, "pm_card_visa", true, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
    cr_assert(it_worker_drain(&c, 15), "the owed charge is still pending");
    it_webhooks_release();
    cr_assert_str_eq(charge_status(&c, buf, sizeof(buf)), "succeeded", "paid with the new card");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                 " AND billing_status = 'active' AND grace_period_ends_at IS NULL"),
                 1, "back to active, grace cleared");
    json_t *pis = it_charge_intents(&c), *pi;
    size_t i, paid = 0;
    json_array_foreach(pis, i, pi) paid += strcmp(it_jstr(pi, "status"), "succeeded") == 0;
    json_decref(pis);
    cr_assert_eq(paid, 1, "the owed fix is paid once");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM credit_transactions"
                                 " WHERE customer_id = $1 AND kind = 'purchased'"),
                 1, "and bought once");
    assert_reconciled(&c);
}

Test(faults, stripe_down_for_a_card_is_503_and_finished_later)
{
    struct it_customer c;
    onboard(&c);
    it_stripe_fault("mode=error&status=500&path=/v1/payment_methods");
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    it_assert_problem(&r, 503, "payment-provider-unavailable", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 5, "nothing granted");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM customers WHERE id = $1 AND tier = 'trial'"
                                 " AND default_payment_method IS NULL"),
                 1);
    cr_assert_eq(it_pending_calls(&c), 1, "the attachment is recorded for the worker");
    it_stripe_clear_faults();
    cr_assert(it_worker_drain(&c, 15), "tollgate-worker did not finish the attachment");
    it_get("/api/v1/customers/me", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "tier"), "payg");
    cr_assert_str_eq(it_jstr(j, "billing_status"), "active");
    cr_assert_eq(it_jint(j, "credit_balance"), 10);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM credit_transactions"
                                 " WHERE customer_id = $1 AND kind = 'trial_billing_added'"),
                 1, "the bonus once");
}

Test(faults, stripe_down_for_a_subscription_is_finished_later)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_stripe_fault("mode=error&status=503&path=/v1/subscriptions");
    struct it_response r;
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    it_assert_problem(&r, 503, "payment-provider-unavailable", NULL);
    it_response_free(&r);
    it_get("/api/v1/subscriptions/current", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "status"), "creating", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    it_assert_problem(&r, 409, "conflict", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 10, "nothing granted while Stripe is down");

    it_stripe_clear_faults();
    cr_assert(it_worker_drain(&c, 15), "tollgate-worker did not finish the subscription");
    char cus[64];
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 1);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"
                                 " AND status = 'active'"),
                 1);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM customers WHERE id = $1 AND tier = 'pro'"),
                 1);
    cr_assert_eq(it_balance(&c), 70, "+60 once");
}

/* The client, told 503, adds another card, which works; when the worker
 * later finishes the first attachment, the newer card stays the default. */
Test(faults, late_attachment_keeps_the_newer_card)
{
    struct it_customer c;
    onboard(&c);
    it_stripe_fault("mode=error&status=500&path=/v1/payment_methods");
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    it_assert_problem(&r, 503, "payment-provider-unavailable", NULL);
    it_response_free(&r);
    it_stripe_clear_faults();
    it_add_card(&c, "pm_card_mastercard", true, &r);
    json_t *j = it_assert_json(&r, 200);
    char newer[64], local[64], cus[64], path[96];
    snprintf(newer, sizeof(newer), "%s", it_jstr(j, "default_payment_method"));
    json_decref(j);
    it_response_free(&r);
    cr_assert(it_worker_drain(&c, 15), "tollgate-worker did not finish the first attachment");
    it_db_str(&c, "SELECT default_payment_method FROM customers WHERE id = $1", local,
              sizeof(local));
    it_stripe_customer(&c, cus, sizeof(cus));
    snprintf(path, sizeof(path), "/v1/customers/%s", cus);
    j = it_stripe_get(path, NULL);
    char at_stripe[64];
    snprintf(at_stripe, sizeof(at_stripe), "%s",
             it_jstr(it_jget(j, "invoice_settings"), "default_payment_method"));
    json_decref(j);
    cr_assert_str_eq(local, newer, "tollgate's default went back from %s to %s", newer, local);
    cr_assert_str_eq(at_stripe, newer, "Stripe's default went back from %s to %s", newer,
                     at_stripe);
    cr_assert_eq(it_balance(&c), 10, "the bonus once");
}

/* One test at a time: faults and the background worker are shared. */
IT_SERIAL_MAIN()
