/*
 * test_holds: domain/hold.c (and sql/functions/holds.sql) against the
 * database and the Stripe emulator. A credit hold reserves one credit
 * (held 1, available one less, the ledger untouched) and settles into
 * one fix_deployed entry and a usage event, the same event on every
 * retry; a retry of the create with its key and body returns the hold,
 * another body is refused; usage cannot take a held credit; release
 * frees it and answers the same on a retry; settling a released hold,
 * releasing a settled one and settling an expired one are refused with
 * their own errors; tollgate-worker's expiry frees expired holds; racing
 * holds on k credits take exactly k credit holds (the rest refused, or,
 * with billing, charge holds); a settle racing a release (and one racing
 * the expiry) of one hold: exactly one side wins; a charge hold settles
 * through Stripe exactly once, and a declined one is active again.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "domain/hold.h"
#include "domain/ledger.h"
#include "domain/customer.h"
#include "domain/payment.h"
#include "domain/spend_limit.h"
#include "domain/usage.h"
#include "fixture.h"
#include "integration/stripe.h"

TestSuite(holds, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* take: hold_create of fix fix_id under key idem on a fresh context. */
static enum tg_err take(const struct fixture_customer *c, const char *idem, const char *fix_id,
                        long ttl, struct hold_result *h)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", fix_id);
    return hold_create(fixture_ctx(), c->api_key, idem, body, strlen(body), fix_id, ttl, h);
}

static long long held(const struct fixture_customer *c)
{
    return fixture_ll("SELECT credits_held FROM customers WHERE id = $1", c->id, NULL);
}

static long long holds_with(const struct fixture_customer *c, const char *reserves,
                            const char *status)
{
    return fixture_ll("SELECT count(*) FROM holds WHERE customer_id = $1 AND reserves = $2"
                      " AND status = $3",
                      c->id, reserves, status, NULL);
}

/* expire_now: hold id's expiry is in the past (as if its TTL ran out). */
static void expire_now(const char *id)
{
    fixture_exec("UPDATE holds SET expires_at = now() - interval '1 second' WHERE id = $1", id,
                 NULL);
}

Test(holds, credit_hold_reserves_then_settles_once)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result h, s1, s2;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    cr_assert_str_eq(h.hold.reserves, "credit");
    cr_assert_str_eq(h.hold.status, "active");
    cr_assert_not(h.replayed);
    cr_assert_eq(held(&c), 1);
    cr_assert_eq(fixture_balance(&c), 5, "a hold is not a ledger entry");
    cr_assert_eq(fixture_rows("credit_transactions", &c), 1);
    cr_assert_eq(fixture_rows("usage_events", &c), 0);

    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(hold_settle(ctx, c.api_key, h.hold.id, &s1), TG_OK);
    cr_assert_str_eq(s1.hold.status, "settled");
    cr_assert_str_eq(s1.event.outcome, "credit");
    cr_assert_str_eq(s1.event.fix_id, "fix-1");
    cr_assert_eq(s1.event.balance_after, 4);
    cr_assert_eq(held(&c), 0);
    cr_assert_eq(fixture_balance(&c), 4);
    cr_assert_eq(fixture_rows("usage_events", &c), 1);

    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &s2), TG_OK, "retry");
    cr_assert_eq(s2.event.id, s1.event.id);
    cr_assert_str_eq(s2.event.created_at, s1.event.created_at);
    cr_assert_str_eq(s2.hold.updated_at, s1.hold.updated_at);
    cr_assert_eq(fixture_balance(&c), 4, "a retried settle took another credit");
    cr_assert_eq(fixture_rows("credit_transactions", &c), 2);
}

