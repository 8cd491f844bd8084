/*
 * test_charge: domain/charge.c, reached the way requests reach it --
 * usage_record_fix at balance 0 for a customer with a card -- against the
 * database and the Stripe emulator (cards set up with payment_method_add).
 * payg at 0 is charged $29.00 (2900 usd) and writes +1 purchased then -1
 * fix_deployed, leaving the balance at 0, with one succeeded charge and
 * one PaymentIntent; its replay is the same event and charges nothing
 * more. pro at 0 is charged the overage, 1500. A declined charge is
 * TG_EPAYMENTFAILED with Stripe's decline_code, consumes nothing (no
 * event, no entries, the charge failed) and leaves the key free for a
 * retry. With the billing_enabled kill switch off nothing is sent to
 * Stripe: the fix is "unbilled". With Stripe unreachable the fix is let
 * through as charged with the charge pending, and charge_resume (what
 * tollgate-worker runs for the pending call, same key) settles it: paid,
 * with no second entry or PaymentIntent even when resumed twice; declined,
 * the customer owes it and is past_due for grace_period_days, until a new
 * card pays it at once (active again, no new entries); while its retry is
 * pending it is still owed (a paid invoice meanwhile settles nothing, a
 * declined retry keeps the grace period running). A process killed
 * between phase 1 and the call (failpoint charge.before_send; skipped
 * without --enable-failpoints) leaves the event in progress -- its retry
 * is TG_ECONFLICT with a retry-after, nothing consumed -- until
 * charge_resume charges it once. A call whose PaymentIntent Stripe made but
 * whose answer was lost, resumed after Stripe forgot its idempotency key
 * (24 hours: the row backdated, the emulator told to forget), adopts that
 * PaymentIntent -- found by the call id tollgate puts in its metadata --
 * instead of making a second one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/failpoint.h"
#include "domain/charge.h"
#include "domain/flag.h"
#include "domain/payment.h"
#include "domain/stripe_webhook.h"
#include "domain/usage.h"
#include "fixture.h"
#include "integration/stripe.h"
#include "store/stripe_requests.h"

TestSuite(charge, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* with_card: a customer with payment method pm (a test card of the
 * emulator) added through the domain, then brought to balance 0. */
static void with_card(struct fixture_customer *c, const char *pm)
{
    fixture_customer(c);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    enum tg_err e = payment_method_add(ctx, c->id, pm, &cu);
    cr_assert_eq(e, TG_OK, "adding %s: %s (%s)", pm, tg_strerror(e),
                 ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(cu.tier, "payg");
    fixture_set_balance(c, 0);
}

static enum tg_err fix(const struct fixture_customer *c, const char *idem, const char *fix_id,
                       struct tg_ctx **ctx, struct usage_result *res)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", fix_id);
    *ctx = fixture_ctx();
    return usage_record_fix(*ctx, c->api_key, idem, body, strlen(body), fix_id, NULL, res);
}

static long long rows_where(const struct fixture_customer *c, const char *sql)
{
    return fixture_ll(sql, c->id, NULL);
}

/* stripe_intents: how many PaymentIntents Stripe (the emulator) holds for
 * c's Stripe customer, asked with libtollgate's own client. */
static size_t stripe_intents(const struct fixture_customer *c)
{
    char cus[64];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c->id,
                 NULL);
    struct tg_ctx *ctx = fixture_ctx();
    const struct stripe_param q[] = {{"customer", cus}, {"limit", "100"}};
    struct stripe_result r;
    cr_assert_eq(stripe_call(ctx, "GET", "/v1/payment_intents", q, 2, NULL, &r), TG_OK);
    cr_assert_eq(r.outcome, STRIPE_OK, "GET /v1/payment_intents: %d", r.status);
    return json_array_size(json_object_get(r.body, "data"));
}

/* assert_charged_once: c's ledger ends +1 purchased, -1 fix_deployed at
 * balance 0, and c has exactly one charge: succeeded, cents usd, with a
 * PaymentIntent, the only one at Stripe. */
static void assert_charged_once(const struct fixture_customer *c, long long cents, const char *tier)
{
    struct fixture_entry e[16];
    size_t n = fixture_ledger(c, e, 16);
    cr_assert(n >= 2 && n <= 16);
    cr_assert_str_eq(e[n - 2].kind, "purchased");
    cr_assert_eq(e[n - 2].amount, 1);
    cr_assert_eq(e[n - 2].balance_after, 1);
    cr_assert_str_eq(e[n - 1].kind, "fix_deployed");
    cr_assert_eq(e[n - 1].amount, -1);
    cr_assert_eq(e[n - 1].balance_after, 0);
    cr_assert_eq(fixture_balance(c), 0);
    cr_assert_eq(rows_where(c, "SELECT count(*) FROM credit_transactions"
                               " WHERE customer_id = $1 AND kind = 'purchased'"),
                 1);
    cr_assert_eq(fixture_rows("charges", c), 1);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM charges WHERE customer_id = $1 AND status = 'succeeded'"
             "   AND amount_cents = %lld AND currency = 'usd' AND tier = '%s'"
             "   AND stripe_payment_intent_id LIKE 'pi\\_%%'",
             cents, tier);
    cr_assert_eq(rows_where(c, sql), 1, "no succeeded charge of %lld in %s", cents, tier);
    cr_assert_eq(stripe_intents(c), 1, "PaymentIntents at Stripe");
}

