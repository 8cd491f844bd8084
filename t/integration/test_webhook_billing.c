/*
 * test_webhook_billing: what Stripe's webhooks do to a Pro customer's
 * account (DESIGN.md section 2), driven by the Stripe emulator's clock. Each
 * paid renewal invoice grants +60 pro_subscription_payment once, keyed by
 * the invoice id, however often Stripe re-sends its events. A failed renewal
 * makes the customer past_due with a grace period of grace_period_days;
 * when it is over tollgate-worker makes it delinquent (credits still usable,
 * a fix that needs a charge is 402); a later payment, by Stripe's dunning
 * retry or at once when the customer brings a new card, makes it active
 * again, clears the grace period and grants the invoice's credits once. A
 * renewal delivered late (an outage of the endpoint; Stripe retries for
 * days), after the next renewal failed, still grants its credits and does
 * not end the grace period of the invoice still unpaid. And the order of
 * delivery does not matter: one customer's whole history delivered in
 * reverse and in shuffled orders, every event three times, ends exactly
 * where the same history delivered in order by Stripe ends, and that is
 * what the rules say, both for a history that ends paid and for one that
 * ends past due. The emulator's clock, queue, endpoints and faults are
 * global: one test at a time.
 * Around every test: the ledger invariants and that every request Stripe
 * received was valid.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "harness_outbound.h"
#include "harness_webhooks.h"

TestSuite(webhook_billing, .init = wh_init, .fini = wh_fini, .timeout = 240);

/* Credits of a new Pro customer: 5 trial + 5 for the card + 60 for the
 * first invoice (DESIGN.md section 2). */
#define PRO_START 70
#define PRO_GRANT 60

/* wait_for: poll c's column (a customers column, as text) until it reads
 * want, for at most seconds; returns what it read last. */
static void wait_for(const struct it_customer *c, const char *column, const char *want, int seconds,
                     char *got, size_t len)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s::text FROM customers WHERE id = $1", column);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        it_db_str(c, sql, got, len);
        if (strcmp(got, want) == 0 || wh_elapsed(&start) > seconds)
            return;
        it_pause_ms(100);
    }
}

static void assert_balance_becomes(const struct it_customer *c, long long want)
{
    char want_s[32], got[64];
    snprintf(want_s, sizeof(want_s), "%lld", want);
    wait_for(c, "credit_balance", want_s, 20, got, sizeof(got));
    cr_assert_str_eq(got, want_s, "balance %s, expected %lld", got, want);
}

/* assert_grants_match_invoices: c has one pro_subscription_payment entry of
 * +60 per paid invoice of Stripe subscription sub, keyed by its id, and
 * no other. */
static void assert_grants_match_invoices(const struct it_customer *c, const char *sub,
                                         long long want)
{
    char query[160];
    snprintf(query, sizeof(query), "subscription=%s&status=paid&limit=100", sub);
    json_t *list = it_stripe_get("/v1/invoices", query), *inv;
    size_t i;
    PGconn *db = it_db();
    json_array_foreach(it_jget(list, "data"), i, inv)
    {
        const char *p[2] = {c->id, it_jstr(inv, "id")};
        cr_assert_eq(it_db_ll(db,
                              "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                              " AND kind = 'pro_subscription_payment' AND reference = $2"
                              " AND amount = 60",
                              2, p),
                     1, "paid invoice %s: not granted exactly once", p[1]);
    }
    cr_assert_eq((long long)json_array_size(it_jget(list, "data")), want,
                 "Stripe has %zu paid invoices, expected %lld",
                 json_array_size(it_jget(list, "data")), want);
    PQfinish(db);
    json_decref(list);
    cr_assert_eq(wh_entries(c, "pro_subscription_payment"), want);
}

