/*
 * test_billing: the Stripe billing journeys through nginx, the workers and
 * the Stripe emulator (DESIGN.md sections 2 and 4). Adding a card with
 * billing consent moves a trial customer to payg with +5
 * trial_billing_added once ever; consent and the payment method id are
 * checked before Stripe is asked, and a declined card changes nothing. At
 * balance 0 a payg fix is charged $29.00 through one PaymentIntent (+1
 * purchased, -1 fix_deployed, a succeeded charge), and its replay answers
 * the same bytes without a second PaymentIntent; a card whose charges fail
 * gets 402 with nothing consumed and the same Idempotency-Key can be retried
 * once the card is replaced. Pro: subscribing grants +60 keyed by the Stripe
 * invoice, a second subscription is refused, the overage is $15.00, the
 * invoice preview comes from Stripe, cancelling at period end keeps Pro and
 * cancelling now goes back to payg with the credits kept; a declined first
 * invoice leaves no subscription (402) until the card is replaced; no card
 * or an unknown plan is refused. Around every test: the ledger invariants
 * (harness.c) and that every request Stripe received validated against its
 * spec (harness_stripe.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_stripe.h"

TestSuite(billing, .init = it_stripe_init, .fini = it_stripe_fini, .timeout = 120);

/* me: GET /api/v1/customers/me (200). */
static json_t *me(const struct it_customer *c)
{
    struct it_response r;
    it_get("/api/v1/customers/me", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    return j;
}

static void assert_account(const struct it_customer *c, const char *tier, const char *billing,
                           long long balance)
{
    json_t *j = me(c);
    cr_assert_str_eq(it_jstr(j, "tier"), tier);
    cr_assert_str_eq(it_jstr(j, "billing_status"), billing);
    cr_assert_eq(it_jint(j, "credit_balance"), balance);
    json_decref(j);
    cr_assert_eq(it_balance(c), balance);
}

/* entries: how many ledger entries of kind c has. */
static long long entries(const struct it_customer *c, const char *kind)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM credit_transactions WHERE customer_id = $1 AND kind = '%s'",
             kind);
    return it_db_count(c, sql);
}

/* fix: POST a fix and assert the status; the JSON body for a 2xx. */
static json_t *fix(const struct it_customer *c, const char *key, const char *fix_id, long status,
                   struct it_response *r)
{
    it_post_usage(c, key, fix_id, r);
    cr_assert_eq(r->status, status, "fix %s: expected %ld, got %ld: %s", fix_id, status, r->status,
                 r->body);
    return status < 300 ? it_assert_json(r, status) : NULL;
}

static void spend_credits(const struct it_customer *c, int n)
{
    for (int i = 1; i <= n; i++) {
        char key[32], id[32];
        snprintf(key, sizeof(key), "spend-%d", i);
        snprintf(id, sizeof(id), "spend-fix-%d", i);
        struct it_response r;
        json_t *j = fix(c, key, id, 201, &r);
        cr_assert_str_eq(it_jstr(j, "outcome"), "credit");
        json_decref(j);
        it_response_free(&r);
    }
}

/* assert_charged: j is a usage event charged amount_cents in usd. */
static void assert_charged(json_t *j, long long amount_cents)
{
    cr_assert_str_eq(it_jstr(j, "outcome"), "charged");
    cr_assert_eq(it_jint(j, "credits_remaining"), 0);
    json_t *charge = it_jget(j, "charge");
    cr_assert(json_is_object(charge), "a charged fix names its charge");
    cr_assert_eq(it_jint(charge, "amount_cents"), amount_cents);
    cr_assert_str_eq(it_jstr(charge, "currency"), "usd");
}

Test(billing, adding_a_card_moves_trial_to_payg_once)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_add_card(&c, "pm_card_visa", true, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "tier"), "payg");
    cr_assert_str_eq(it_jstr(j, "billing_status"), "active");
    cr_assert_eq(it_jint(j, "credit_balance"), 10, "5 trial + 5 for the card: %s", r.body);
    cr_assert_eq(strncmp(it_jstr(j, "default_payment_method"), "pm_", 3), 0);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(entries(&c, "trial_billing_added"), 1);
    cr_assert_eq(it_db_count(&c, "SELECT amount FROM credit_transactions"
                                 " WHERE customer_id = $1 AND kind = 'trial_billing_added'"),
                 5);

    it_add_card(&c, "pm_card_mastercard", true, &r);
    j = it_assert_json(&r, 200);
    char pm[64];
    snprintf(pm, sizeof(pm), "%s", it_jstr(j, "default_payment_method"));
    json_decref(j);
    it_response_free(&r);
    assert_account(&c, "payg", "active", 10);
    cr_assert_eq(entries(&c, "trial_billing_added"), 1, "the bonus is granted once ever");

    /* Stripe's customer has the latest card as its default. */
    char cus[64], path[96];
    it_stripe_customer(&c, cus, sizeof(cus));
    snprintf(path, sizeof(path), "/v1/customers/%s", cus);
    j = it_stripe_get(path, NULL);
    cr_assert_str_eq(it_jstr(it_jget(j, "invoice_settings"), "default_payment_method"), pm);
    json_decref(j);
}

