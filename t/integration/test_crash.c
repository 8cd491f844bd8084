/*
 * test_crash: crash safety of the Stripe calls ("atomic phases", DESIGN.md
 * section 4), with the failpoints of a build configured with
 * --enable-failpoints (skipped otherwise). For each failpoint -- before and
 * after the PaymentIntent of a charge, before the card is attached and before
 * the attachment is applied, before and after the subscription is created --
 * the FastCGI workers are restarted with TOLLGATE_FAILPOINT set, the request
 * that reaches it kills its worker (nginx answers a 503 problem), the
 * workers are restarted normally and tollgate-worker runs until no Stripe
 * call of the customer is pending. Before that, each test checks that the
 * crash happened where the failpoint says (Stripe has, or has not yet, the
 * object) and, for charges and subscriptions, that the client's retry
 * meanwhile is refused with 409. Then: a charge is at Stripe exactly once
 * per usage event (PaymentIntents = succeeded charges = distinct keys, one
 * purchase each, the replay of the request answers "charged"), five rounds
 * per charge failpoint; a card gives the bonus once and payg, and a card
 * the client adds before the worker finishes the crashed call stays the
 * default, in tollgate and at Stripe; a subscription exists once at Stripe
 * and once locally, with +60 once, whether Stripe's events or the worker's
 * retry come first. Stripe's
 * webhooks are held while the worker recovers and delivered afterwards (in
 * one case before), and change nothing. The FastCGI workers are shared and
 * the background tollgate-worker is stopped while the program runs, so the
 * program runs one test at a time; a fini restores the normal workers if its
 * test left a failpoint set.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_stripe.h"

#define ROUNDS 5
#define DRAIN_SECONDS 10

static bool failpoint_set;

static void crash_init(void)
{
    it_stripe_init();
}

static void crash_fini(void)
{
    it_webhooks_resume_quietly();
    if (failpoint_set)
        it_fcgi_restart(NULL);
    it_stripe_fini();
}

TestSuite(crash, .init = crash_init, .fini = crash_fini, .timeout = 180);

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

static void need_failpoints(void)
{
    if (!it_failpoints())
        cr_skip("this build has no failpoints (configure --enable-failpoints)");
}

static void arm(const char *failpoint)
{
    failpoint_set = true;
    it_fcgi_restart(failpoint);
}

static void disarm(void)
{
    it_fcgi_restart(NULL);
    failpoint_set = false;
}

/* assert_crashed: the worker died under the request: nginx's 503 problem. */
static void assert_crashed(struct it_response *r, const char *failpoint)
{
    cr_assert_eq(r->status, 503, "%s: the worker should have died: %ld %s", failpoint, r->status,
                 r->body);
    it_assert_problem(r, 503, "service-unavailable", NULL);
    it_response_free(r);
}

/* drain: tollgate-worker passes until none of c's Stripe calls is pending
 * (c's only: what other suites left behind is not this test's business). */
static void drain(const struct it_customer *c)
{
    cr_assert(it_worker_drain(c, DRAIN_SECONDS),
              "Stripe calls still pending after %d s of tollgate-worker", DRAIN_SECONDS);
}

static long long count(const struct it_customer *c, const char *sql)
{
    return it_db_count(c, sql);
}

/* ---- charges ------------------------------------------------------------- */

static size_t payment_intents(const struct it_customer *c)
{
    json_t *pis = it_charge_intents(c);
    size_t n = json_array_size(pis);
    json_decref(pis);
    return n;
}

/* assert_charges: n charges, each once: at Stripe, in charges, by key, in
 * the ledger, and each usage event charged with its entry. */