Test(charge, payg_at_zero_is_charged_once)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    struct tg_ctx *ctx;
    struct usage_result first, again;
    enum tg_err e = fix(&c, "k-charge", "fix-c", &ctx, &first);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(first.event.outcome, "charged");
    cr_assert_eq(first.event.amount_cents, 2900);
    cr_assert_str_eq(first.event.currency, "usd");
    cr_assert_eq(first.event.balance_after, 0);
    cr_assert_neq(first.event.charge_id, 0);
    cr_assert_not(first.event.replayed);
    assert_charged_once(&c, 2900, "payg");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                "   AND outcome = 'charged'"),
                 1);

    cr_assert_eq(fix(&c, "k-charge", "fix-c", &ctx, &again), TG_OK);
    cr_assert(again.event.replayed);
    cr_assert_eq(again.event.id, first.event.id);
    cr_assert_str_eq(again.event.created_at, first.event.created_at);
    cr_assert_str_eq(again.event.outcome, "charged");
    cr_assert_eq(again.event.charge_id, first.event.charge_id);
    cr_assert_eq(again.event.amount_cents, 2900);
    assert_charged_once(&c, 2900, "payg");
}

Test(charge, pro_at_zero_pays_the_overage)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    fixture_exec("UPDATE customers SET tier = 'pro' WHERE id = $1", c.id, NULL);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(&c, "k-pro", "fix-p", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "charged");
    cr_assert_eq(r.event.amount_cents, 1500);
    assert_charged_once(&c, 1500, "pro");
}

Test(charge, declined_charge_consumes_nothing)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_chargeCustomerFail");
    long long entries = fixture_rows("credit_transactions", &c);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(&c, "k-declined", "fix-d", &ctx, &r), TG_EPAYMENTFAILED);
    cr_assert_eq(ctx->error.code, TG_EPAYMENTFAILED);
    json_t *decline = json_object_get(ctx->error.extra, "decline_code");
    cr_assert_str_eq(json_string_value(decline), "generic_decline");
    cr_assert_eq(fixture_balance(&c), 0);
    cr_assert_eq(fixture_rows("credit_transactions", &c), entries, "an entry was written");
    cr_assert_eq(fixture_rows("usage_events", &c), 0, "the refused fix left an event");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'failed'"),
                 1);

    /* The key is free: with a credit the same request is paid from it. */
    fixture_add_credits(&c, 1);
    cr_assert_eq(fix(&c, "k-declined", "fix-d", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "credit");
    cr_assert_not(r.event.replayed);
}

Test(charge, kill_switch_sends_nothing_to_stripe)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    long long calls = fixture_rows("stripe_requests", &c);
    fixture_flag(FLAG_BILLING_ENABLED, 0);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(&c, "k-off", "fix-off", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "unbilled");
    cr_assert_eq(fixture_rows("charges", &c), 0);
    cr_assert_eq(fixture_rows("stripe_requests", &c), calls, "a Stripe call was recorded");
    cr_assert_eq(fixture_balance(&c), 0);
}

/* unreachable_fix: a fix at balance 0 with ctx's Stripe client taken away,
 * as when Stripe cannot be reached: allowed, charged, the charge pending. */
static void unreachable_fix(const struct fixture_customer *c, struct usage_result *r)
{
    struct tg_ctx *ctx = fixture_ctx();
    struct service none = *ctx->svc;
    none.stripe = NULL;
    ctx->svc = &none;
    const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"fix-u\"}";
    enum tg_err e =
        usage_record_fix(ctx, c->api_key, "k-unreachable", body, strlen(body), "fix-u", NULL, r);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(r->event.outcome, "charged");
    cr_assert_eq(r->event.balance_after, 0);
    cr_assert_eq(rows_where(c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                               "   AND status = 'pending'"),
                 1);
    cr_assert_eq(rows_where(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                               "   AND kind IN ('purchased', 'fix_deployed')"),
                 2, "+1 purchased -1 fix_deployed at once");
}

/* resume: claim c's pending charge call (made due now) and run
 * charge_resume on it, as tollgate-worker does; the call (owned by the
 * test's arenas) in *out. */