static void assert_refused(const struct it_customer *c, const char *body, const char *detail)
{
    struct it_response r;
    it_post_json("/api/v1/customers/me/payment_method", c->api_key, NULL, body, &r);
    it_assert_problem(&r, 400, "validation-failed", detail);
    it_response_free(&r);
}

Test(billing, consent_and_payment_method_id_are_required)
{
    struct it_customer c;
    onboard(&c);
    assert_refused(&c, "{\"payment_method\":\"pm_card_visa\",\"billing_consent\":false}",
                   "billing_consent");
    assert_refused(&c, "{\"payment_method\":\"pm_card_visa\"}", "billing_consent");
    assert_refused(&c, "{\"payment_method\":\"card_visa\",\"billing_consent\":true}",
                   "payment_method");
    assert_refused(&c, "{\"payment_method\":\"pm_card visa\",\"billing_consent\":true}",
                   "payment_method");
    assert_account(&c, "trial", "none", 5);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"), 0,
                 "nothing is sent to Stripe for a refused request");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                 " AND stripe_customer_id IS NULL AND billing_consent_at IS NULL"),
                 1);
}

Test(billing, declined_card_changes_nothing)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_add_card(&c, "pm_card_chargeDeclined", true, &r);
    it_assert_problem(&r, 402, "payment-failed", NULL);
    json_t *j = it_json(&r);
    cr_assert_str_eq(it_jstr(j, "decline_code"), "generic_decline", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    assert_account(&c, "trial", "none", 5);
    j = me(&c);
    cr_assert(json_is_null(it_jget(j, "default_payment_method")));
    json_decref(j);
    cr_assert_eq(entries(&c, "trial_billing_added"), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"),
                 1, "only the signup entry");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"
                                 " AND status <> 'failed'"),
                 0, "the declined attachment is recorded as failed, not left pending");
}

/* assert_one_charge: c has exactly one charge, succeeded, of cents in
 * tier, and Stripe exactly one PaymentIntent, the same, succeeded. */
static void assert_one_charge(const struct it_customer *c, long long cents, const char *tier)
{
    char sql[256], pi[64];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM charges WHERE customer_id = $1 AND status = 'succeeded'"
             " AND amount_cents = %lld AND currency = 'usd' AND tier = '%s'",
             cents, tier);
    cr_assert_eq(it_db_count(c, sql), 1);
    cr_assert_eq(it_db_count(c, "SELECT count(*) FROM charges WHERE customer_id = $1"), 1);
    it_db_str(c, "SELECT stripe_payment_intent_id FROM charges WHERE customer_id = $1", pi,
              sizeof(pi));
    json_t *pis = it_charge_intents(c);
    cr_assert_eq(json_array_size(pis), 1, "one PaymentIntent at Stripe, not %zu",
                 json_array_size(pis));
    json_t *p = json_array_get(pis, 0);
    cr_assert_str_eq(it_jstr(p, "id"), pi);
    cr_assert_eq(it_jint(p, "amount"), cents);
    cr_assert_str_eq(it_jstr(p, "currency"), "usd");
    cr_assert_str_eq(it_jstr(p, "status"), "succeeded");
    json_decref(pis);
}

Test(billing, eleventh_fix_is_charged_once)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    spend_credits(&c, 10);
    struct it_response first, again;
    json_t *j = fix(&c, "eleventh", "fix-11", 201, &first);
    assert_charged(j, 2900);
    json_decref(j);
    cr_assert_null(it_header(&first, "Idempotent-Replayed"));
    cr_assert_eq(it_balance(&c), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM (SELECT kind, amount, row_number()"
                                 " OVER (ORDER BY seq DESC) AS n FROM credit_transactions"
                                 " WHERE customer_id = $1) t"
                                 " WHERE (n = 1 AND kind = 'fix_deployed' AND amount = -1)"
                                 " OR (n = 2 AND kind = 'purchased' AND amount = 1)"),
                 2, "+1 purchased then -1 fix_deployed");
    cr_assert_eq(entries(&c, "purchased"), 1);
    assert_one_charge(&c, 2900, "payg");

    json_decref(fix(&c, "eleventh", "fix-11", 201, &again));
    cr_assert_str_eq(again.body, first.body, "a replay answers the same bytes");
    const char *h = it_header(&again, "Idempotent-Replayed");
    cr_assert(h != NULL && strcmp(h, "true") == 0);
    it_response_free(&first);
    it_response_free(&again);
    assert_one_charge(&c, 2900, "payg");
    cr_assert_eq(entries(&c, "purchased"), 1);
}