Test(holds, create_is_idempotent_by_key)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result a, b, x;
    cr_assert_eq(take(&c, "h-k", "fix-k", 600, &a), TG_OK);
    cr_assert_eq(take(&c, "h-k", "fix-k", 600, &b), TG_OK);
    cr_assert(b.replayed);
    cr_assert_str_eq(b.hold.id, a.hold.id);
    cr_assert_eq(held(&c), 1, "the retry held a second credit");
    cr_assert_eq(take(&c, "h-k", "fix-other", 600, &x), TG_EIDEMPOTENCYREUSE);
    cr_assert_eq(take(&c, "h-t", "fix-t", HOLD_TTL_MAX + 1, &x), TG_EINVALID);
    struct fixture_customer nobody = c;
    snprintf(nobody.api_key, sizeof(nobody.api_key), "%s",
             "tg_test_0000000000000000000000000000000000000000000000000000000000000000");
    cr_assert_eq(take(&nobody, "h-n", "fix-n", 600, &x), TG_EUNAUTHORIZED, "an unknown key");
    cr_assert_eq(hold_settle(fixture_ctx(), nobody.api_key, a.hold.id, &x), TG_EUNAUTHORIZED);
    cr_assert_eq(hold_release(fixture_ctx(), NULL, a.hold.id, &x), TG_EUNAUTHORIZED, "no key");
    cr_assert_eq(fixture_ll("SELECT count(*) FROM holds WHERE customer_id = $1", c.id, NULL), 1);
}

Test(holds, usage_cannot_take_a_held_credit)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, 1);
    struct hold_result h, x;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    cr_assert_eq(take(&c, "h-2", "fix-2", 600, &x), TG_EINSUFFICIENT, "a second hold");
    const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"fix-u\"}";
    struct usage_result u;
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(usage_record_fix(ctx, c.api_key, "u-1", body, strlen(body), "fix-u", NULL, &u),
                 TG_EINSUFFICIENT, "usage took the held credit");
    cr_assert_eq(fixture_balance(&c), 1);
    /* Nor can an operator's adjustment take it away. */
    long long entry, after;
    cr_assert_eq(ledger_adjust(fixture_ctx(), c.id, -1, "test", &entry, &after), TG_ECONFLICT);
    cr_assert_eq(fixture_balance(&c), 1);
    /* Released, the credit is usage's again. */
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &x), TG_OK);
    ctx = fixture_ctx();
    cr_assert_eq(usage_record_fix(ctx, c.api_key, "u-1", body, strlen(body), "fix-u", NULL, &u),
                 TG_OK);
    cr_assert_eq(fixture_balance(&c), 0);
}

Test(holds, release_frees_and_answers_the_same)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result h, r1, r2, x;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &r1), TG_OK);
    cr_assert_str_eq(r1.hold.status, "released");
    cr_assert_eq(held(&c), 0);
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &r2), TG_OK, "retry");
    cr_assert_str_eq(r2.hold.status, "released");
    cr_assert_str_eq(r2.hold.updated_at, r1.hold.updated_at);
    cr_assert_eq(held(&c), 0, "a retried release freed twice");
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(hold_settle(ctx, c.api_key, h.hold.id, &x), TG_EHOLDRELEASED);
    cr_assert_eq(fixture_balance(&c), 5);
    cr_assert_eq(fixture_rows("usage_events", &c), 0);

    /* A settled hold cannot be released. */
    cr_assert_eq(take(&c, "h-2", "fix-2", 600, &h), TG_OK);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &x), TG_OK);
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &x), TG_EHOLDSETTLED);
    cr_assert_eq(fixture_balance(&c), 4);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, "not-a-uuid", &x), TG_ENOTFOUND);
    struct fixture_customer other;
    fixture_customer(&other);
    cr_assert_eq(hold_settle(fixture_ctx(), other.api_key, h.hold.id, &x), TG_ENOTFOUND,
                 "another customer's hold");
}

Test(holds, expired_hold_cannot_be_settled)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result h, x;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    expire_now(h.hold.id);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &x), TG_EHOLDEXPIRED);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &x), TG_EHOLDEXPIRED, "retry");
    cr_assert_eq(held(&c), 0);
    cr_assert_eq(holds_with(&c, "credit", "expired"), 1);
    cr_assert_eq(fixture_balance(&c), 5);
    cr_assert_eq(fixture_rows("usage_events", &c), 0);
    /* Releasing it is harmless: it answers the hold as it is. */
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &x), TG_OK);
    cr_assert_str_eq(x.hold.status, "expired");
}