static void assert_account(const struct it_customer *c, const char *tier, const char *billing,
                           long long balance)
{
    json_t *j = wh_me(c);
    char *text = json_dumps(j, JSON_COMPACT);
    cr_assert(strcmp(it_jstr(j, "tier"), tier) == 0 &&
                  strcmp(it_jstr(j, "billing_status"), billing) == 0 &&
                  it_jint(j, "credit_balance") == balance,
              "expected %s, %s, %lld credits: %s", tier, billing, balance, text);
    free(text);
    if (strcmp(billing, "active") == 0)
        cr_assert(json_is_null(it_jget(j, "grace_period_ends_at")), "grace left: %s",
                  it_jstr(j, "grace_period_ends_at"));
    else
        cr_assert(json_is_string(it_jget(j, "grace_period_ends_at")), "%s without a grace period",
                  billing);
    json_decref(j);
}

static void local_subscription_status(const char *sub, char *out, size_t len)
{
    PGconn *db = it_db();
    const char *p[1] = {sub};
    PGresult *r =
        PQexecParams(db, "SELECT status FROM subscriptions WHERE stripe_subscription_id = $1", 1,
                     NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    cr_assert_eq(PQntuples(r), 1, "no local subscription %s", sub);
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(db);
}

static void add_card(const struct it_customer *c, const char *payment_method)
{
    struct it_response r;
    it_add_card(c, payment_method, true, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
}

Test(webhook_billing, each_renewal_grants_sixty_once)
{
    struct it_customer c;
    char cus[64], sub[64];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    assert_account(&c, "pro", "active", PRO_START);

    for (int renewal = 1; renewal <= 2; renewal++) {
        json_decref(wh_advance(31));
        assert_balance_becomes(&c, PRO_START + PRO_GRANT * renewal);
        wh_settle(cus, 20);
        assert_account(&c, "pro", "active", PRO_START + PRO_GRANT * renewal);
        assert_grants_match_invoices(&c, sub, 1 + renewal);
    }

    /* Stripe sends again everything about the subscription and its
     * invoices: acknowledged as duplicates, nothing granted twice. */
    json_t *events = wh_customer_events(cus), *ev;
    size_t i, resent = 0;
    json_array_foreach(events, i, ev)
    {
        const char *type = it_jstr(ev, "type");
        if (strncmp(type, "invoice.", 8) != 0 && strncmp(type, "customer.subscription.", 22) != 0)
            continue;
        char path[128];
        snprintf(path, sizeof(path), "/_emulator/events/%s/resend", it_jstr(ev, "id"));
        json_decref(it_stripe_post(path, NULL));
        resent++;
    }
    cr_assert_geq(resent, 3 * 5, "the history has at least five such events per invoice");
    wh_settle(cus, 30);
    it_pause_ms(1500); /* a wrongly re-applied event would land with the next pass */
    json_array_foreach(events, i, ev)
        cr_assert_eq(wh_rows(it_jstr(ev, "id")), 1, "event %s", it_jstr(ev, "id"));
    json_decref(events);
    assert_account(&c, "pro", "active", PRO_START + 2 * PRO_GRANT);
    assert_grants_match_invoices(&c, sub, 3);
}

static long grace_days(void)
{
    const char *v = getenv("TOLLGATE_GRACE_PERIOD_DAYS");
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : -1;
    return v != NULL && *end == '\0' && n >= 0 ? n : 7;
}

/* fail_renewal: c's card is swapped for one whose charges fail, and the
 * emulator's clock runs past the renewal: past_due, grace started. */
static void fail_renewal(const struct it_customer *c, const char *cus, const char *sub)
{
    add_card(c, "pm_card_chargeCustomerFail");
    wh_settle(cus, 20);
    json_t *events = wh_advance(31), *ev;
    size_t i;
    bool failed = false;
    json_array_foreach(events, i, ev)
    {
        failed |= strcmp(it_jstr(ev, "type"), "invoice.payment_failed") == 0;
    }
    json_decref(events);
    cr_assert(failed, "the renewal did not fail at Stripe");
    char got[64];
    wait_for(c, "billing_status", "past_due", 20, got, sizeof(got));
    cr_assert_str_eq(got, "past_due", "invoice.payment_failed did not make the customer past_due");
    wh_settle(cus, 20);
    assert_account(c, "pro", "past_due", PRO_START);
    cr_assert_eq(wh_entries(c, "pro_subscription_payment"), 1, "nothing for the unpaid invoice");
    local_subscription_status(sub, got, sizeof(got));
    cr_assert_str_eq(got, "past_due");

    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM customers WHERE id = $1 AND abs(extract(epoch FROM"
             " grace_period_ends_at - (now() + interval '%ld days'))) < 300",
             grace_days());
    cr_assert_eq(it_db_count(c, sql), 1, "grace_period_ends_at is not now + %ld days",
                 grace_days());
}

static struct rx rx;

static void stop_rx(void)
{
    rx_stop(&rx);
}

/* Issue 14: the product learns of a failed renewal from a signed
 * payment.failed of kind invoice, once for the failed attempt (Stripe's
 * invoice.payment_failed, applied by tollgate-worker). */
Test(webhook_billing, a_failed_renewal_is_told_to_the_product, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "payment.failed");
    struct it_customer c;
    char cus[64], sub[64];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    fail_renewal(&c, cus, sub);
    cr_assert_eq(rx_wait_events(&rx, c.id, 1, 30), 1);
    it_pause_ms(1500); /* a second event for the same attempt would land meanwhile */
    json_t *ev = rx_events_of(&rx, c.id);
    cr_assert_eq(json_array_size(ev), 1, "one failed attempt, one event");
    json_t *e = json_array_get(ev, 0);
    cr_assert_str_eq(json_string_value(json_object_get(e, "type")), "payment.failed");
    json_t *o = json_object_get(json_object_get(e, "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "invoice");
    cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "failed");
    cr_assert_eq(strncmp(json_string_value(json_object_get(o, "invoice")), "in_", 3), 0);
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_cents")), 59900);
    cr_assert_str_eq(json_string_value(json_object_get(o, "currency")), "usd");
    cr_assert_eq(json_integer_value(json_object_get(o, "attempt_count")), 1);
    cr_assert(rx_verify(&rx, (size_t)json_integer_value(json_object_get(e, "_index")), rx.secret),
              "signed with the endpoint's secret");
    json_decref(ev);
}

Test(webhook_billing, a_failed_renewal_runs_past_due_then_delinquent_until_paid)
{
    struct it_customer c;
    char cus[64], sub[64], got[64];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    fail_renewal(&c, cus, sub);

    /* The grace period ends: tollgate-worker makes the customer delinquent. */
    PGconn *db = it_db();
    const char *p[1] = {c.id};
    char state[6];
    it_db_exec(db,
               "UPDATE customers SET grace_period_ends_at = now() - interval '1 second'"
               " WHERE id = $1",
               1, p, state);
    cr_assert_str_eq(state, "");
    PQfinish(db);
    wait_for(&c, "billing_status", "delinquent", 15, got, sizeof(got));
    cr_assert_str_eq(got, "delinquent", "the grace period ended but the customer is %s", got);
    assert_account(&c, "pro", "delinquent", PRO_START);

    /* Delinquent at balance 0: a fix that needs a charge is refused and
     * nothing is recorded; credits are still usable. */
    it_zero_balance(&c);
    struct it_response r;
    it_post_usage(&c, "delinquent-1", "fix-delinquent-1", &r);
    it_assert_problem(&r, 402, "insufficient-credits", NULL);
    it_response_free(&r);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM usage_events WHERE customer_id = $1"), 0);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"), 0);
    cr_assert_eq(it_balance(&c), 0);
    it_add_credits(&c, 1);
    it_post_usage(&c, "delinquent-2", "fix-delinquent-2", &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "outcome"), "credit");
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 0);

    /* The customer fixes the card at Stripe; Stripe's dunning retry pays
     * the open invoice: invoice.paid makes the customer active again. */
    wh_set_card_at_stripe(cus, "pm_card_visa");
    wh_advance_until_paid(cus, 10);
    wait_for(&c, "billing_status", "active", 20, got, sizeof(got));
    cr_assert_str_eq(got, "active", "invoice.paid did not make the customer active");
    wh_settle(cus, 20);
    it_pause_ms(1500);
    assert_account(&c, "pro", "active", PRO_GRANT);
    assert_grants_match_invoices(&c, sub, 2);
    local_subscription_status(sub, got, sizeof(got));
    cr_assert_str_eq(got, "active");
}

