/*
 * test_metrics: GET /metrics counts exactly what a known journey did.
 * One customer signs up, adds a card with billing consent, deploys a fix
 * with a credit, one at balance 0 (charged through the Stripe emulator),
 * repeats that request (a replay, not a new fix), a Stripe webhook with
 * a bad signature is refused, and the customer subscribes to Pro (its
 * first invoice paid; Stripe's invoice.paid applied by tollgate-worker)
 * and cancels it at once; each counter's increase between a
 * scrape before and one after is asserted exactly. The run-metrics
 * wrapper gives this program a stack of its own (nothing else runs
 * against it), so global counters move only by what it does.
 * Then the scrape is fed to `promtool check metrics` (skipped when
 * promtool is not installed).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness_webhooks.h"

TestSuite(metrics, .init = wh_init, .fini = wh_fini, .timeout = 120);

/* sum: the sum of the samples of every series starting with prefix. */
static double sum(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    double total = 0;
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, n) == 0) {
            const char *sp = strchr(p, ' ');
            if (sp != NULL)
                total += strtod(sp + 1, NULL);
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return total;
}

static void assert_delta(const char *before, const char *after, const char *series, double want)
{
    double got = it_metrics_value(after, series) - it_metrics_value(before, series);
    cr_expect_eq(got, want, "%s: increased by %g, expected %g", series, got, want);
}

/* bad_signature: a well-formed event signed with a secret that is not
 * the stack's, now: refused 400 for its signature. */
static void bad_signature(void)
{
    char id[64], sig[256];
    wh_event_id(id, sizeof(id));
    json_t *obj = json_pack("{s:s, s:s}", "id", "in_metricsbadsig", "object", "invoice");
    char *body = wh_event(id, "invoice.paid", obj);
    json_decref(obj);
    wh_sign("whsec_not_the_stacks_secret", body, strlen(body), (long long)time(NULL), sig,
            sizeof(sig));
    struct it_response r;
    wh_post(body, strlen(body), sig, &r);
    cr_assert_eq(r.status, 400, "bad signature: %ld %s", r.status, r.body);
    it_response_free(&r);
    free(body);
}

/* subscribe_and_cancel: Pro for c (201: Stripe's first invoice paid at
 * once), then cancelled now (200, canceled); Stripe's webhooks about it
 * (invoice.paid among them) applied by tollgate-worker. */
static void subscribe_and_cancel(const struct it_customer *c)
{
    struct it_response r;
    char cus[64], auth[160];
    it_post_json("/api/v1/subscriptions", c->api_key, NULL, "{\"plan\":\"pro\"}", &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
    it_stripe_customer(c, cus, sizeof(cus));
    wh_settle(cus, 30);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    const char *headers[] = {auth, NULL};
    it_send("DELETE", "/api/v1/subscriptions/current", headers, NULL, 0, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "status"), "canceled");
    json_decref(j);
    it_response_free(&r);
    wh_settle(cus, 30);
}

