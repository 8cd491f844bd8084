/*
 * test_usage: domain/usage.c (usage_record_fix, and through it
 * sql/functions/usage.sql) against the database, without Stripe: the
 * charged path is test_charge's. A fix at balance > 0 takes exactly one
 * credit and writes one fix_deployed entry and one event; a replay (same
 * Idempotency-Key and body) returns the same event (id, created_at,
 * balance) with replayed set and writes nothing; the key with another body
 * is TG_EIDEMPOTENCYREUSE; balance 0 without billing is TG_EINSUFFICIENT,
 * records nothing and leaves the key usable; with the billing_enabled kill
 * switch off a chargeable customer at 0 gets outcome "unbilled" and
 * nothing is charged (credits are still taken while there are any); a
 * delinquent customer at 0 is TG_EINSUFFICIENT saying payment is overdue
 * (its credits still work); with rate_limit_per_hour 2 the third request
 * is TG_ERATELIMITED with a retry-after and records nothing; unknown,
 * malformed, missing and revoked keys are TG_EUNAUTHORIZED; processes
 * racing on k credits, each with its own connection and one of the
 * customer's API keys, get exactly k, and racing duplicates of one
 * Idempotency-Key record one event.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "domain/apikey.h"
#include "domain/flag.h"
#include "domain/usage.h"
#include "fixture.h"

TestSuite(usage, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* fix: usage_record_fix on a fresh context (returned in *ctx) with the
 * body {"kind":"fix_deployed","fix_id":fix_id}. */
static enum tg_err fix(const char *api_key, const char *idem, const char *fix_id,
                       struct tg_ctx **ctx, struct usage_result *res)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", fix_id);
    *ctx = fixture_ctx();
    return usage_record_fix(*ctx, api_key, idem, body, strlen(body), fix_id, NULL, res);
}

/* nothing_recorded: c's ledger, balance and events are as given. */
static void assert_state(const struct fixture_customer *c, long long balance, long long entries,
                         long long events)
{
    cr_assert_eq(fixture_balance(c), balance, "balance %lld, expected %lld", fixture_balance(c),
                 balance);
    cr_assert_eq(fixture_rows("credit_transactions", c), entries, "ledger entries");
    cr_assert_eq(fixture_rows("usage_events", c), events, "usage events");
    cr_assert_eq(fixture_rows("charges", c), 0, "charges");
    cr_assert_eq(fixture_rows("stripe_requests", c), 0, "Stripe calls");
}

Test(usage, credit_takes_exactly_one)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(c.api_key, "k-1", "fix-1", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "credit");
    cr_assert_str_eq(r.event.kind, "fix_deployed");
    cr_assert_str_eq(r.event.fix_id, "fix-1");
    cr_assert_eq(r.event.balance_after, 4);
    cr_assert_not(r.event.replayed);
    cr_assert_eq(r.event.charge_id, 0);
    cr_assert_str_eq(r.auth.customer_id, c.id);
    cr_assert_str_eq(ctx->customer_id, c.id);
    assert_state(&c, 4, 2, 1);

    struct fixture_entry e[4];
    cr_assert_eq(fixture_ledger(&c, e, 4), 2);
    cr_assert_eq(e[1].id, r.event.ledger_entry_id);
    cr_assert_eq(e[1].amount, -1);
    cr_assert_str_eq(e[1].kind, "fix_deployed");
    cr_assert_eq(e[1].balance_after, 4);
    cr_assert_str_eq(e[1].reference, "fix-1");
}

Test(usage, replay_returns_the_same_event_and_writes_nothing)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct usage_result first, again;
    cr_assert_eq(fix(c.api_key, "k-replay", "fix-r", &ctx, &first), TG_OK);
    cr_assert_not(first.event.replayed);
    /* A later fix moves the balance: the replay still answers the first. */
    struct usage_result other;
    cr_assert_eq(fix(c.api_key, "k-other", "fix-o", &ctx, &other), TG_OK);
    assert_state(&c, 3, 3, 2);

    cr_assert_eq(fix(c.api_key, "k-replay", "fix-r", &ctx, &again), TG_OK);
    cr_assert(again.event.replayed);
    cr_assert_eq(again.event.id, first.event.id);
    cr_assert_str_eq(again.event.created_at, first.event.created_at);
    cr_assert_eq(again.event.balance_after, first.event.balance_after);
    cr_assert_eq(again.event.balance_after, 4);
    cr_assert_eq(again.event.ledger_entry_id, first.event.ledger_entry_id);
    cr_assert_str_eq(again.event.outcome, "credit");
    assert_state(&c, 3, 3, 2);
}

