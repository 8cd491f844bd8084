/*
 * test_ledger: domain/ledger.c against the database. ledger_adjust writes
 * one 'adjustment' entry with the reason and the session's actor, and
 * moves the balance with it; it refuses to go negative (TG_ECONFLICT, the
 * balance as it is, nothing written), also when racers take more than
 * there is; amount 0 or no reason is TG_EINVALID and an unknown customer
 * TG_ENOTFOUND, both writing nothing. ledger_page pages the ledger newest
 * first by sequence with has_more; ledger_summary reads the customer and
 * its recent entries together, and TG_ENOTFOUND for an unknown customer.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/audit.h"
#include "domain/ledger.h"
#include "fixture.h"

TestSuite(ledger, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

#define NO_CUSTOMER "00000000-0000-4000-8000-000000000000"

Test(ledger, adjust_writes_one_entry)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(audit_set_actor(ctx, "operator:domain-test"), TG_OK);
    long long id = 0, after = 0;
    cr_assert_eq(ledger_adjust(ctx, c.id, 7, "goodwill after outage", &id, &after), TG_OK);
    cr_assert_eq(after, 12);
    cr_assert_eq(fixture_balance(&c), 12);

    struct fixture_entry e[4];
    cr_assert_eq(fixture_ledger(&c, e, 4), 2);
    cr_assert_eq(e[1].id, id);
    cr_assert_eq(e[1].amount, 7);
    cr_assert_str_eq(e[1].kind, "adjustment");
    cr_assert_eq(e[1].balance_after, 12);
    cr_assert_str_eq(e[1].reference, "manual:operator:domain-test");
    char reason[64];
    char ids[32];
    snprintf(ids, sizeof(ids), "%lld", id);
    fixture_text(reason, sizeof(reason),
                 "SELECT description FROM credit_transactions WHERE id = $1", ids, NULL);
    cr_assert_str_eq(reason, "goodwill after outage");

    ctx = fixture_ctx();
    cr_assert_eq(ledger_adjust(ctx, c.id, -12, "closing the account", &id, &after), TG_OK);
    cr_assert_eq(after, 0, "down to exactly 0 is allowed");
    cr_assert_eq(fixture_balance(&c), 0);
}

Test(ledger, adjust_refuses_to_go_negative)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    long long id = -1, after = -1;
    cr_assert_eq(ledger_adjust(ctx, c.id, -6, "too much", &id, &after), TG_ECONFLICT);
    cr_assert_eq(ctx->error.code, TG_ECONFLICT);
    cr_assert_not_null(ctx->error.detail);
    cr_assert_eq(after, 5, "the balance as it is");
    cr_assert_eq(fixture_balance(&c), 5);
    cr_assert_eq(fixture_rows("credit_transactions", &c), 1, "an entry was written");
}

Test(ledger, adjust_refuses_zero_no_reason_and_unknown_customer)
{
    struct fixture_customer c;
    fixture_customer(&c);
    long long id, after;
    struct tg_ctx *ctx = fixture_ctx();
    cr_assert_eq(ledger_adjust(ctx, c.id, 0, "nothing", &id, &after), TG_EINVALID);
    ctx = fixture_ctx();
    cr_assert_eq(ledger_adjust(ctx, c.id, 3, "  ", &id, &after), TG_EINVALID);
    ctx = fixture_ctx();
    cr_assert_eq(ledger_adjust(ctx, c.id, 3, NULL, &id, &after), TG_EINVALID);
    cr_assert_eq(fixture_rows("credit_transactions", &c), 1);
    cr_assert_eq(fixture_balance(&c), 5);

    long long before = fixture_ll("SELECT count(*) FROM credit_transactions", NULL);
    ctx = fixture_ctx();
    cr_assert_eq(ledger_adjust(ctx, NO_CUSTOMER, 3, "nobody", &id, &after), TG_ENOTFOUND);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM credit_transactions", NULL), before);
}

static void take_one(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    (void)i;
    const struct fixture_customer *c = arg;
    long long id, after;
    out->code = ledger_adjust(ctx, c->id, -1, "racing", &id, &after);
    out->value = after;
}

Test(ledger, racing_adjustments_never_overdraw)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct fixture_shot shots[8];
    fixture_race(8, take_one, &c, shots);
    int ok = 0, refused = 0;
    for (size_t i = 0; i < 8; i++) {
        if (shots[i].code == TG_OK)
            ok++;
        else if (shots[i].code == TG_ECONFLICT)
            refused++;
        else
            cr_assert_fail("racer %zu: %s", i, tg_strerror(shots[i].code));
    }
    cr_assert_eq(ok, 5);
    cr_assert_eq(refused, 3);
    cr_assert_eq(fixture_balance(&c), 0);
    cr_assert_eq(fixture_rows("credit_transactions", &c), 6);
}

Test(ledger, page_is_newest_first_with_has_more)
{
    struct fixture_customer c;
    fixture_customer(&c);
    for (int i = 1; i <= 4; i++)
        fixture_add_credits(&c, i);
    struct tg_ctx *ctx = fixture_ctx();
    struct ledger_page page;
    cr_assert_eq(ledger_page(ctx, c.id, 0, 3, &page), TG_OK);
    cr_assert_eq(page.count, 3);
    cr_assert(page.has_more);
    cr_assert_eq(page.entries[0].amount, 4);
    cr_assert_eq(page.entries[0].balance_after, 15);
    cr_assert_eq(page.entries[1].amount, 3);
    cr_assert_eq(page.entries[2].amount, 2);
    for (size_t i = 1; i < page.count; i++)
        cr_assert_lt(page.entries[i].seq, page.entries[i - 1].seq);

    long long last = page.entries[2].seq;
    ctx = fixture_ctx();
    cr_assert_eq(ledger_page(ctx, c.id, last, 3, &page), TG_OK);
    cr_assert_eq(page.count, 2);
    cr_assert_not(page.has_more);
    cr_assert_eq(page.entries[0].amount, 1);
    cr_assert_str_eq(page.entries[1].kind, "trial_signup");
    cr_assert_eq(page.entries[1].balance_after, 5);
}

Test(ledger, summary_reads_customer_and_recent_entries)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_add_credits(&c, 2);
    struct tg_ctx *ctx = fixture_ctx();
    struct customer cu;
    struct ledger_page recent;
    cr_assert_eq(ledger_summary(ctx, c.id, 10, &cu, &recent), TG_OK);
    cr_assert_str_eq(cu.id, c.id);
    cr_assert_eq(cu.credit_balance, 7);
    cr_assert_eq(recent.count, 2);
    cr_assert_eq(recent.entries[0].balance_after, cu.credit_balance);
    cr_assert_str_eq(recent.entries[1].kind, "trial_signup");

    ctx = fixture_ctx();
    cr_assert_eq(ledger_summary(ctx, NO_CUSTOMER, 10, &cu, &recent), TG_ENOTFOUND);
    cr_assert_eq(ctx->error.code, TG_ENOTFOUND);
}
