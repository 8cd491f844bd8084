/*
 * test_payment: domain/payment.c and domain/stripe_customer.c against the
 * database and the Stripe emulator. Adding a card with billing consent
 * creates the Stripe customer, attaches the card and makes it the default,
 * moves a trial customer to payg with billing active and grants +5
 * trial_billing_added -- once ever: a second card changes the default and
 * grants nothing, and the Stripe customer stays the same; racing cards
 * make one Stripe customer and one bonus. A declined card
 * is TG_EPAYMENTFAILED with Stripe's decline_code and changes nothing (the
 * call is recorded as failed, not left pending). Without a Stripe client
 * payment_method_add is TG_EUPSTREAM and records nothing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/payment.h"
#include "fixture.h"

TestSuite(payment, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

static long long rows_where(const struct fixture_customer *c, const char *sql)
{
    return fixture_ll(sql, c->id, NULL);
}

static long long bonuses(const struct fixture_customer *c)
{
    return rows_where(c, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                         "   AND kind = 'trial_billing_added' AND amount = 5");
}

static enum tg_err add(const struct fixture_customer *c, const char *pm, struct tg_ctx **ctx,
                       struct customer *out)
{
    *ctx = fixture_ctx();
    return payment_method_add(*ctx, c->id, pm, out);
}

Test(payment, first_card_moves_trial_to_payg_with_a_bonus_once)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct customer cu;
    enum tg_err e = add(&c, "pm_card_visa", &ctx, &cu);
    cr_assert_eq(e, TG_OK, "%s (%s)", tg_strerror(e), ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(cu.tier, "payg");
    cr_assert_str_eq(cu.billing_status, "active");
    cr_assert_eq(cu.credit_balance, 10, "5 trial + 5 for the card");
    cr_assert_not_null(cu.stripe_customer_id);
    cr_assert_eq(strncmp(cu.stripe_customer_id, "cus_", 4), 0);
    cr_assert_not_null(cu.default_payment_method);
    cr_assert_eq(strncmp(cu.default_payment_method, "pm_", 3), 0);
    cr_assert_str_neq(cu.default_payment_method, "pm_card_visa",
                      "the attached card has an id of its own");
    cr_assert_eq(bonuses(&c), 1);
    char cus[64];
    snprintf(cus, sizeof(cus), "%s", cu.stripe_customer_id);
    char first_pm[64];
    snprintf(first_pm, sizeof(first_pm), "%s", cu.default_payment_method);

    cr_assert_eq(add(&c, "pm_card_mastercard", &ctx, &cu), TG_OK);
    cr_assert_eq(cu.credit_balance, 10, "the bonus is granted once ever");
    cr_assert_eq(bonuses(&c), 1);
    cr_assert_str_eq(cu.stripe_customer_id, cus, "a second Stripe customer was made");
    cr_assert_str_neq(cu.default_payment_method, first_pm, "the new card is the default");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"
                                "   AND status <> 'succeeded'"),
                 0, "a call was left unfinished");
}

static void add_visa(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    (void)i;
    const struct fixture_customer *c = arg;
    struct customer cu;
    out->code = payment_method_add(ctx, c->id, "pm_card_visa", &cu);
    if (out->code == TG_OK)
        snprintf(out->text, sizeof(out->text), "%s", cu.stripe_customer_id);
    else if (ctx->error.detail != NULL)
        snprintf(out->text, sizeof(out->text), "%s", ctx->error.detail);
}

Test(payment, racing_cards_make_one_stripe_customer_and_one_bonus)
{
    enum { RACERS = 4 };
    struct fixture_customer c;
    fixture_customer(&c);
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, add_visa, &c, shots);
    char cus[64];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c.id,
                 NULL);
    for (size_t i = 0; i < RACERS; i++) {
        cr_assert_eq(shots[i].code, TG_OK, "racer %zu: %s (%s)", i, tg_strerror(shots[i].code),
                     shots[i].text);
        cr_assert_str_eq(shots[i].text, cus, "racer %zu answered another Stripe customer", i);
    }
    cr_assert_eq(bonuses(&c), 1, "the bonus was granted %lld times", bonuses(&c));
    cr_assert_eq(fixture_balance(&c), 10);
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                "   AND tier = 'payg' AND billing_status = 'active'"
                                "   AND default_payment_method LIKE 'pm\\_%'"),
                 1);
}

Test(payment, declined_card_changes_nothing)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct customer cu;
    cr_assert_eq(add(&c, "pm_card_chargeDeclined", &ctx, &cu), TG_EPAYMENTFAILED);
    cr_assert_eq(ctx->error.code, TG_EPAYMENTFAILED);
    cr_assert_str_eq(json_string_value(json_object_get(ctx->error.extra, "decline_code")),
                     "generic_decline");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM customers WHERE id = $1"
                                "   AND tier = 'trial' AND billing_status = 'none'"
                                "   AND default_payment_method IS NULL AND credit_balance = 5"),
                 1);
    cr_assert_eq(bonuses(&c), 0);
    cr_assert_eq(fixture_rows("credit_transactions", &c), 1, "only the signup entry");
    cr_assert_eq(rows_where(&c, "SELECT count(*) FROM stripe_requests WHERE customer_id = $1"
                                "   AND status <> 'failed'"),
                 0, "the declined attachment is recorded as failed, not left pending");
}

Test(payment, without_stripe_nothing_is_recorded)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct service none = *ctx->svc;
    none.stripe = NULL;
    ctx->svc = &none;
    struct customer cu;
    cr_assert_eq(payment_method_add(ctx, c.id, "pm_card_visa", &cu), TG_EUPSTREAM);
    cr_assert_eq(fixture_rows("stripe_requests", &c), 0);
    cr_assert_eq(fixture_balance(&c), 5);
}
