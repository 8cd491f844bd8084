/*
 * test_webhook_trust: a Stripe webhook payload is never trusted with money
 * (issue 13). A correctly signed invoice.paid or invoice.payment_succeeded
 * names an invoice; what it grants is decided by the invoice Stripe answers
 * for that id, not by the payload: an invented id grants nothing (recorded
 * as rejected, not retried), a payload claiming an open invoice is paid
 * grants nothing, a real paid Pro renewal grants +60 once however many
 * event types name it and whatever amounts its payload claims, and a paid
 * invoice that is not a Pro subscription payment (a proration, a one-off
 * item, another product's price, a $0 invoice) is recorded and grants
 * nothing. Every invoice seen is recorded in stripe_invoices with Stripe's
 * amount_paid and currency. The other events are judged by Stripe's
 * object too: a forged charge.refunded amount is not recorded (a real
 * refund is), and a payment_method.detached for a card Stripe still has
 * attached clears nothing, and a payment_intent.* event naming a real
 * PaymentIntent with another charge's id in its payload settles nothing.
 * One test at a time (the emulator is shared).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_webhooks.h"

TestSuite(webhook_trust, .init = wh_init, .fini = wh_fini, .timeout = 240);

#define PRO_START 70 /* 5 trial + 5 card + 60 first invoice */
#define PRO_GRANT 60

/* forge: deliver, correctly signed, an event of type about object and
 * wait until the inbox is done with it; its final status in status. */
static void forge(const char *type, json_t *object, char *status, size_t len)
{
    char id[64];
    wh_event_id(id, sizeof(id));
    char *body = wh_event(id, type, object);
    cr_assert_not(wh_deliver(body, strlen(body)), "a fresh event was a duplicate");
    free(body);
    wh_wait_final(id, 20, status, len);
}

/* invoice_row: outcome, amount_paid and currency stripe_invoices holds for
 * invoice id ("" when there is no row). */
static void invoice_row(const struct it_customer *c, const char *id, char *out, size_t len)
{
    PGconn *db = it_db();
    const char *p[1] = {id};
    PGresult *r = PQexecParams(db,
                               "SELECT outcome || ' ' || coalesce(amount_paid::text, '-') || ' '"
                               "       || coalesce(currency, '-')"
                               "  FROM stripe_invoices WHERE id = $1",
                               1, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    snprintf(out, len, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(db);
    (void)c;
}

/* latest_invoice: Stripe's latest invoice of subscription sub (caller owns). */
static json_t *latest_invoice(const char *sub)
{
    char query[128];
    snprintf(query, sizeof(query), "subscription=%s&limit=1", sub);
    json_t *list = it_stripe_get("/v1/invoices", query);
    json_t *inv = json_incref(json_array_get(it_jget(list, "data"), 0));
    cr_assert_not_null(inv, "subscription %s has no invoice", sub);
    json_decref(list);
    return inv;
}

Test(webhook_trust, an_invented_invoice_grants_nothing_and_is_recorded_rejected)
{
    struct it_customer c;
    char cus[64], sub[64], status[32], row[128];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    cr_assert_eq(it_balance(&c), PRO_START);

    /* A real invoice of a real subscription, with an id Stripe never made. */
    json_t *inv = latest_invoice(sub);
    json_object_set_new(inv, "id", json_string("in_1InventedByAnAttacker0000"));
    json_object_set_new(inv, "paid", json_true());
    json_object_set_new(inv, "status", json_string("paid"));
    forge("invoice.paid", inv, status, sizeof(status));
    cr_expect_str_eq(status, "ignored", "invoice.paid of an invented invoice");
    forge("invoice.payment_succeeded", inv, status, sizeof(status));
    cr_expect_str_eq(status, "ignored", "invoice.payment_succeeded of an invented invoice");
    json_decref(inv);

    cr_assert_eq(it_balance(&c), PRO_START, "an invented invoice granted credits");
    cr_assert_eq(wh_entries(&c, "pro_subscription_payment"), 1);
    invoice_row(&c, "in_1InventedByAnAttacker0000", row, sizeof(row));
    cr_assert_str_eq(row, "rejected - -");
}

Test(webhook_trust, a_payload_claiming_an_open_invoice_is_paid_grants_nothing)
{
    struct it_customer c;
    char cus[64], sub[64], status[32], row[128], form[256];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);

    /* An open renewal-like invoice of the Pro price, not paid at Stripe. */
    snprintf(form, sizeof(form),
             "customer=%s&subscription=%s&billing_reason=subscription_cycle&paid=false", cus, sub);
    json_t *inv = it_stripe_post("/_emulator/invoices", form);
    cr_assert_str_eq(it_jstr(inv, "status"), "open");
    wh_settle(cus, 20);
    json_object_set_new(inv, "paid", json_true());
    json_object_set_new(inv, "status", json_string("paid"));
    json_object_set_new(inv, "amount_paid", json_integer(59900));
    forge("invoice.paid", inv, status, sizeof(status));
    cr_expect_str_neq(status, "pending");
    invoice_row(&c, it_jstr(inv, "id"), row, sizeof(row));
    cr_expect_str_eq(row, "not_qualifying 0 usd", "recorded as Stripe has it");
    json_decref(inv);
    cr_assert_eq(it_balance(&c), PRO_START, "an unpaid invoice granted credits");
}

Test(webhook_trust, a_paid_renewal_grants_once_whatever_the_event_type_or_payload)
{
    struct it_customer c;
    char cus[64], sub[64], status[32], row[128];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);

    /* The renewal happens at Stripe while nothing reaches tollgate. */
    wh_endpoint(false);
    json_decref(wh_advance(31));
    wh_endpoint(true);
    json_t *inv = latest_invoice(sub);
    cr_assert_str_eq(it_jstr(inv, "billing_reason"), "subscription_cycle");
    cr_assert_str_eq(it_jstr(inv, "status"), "paid");
    cr_assert_eq(it_balance(&c), PRO_START);

    /* The payload lies about the amount; Stripe's answer is what counts. */
    json_object_set_new(inv, "amount_paid", json_integer(1));
    json_object_set_new(inv, "currency", json_string("eur"));
    forge("invoice.paid", inv, status, sizeof(status));
    cr_expect_str_eq(status, "processed");
    forge("invoice.payment_succeeded", inv, status, sizeof(status));
    forge("invoice.paid", inv, status, sizeof(status));
    cr_assert_eq(it_balance(&c), PRO_START + PRO_GRANT);
    cr_assert_eq(wh_entries(&c, "pro_subscription_payment"), 2);
    invoice_row(&c, it_jstr(inv, "id"), row, sizeof(row));
    cr_assert_str_eq(row, "granted 59900 usd");
    json_decref(inv);
}