Test(usage, same_key_other_body_is_refused)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(c.api_key, "k-reuse", "fix-a", &ctx, &r), TG_OK);
    cr_assert_eq(fix(c.api_key, "k-reuse", "fix-b", &ctx, &r), TG_EIDEMPOTENCYREUSE);
    cr_assert_eq(ctx->error.code, TG_EIDEMPOTENCYREUSE);
    assert_state(&c, 4, 2, 1);
}

Test(usage, no_credit_without_billing_records_nothing)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, 0);
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(c.api_key, "k-broke", "fix-1", &ctx, &r), TG_EINSUFFICIENT);
    cr_assert_eq(ctx->error.code, TG_EINSUFFICIENT);
    cr_assert_not_null(ctx->error.detail);
    cr_assert_not_null(strstr(ctx->error.detail, "payment method"), "%s", ctx->error.detail);
    assert_state(&c, 0, 2, 0);

    /* Nothing was recorded under the key: once there is a credit, the same
     * request goes through. */
    fixture_add_credits(&c, 1);
    cr_assert_eq(fix(c.api_key, "k-broke", "fix-1", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "credit");
    cr_assert_not(r.event.replayed);
    assert_state(&c, 0, 4, 1);
}

Test(usage, kill_switch_records_unbilled)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_billing(&c, "payg", "active");
    fixture_set_balance(&c, 1);
    fixture_flag(FLAG_BILLING_ENABLED, 0);
    struct tg_ctx *ctx;
    struct usage_result r;
    /* Credits are still taken while there are any. */
    cr_assert_eq(fix(c.api_key, "k-ks-1", "fix-1", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "credit");
    cr_assert_eq(fixture_balance(&c), 0);
    long long entries = fixture_rows("credit_transactions", &c);

    cr_assert_eq(fix(c.api_key, "k-ks-2", "fix-2", &ctx, &r), TG_OK, "%s",
                 ctx->error.detail ? ctx->error.detail : tg_strerror(ctx->error.code));
    cr_assert_str_eq(r.event.outcome, "unbilled");
    cr_assert_eq(r.event.charge_id, 0);
    cr_assert_eq(r.event.ledger_entry_id, 0);
    cr_assert_eq(r.event.balance_after, 0);
    assert_state(&c, 0, entries, 2);

    /* Its replay is the same unbilled event. */
    struct usage_result again;
    cr_assert_eq(fix(c.api_key, "k-ks-2", "fix-2", &ctx, &again), TG_OK);
    cr_assert(again.event.replayed);
    cr_assert_eq(again.event.id, r.event.id);
    cr_assert_str_eq(again.event.outcome, "unbilled");
    assert_state(&c, 0, entries, 2);
}

Test(usage, delinquent_at_zero_is_refused_as_overdue)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_billing(&c, "payg", "delinquent");
    fixture_set_balance(&c, 1);
    struct tg_ctx *ctx;
    struct usage_result r;
    /* Credits stay usable while delinquent. */
    cr_assert_eq(fix(c.api_key, "k-d-1", "fix-1", &ctx, &r), TG_OK);
    cr_assert_str_eq(r.event.outcome, "credit");
    long long entries = fixture_rows("credit_transactions", &c);

    cr_assert_eq(fix(c.api_key, "k-d-2", "fix-2", &ctx, &r), TG_EINSUFFICIENT);
    cr_assert_eq(ctx->error.code, TG_EINSUFFICIENT);
    cr_assert_not_null(ctx->error.detail);
    cr_assert_not_null(strstr(ctx->error.detail, "overdue"), "%s", ctx->error.detail);
    assert_state(&c, 0, entries, 1);
}

Test(usage, third_request_over_a_limit_of_two_is_rate_limited)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_config()->rate_limit_per_hour = 2;
    long long hour = fixture_hour();
    struct tg_ctx *ctx;
    struct usage_result r;
    cr_assert_eq(fix(c.api_key, "k-rl-1", "fix-1", &ctx, &r), TG_OK);
    cr_assert_eq(fix(c.api_key, "k-rl-2", "fix-2", &ctx, &r), TG_OK);
    enum tg_err e = fix(c.api_key, "k-rl-3", "fix-3", &ctx, &r);
    /* Only the clock hour turning between the requests resets the count. */
    if (e == TG_OK && fixture_hour() != hour)
        cr_skip_test("the hour's window turned during the test");
    cr_assert_eq(e, TG_ERATELIMITED);
    cr_assert_eq(ctx->error.code, TG_ERATELIMITED);
    cr_assert(ctx->error.retry_after > 0 && ctx->error.retry_after <= 3600, "retry_after %d",
              ctx->error.retry_after);
    cr_assert_eq(r.auth.requests, 3);
    assert_state(&c, 3, 3, 2);
}