Test(webhook_billing, a_new_card_while_past_due_pays_the_open_invoice_once)
{
    struct it_customer c;
    char cus[64], sub[64], got[64];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    fail_renewal(&c, cus, sub);

    add_card(&c, "pm_card_visa");
    wait_for(&c, "billing_status", "active", 20, got, sizeof(got));
    cr_assert_str_eq(got, "active", "paying the open invoice did not make the customer active");
    wh_settle(cus, 20);
    assert_account(&c, "pro", "active", PRO_START + PRO_GRANT);
    assert_grants_match_invoices(&c, sub, 2);

    /* Stripe's own retries, later, find nothing left to collect. */
    json_decref(wh_advance(8));
    wh_settle(cus, 20);
    it_pause_ms(1500);
    assert_account(&c, "pro", "active", PRO_START + PRO_GRANT);
    assert_grants_match_invoices(&c, sub, 2);
}

/* ---- order and repetition -------------------------------------------------- */

/* state: everything webhooks decide about a customer, as one string
 * (ids left out: two customers with the same history compare equal). */
static void state(const struct it_customer *c, char *out, size_t len)
{
    it_db_str(
        c,
        "SELECT c.tier || '|' || c.billing_status || '|grace:'"
        "       || (c.grace_period_ends_at IS NOT NULL)::text || '|balance:'"
        "       || c.credit_balance || '|card:' || (c.default_payment_method IS NOT NULL)::text"
        "       || '|subs:' || coalesce((SELECT string_agg(s.plan || '/' || s.status || '/'"
        "            || s.cancel_at_period_end::text, ',' ORDER BY s.created_at)"
        "            FROM subscriptions s WHERE s.customer_id = c.id), '')"
        "       || '|ledger:' || coalesce((SELECT string_agg(t.kind || ':' || t.amount, ','"
        "            ORDER BY t.kind, t.amount) FROM credit_transactions t"
        "            WHERE t.customer_id = c.id), '')"
        "  FROM customers c WHERE c.id = $1",
        out, len);
}