Test(billing, failed_charge_consumes_nothing_and_the_key_stays_free)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_chargeCustomerFail");
    it_zero_balance(&c);
    struct it_response r;
    fix(&c, "retry-me", "fix-declined", 402, &r);
    it_assert_problem(&r, 402, "payment-failed", NULL);
    json_t *j = it_json(&r);
    cr_assert_str_eq(it_jstr(j, "decline_code"), "generic_decline", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"), 0,
                 "no usage event for the refused fix");
    cr_assert_eq(entries(&c, "purchased") + entries(&c, "fix_deployed"), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                 " AND status = 'failed' AND decline_code = 'generic_decline'"),
                 1);

    it_add_card(&c, "pm_card_visa", true, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
    assert_account(&c, "payg", "active", 0);
    j = fix(&c, "retry-me", "fix-declined", 201, &r);
    assert_charged(j, 2900);
    cr_assert_null(it_header(&r, "Idempotent-Replayed"), "the retry is a new request");
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                 " AND idempotency_key = 'retry-me' AND outcome = 'charged'"),
                 1);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                 " AND status = 'succeeded'"),
                 1);
    json_t *pis = it_charge_intents(&c);
    size_t paid = 0, i;
    json_t *p;
    json_array_foreach(pis, i, p) paid += strcmp(it_jstr(p, "status"), "succeeded") == 0;
    cr_assert_eq(paid, 1, "one PaymentIntent was paid");
    json_decref(pis);
}

/* subscribe: POST /api/v1/subscriptions {"plan": plan}; the answer in r. */
static void subscribe(const struct it_customer *c, const char *plan, struct it_response *r)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"plan\":\"%s\"}", plan);
    it_post_json("/api/v1/subscriptions", c->api_key, NULL, body, r);
}

/* pro: a customer with a card, subscribed to Pro; the subscription JSON. */
static json_t *pro(struct it_customer *c)
{
    it_customer_with_card(c, "pm_card_visa");
    struct it_response r;
    subscribe(c, "pro", &r);
    json_t *s = it_assert_json(&r, 201);
    it_response_free(&r);
    cr_assert_str_eq(it_jstr(s, "plan"), "pro");
    cr_assert_str_eq(it_jstr(s, "status"), "active");
    cr_assert_eq(strncmp(it_jstr(s, "stripe_subscription_id"), "sub_", 4), 0);
    cr_assert(json_is_string(it_jget(s, "current_period_end")));
    cr_assert(json_is_false(it_jget(s, "cancel_at_period_end")));
    return s;
}

static void assert_subscription_credits(const struct it_customer *c, const char *sub)
{
    char ref[64], path[96];
    it_db_str(c,
              "SELECT max(reference) FROM credit_transactions WHERE customer_id = $1"
              " AND kind = 'pro_subscription_payment' AND amount = 60",
              ref, sizeof(ref));
    cr_assert_eq(entries(c, "pro_subscription_payment"), 1);
    cr_assert_eq(strncmp(ref, "in_", 3), 0, "keyed by the Stripe invoice: %s", ref);
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    json_t *s = it_stripe_get(path, NULL);
    cr_assert_str_eq(it_jstr(s, "latest_invoice"), ref, "the subscription's first invoice");
    json_decref(s);
}