Test(webhook_trust, paid_invoices_that_are_not_pro_payments_are_recorded_and_grant_nothing)
{
    struct it_customer c;
    char cus[64], sub[64], form[320], row[128];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    static const struct {
        const char *form; /* what the emulator makes */
        bool on_subscription;
    } kinds[] = {
        /* a proration of the subscription */
        {"billing_reason=subscription_update&proration=true&amount=1234", true},
        /* a one-off item, no subscription at all */
        {"billing_reason=manual&price=price_one_off_setup&amount=5000", false},
        /* another product's price on the subscription, billed as a cycle */
        {"billing_reason=subscription_cycle&price=price_other_product&amount=900", true},
        /* a $0 renewal of the Pro price (a coupon, a credit balance) */
        {"billing_reason=subscription_cycle&amount=0", true},
    };
    const char *ids[4];
    json_t *made[4];
    for (size_t i = 0; i < 4; i++) {
        snprintf(form, sizeof(form), "customer=%s&%s%s%s", cus, kinds[i].form,
                 kinds[i].on_subscription ? "&subscription=" : "",
                 kinds[i].on_subscription ? sub : "");
        made[i] = it_stripe_post("/_emulator/invoices", form);
        ids[i] = it_jstr(made[i], "id");
        cr_assert_str_eq(it_jstr(made[i], "status"), "paid", "%s", form);
    }
    wh_settle(cus, 30);
    it_pause_ms(1500);
    cr_assert_eq(it_balance(&c), PRO_START, "a paid invoice that is not Pro's granted credits");
    cr_assert_eq(wh_entries(&c, "pro_subscription_payment"), 1);
    static const char *const want[] = {"not_qualifying 1234 usd", "not_qualifying 5000 usd",
                                       "not_qualifying 900 usd", "not_qualifying 0 usd"};
    for (size_t i = 0; i < 4; i++) {
        invoice_row(&c, ids[i], row, sizeof(row));
        cr_expect_str_eq(row, want[i], "invoice %zu (%s)", i, kinds[i].form);
        json_decref(made[i]);
    }
}

/* charged_customer: a payg customer at balance 0 whose fix was charged;
 * the PaymentIntent's id into pi. */