Test(holds, worker_expires_due_holds)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result a, b;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &a), TG_OK);
    cr_assert_eq(take(&c, "h-2", "fix-2", 600, &b), TG_OK);
    cr_assert_eq(held(&c), 2);
    expire_now(a.hold.id);
    long long n = 0;
    /* Other tests' holds may be due too: expire until none is left. */
    for (int i = 0; i < 100 && holds_with(&c, "credit", "expired") == 0; i++)
        cr_assert_eq(hold_expire_due(fixture_ctx(), 100, &n), TG_OK);
    cr_assert_eq(holds_with(&c, "credit", "expired"), 1);
    cr_assert_eq(holds_with(&c, "credit", "active"), 1, "a hold not due was expired");
    cr_assert_eq(held(&c), 1);
    cr_assert_eq(fixture_balance(&c), 5);
}

/* ---- races ------------------------------------------------------------------ */

struct race {
    char key[APIKEY_MAX_LEN + 1]; /* the customer's API key */
    char hold[40];
};

static void race_take(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    const struct race *race = arg;
    char idem[32], fix_id[32], body[128];
    snprintf(idem, sizeof(idem), "h-race-%zu", i);
    snprintf(fix_id, sizeof(fix_id), "fix-%zu", i);
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", fix_id);
    struct hold_result h;
    out->code = hold_create(ctx, race->key, idem, body, strlen(body), fix_id, 600, &h);
    snprintf(out->text, sizeof(out->text), "%s", out->code == TG_OK ? h.hold.reserves : "");
}

/* take_race: RACERS holds at once on c; counts of credit and charge holds
 * and refusals. */
static void take_race(const struct fixture_customer *c, size_t racers, int *credit, int *charge,
                      int *refused)
{
    static struct race race;
    snprintf(race.key, sizeof(race.key), "%s", c->api_key);
    struct fixture_shot shots[FIXTURE_RACE_MAX];
    fixture_race(racers, race_take, &race, shots);
    *credit = *charge = *refused = 0;
    for (size_t i = 0; i < racers; i++) {
        if (shots[i].code == TG_EINSUFFICIENT)
            (*refused)++;
        else if (shots[i].code == TG_OK && strcmp(shots[i].text, "credit") == 0)
            (*credit)++;
        else if (shots[i].code == TG_OK && strcmp(shots[i].text, "charge") == 0)
            (*charge)++;
        else
            cr_assert_fail("racer %zu: %s", i, tg_strerror(shots[i].code));
    }
}

Test(holds, racing_holds_take_exactly_the_credits_there_are)
{
    enum { RACERS = 12, CREDITS = 3 };
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, CREDITS);
    int credit, charge, refused;
    take_race(&c, RACERS, &credit, &charge, &refused);
    cr_assert_eq(credit, CREDITS);
    cr_assert_eq(charge, 0);
    cr_assert_eq(refused, RACERS - CREDITS);
    cr_assert_eq(held(&c), CREDITS);
    cr_assert_eq(fixture_balance(&c), CREDITS);
}

Test(holds, racing_holds_with_billing_hold_charges_for_the_rest)
{
    enum { RACERS = 12, CREDITS = 3 };
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, CREDITS);
    fixture_billing(&c, "payg", "active");
    int credit, charge, refused;
    take_race(&c, RACERS, &credit, &charge, &refused);
    cr_assert_eq(credit, CREDITS);
    cr_assert_eq(charge, RACERS - CREDITS);
    cr_assert_eq(refused, 0);
    cr_assert_eq(held(&c), CREDITS);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM holds WHERE customer_id = $1"
                            " AND reserves = 'charge' AND amount_cents = 2900"
                            " AND currency = 'usd'",
                            c.id, NULL),
                 RACERS - CREDITS);
}

/* race_end: even racers settle the hold, odd ones release it (or, with
 * arg's hold prefixed by "settle:", all settle). */
static void race_end(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    const struct race *race = arg;
    struct hold_result r;
    out->flag = i % 2 == 0;
    out->code = out->flag ? hold_settle(ctx, race->key, race->hold, &r)
                          : hold_release(ctx, race->key, race->hold, &r);
    out->value = r.event.id;
}