Test(billing, pro_subscription_lifecycle)
{
    struct it_customer c;
    json_t *s = pro(&c);
    char sub[64], id[64], cus[64];
    snprintf(sub, sizeof(sub), "%s", it_jstr(s, "stripe_subscription_id"));
    snprintf(id, sizeof(id), "%s", it_jstr(s, "id"));
    json_decref(s);
    assert_account(&c, "pro", "active", 70);
    assert_subscription_credits(&c, sub);
    it_stripe_customer(&c, cus, sizeof(cus));

    struct it_response r;
    subscribe(&c, "pro", &r);
    it_assert_problem(&r, 409, "conflict", NULL);
    it_response_free(&r);
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 1, "one subscription at Stripe");

    it_get("/api/v1/subscriptions/current", c.api_key, &r);
    s = it_assert_json(&r, 200);
    it_response_free(&r);
    cr_assert_str_eq(it_jstr(s, "id"), id);
    cr_assert_str_eq(it_jstr(s, "stripe_subscription_id"), sub);
    cr_assert_str_eq(it_jstr(s, "status"), "active");
    json_decref(s);

    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *headers[] = {auth, NULL};
    it_send("DELETE", "/api/v1/subscriptions/current?at_period_end=true", headers, NULL, 0, &r);
    s = it_assert_json(&r, 200);
    it_response_free(&r);
    cr_assert(json_is_true(it_jget(s, "cancel_at_period_end")));
    cr_assert_str_eq(it_jstr(s, "status"), "active");
    json_decref(s);
    assert_account(&c, "pro", "active", 70);
    char path[96];
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    s = it_stripe_get(path, NULL);
    cr_assert(json_is_true(it_jget(s, "cancel_at_period_end")));
    json_decref(s);

    it_send("DELETE", "/api/v1/subscriptions/current", headers, NULL, 0, &r);
    s = it_assert_json(&r, 200);
    it_response_free(&r);
    cr_assert_str_eq(it_jstr(s, "status"), "canceled");
    json_decref(s);
    assert_account(&c, "payg", "active", 70);
    s = it_stripe_get(path, NULL);
    cr_assert_str_eq(it_jstr(s, "status"), "canceled");
    json_decref(s);
    it_get("/api/v1/subscriptions/current", c.api_key, &r);
    it_assert_problem(&r, 404, "not-found", NULL);
    it_response_free(&r);
}

Test(billing, pro_overage_is_charged_at_1500)
{
    struct it_customer c;
    json_decref(pro(&c));
    it_zero_balance(&c);
    struct it_response r;
    json_t *j = fix(&c, "overage", "fix-overage", 201, &r);
    assert_charged(j, 1500);
    json_decref(j);
    it_response_free(&r);
    assert_one_charge(&c, 1500, "pro");
    assert_account(&c, "pro", "active", 0);
}

/* preview: GET /api/v1/subscriptions/preview?plan=pro, checked. */
static void assert_preview(const struct it_customer *c)
{
    struct it_response r;
    it_get("/api/v1/subscriptions/preview?plan=pro", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    cr_assert_str_eq(it_jstr(j, "plan"), "pro");
    cr_assert_str_eq(it_jstr(j, "currency"), "usd");
    cr_assert_eq(it_jint(j, "amount_due_cents"), 59900);
    json_t *lines = it_jget(j, "lines");
    cr_assert(json_is_array(lines) && json_array_size(lines) >= 1, "lines: %zu",
              json_array_size(lines));
    cr_assert_eq(it_jint(json_array_get(lines, 0), "amount_cents"), 59900);
    cr_assert(json_is_string(it_jget(json_array_get(lines, 0), "period_end")));
    json_decref(j);
}

Test(billing, invoice_preview_with_and_without_a_subscription)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    assert_preview(&c);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"), 0,
                 "a preview subscribes no one");
    struct it_response r;
    subscribe(&c, "pro", &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
    assert_preview(&c);
    it_get("/api/v1/subscriptions/preview?plan=gold", c.api_key, &r);
    it_assert_problem(&r, 400, "validation-failed", "plan");
    it_response_free(&r);
}

Test(billing, declined_first_invoice_leaves_no_subscription)
{
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_chargeCustomerFail");
    struct it_response r;
    subscribe(&c, "pro", &r);
    it_assert_problem(&r, 402, "payment-failed", NULL);
    json_t *j = it_json(&r);
    cr_assert_str_eq(it_jstr(j, "decline_code"), "generic_decline", "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    assert_account(&c, "payg", "active", 10);
    it_get("/api/v1/subscriptions/current", c.api_key, &r);
    it_assert_problem(&r, 404, "not-found", NULL);
    it_response_free(&r);
    char cus[64];
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 0, "nothing left at Stripe");

    it_add_card(&c, "pm_card_visa", true, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
    subscribe(&c, "pro", &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
    assert_account(&c, "pro", "active", 70);
    cr_assert_eq(entries(&c, "pro_subscription_payment"), 1);
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 1);
}

Test(billing, subscribing_needs_a_card_and_a_known_plan)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    subscribe(&c, "pro", &r);
    it_assert_problem(&r, 402, "payment-method-required", "payment method");
    it_response_free(&r);
    subscribe(&c, "gold", &r);
    it_assert_problem(&r, 400, "validation-failed", "plan");
    it_response_free(&r);
    assert_account(&c, "trial", "none", 5);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"), 0);
}