Test(metrics, journey_counts_exactly)
{
    struct it_customer c;
    struct it_response r;
    char *before = it_metrics_scrape();

    onboard(&c);
    it_add_card(&c, "pm_card_visa", true, &r);
    cr_assert_eq(r.status, 200, "add card: %ld %s", r.status, r.body);
    it_response_free(&r);
    it_post_usage(&c, "metrics-fix-1", "fix-1", &r);
    cr_assert_eq(r.status, 201, "fix with a credit: %ld %s", r.status, r.body);
    it_response_free(&r);
    it_zero_balance(&c);
    it_post_usage(&c, "metrics-fix-2", "fix-2", &r);
    cr_assert_eq(r.status, 201, "fix charged: %ld %s", r.status, r.body);
    it_response_free(&r);
    it_post_usage(&c, "metrics-fix-2", "fix-2", &r);
    cr_assert_eq(r.status, 201, "replay: %ld %s", r.status, r.body);
    cr_assert_str_eq(it_header(&r, "Idempotent-Replayed"), "true");
    it_response_free(&r);
    bad_signature();
    subscribe_and_cancel(&c);
    char pro_paid[32], pro_credits[32];
    it_db_str(&c,
              "SELECT coalesce(sum(amount_paid), 0) FROM stripe_invoices WHERE customer_id = $1",
              pro_paid, sizeof(pro_paid));
    it_db_str(
        &c,
        "SELECT included_credits FROM pricing_tiers WHERE tier = 'pro' AND $1::uuid IS NOT NULL",
        pro_credits, sizeof(pro_credits));

    char *after = it_metrics_scrape();
    assert_delta(before, after, "tollgate_signups_total{source=\"api\"}", 1);
    assert_delta(before, after, "tollgate_signups_total{source=\"github_marketplace\"}", 0);
    assert_delta(before, after, "tollgate_payment_methods_added_total", 1);
    assert_delta(before, after, "tollgate_tier_transitions_total{from=\"none\",to=\"trial\"}", 1);
    assert_delta(before, after, "tollgate_tier_transitions_total{from=\"trial\",to=\"payg\"}", 1);
    assert_delta(before, after, "tollgate_credits_granted_total{kind=\"trial_signup\"}", 5);
    assert_delta(before, after, "tollgate_credits_granted_total{kind=\"trial_billing_added\"}", 5);
    assert_delta(before, after, "tollgate_credits_granted_total{kind=\"purchased\"}", 1);
    assert_delta(before, after, "tollgate_credits_consumed_total", 2);
    assert_delta(before, after, "tollgate_usage_events_total{outcome=\"credit\"}", 1);
    assert_delta(before, after, "tollgate_usage_events_total{outcome=\"charged\"}", 1);
    assert_delta(before, after, "tollgate_usage_events_total{outcome=\"replayed\"}", 1);
    assert_delta(before, after, "tollgate_usage_events_total{outcome=\"refused\"}", 0);
    assert_delta(before, after, "tollgate_usage_events_total{outcome=\"unbilled\"}", 0);
    assert_delta(before, after,
                 "tollgate_payments_total{kind=\"fix_charge\",outcome=\"succeeded\"}", 1);
    assert_delta(before, after, "tollgate_payments_total{kind=\"fix_charge\",outcome=\"failed\"}",
                 0);
    assert_delta(before, after,
                 "tollgate_payment_amount_cents_total{kind=\"fix_charge\",outcome=\"succeeded\","
                 "currency=\"usd\"}",
                 2900);
    assert_delta(before, after,
                 "tollgate_stripe_requests_total{operation=\"create_payment_intent\","
                 "status_class=\"2xx\"}",
                 1);
    assert_delta(
        before, after,
        "tollgate_stripe_request_duration_seconds_count{operation=\"create_payment_intent\"}", 1);
    assert_delta(before, after,
                 "tollgate_stripe_requests_total{operation=\"create_customer\","
                 "status_class=\"2xx\"}",
                 1);
    assert_delta(before, after,
                 "tollgate_webhooks_received_total{source=\"stripe\",type=\"other\","
                 "outcome=\"rejected\",reason=\"signature\"}",
                 1);
    assert_delta(before, after,
                 "tollgate_http_requests_total{route=\"usage_create\",status=\"201\"}", 3);
    /* Pro: started by its first invoice, paid; cancelled now. */
    assert_delta(before, after, "tollgate_subscriptions_created_total{plan=\"pro\"}", 1);
    assert_delta(before, after, "tollgate_subscriptions_renewed_total{plan=\"pro\"}", 0);
    assert_delta(before, after,
                 "tollgate_subscriptions_canceled_total{plan=\"pro\",reason=\"immediately\"}", 1);
    assert_delta(before, after,
                 "tollgate_subscriptions_canceled_total{plan=\"pro\",reason=\"period_end\"}", 0);
    assert_delta(before, after, "tollgate_invoices_total{outcome=\"paid\"}", 1);
    assert_delta(before, after, "tollgate_invoices_total{outcome=\"payment_failed\"}", 0);
    assert_delta(before, after, "tollgate_payments_total{kind=\"invoice\",outcome=\"succeeded\"}",
                 1);
    cr_assert_gt(atof(pro_paid), 0, "the Pro invoice was recorded as paid");
    assert_delta(before, after,
                 "tollgate_payment_amount_cents_total{kind=\"invoice\",outcome=\"succeeded\","
                 "currency=\"usd\"}",
                 atof(pro_paid));
    assert_delta(before, after, "tollgate_credits_granted_total{kind=\"pro_subscription_payment\"}",
                 atof(pro_credits));
    assert_delta(before, after, "tollgate_tier_transitions_total{from=\"payg\",to=\"pro\"}", 1);
    assert_delta(before, after, "tollgate_tier_transitions_total{from=\"pro\",to=\"payg\"}", 1);
    assert_delta(before, after,
                 "tollgate_stripe_requests_total{operation=\"create_subscription\","
                 "status_class=\"2xx\"}",
                 1);
    assert_delta(before, after,
                 "tollgate_stripe_requests_total{operation=\"cancel_subscription\","
                 "status_class=\"2xx\"}",
                 1);
    /* Stripe's invoice.paid: stored once and applied once by tollgate-worker. */
    assert_delta(before, after,
                 "tollgate_webhooks_received_total{source=\"stripe\",type=\"invoice.paid\","
                 "outcome=\"stored\",reason=\"\"}",
                 1);
    double applied = sum(after, "tollgate_webhooks_applied_total{source=\"stripe\","
                                "type=\"invoice.paid\",") -
                     sum(before, "tollgate_webhooks_applied_total{source=\"stripe\","
                                 "type=\"invoice.paid\",");
    cr_expect_eq(applied, 1, "invoice.paid applied %g times", applied);
    double lag = it_metrics_value(after, "tollgate_webhook_lag_seconds_count{source=\"stripe\"}") -
                 it_metrics_value(before, "tollgate_webhook_lag_seconds_count{source=\"stripe\"}");
    cr_expect_geq(lag, 1, "the lag of the applied events was observed");
    cr_expect_gt(
        it_metrics_value(after, "tollgate_worker_job_last_run_timestamp_seconds{worker_job=\"webhook_events\"}"), 0);
    free(before);
    free(after);
}

/* promtool check metrics on a scrape after the traffic above and of the
 * other programs. */
Test(metrics, promtool_check_metrics)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        cr_skip_test("promtool not installed (Debian: prometheus)");
    char *text = it_metrics_scrape();
    char path[] = "/tmp/tollgate-metrics-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char out[8192];
    const char *argv[] = {"/bin/sh", "-c", "promtool check metrics < \"$0\" 2>&1", path, NULL};
    int rc = it_run(argv, NULL, out, sizeof(out));
    unlink(path);
    cr_expect_eq(rc, 0, "promtool check metrics: %s", out);
    free(text);
}