/* assert_period_matches_stripe: the local period end of sub is Stripe's. */
static void assert_period_matches_stripe(const char *sub)
{
    char path[128], sql[256];
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    json_t *s = it_stripe_get(path, NULL);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM subscriptions WHERE stripe_subscription_id = $1"
             " AND status = $2 AND extract(epoch FROM current_period_end)::bigint = %lld",
             it_jint(s, "current_period_end"));
    PGconn *db = it_db();
    const char *p[2] = {sub, it_jstr(s, "status")};
    cr_assert_eq(it_db_ll(db, sql, 2, p), 1, "local subscription %s is not Stripe's (%s)", sub,
                 p[1]);
    PQfinish(db);
    json_decref(s);
}

/* deliver_in: deliver events[order[k]] for k = 0..n-1, each signed anew;
 * the first delivery of an event is waited for until it is applied, so the
 * order of application is exactly this order; later ones must be taken as
 * duplicates. */
static void deliver_in(json_t *events, const size_t *order, size_t n, bool *seen)
{
    for (size_t k = 0; k < n; k++) {
        json_t *ev = json_array_get(events, order[k]);
        char *body = json_dumps(ev, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        cr_assert_not_null(body);
        const char *id = it_jstr(ev, "id");
        bool dup = wh_deliver(body, strlen(body));
        free(body);
        cr_assert_eq(dup, seen[order[k]], "event %s: duplicate is %d, expected %d", id, dup,
                     seen[order[k]]);
        if (!seen[order[k]]) {
            char status[32], error[256];
            long long attempts;
            wh_wait_final(id, 20, status, sizeof(status));
            cr_assert(wh_status(id, status, sizeof(status), &attempts, error, sizeof(error)));
            cr_assert(strcmp(status, "processed") == 0 || strcmp(status, "ignored") == 0,
                      "event %s (%s) ended %s after %lld attempts: %s", id, it_jstr(ev, "type"),
                      status, attempts, error);
            seen[order[k]] = true;
        }
    }
}

static void forget(json_t *events, bool *seen)
{
    PGconn *db = it_db();
    json_t *ev;
    size_t i;
    json_array_foreach(events, i, ev)
    {
        const char *p[1] = {it_jstr(ev, "id")};
        char st[6];
        it_db_exec(db, "DELETE FROM stripe_events WHERE id = $1", 1, p, st);
        cr_assert_str_eq(st, "");
        seen[i] = false;
    }
    PQfinish(db);
}

static unsigned next_random(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

/* permutations: two customers, A and B, live the same history while Stripe
 * holds every delivery: subscribe, one paid renewal, a card whose charges
 * fail, a failed renewal, and (recover) a good card again and Stripe's
 * dunning retry that pays. A's events are delivered by the test in reverse
 * order, three times over; then Stripe delivers everything in order (B's
 * events, and A's again as duplicates). A must end exactly as B, and B as
 * the rules say. Then A's inbox is forgotten and its events delivered
 * again in shuffled orders, each three times: A must not move. */
static void permutations(bool recover)
{
    struct it_customer a, b;
    char cus_a[64], sub_a[64], cus_b[64], sub_b[64];
    wh_flush();
    wh_pause(true);
    wh_pro_customer(&a, "pm_card_visa", cus_a, sub_a);
    wh_pro_customer(&b, "pm_card_visa", cus_b, sub_b);
    json_decref(wh_advance(31));
    add_card(&a, "pm_card_chargeCustomerFail");
    add_card(&b, "pm_card_chargeCustomerFail");
    json_decref(wh_advance(31));
    if (recover) {
        add_card(&a, "pm_card_visa");
        add_card(&b, "pm_card_visa");
        wh_advance_until_paid(cus_a, 10);
        wh_advance_until_paid(cus_b, 10);
    }

    json_t *events = wh_customer_events(cus_a);
    size_t n = json_array_size(events);
    cr_assert_geq(n, 25, "only %zu events about the customer", n);
    size_t *order = calloc(3 * n, sizeof(*order));
    bool *seen = calloc(n, sizeof(*seen));
    cr_assert(order != NULL && seen != NULL);
    size_t failed = 0, paid = 0;
    for (size_t i = 0; i < n; i++) {
        const char *type = it_jstr(json_array_get(events, i), "type");
        failed += strcmp(type, "invoice.payment_failed") == 0;
        paid += strcmp(type, "invoice.paid") == 0;
    }
    cr_assert(failed >= 1 && paid == (recover ? 3u : 2u),
              "the history has %zu failed and %zu paid invoices", failed, paid);

    for (size_t r = 0; r < 3; r++)
        for (size_t i = 0; i < n; i++)
            order[r * n + i] = n - 1 - i;
    deliver_in(events, order, 3 * n, seen);

    wh_pause(false);
    wh_settle(cus_a, 60);
    wh_settle(cus_b, 60);
    it_pause_ms(1500);
    char in_order[1024], got[1024];
    state(&b, in_order, sizeof(in_order));
    state(&a, got, sizeof(got));
    cr_assert_str_eq(got, in_order, "%zu events in reverse order:\n%s\nin order:\n%s", n, got,
                     in_order);
    long long grants = recover ? 3 : 2;
    assert_account(&b, "pro", recover ? "active" : "past_due",
                   PRO_START + PRO_GRANT * (grants - 1));
    assert_grants_match_invoices(&a, sub_a, grants);
    assert_grants_match_invoices(&b, sub_b, grants);
    assert_period_matches_stripe(sub_a);
    assert_period_matches_stripe(sub_b);

    unsigned seed;
    cr_assert_eq(getrandom(&seed, sizeof(seed), 0), (ssize_t)sizeof(seed));
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 3 * n; i++)
            order[i] = i % n;
        unsigned s = seed + (unsigned)round;
        for (size_t i = 3 * n - 1; i > 0; i--) {
            size_t j = (size_t)next_random(&s) % (i + 1);
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        forget(events, seen);
        deliver_in(events, order, 3 * n, seen);
        it_pause_ms(1500);
        state(&a, got, sizeof(got));
        cr_assert_str_eq(got, in_order, "shuffled order (seed %u, round %d):\n%s\nin order:\n%s",
                         seed, round, got, in_order);
        assert_grants_match_invoices(&a, sub_a, grants);
        assert_period_matches_stripe(sub_a);
    }
    free(order);
    free(seen);
    json_decref(events);
}

Test(webhook_billing, any_order_and_repetition_ends_where_in_order_delivery_ends, .timeout = 420)
{
    permutations(true);
}

/* The same for a history that ends with the renewal unpaid: past_due. */
Test(webhook_billing, any_order_ends_where_in_order_ends_for_a_customer_past_due, .timeout = 420)
{
    permutations(false);
}

/* An outage of tollgate's endpoint: Stripe delivers a renewal's events
 * only later (its retries go on for days), after the next renewal failed.
 * The late invoice.paid still grants that invoice's credits once, and does
 * not end the grace period of the invoice that is still unpaid. */
Test(webhook_billing, a_late_invoice_paid_grants_its_credits_and_keeps_the_grace_period)
{
    struct it_customer c;
    char cus[64], sub[64], grace[64], after[64];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    json_t *known = wh_customer_events(cus);
    size_t seen = json_array_size(known);
    json_decref(known);

    wh_endpoint(false);
    json_decref(wh_advance(31));
    json_t *late = wh_customer_events(cus);
    wh_endpoint(true);
    size_t paid = 0;
    for (size_t i = seen; i < json_array_size(late); i++)
        paid += strcmp(it_jstr(json_array_get(late, i), "type"), "invoice.paid") == 0;
    cr_assert_eq(paid, 1, "the renewal was not paid at Stripe");
    cr_assert_eq(it_balance(&c), PRO_START, "the renewal was delivered despite the outage");

    fail_renewal(&c, cus, sub);
    it_db_str(&c, "SELECT grace_period_ends_at::text FROM customers WHERE id = $1", grace,
              sizeof(grace));

    for (size_t i = seen; i < json_array_size(late); i++) {
        char path[128];
        snprintf(path, sizeof(path), "/_emulator/events/%s/resend",
                 it_jstr(json_array_get(late, i), "id"));
        json_decref(it_stripe_post(path, NULL));
    }
    json_decref(late);
    wh_settle(cus, 20);
    it_pause_ms(1500);
    /* Both rules at once, so that one broken does not hide the other. */
    char sub_status[64];
    it_db_str(&c,
              "SELECT billing_status || ' ' || coalesce(grace_period_ends_at::text, 'none')"
              "  FROM customers WHERE id = $1",
              after, sizeof(after));
    local_subscription_status(sub, sub_status, sizeof(sub_status));
    long long balance = it_balance(&c), grants = wh_entries(&c, "pro_subscription_payment");
    char want[128];
    snprintf(want, sizeof(want), "past_due %s", grace);
    cr_assert(balance == PRO_START + PRO_GRANT && grants == 2 && strcmp(after, want) == 0 &&
                  strcmp(sub_status, "past_due") == 0,
              "after the late renewal: %lld credits in %lld grants (expected %d in 2), customer"
              " %s (expected %s), subscription %s (expected past_due)",
              balance, grants, PRO_START + PRO_GRANT, after, want, sub_status);
    assert_grants_match_invoices(&c, sub, 2);
    assert_account(&c, "pro", "past_due", PRO_START + PRO_GRANT);
}

/* One test at a time: the emulator's queue, clock and faults are shared. */
IT_SERIAL_MAIN()