static void charged_customer(struct it_customer *c, char *pi, size_t len)
{
    struct it_response r;
    it_customer_with_card(c, "pm_card_visa");
    it_zero_balance(c);
    it_post_usage(c, "trust-charge", "fix-trust", &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
    it_db_str(c,
              "SELECT stripe_payment_intent_id FROM charges WHERE customer_id = $1"
              "   AND status = 'succeeded'",
              pi, len);
    cr_assert_eq(strncmp(pi, "pi_", 3), 0, "no succeeded charge: \"%s\"", pi);
}

static long long refunded(const struct it_customer *c)
{
    return it_db_count(c, "SELECT amount_refunded_cents FROM charges WHERE customer_id = $1");
}

Test(webhook_trust, a_refund_is_recorded_as_stripe_has_it_not_as_the_payload_says)
{
    struct it_customer c;
    char pi[64], path[128], status[32], form[128];
    charged_customer(&c, pi, sizeof(pi));
    snprintf(path, sizeof(path), "/v1/payment_intents/%s", pi);
    json_t *intent = it_stripe_get(path, NULL);
    snprintf(path, sizeof(path), "/v1/charges/%s", it_jstr(intent, "latest_charge"));
    json_decref(intent);
    json_t *ch = it_stripe_get(path, NULL);

    /* Nothing was refunded at Stripe; the payload says everything was. */
    json_object_set_new(ch, "amount_refunded", json_integer(2900));
    json_object_set_new(ch, "refunded", json_true());
    forge("charge.refunded", ch, status, sizeof(status));
    cr_expect_str_neq(status, "pending");
    cr_assert_eq(refunded(&c), 0, "a forged refund amount was recorded");
    json_decref(ch);

    /* A real partial refund is recorded as Stripe reports it. */
    snprintf(form, sizeof(form), "payment_intent=%s&amount=500", pi);
    json_decref(it_stripe_post("/v1/refunds", form));
    wh_flush();
    for (int i = 0; i < 200 && refunded(&c) != 500; i++)
        it_pause_ms(100);
    cr_assert_eq(refunded(&c), 500);
}

Test(webhook_trust, a_forged_detach_of_a_card_still_attached_changes_nothing)
{
    struct it_customer c;
    char pm[64], path[128], status[32], after[64];
    it_customer_with_card(&c, "pm_card_visa");
    it_db_str(&c, "SELECT default_payment_method FROM customers WHERE id = $1", pm, sizeof(pm));
    cr_assert_eq(strncmp(pm, "pm_", 3), 0);
    snprintf(path, sizeof(path), "/v1/payment_methods/%s", pm);
    json_t *obj = it_stripe_get(path, NULL);
    cr_assert(json_is_string(it_jget(obj, "customer")), "the card is attached at Stripe");
    json_object_set_new(obj, "customer", json_null());
    forge("payment_method.detached", obj, status, sizeof(status));
    json_decref(obj);
    cr_expect_str_eq(status, "ignored");
    it_db_str(&c, "SELECT coalesce(default_payment_method, '') FROM customers WHERE id = $1", after,
              sizeof(after));
    cr_assert_str_eq(after, pm, "a forged detach cleared the default payment method");
}

Test(webhook_trust, a_payment_intent_event_applies_only_to_the_charge_stripe_says_it_is_for)
{
    struct it_customer c;
    struct it_response r;
    char cus[64], form[256], charge[32], status[32], now[64];
    it_customer_with_card(&c, "pm_card_visa");
    it_zero_balance(&c);
    it_stripe_customer(&c, cus, sizeof(cus));
    /* A PaymentIntent of the customer that is no charge of tollgate's
     * (never confirmed: not paid). */
    snprintf(form, sizeof(form), "amount=100&currency=usd&customer=%s", cus);
    json_t *other = it_stripe_post("/v1/payment_intents", form);

    /* A fix whose charge stays pending: Stripe unreachable for now. */
    it_stripe_fault("mode=error&status=500&method=POST&path=/v1/payment_intents&count=100000");
    it_post_usage(&c, "trust-pending", "fix-pending", &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
    it_db_str(&c, "SELECT id::text FROM charges WHERE customer_id = $1 AND status = 'pending'",
              charge, sizeof(charge));
    cr_assert_neq(charge[0], '\0', "no pending charge");

    /* The payload pairs that PaymentIntent with the pending charge. */
    json_object_set_new(it_jget(other, "metadata"), "tollgate_charge_id", json_string(charge));
    forge("payment_intent.payment_failed", other, status, sizeof(status));
    json_decref(other);
    it_db_str(&c,
              "SELECT ch.status || ' ' || cu.billing_status FROM charges ch"
              "  JOIN customers cu ON cu.id = ch.customer_id WHERE ch.customer_id = $1",
              now, sizeof(now));
    it_stripe_clear_faults();
    cr_expect_str_eq(status, "ignored");
    cr_assert_str_eq(now, "pending active", "another PaymentIntent settled the charge");
}

/* One test at a time: the emulator's queue, clock and faults are shared. */
IT_SERIAL_MAIN()