static void assert_charges(const struct it_customer *c, long long n)
{
    cr_assert_eq((long long)payment_intents(c), n, "PaymentIntents at Stripe");
    cr_assert_eq(count(c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                          " AND status = 'succeeded'"),
                 n);
    cr_assert_eq(count(c, "SELECT count(*) FROM charges WHERE customer_id = $1"), n);
    cr_assert_eq(count(c, "SELECT count(DISTINCT r.idempotency_key) FROM charges ch"
                          " JOIN stripe_requests r ON r.id = ch.stripe_request_id"
                          " WHERE ch.customer_id = $1"),
                 n);
    cr_assert_eq(count(c, "SELECT count(DISTINCT stripe_payment_intent_id) FROM charges"
                          " WHERE customer_id = $1"),
                 n);
    cr_assert_eq(count(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                          " AND kind = 'purchased'"),
                 n);
    cr_assert_eq(count(c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                          " AND outcome = 'charged' AND ledger_entry_id IS NOT NULL"),
                 n);
    cr_assert_eq(count(c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"), n);
    cr_assert_eq(it_balance(c), 0);
}

/* assert_replay: the client's retry after the crash answers "charged". */
static void assert_replay(const struct it_customer *c, const char *key)
{
    struct it_response r;
    it_post_usage(c, key, key, &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged", "%s", r.body);
    cr_assert_eq(it_jint(it_jget(j, "charge"), "amount_cents"), 2900);
    const char *h = it_header(&r, "Idempotent-Replayed");
    cr_assert(h != NULL && strcmp(h, "true") == 0, "the retry is answered from the first");
    json_decref(j);
    it_response_free(&r);
}

/* charge_rounds: ROUNDS fixes at balance 0, each crashing at failpoint;
 * sent: whether Stripe had the PaymentIntent when the worker died. */
static void charge_rounds(const char *failpoint, bool sent)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_zero_balance(&c);
    it_webhooks_hold();
    arm(failpoint);
    for (long long i = 1; i <= ROUNDS; i++) {
        char key[64];
        snprintf(key, sizeof(key), "crash-%s-%lld", failpoint, i);
        struct it_response r;
        it_post_usage(&c, key, key, &r);
        assert_crashed(&r, failpoint);
        cr_assert_eq((long long)payment_intents(&c), sent ? i : i - 1,
                     "round %lld: the worker died %s the PaymentIntent", i,
                     sent ? "after" : "before");
        cr_assert_eq(count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                               " AND outcome = 'processing'"),
                     1, "round %lld: the fix waits for its charge", i);
        it_post_usage(&c, key, key, &r);
        it_assert_problem(&r, 409, "conflict", NULL);
        it_response_free(&r);
        drain(&c);
        assert_charges(&c, i);
        assert_replay(&c, key);
    }
    disarm();
    struct it_response r;
    it_post_usage(&c, "after-the-crashes", "after-the-crashes", &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged");
    json_decref(j);
    it_response_free(&r);
    assert_charges(&c, ROUNDS + 1);
    it_webhooks_release();
    assert_charges(&c, ROUNDS + 1); /* Stripe's late events change nothing */
}

Test(crash, charge_before_send)
{
    need_failpoints();
    charge_rounds("charge.before_send", false);
}

Test(crash, charge_after_send)
{
    need_failpoints();
    charge_rounds("charge.after_send", true);
}

/* ---- payment methods ----------------------------------------------------- */

static size_t cards(const struct it_customer *c)
{
    char cus[64], query[128];
    it_stripe_customer(c, cus, sizeof(cus));
    snprintf(query, sizeof(query), "customer=%s&type=card", cus);
    json_t *j = it_stripe_get("/v1/payment_methods", query);
    size_t n = json_array_size(it_jget(j, "data"));
    json_decref(j);
    return n;
}

/* assert_card_added: payg with the bonus once, n cards at Stripe and the
 * default there the one recorded. */
static void assert_card_added(const struct it_customer *c, size_t n)
{
    char pm[64], cus[64], path[96];
    cr_assert_eq(count(c, "SELECT count(*) FROM customers WHERE id = $1 AND tier = 'payg'"
                          " AND billing_status = 'active'"),
                 1, "payg and active");
    cr_assert_eq(it_balance(c), 10);
    cr_assert_eq(count(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                          " AND kind = 'trial_billing_added'"),
                 1, "the bonus once");
    cr_assert_eq(cards(c), n, "%zu card(s) attached at Stripe", n);
    it_db_str(c, "SELECT default_payment_method FROM customers WHERE id = $1", pm, sizeof(pm));
    it_stripe_customer(c, cus, sizeof(cus));
    snprintf(path, sizeof(path), "/v1/customers/%s", cus);
    json_t *j = it_stripe_get(path, NULL);
    cr_assert_str_eq(it_jstr(it_jget(j, "invoice_settings"), "default_payment_method"), pm,
                     "the default at Stripe is the one recorded");
    json_decref(j);
}

static void card_crash(const char *failpoint, size_t attached)
{
    struct it_customer c;
    onboard(&c);
    it_webhooks_hold();
    arm(failpoint);
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    assert_crashed(&r, failpoint);
    disarm();
    cr_assert_eq(cards(&c), attached, "the worker died with %zu card(s) attached", attached);
    cr_assert_eq(count(&c, "SELECT count(*) FROM customers WHERE id = $1 AND tier = 'trial'"), 1);
    cr_assert_eq(it_balance(&c), 5, "nothing granted before the call is finished");
    drain(&c);
    assert_card_added(&c, 1);
    /* The client, told 503, tries again: no second bonus. */
    it_add_card(&c, "pm_card_visa", true, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(j, "credit_balance"), 10);
    json_decref(j);
    it_response_free(&r);
    it_webhooks_release();
    assert_card_added(&c, 2);
}

/* default_cards: the default payment method in tollgate and at Stripe. */
static void default_cards(const struct it_customer *c, char *local, char *stripe, size_t len)
{
    char cus[64], path[96];
    it_db_str(c, "SELECT default_payment_method FROM customers WHERE id = $1", local, len);
    it_stripe_customer(c, cus, sizeof(cus));
    snprintf(path, sizeof(path), "/v1/customers/%s", cus);
    json_t *j = it_stripe_get(path, NULL);
    snprintf(stripe, len, "%s", it_jstr(it_jget(j, "invoice_settings"), "default_payment_method"));
    json_decref(j);
}

/* A card added while an older attachment waits for the worker stays the
 * default: finishing the older call late must not bring its card back. */
Test(crash, late_attachment_does_not_replace_a_newer_card)
{
    need_failpoints();
    struct it_customer c;
    onboard(&c);
    it_webhooks_hold();
    arm("payment.before_apply");
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    assert_crashed(&r, "payment.before_apply");
    disarm();
    it_add_card(&c, "pm_card_mastercard", true, &r); /* the client's next try */
    json_t *j = it_assert_json(&r, 200);
    char newer[64], local[64], stripe[64];
    snprintf(newer, sizeof(newer), "%s", it_jstr(j, "default_payment_method"));
    json_decref(j);
    it_response_free(&r);
    drain(&c);
    default_cards(&c, local, stripe, sizeof(local));
    cr_assert_str_eq(local, stripe, "tollgate's default card %s is not Stripe's %s", local, stripe);
    cr_assert_str_eq(local, newer, "the default went back from the newer card %s to %s", newer,
                     local);
    cr_assert_eq(it_balance(&c), 10, "the bonus once");
    it_webhooks_release();
    default_cards(&c, local, stripe, sizeof(local));
    cr_assert_str_eq(local, newer);
    cr_assert_str_eq(stripe, newer);
}

Test(crash, payment_before_attach)
{
    need_failpoints();
    card_crash("payment.before_attach", 0);
}

Test(crash, payment_before_apply)
{
    need_failpoints();
    card_crash("payment.before_apply", 1);
}

/* expire_claim: the lease of c's claim of Idempotency-Key key is over, as
 * it is two minutes after its request died. */
static void expire_claim(const struct it_customer *c, const char *key)
{
    char scope[96], state[6];
    snprintf(scope, sizeof(scope), "customer:%s", c->id);
    const char *p[2] = {scope, key};
    PGconn *db = it_db();
    it_db_exec(db, "UPDATE idempotency_keys SET locked_until = now() "
                   "WHERE scope = $1 AND idempotency_key = $2 AND status = 'running'",
               2, p, state);
    PQfinish(db);
    cr_assert_str_eq(state, "", "SQLSTATE %s", state);
}

/* A card attached at Stripe by a request that died before answering: its
 * retry with the same Idempotency-Key resumes the same call (the Stripe
 * keys derive from the request's key), so Stripe attaches nothing more,
 * and the answer is then kept for the next retry. While the dead
 * request's lease runs, a retry is told to wait. */
Test(crash, payment_with_idempotency_key_retried_after_a_crash)
{
    need_failpoints();
    static const char body[] = "{\"payment_method\":\"pm_card_visa\",\"billing_consent\":true}";
    char key[96], auth[160], idem[128];
    struct it_customer c;
    struct it_response r, again;
    onboard(&c);
    snprintf(key, sizeof(key), "crash-card-%d-%ld", (int)getpid(), random());
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    const char *headers[] = {"Content-Type: application/json", auth, idem, NULL};
    it_webhooks_hold();
    arm("payment.before_apply");
    it_send("POST", "/api/v1/customers/me/payment_method", headers, body, strlen(body), &r);
    assert_crashed(&r, "payment.before_apply");
    disarm();
    cr_assert_eq(cards(&c), 1, "the card was attached before the crash");
    it_send("POST", "/api/v1/customers/me/payment_method", headers, body, strlen(body), &r);
    it_assert_problem(&r, 409, "idempotency-key-in-progress", NULL);
    cr_assert_not_null(it_header(&r, "Retry-After"));
    it_response_free(&r);
    expire_claim(&c, key);
    it_send("POST", "/api/v1/customers/me/payment_method", headers, body, strlen(body), &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(j, "credit_balance"), 10, "the bonus, once");
    json_decref(j);
    cr_assert_eq(cards(&c), 1, "the retry attached no second card");
    cr_assert_eq(count(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1 "
                           "AND operation = 'attach_payment_method'"),
                 1, "one recorded call, resumed");
    it_send("POST", "/api/v1/customers/me/payment_method", headers, body, strlen(body), &again);
    cr_assert_eq(again.status, 200);
    cr_assert_str_eq(again.body, r.body);
    cr_assert_str_eq(it_header(&again, "Idempotent-Replayed"), "true");
    it_response_free(&r);
    it_response_free(&again);
    it_webhooks_release();
}

/* ---- subscriptions ------------------------------------------------------- */

static size_t subscriptions(const struct it_customer *c)
{
    char cus[64];
    it_stripe_customer(c, cus, sizeof(cus));
    return it_stripe_count("/v1/subscriptions", cus);
}

static void assert_subscribed(const struct it_customer *c)
{
    cr_assert_eq(subscriptions(c), 1, "one subscription at Stripe");
    cr_assert_eq(count(c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"), 1);
    cr_assert_eq(count(c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"
                          " AND status = 'active' AND stripe_subscription_id IS NOT NULL"),
                 1, "one live subscription, active");
    cr_assert_eq(count(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                          " AND kind = 'pro_subscription_payment' AND amount = 60"),
                 1, "+60 once");
    cr_assert_eq(count(c, "SELECT count(*) FROM customers WHERE id = $1 AND tier = 'pro'"), 1);
    cr_assert_eq(it_balance(c), 70);
    struct it_response r;
    it_get("/api/v1/subscriptions/current", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "status"), "active");
    json_decref(j);
    it_response_free(&r);
}

/* subscription_crash: events_first: Stripe's events about the subscription
 * the crashed request created reach tollgate before the worker's retry. */
static void subscription_crash(const char *failpoint, size_t created, bool events_first)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_webhooks_hold();
    arm(failpoint);
    struct it_response r;
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    assert_crashed(&r, failpoint);
    disarm();
    cr_assert_eq(subscriptions(&c), created, "the worker died with %zu subscription(s)", created);
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\":\"pro\"}", &r);
    it_assert_problem(&r, 409, "conflict", NULL);
    it_response_free(&r);
    if (events_first)
        it_webhooks_release();
    drain(&c);
    assert_subscribed(&c);
    if (!events_first) {
        it_webhooks_release();
        assert_subscribed(&c);
    }
}

Test(crash, subscription_before_send)
{
    need_failpoints();
    subscription_crash("subscription.before_send", 0, false);
}

Test(crash, subscription_after_send)
{
    need_failpoints();
    subscription_crash("subscription.after_send", 1, true);
}

/* One test at a time: the workers are restarted with failpoints. */
IT_SERIAL_MAIN()

/* A subscription created at Stripe by a request that died before
 * answering: its retry with the same Idempotency-Key, once the dead
 * request's lease is over, resumes the same call (same Stripe key) and
 * answers 201 with that subscription, instead of 409 "already subscribed";
 * Stripe has one subscription, tollgate one, +60 once. */
Test(crash, subscription_with_idempotency_key_retried_after_a_crash)
{
    need_failpoints();
    static const char body[] = "{\"plan\":\"pro\"}";
    char key[96], auth[160], idem[128];
    struct it_customer c;
    struct it_response r, again;
    it_customer_with_card(&c, "pm_card_visa");
    snprintf(key, sizeof(key), "crash-sub-%d-%ld", (int)getpid(), random());
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    const char *headers[] = {"Content-Type: application/json", auth, idem, NULL};
    it_webhooks_hold();
    arm("subscription.after_send");
    it_send("POST", "/api/v1/subscriptions", headers, body, strlen(body), &r);
    assert_crashed(&r, "subscription.after_send");
    disarm();
    cr_assert_eq(subscriptions(&c), 1, "created at Stripe before the crash");
    expire_claim(&c, key);
    it_send("POST", "/api/v1/subscriptions", headers, body, strlen(body), &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "status"), "active", "%s", r.body);
    json_decref(j);
    it_send("POST", "/api/v1/subscriptions", headers, body, strlen(body), &again);
    cr_assert_eq(again.status, 201);
    cr_assert_str_eq(again.body, r.body);
    cr_assert_str_eq(it_header(&again, "Idempotent-Replayed"), "true");
    it_response_free(&r);
    it_response_free(&again);
    cr_assert_eq(count(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1 "
                           "AND operation = 'create_subscription'"),
                 1, "one recorded call, resumed");
    it_webhooks_release();
    assert_subscribed(&c);
}
