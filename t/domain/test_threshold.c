/*
 * test_threshold: low-balance thresholds with hysteresis (issue 14;
 * sql/functions/credit_thresholds.sql), through the domain: ledger_adjust
 * moves balances, customer_set_low_balance_threshold sets thresholds, and
 * the credits.* events the database wrote (outbound_events) are exactly
 * those the rule gives -- low once at or below the threshold, depleted
 * once at 0, recovered once above it again, nothing for a wobble. The
 * rule's table (credit_state_next) is checked case by case, and a +1/-1
 * in one transaction at 0 (a charged fix) fires nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "domain/customer.h"
#include "domain/ledger.h"
#include "fixture.h"

TestSuite(threshold, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* credit_events: c's credits.low/.depleted/.recovered events, oldest
 * first, space-separated (without the "credits." prefix). */
static void credit_events(const struct fixture_customer *c, char *out, size_t len)
{
    fixture_text(out, len,
                 "SELECT coalesce(string_agg(substr(type, 9), ' ' ORDER BY seq), '')"
                 " FROM outbound_events WHERE customer_id = $1::uuid"
                 "   AND type IN ('credits.low', 'credits.depleted', 'credits.recovered')",
                 c->id, NULL);
}

static void move_to(const struct fixture_customer *c, long long balance)
{
    long long delta = balance - fixture_balance(c);
    if (delta == 0)
        return;
    struct tg_ctx *ctx = fixture_ctx();
    long long id, after;
    cr_assert_eq(ledger_adjust(ctx, c->id, delta, "threshold walk", &id, &after), TG_OK);
    cr_assert_eq(after, balance);
}

Test(threshold, the_rule_case_by_case)
{
    static const struct {
        const char *state;
        long long available, threshold;
        const char *next, *events;
    } cases[] = {
        {"ok", 5, 2, "ok", ""},
        {"ok", 3, 2, "ok", ""},
        {"ok", 2, 2, "low", "credits.low"},
        {"ok", 1, 2, "low", "credits.low"},
        {"ok", 0, 2, "depleted", "credits.low credits.depleted"},
        {"low", 2, 2, "low", ""},
        {"low", 1, 2, "low", ""},
        {"low", 0, 2, "depleted", "credits.depleted"},
        {"low", 3, 2, "ok", "credits.recovered"},
        {"depleted", 0, 2, "depleted", ""},
        {"depleted", 1, 2, "depleted", ""},
        {"depleted", 2, 2, "depleted", ""},
        {"depleted", 3, 2, "ok", "credits.recovered"},
        {"ok", 0, 0, "depleted", "credits.low credits.depleted"},
        {"depleted", 1, 0, "ok", "credits.recovered"},
        {"ok", 1, 0, "ok", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char avail[24], thr[24], got[128];
        snprintf(avail, sizeof(avail), "%lld", cases[i].available);
        snprintf(thr, sizeof(thr), "%lld", cases[i].threshold);
        fixture_text(got, sizeof(got),
                     "SELECT state || '|' || array_to_string(events, ' ')"
                     " FROM credit_state_next($1, $2::bigint, $3::bigint)",
                     cases[i].state, avail, thr, NULL);
        char want[128];
        snprintf(want, sizeof(want), "%s|%s", cases[i].next, cases[i].events);
        cr_assert_str_eq(got, want, "case %zu: %s at %s of %s", i, cases[i].state, avail, thr);
    }
}

Test(threshold, a_scripted_walk_fires_each_crossing_once)
{
    struct fixture_customer c;
    fixture_customer(&c); /* 5 credits, default threshold 2 */
    static const long long walk[] = {4, 3, 2, 1, 2, 1, 3, 4, 2, 2, 0, 1, 0, 2, 3, 1, 0, 9, 3};
    for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++)
        move_to(&c, walk[i]);
    char got[256];
    credit_events(&c, got, sizeof(got));
    /* 2: low; 3: recovered; 2: low; 0: depleted; 3: recovered; 1: low;
     * 0: depleted; 9: recovered. */
    cr_assert_str_eq(got, "low recovered low depleted recovered low depleted recovered");
    char state[16];
    fixture_text(state, sizeof(state), "SELECT credit_state FROM customers WHERE id = $1::uuid",
                 c.id, NULL);
    cr_assert_str_eq(state, "ok");
}

Test(threshold, setting_a_threshold_applies_the_rule_at_once)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer out;
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, 5, &out), TG_OK);
    cr_assert_eq(out.low_balance_threshold, 5);
    cr_assert_str_eq(out.credit_state, "low", "5 credits at a threshold of 5 is low");
    ctx = fixture_ctx();
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, 5, &out), TG_OK);
    ctx = fixture_ctx();
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, 4, &out), TG_OK);
    cr_assert_str_eq(out.credit_state, "ok");
    char got[128];
    credit_events(&c, got, sizeof(got));
    cr_assert_str_eq(got, "low recovered");
    cr_assert_eq(fixture_ll("SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
                            " AND action = 'customer.low_balance_threshold_set'",
                            c.id, NULL),
                 2, "two changes audited, the repeat not");
    ctx = fixture_ctx();
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, -1, &out), TG_EINVALID);
    ctx = fixture_ctx();
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, CUSTOMER_THRESHOLD_MAX + 1, &out),
                 TG_EINVALID);
    ctx = fixture_ctx();
    cr_assert_eq(customer_set_low_balance_threshold(ctx, "00000000-0000-4000-8000-000000000000",
                                                    3, &out),
                 TG_ENOTFOUND);
}

Test(threshold, a_charged_fix_at_zero_is_no_wobble)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer out;
    cr_assert_eq(customer_set_low_balance_threshold(ctx, c.id, 0, &out), TG_OK);
    move_to(&c, 0);
    /* What charge_settle writes: +1 purchased and -1 fix_deployed, one
     * transaction. */
    fixture_exec("SELECT set_config('t.c', $1, false)", c.id, NULL);
    fixture_exec("DO $$ BEGIN"
                 " INSERT INTO credit_transactions (customer_id, amount, kind, reference)"
                 "   VALUES (current_setting('t.c')::uuid, 1, 'purchased', 'test');"
                 " INSERT INTO credit_transactions (customer_id, amount, kind, reference)"
                 "   VALUES (current_setting('t.c')::uuid, -1, 'fix_deployed', 'test');"
                 " END $$",
                 NULL);
    char got[128];
    credit_events(&c, got, sizeof(got));
    cr_assert_str_eq(got, "low depleted", "nothing after the first depletion");
}