static void resume(const struct fixture_customer *c, const struct stripe_request **out)
{
    fixture_exec("UPDATE stripe_requests SET next_attempt_at = now()"
                 " WHERE customer_id = $1 AND status = 'pending'",
                 c->id, NULL);
    struct tg_ctx *ctx = fixture_ctx();
    struct stripe_request *calls;
    size_t n;
    cr_assert_eq(stripe_requests_claim(ctx, 100, 0, &calls, &n), TG_OK);
    size_t ours = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(calls[i].customer_id, c->id) != 0)
            continue;
        cr_assert_str_eq(calls[i].operation, "charge");
        enum tg_err e = charge_resume(ctx, &calls[i]);
        cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e),
                     ctx->error.detail ? ctx->error.detail : "");
        *out = &calls[i];
        ours++;
    }
    cr_assert_eq(ours, 1, "%zu pending charge calls", ours);
}

Test(charge, unreachable_stripe_is_settled_by_the_worker)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    struct usage_result first, again;
    unreachable_fix(&c, &first);

    struct tg_ctx *ctx;
    cr_assert_eq(fix(&c, "k-unreachable", "fix-u", &ctx, &again), TG_OK);
    cr_assert(again.event.replayed);
    cr_assert_eq(again.event.id, first.event.id);
    cr_assert_str_eq(again.event.outcome, "charged");

    const struct stripe_request *call;
    resume(&c, &call);
    assert_charged_once(&c, 2900, "payg");
    const char *succeeded = "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"
                            "   AND operation = 'charge' AND status = 'succeeded'";
    cr_assert_eq(rows_where(&c, succeeded), 1);

    /* The same call run again (a second worker that claimed it before the
     * first finished) sends the same key: nothing more is charged or
     * written. */
    ctx = fixture_ctx();
    cr_assert_eq(charge_resume(ctx, call), TG_OK);
    assert_charged_once(&c, 2900, "payg");
    cr_assert_eq(rows_where(&c, succeeded), 1);
}

Test(charge, declined_after_the_fix_is_owed_until_a_new_card_pays)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_chargeCustomerFail");
    fixture_config()->grace_period_days = 3;
    struct usage_result r;
    unreachable_fix(&c, &r);
    const struct stripe_request *call;
    resume(&c, &call);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'failed' AND decline_code = 'generic_decline'"),
                 1);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                "   AND billing_status = 'past_due'"
                                "   AND grace_period_ends_at > now() + interval '2 days'"
                                "   AND grace_period_ends_at < now() + interval '4 days'"),
                 1, "not past_due with a grace period of 3 days");
    /* The fix was delivered: its entries stay, and so does the event. */
    cr_assert_eq(fixture_balance(&c), 0);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                "   AND outcome = 'charged'"),
                 1);
    long long entries = fixture_rows("credit_transactions", &c);

    /* A new card pays what is owed at once, and the answer says so. */
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    enum tg_err e = payment_method_add(ctx, c.id, "pm_card_visa", &cu);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'succeeded'"),
                 1, "the owed charge was not paid");
    cr_assert_eq(rows_where(&c,
                            "SELECT count(*) FROM customers WHERE id = $1"
                            "   AND billing_status = 'active' AND grace_period_ends_at IS NULL"),
                 1, "still past due after paying");
    cr_assert_str_eq(cu.billing_status, "active", "payment_method_add answered a stale state");
    cr_assert_null(cu.grace_period_ends_at);
    cr_assert_eq(fixture_rows("credit_transactions", &c), entries, "paying wrote entries");
    cr_assert_eq(fixture_balance(&c), 0);
}

/* What is owed stays owed while it is being paid: an owed charge retried
 * (charge_retry_owed, Stripe unreachable, so the retry is left pending)
 * keeps the customer past_due through a paid invoice meanwhile, and when
 * the retry is declined too the grace period that was running goes on; a
 * fresh one does not start. */