Test(holds, settle_racing_release_one_side_wins)
{
    enum { RACERS = 10 };
    for (int round = 0; round < 3; round++) {
        struct fixture_customer c;
        fixture_customer(&c);
        struct hold_result h;
        cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
        static struct race race;
        snprintf(race.key, sizeof(race.key), "%s", c.api_key);
        snprintf(race.hold, sizeof(race.hold), "%s", h.hold.id);
        struct fixture_shot shots[RACERS];
        fixture_race(RACERS, race_end, &race, shots);
        char status[16];
        fixture_text(status, sizeof(status), "SELECT status FROM holds WHERE id = $1",
                     h.hold.id, NULL);
        bool settled = strcmp(status, "settled") == 0;
        cr_assert(settled || strcmp(status, "released") == 0, "status %s", status);
        for (size_t i = 0; i < RACERS; i++) {
            enum tg_err want = shots[i].flag ? (settled ? TG_OK : TG_EHOLDRELEASED)
                                             : (settled ? TG_EHOLDSETTLED : TG_OK);
            cr_assert_eq(shots[i].code, want, "round %d racer %zu (%s, hold %s): %s", round, i,
                         shots[i].flag ? "settle" : "release", status,
                         tg_strerror(shots[i].code));
        }
        cr_assert_eq(fixture_balance(&c), settled ? 4 : 5);
        cr_assert_eq(fixture_rows("usage_events", &c), settled ? 1 : 0);
        cr_assert_eq(held(&c), 0);
    }
}

static void race_expiry(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    const struct race *race = arg;
    struct hold_result r;
    long long n;
    out->flag = i % 2 == 0;
    out->code = out->flag ? hold_settle(ctx, race->key, race->hold, &r)
                          : hold_expire_due(ctx, 100, &n);
}

Test(holds, settle_racing_expiry_one_side_wins)
{
    enum { RACERS = 10 };
    struct fixture_customer c;
    fixture_customer(&c);
    struct hold_result h;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    /* Due a moment from now: the racers meet it on either side. */
    fixture_exec("UPDATE holds SET expires_at = now() + interval '150 milliseconds'"
                 " WHERE id = $1",
                 h.hold.id, NULL);
    static struct race race;
    snprintf(race.key, sizeof(race.key), "%s", c.api_key);
    snprintf(race.hold, sizeof(race.hold), "%s", h.hold.id);
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, race_expiry, &race, shots);
    char status[16];
    fixture_text(status, sizeof(status), "SELECT status FROM holds WHERE id = $1", h.hold.id,
                 NULL);
    bool settled = strcmp(status, "settled") == 0;
    cr_assert(settled || strcmp(status, "expired") == 0, "status %s", status);
    for (size_t i = 0; i < RACERS; i++)
        cr_assert_eq(shots[i].code, !shots[i].flag ? TG_OK : settled ? TG_OK : TG_EHOLDEXPIRED,
                     "racer %zu: %s (hold %s)", i, tg_strerror(shots[i].code), status);
    cr_assert_eq(fixture_balance(&c), settled ? 4 : 5);
    cr_assert_eq(held(&c), 0);
}

/* ---- charge holds, through the Stripe emulator -------------------------------- */

static void with_card(struct fixture_customer *c, const char *pm)
{
    fixture_customer(c);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    cr_assert_eq(payment_method_add(ctx, c->id, pm, &cu), TG_OK);
    fixture_set_balance(c, 0);
}

static size_t stripe_intents(const struct fixture_customer *c)
{
    char cus[64];
    fixture_text(cus, sizeof(cus), "SELECT stripe_customer_id FROM customers WHERE id = $1", c->id,
                 NULL);
    struct tg_ctx *ctx = fixture_ctx();
    const struct stripe_param q[] = {{"customer", cus}, {"limit", "100"}};
    struct stripe_result r;
    cr_assert_eq(stripe_call(ctx, "GET", "/v1/payment_intents", q, 2, NULL, &r), TG_OK);
    return json_array_size(json_object_get(r.body, "data"));
}

