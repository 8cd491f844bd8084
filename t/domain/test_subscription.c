/*
 * test_subscription: domain/subscription.c against the database and the
 * Stripe emulator (no webhooks: only what the domain's own calls bring
 * back). Subscribing to Pro with a card makes the subscription active, the
 * customer pro, and grants +60 pro_subscription_payment keyed by the paid
 * invoice's id; a second subscription is TG_ECONFLICT; without a card it
 * is TG_EPAYMENTMETHODREQUIRED, an unknown plan TG_EINVALID, and with the
 * billing_enabled kill switch off TG_EBILLINGDISABLED with a retry-after,
 * none of them recording anything; a declined first invoice is
 * TG_EPAYMENTFAILED, leaves no live subscription and grants nothing.
 * Cancelling now makes the customer payg and keeps the credits;
 * cancelling at period end keeps Pro with cancel_at_period_end set. A
 * create call whose answer was lost, resumed after Stripe forgot its
 * idempotency key (the row backdated 25 hours, the emulator's keys
 * forgotten), adopts the subscription it made instead of making another.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/flag.h"
#include "domain/payment.h"
#include "domain/subscription.h"
#include "fixture.h"
#include "integration/stripe.h"
#include "store/stripe_requests.h"

TestSuite(subscription, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

static long long rows_where(const struct fixture_customer *c, const char *sql)
{
    return fixture_ll(sql, c->id, NULL);
}

static void with_card(struct fixture_customer *c, const char *pm)
{
    fixture_customer(c);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    enum tg_err e = payment_method_add(ctx, c->id, pm, &cu);
    cr_assert_eq(e, TG_OK, "adding %s: %s (%s)", pm, tg_strerror(e),
                 ctx->error.detail ? ctx->error.detail : "");
}

static enum tg_err subscribe(const struct fixture_customer *c, const char *plan,
                             struct tg_ctx **ctx, struct subscription *out)
{
    *ctx = fixture_ctx();
    return subscription_create(*ctx, c->id, plan, out);
}

static void assert_tier(const struct fixture_customer *c, const char *tier)
{
    char t[16];
    fixture_text(t, sizeof(t), "SELECT tier FROM customers WHERE id = $1", c->id, NULL);
    cr_assert_str_eq(t, tier);
}

/* subscribed: c with a card (10 credits) and an active Pro subscription. */
static void subscribed(struct fixture_customer *c, struct subscription *s)
{
    with_card(c, "pm_card_visa");
    struct tg_ctx *ctx;
    enum tg_err e = subscribe(c, "pro", &ctx, s);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
}

Test(subscription, pro_grants_sixty_credits_keyed_by_invoice)
{
    struct fixture_customer c;
    struct subscription s;
    subscribed(&c, &s);
    cr_assert_str_eq(s.plan, "pro");
    cr_assert_str_eq(s.status, "active");
    cr_assert_not_null(s.stripe_subscription_id);
    cr_assert_eq(strncmp(s.stripe_subscription_id, "sub_", 4), 0);
    cr_assert_not(s.cancel_at_period_end);
    assert_tier(&c, "pro");
    cr_assert_eq(fixture_balance(&c), 70, "5 trial + 5 card + 60 Pro");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                                "   AND kind = 'pro_subscription_payment' AND amount = 60"
                                "   AND reference LIKE 'in\\_%'"),
                 1);

    struct tg_ctx *ctx = fixture_ctx();
    struct subscription cur;
    cr_assert_eq(subscription_current(ctx, c.id, &cur), TG_OK);
    cr_assert_str_eq(cur.id, s.id);

    struct subscription again;
    cr_assert_eq(subscribe(&c, "pro", &ctx, &again), TG_ECONFLICT);
    cr_assert_eq(ctx->error.code, TG_ECONFLICT);
    cr_assert_eq(fixture_rows("subscriptions", &c), 1);
    cr_assert_eq(fixture_balance(&c), 70);
}

Test(subscription, refusals_record_nothing)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct subscription s;
    cr_assert_eq(subscribe(&c, "pro", &ctx, &s), TG_EPAYMENTMETHODREQUIRED);
    cr_assert_eq(ctx->error.code, TG_EPAYMENTMETHODREQUIRED);
    cr_assert_eq(subscribe(&c, "gold", &ctx, &s), TG_EINVALID);

    fixture_flag(FLAG_BILLING_ENABLED, 0);
    fixture_billing(&c, "payg", "active");
    cr_assert_eq(subscribe(&c, "pro", &ctx, &s), TG_EBILLINGDISABLED);
    cr_assert_gt(ctx->error.retry_after, 0);
    fixture_flag(FLAG_BILLING_ENABLED, 100);

    cr_assert_eq(fixture_rows("subscriptions", &c), 0);
    cr_assert_eq(fixture_rows("stripe_requests", &c), 0);
    cr_assert_eq(fixture_balance(&c), 5);
    ctx = fixture_ctx();
    cr_assert_eq(subscription_current(ctx, c.id, &s), TG_ENOTFOUND);
}