Test(usage, unknown_and_revoked_keys_are_unauthorized)
{
    struct fixture_customer c;
    fixture_customer(&c);
    char unknown[APIKEY_MAX_LEN + 1];
    snprintf(unknown, sizeof(unknown), "%s", c.api_key);
    unknown[APIKEY_MAX_LEN - 1] = unknown[APIKEY_MAX_LEN - 1] == '0' ? '1' : '0';
    const char *const keys[] = {unknown, "tg_test_0123", "not a key"};
    struct tg_ctx *ctx;
    struct usage_result r;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cr_assert_eq(fix(keys[i], "k-u", "fix-1", &ctx, &r), TG_EUNAUTHORIZED, "key %zu", i);
        cr_assert_eq(ctx->error.code, TG_EUNAUTHORIZED);
    }
    cr_assert_eq(fix(NULL, "k-u", "fix-1", &ctx, &r), TG_EUNAUTHORIZED);

    fixture_exec("UPDATE api_keys SET revoked_at = now() WHERE customer_id = $1", c.id, NULL);
    cr_assert_eq(fix(c.api_key, "k-u", "fix-1", &ctx, &r), TG_EUNAUTHORIZED);
    assert_state(&c, 5, 1, 0);
}

/* ---- races between processes, each with its own connection -------------- */

/* Racers use APIKEY_MAX_ACTIVE different keys of one customer: requests
 * with one key already queue on that key's rate-limit counter and
 * last_used_at, so only different keys race on the customer itself. */
struct race {
    char keys[APIKEY_MAX_ACTIVE][APIKEY_MAX_LEN + 1];
    bool same_key; /* every racer sends the one Idempotency-Key and body */
};

/* race_keys: c's onboarding key and as many new ones as it may hold. */
static void race_keys(const struct fixture_customer *c, struct race *race)
{
    snprintf(race->keys[0], sizeof(race->keys[0]), "%s", c->api_key);
    for (size_t i = 1; i < APIKEY_MAX_ACTIVE; i++) {
        struct tg_ctx *ctx = fixture_ctx();
        struct apikey key;
        struct api_key info;
        cr_assert_eq(apikey_create(ctx, c->id, NULL, &key, &info), TG_OK);
        snprintf(race->keys[i], sizeof(race->keys[i]), "%s", key.key);
        apikey_cleanse(&key);
    }
}

static void race_fix(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    const struct race *race = arg;
    char idem[32], fix_id[32], body[128];
    snprintf(idem, sizeof(idem), "k-race-%zu", race->same_key ? (size_t)0 : i);
    snprintf(fix_id, sizeof(fix_id), "fix-%zu", race->same_key ? (size_t)0 : i);
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", fix_id);
    struct usage_result r;
    out->code = usage_record_fix(ctx, race->keys[i % APIKEY_MAX_ACTIVE], idem, body, strlen(body),
                                 fix_id, NULL, &r);
    if (out->code == TG_OK) {
        out->value = r.event.id;
        out->flag = r.event.replayed;
        snprintf(out->text, sizeof(out->text), "%s", r.event.outcome);
    } else {
        snprintf(out->text, sizeof(out->text), "%s",
                 ctx->error.detail != NULL ? ctx->error.detail : "");
    }
}

Test(usage, racers_take_exactly_the_credits_there_are)
{
    enum { RACERS = APIKEY_MAX_ACTIVE, CREDITS = 4 };
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, CREDITS);
    static struct race race;
    race_keys(&c, &race);
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, race_fix, &race, shots);
    int paid = 0, refused = 0;
    for (size_t i = 0; i < RACERS; i++) {
        if (shots[i].code == TG_OK) {
            cr_assert_str_eq(shots[i].text, "credit");
            cr_assert_not(shots[i].flag);
            paid++;
        } else {
            cr_assert_eq(shots[i].code, TG_EINSUFFICIENT, "racer %zu: %s (%s)", i,
                         tg_strerror(shots[i].code), shots[i].text);
            refused++;
        }
    }
    cr_assert_eq(paid, CREDITS);
    cr_assert_eq(refused, RACERS - CREDITS);
    assert_state(&c, 0, 2 + CREDITS, CREDITS);
}

Test(usage, racing_duplicates_record_once)
{
    enum { RACERS = APIKEY_MAX_ACTIVE };
    struct fixture_customer c;
    fixture_customer(&c);
    static struct race race;
    race_keys(&c, &race);
    race.same_key = true;
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, race_fix, &race, shots);
    int first = 0;
    for (size_t i = 0; i < RACERS; i++) {
        cr_assert_eq(shots[i].code, TG_OK, "racer %zu: %s (%s)", i, tg_strerror(shots[i].code),
                     shots[i].text);
        cr_assert_eq(shots[i].value, shots[0].value, "racer %zu saw another event", i);
        first += !shots[i].flag;
    }
    cr_assert_eq(first, 1, "%d racers recorded the event", first);
    assert_state(&c, 4, 2, 1);
}