Test(holds, charge_hold_settles_through_stripe_once)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    struct hold_result h, s1, s2;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    cr_assert_str_eq(h.hold.reserves, "charge");
    cr_assert_eq(h.hold.amount_cents, 2900);
    cr_assert_eq(held(&c), 0);
    cr_assert_eq(stripe_intents(&c), 0, "a hold charged");
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(hold_settle(ctx, c.api_key, h.hold.id, &s1), TG_OK, "%s",
                 ctx->error.detail ? ctx->error.detail : "");
    cr_assert_str_eq(s1.event.outcome, "charged");
    cr_assert_eq(s1.event.amount_cents, 2900);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &s2), TG_OK);
    cr_assert_eq(s2.event.id, s1.event.id);
    cr_assert_str_eq(s2.event.outcome, "charged");
    cr_assert_eq(stripe_intents(&c), 1);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM charges WHERE customer_id = $1"
                            " AND status = 'succeeded'",
                            c.id, NULL),
                 1);
    cr_assert_eq(fixture_balance(&c), 0);
}

Test(holds, declined_charge_hold_is_active_again)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_chargeCustomerFail");
    struct hold_result h, x;
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h), TG_OK);
    cr_assert_eq(hold_settle(fixture_ctx(), c.api_key, h.hold.id, &x), TG_EPAYMENTFAILED);
    cr_assert_eq(holds_with(&c, "charge", "active"), 1);
    cr_assert_eq(fixture_rows("usage_events", &c), 0);
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h.hold.id, &x), TG_OK);
    cr_assert_str_eq(x.hold.status, "released");
}

/* ---- spend limits (domain/spend_limit.h) ---------------------------------------- */

static void limit(const struct fixture_customer *c, long long cents)
{
    struct spend_limit l;
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(spend_limit_set(ctx, c->id, cents, "usd", &l), TG_OK, "%s",
                 ctx->error.detail ? ctx->error.detail : "");
    cr_assert_eq(l.monthly_cents, cents);
}

static long long notices(const struct fixture_customer *c, const char *threshold)
{
    return fixture_ll("SELECT count(*) FROM spend_limit_notices WHERE customer_id = $1"
                      " AND threshold = $2::smallint",
                      c->id, threshold, NULL);
}

Test(holds, spend_limit_is_set_checked_and_audited)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct spend_limit l;
    cr_assert_eq(spend_limit_set(fixture_ctx(), c.id, 1000, "eur", &l), TG_EINVALID,
                 "a currency fixes are not charged in");
    cr_assert_eq(spend_limit_set(fixture_ctx(), c.id, 1000, "USD", &l), TG_EINVALID);
    cr_assert_eq(spend_limit_set(fixture_ctx(), c.id, -1, "usd", &l), TG_EINVALID);
    cr_assert_eq(spend_limit_set(fixture_ctx(), c.id, SPEND_LIMIT_MAX_CENTS + 1, "usd", &l),
                 TG_EINVALID);
    limit(&c, 8700);
    limit(&c, 5800);
    struct customer cu;
    cr_assert_eq(customer_get(fixture_ctx(), c.id, &cu), TG_OK);
    cr_assert(cu.spend_limit.set);
    cr_assert_eq(cu.spend_limit.monthly_cents, 5800);
    cr_assert_str_eq(cu.spend_limit.currency, "usd");
    cr_assert_eq(cu.spend_limit.spent_cents, 0);
    bool removed;
    cr_assert_eq(spend_limit_remove(fixture_ctx(), c.id, &removed), TG_OK);
    cr_assert(removed);
    cr_assert_eq(spend_limit_remove(fixture_ctx(), c.id, &removed), TG_OK);
    cr_assert_not(removed);
    cr_assert_eq(customer_get(fixture_ctx(), c.id, &cu), TG_OK);
    cr_assert_not(cu.spend_limit.set);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM audit_log WHERE customer_id = $1"
                            " AND action = 'spend_limit.set'",
                            c.id, NULL),
                 2);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM audit_log WHERE customer_id = $1"
                            " AND action = 'spend_limit.removed'"
                            " AND (before ->> 'monthly_cents')::bigint = 5800",
                            c.id, NULL),
                 1);
}