Test(subscription, declined_first_invoice_creates_nothing)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_chargeCustomerFail");
    long long balance = fixture_balance(&c);
    struct tg_ctx *ctx;
    struct subscription s;
    cr_assert_eq(subscribe(&c, "pro", &ctx, &s), TG_EPAYMENTFAILED);
    cr_assert_eq(ctx->error.code, TG_EPAYMENTFAILED);
    cr_assert_eq(fixture_balance(&c), balance, "credits were granted");
    assert_tier(&c, "payg");
    ctx = fixture_ctx();
    cr_assert_eq(subscription_current(ctx, c.id, &s), TG_ENOTFOUND, "a live subscription is left");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"
                                "   AND status = 'pending'"),
                 0);
}

Test(subscription, cancel_now_keeps_the_credits)
{
    struct fixture_customer c;
    struct subscription s;
    subscribed(&c, &s);
    struct tg_ctx *ctx = fixture_ctx();
    struct subscription out;
    enum tg_err e = subscription_cancel(ctx, c.id, false, &out);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(out.status, "canceled");
    assert_tier(&c, "payg");
    cr_assert_eq(fixture_balance(&c), 70, "credits are kept");
    ctx = fixture_ctx();
    cr_assert_eq(subscription_current(ctx, c.id, &out), TG_ENOTFOUND);
    ctx = fixture_ctx();
    cr_assert_eq(subscription_cancel(ctx, c.id, false, &out), TG_ENOTFOUND);
}

Test(subscription, cancel_at_period_end_keeps_pro)
{
    struct fixture_customer c;
    struct subscription s;
    subscribed(&c, &s);
    struct tg_ctx *ctx = fixture_ctx();
    struct subscription out;
    cr_assert_eq(subscription_cancel(ctx, c.id, true, &out), TG_OK);
    cr_assert(out.cancel_at_period_end);
    cr_assert_str_eq(out.status, "active");
    assert_tier(&c, "pro");
    cr_assert_eq(fixture_balance(&c), 70);
    ctx = fixture_ctx();
    cr_assert_eq(subscription_current(ctx, c.id, &out), TG_OK);
    cr_assert(out.cancel_at_period_end);
}

static size_t stripe_subscriptions(const struct fixture_customer *c)
{
    char cus[64];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c->id,
                 NULL);
    const struct stripe_param q[] = {{"customer", cus}, {"status", "all"}};
    return json_array_size(json_object_get(fixture_stripe("GET", "/v1/subscriptions", q, 2), "data"));
}

Test(subscription, a_create_resumed_after_stripe_forgot_its_key_adopts_its_subscription)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    /* Stripe makes the subscription, but every answer is lost. */
    const struct stripe_param fault[] = {{"mode", "error"},  {"status", "500"},
                                         {"phase", "after"}, {"method", "POST"},
                                         {"path", "/v1/subscriptions"}, {"count", "50"}};
    fixture_stripe("POST", "/_emulator/faults", fault, 6);
    struct tg_ctx *ctx;
    struct subscription s;
    enum tg_err e = subscribe(&c, "pro", &ctx, &s);
    fixture_stripe("DELETE", "/_emulator/faults", NULL, 0);
    cr_assert_eq(e, TG_EUPSTREAM, "%s", tg_strerror(e));
    cr_assert_eq(stripe_subscriptions(&c), 1, "Stripe made the subscription");
    cr_assert_eq(fixture_balance(&c), 10);

    /* More than a day later Stripe has forgotten the key. */
    fixture_stripe_forget(&c);
    ctx = fixture_ctx();
    struct stripe_request *calls;
    size_t n, ours = 0;
    cr_assert_eq(stripe_requests_claim(ctx, 100, 0, &calls, &n), TG_OK);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(calls[i].customer_id, c.id) != 0)
            continue;
        cr_assert_str_eq(calls[i].operation, "create_subscription");
        e = subscription_run(ctx, &calls[i], NULL);
        cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e),
                     ctx->error.detail ? ctx->error.detail : "");
        ours++;
    }
    cr_assert_eq(ours, 1);
    cr_assert_eq(stripe_subscriptions(&c), 1, "a second subscription was made");
    assert_tier(&c, "pro");
    cr_assert_eq(fixture_balance(&c), 70, "the adopted subscription's invoice grants once");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"
                                "   AND status = 'active'"
                                "   AND stripe_subscription_id LIKE 'sub\\_%'"),
                 1);
}