Test(charge, owed_charge_being_retried_is_still_owed)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_chargeCustomerFail");
    fixture_config()->grace_period_days = 3;
    struct usage_result r;
    unreachable_fix(&c, &r);
    const struct stripe_request *call;
    resume(&c, &call);
    const char *state = "SELECT billing_status || ' ' || coalesce(grace_period_ends_at::text, '-')"
                        "  FROM customers WHERE id = $1";
    char before[128], now[128];
    fixture_text(before, sizeof(before), state, c.id, NULL);
    cr_assert_eq(strncmp(before, "past_due ", 9), 0, "%s", before);

    /* The retry, with Stripe unreachable: left pending for the worker. */
    struct tg_ctx *ctx = fixture_ctx();
    struct service none = *ctx->svc;
    none.stripe = NULL;
    ctx->svc = &none;
    enum tg_err e = charge_retry_owed(ctx, c.id);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'pending'"),
                 1, "the retry is not pending");

    /* An invoice of the customer is paid meanwhile (invoice.paid). */
    char cus[64], event[256];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c.id,
                 NULL);
    snprintf(event, sizeof(event),
             "{\"id\":\"evt_owed\",\"type\":\"invoice.paid\","
             "\"data\":{\"object\":{\"id\":\"in_owed\",\"customer\":\"%s\"}}}",
             cus);
    json_t *ev = json_loads(event, 0, NULL);
    cr_assert_not_null(ev);
    bool ignored;
    ctx = fixture_ctx();
    e = stripe_webhook_apply(ctx, ev, &ignored);
    json_decref(ev);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    fixture_text(now, sizeof(now), state, c.id, NULL);
    cr_assert_str_eq(now, before, "settled while the owed charge is still being paid");

    /* The retry is declined as well: still past_due, the same grace. */
    resume(&c, &call);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'failed'"),
                 1);
    fixture_text(now, sizeof(now), state, c.id, NULL);
    cr_assert_str_eq(now, before, "the grace period started again");
}

Test(charge, crash_before_send_is_in_progress_until_resumed)
{
    if (getenv("TOLLGATE_FAILPOINTS") == NULL)
        cr_skip_test("built without --enable-failpoints");
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"fix-crash\"}";

    /* A worker process dies between phase 1 (committed) and the call. */
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct tg_ctx *ctx = fixture_ctx_forked();
        struct usage_result r;
        if (ctx == NULL || setenv("TOLLGATE_FAILPOINT", "charge.before_send", 1) != 0)
            _exit(1);
        enum tg_err e =
            usage_record_fix(ctx, c.api_key, "k-crash", body, strlen(body), "fix-crash", NULL, &r);
        _exit(e == TG_OK ? 2 : 3); /* the failpoint was not reached */
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == FAILPOINT_EXIT, "the child ended with %d",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"
                                "   AND outcome = 'processing'"),
                 1);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'pending'"),
                 1);
    long long entries = fixture_rows("credit_transactions", &c);
    cr_assert_eq(stripe_intents(&c), 0, "the call was sent");

    /* Its retry is told to come back: the first request is still being
     * charged. */
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(&c, "k-crash", "fix-crash", &ctx, &r), TG_ECONFLICT);
    cr_assert_eq(ctx->error.code, TG_ECONFLICT);
    cr_assert_gt(ctx->error.retry_after, 0);
    cr_assert_eq(fixture_rows("credit_transactions", &c), entries);

    /* tollgate-worker finishes it with the same key; then the retry is
     * answered the charged event. */
    const struct stripe_request *call;
    resume(&c, &call);
    assert_charged_once(&c, 2900, "payg");
    cr_assert_eq(fix(&c, "k-crash", "fix-crash", &ctx, &r), TG_OK);
    cr_assert(r.event.replayed);
    cr_assert_str_eq(r.event.outcome, "charged");
    cr_assert_eq(r.event.amount_cents, 2900);
}

Test(charge, a_call_resumed_after_stripe_forgot_its_key_adopts_its_payment_intent)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    /* Stripe makes the PaymentIntent, but every answer is lost. */
    const struct stripe_param fault[] = {{"mode", "error"},       {"status", "500"},
                                         {"phase", "after"},      {"method", "POST"},
                                         {"path", "/v1/payment_intents"}, {"count", "50"}};
    fixture_stripe("POST", "/_emulator/faults", fault, 6);
    struct tg_ctx *ctx;
    struct usage_result r;
    enum tg_err e = fix(&c, "k-lost", "fix-lost", &ctx, &r);
    fixture_stripe("DELETE", "/_emulator/faults", NULL, 0);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(r.event.outcome, "charged");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                "   AND status = 'pending'"),
                 1);
    cr_assert_eq(stripe_intents(&c), 1, "Stripe made the PaymentIntent");

    /* A day and more later (the worker was down): Stripe has forgotten the
     * key, so sending the call again would charge a second time. */
    fixture_stripe_forget(&c);
    const struct stripe_request *call;
    resume(&c, &call);
    assert_charged_once(&c, 2900, "payg");

    /* The PaymentIntent names its call. */
    char cus[64], want[32];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c.id,
                 NULL);
    ctx = fixture_ctx();
    const struct stripe_param q[] = {{"customer", cus}};
    struct stripe_result list;
    cr_assert_eq(stripe_call(ctx, "GET", "/v1/payment_intents", q, 1, NULL, &list), TG_OK);
    json_t *meta = json_object_get(json_array_get(json_object_get(list.body, "data"), 0),
                                   "metadata");
    snprintf(want, sizeof(want), "%lld", call->id);
    cr_assert_str_eq(json_string_value(json_object_get(meta, "tollgate_request_id")), want);
}