Test(holds, charge_holds_count_against_the_limit_and_cross_thresholds)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, 0);
    fixture_billing(&c, "payg", "active");
    limit(&c, 10000);
    struct hold_result h[4];
    cr_assert_eq(take(&c, "h-1", "fix-1", 600, &h[0]), TG_OK); /* 2900: 29 % */
    cr_assert_eq(take(&c, "h-2", "fix-2", 600, &h[1]), TG_OK); /* 5800: 58 % */
    cr_assert_eq(notices(&c, "80"), 0);
    cr_assert_eq(take(&c, "h-3", "fix-3", 600, &h[2]), TG_OK); /* 8700: 87 % */
    cr_assert_eq(notices(&c, "80"), 1);
    cr_assert_eq(notices(&c, "90"), 0);
    cr_assert_eq(take(&c, "h-4", "fix-4", 600, &h[3]), TG_ESPENDLIMIT, "11600 > 10000");
    cr_assert_eq(notices(&c, "100"), 1, "the refusal reaches the limit");
    cr_assert_eq(holds_with(&c, "charge", "active"), 3);
    /* The decision reports what it crosses first this month, once. */
    char crossed[64];
    fixture_text(crossed, sizeof(crossed),
                 "SELECT allowed || ' ' || spent_before || ' ' || spent_after || ' ' || crossed::text"
                 " FROM spend_limit_check($1, 1000, 'usd')",
                 c.id, NULL);
    cr_assert_str_eq(crossed, "true 8700 9700 {90}");
    fixture_text(crossed, sizeof(crossed),
                 "SELECT allowed || ' ' || crossed::text FROM spend_limit_check($1, 1400, 'usd')",
                 c.id, NULL);
    cr_assert_str_eq(crossed, "false {}", "100 again in the same month");
    /* A released charge hold no longer counts. */
    struct hold_result x;
    cr_assert_eq(hold_release(fixture_ctx(), c.api_key, h[0].hold.id, &x), TG_OK);
    cr_assert_eq(take(&c, "h-5", "fix-5", 600, &x), TG_OK);
    cr_assert_str_eq(x.hold.reserves, "charge");
    /* Credits are not charges: a credit hold ignores the limit. */
    limit(&c, 0);
    fixture_add_credits(&c, 1);
    cr_assert_eq(take(&c, "h-6", "fix-6", 600, &x), TG_OK);
    cr_assert_str_eq(x.hold.reserves, "credit");
}

Test(holds, racing_holds_at_zero_stay_within_the_limit)
{
    enum { RACERS = 12, ALLOWED = 3 };
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_set_balance(&c, 0);
    fixture_billing(&c, "payg", "active");
    limit(&c, ALLOWED * 2900 + 100);
    static struct race race;
    snprintf(race.key, sizeof(race.key), "%s", c.api_key);
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, race_take, &race, shots);
    int charge = 0, refused = 0;
    for (size_t i = 0; i < RACERS; i++) {
        if (shots[i].code == TG_OK && strcmp(shots[i].text, "charge") == 0)
            charge++;
        else if (shots[i].code == TG_ESPENDLIMIT)
            refused++;
        else
            cr_assert_fail("racer %zu: %s", i, tg_strerror(shots[i].code));
    }
    cr_assert_eq(charge, ALLOWED);
    cr_assert_eq(refused, RACERS - ALLOWED);
    cr_assert_eq(holds_with(&c, "charge", "active"), ALLOWED);
}

Test(holds, usage_charges_stop_at_the_limit)
{
    struct fixture_customer c;
    with_card(&c, "pm_card_visa");
    limit(&c, 2 * 2900);
    const char *keys[] = {"u-1", "u-2", "u-3"};
    for (int i = 0; i < 3; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\"}", keys[i]);
        struct usage_result u;
        struct tg_ctx *ctx = fixture_ctx();
        enum tg_err e = usage_record_fix(ctx, c.api_key, keys[i], body, strlen(body), keys[i],
                                         NULL, &u);
        cr_assert_eq(e, i < 2 ? TG_OK : TG_ESPENDLIMIT, "fix %d: %s", i, tg_strerror(e));
    }
    cr_assert_eq(stripe_intents(&c), 2, "PaymentIntents at Stripe");
    cr_assert_eq(fixture_rows("charges", &c), 2);
    cr_assert_eq(fixture_rows("usage_events", &c), 2);
    cr_assert_eq(notices(&c, "80") + notices(&c, "90") + notices(&c, "100"), 3);
    struct customer cu;
    cr_assert_eq(customer_get(fixture_ctx(), c.id, &cu), TG_OK);
    cr_assert_eq(cu.spend_limit.spent_cents, 5800);
}
