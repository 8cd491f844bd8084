/*
 * test_customer: domain/customer.c against the database. Onboarding makes
 * the customer (tier trial, billing none), its first API key (tg_test_ in
 * development, working at once) and +5 trial_signup in one go; a second
 * signup with the same address in another case is TG_ECONFLICT and makes
 * nothing, also when six racers sign up with it at once; a disposable
 * domain (data/disposable-domains.txt, subdomains too) is TG_EDISPOSABLE
 * and a malformed address TG_EINVALID, both before anything is written; with
 * automated_customer_onboarding off signup is TG_ESIGNUPCLOSED with retry-after 3600 and makes
 * nothing, and on again it works; customer_get of an unknown id is TG_ENOTFOUND.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "domain/apikey.h"
#include "domain/customer.h"
#include "domain/flag.h"
#include "fixture.h"

TestSuite(customer, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* customers_with: customers whose e-mail equals email case-insensitively. */
static long long customers_with(const char *email)
{
    return fixture_ll("SELECT count(*) FROM customers WHERE lower(email) = lower($1)", email, NULL);
}

/* onboard: customer_onboard on a fresh context; the context is returned in
 * *ctx for its error. */
static enum tg_err onboard(const char *email, struct tg_ctx **ctx, struct customer *out)
{
    struct apikey key;
    *ctx = fixture_ctx();
    enum tg_err e = customer_onboard(*ctx, email, "Domain Test", "direct", out, &key);
    apikey_cleanse(&key);
    return e;
}

Test(customer, onboard_makes_trial_customer_key_and_credits)
{
    char email[128];
    fixture_email(email, sizeof(email), "example.com");
    struct tg_ctx *ctx = fixture_ctx();
    struct customer c;
    struct apikey key;
    cr_assert_eq(customer_onboard(ctx, email, "Ada", "early_access", &c, &key), TG_OK);
    cr_assert_str_eq(c.email, email);
    cr_assert_str_eq(c.name, "Ada");
    cr_assert_str_eq(c.source, "early_access");
    cr_assert_str_eq(c.tier, "trial");
    cr_assert_str_eq(c.billing_status, "none");
    cr_assert_eq(c.credit_balance, 5);
    cr_assert_null(c.stripe_customer_id);
    cr_assert_str_eq(ctx->customer_id, c.id);
    cr_assert_eq(strncmp(key.key, "tg_test_", 8), 0, "development keys are tg_test_: %.12s",
                 key.prefix);
    cr_assert_eq(strncmp(key.key, key.prefix, APIKEY_PREFIX_LEN), 0);

    struct fixture_customer fc;
    snprintf(fc.id, sizeof(fc.id), "%s", c.id);
    struct fixture_entry e[4];
    cr_assert_eq(fixture_ledger(&fc, e, 4), 1);
    cr_assert_eq(e[0].amount, 5);
    cr_assert_str_eq(e[0].kind, "trial_signup");
    cr_assert_eq(e[0].balance_after, 5);
    cr_assert_eq(fixture_rows("api_keys", &fc), 1);
    /* Only the key's hash is stored, never the key. */
    cr_assert_eq(fixture_ll("SELECT count(*) FROM api_keys WHERE customer_id = $1"
                            "   AND key_hash = sha256(convert_to($2, 'UTF8'))"
                            "   AND key_prefix = $3",
                            c.id, key.key, key.prefix, NULL),
                 1);

    /* The key works at once. */
    struct tg_ctx *auth = fixture_ctx();
    struct api_key_auth a;
    cr_assert_eq(apikey_authenticate(auth, key.key, &a), TG_OK);
    cr_assert_str_eq(a.customer_id, c.id);
    apikey_cleanse(&key);

    struct tg_ctx *get = fixture_ctx();
    struct customer again;
    cr_assert_eq(customer_get(get, c.id, &again), TG_OK);
    cr_assert_str_eq(again.email, email);
    cr_assert_eq(again.credit_balance, 5);
}

Test(customer, duplicate_email_in_another_case_is_a_conflict)
{
    struct fixture_customer first;
    fixture_customer(&first);
    char upper[128];
    snprintf(upper, sizeof(upper), "%s", first.email);
    for (char *p = upper; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    cr_assert_str_neq(upper, first.email);

    struct tg_ctx *ctx;
    struct customer c;
    cr_assert_eq(onboard(upper, &ctx, &c), TG_ECONFLICT);
    cr_assert_eq(ctx->error.code, TG_ECONFLICT);
    cr_assert_not_null(ctx->error.detail);
    cr_assert_eq(customers_with(first.email), 1, "a second customer was made");
    cr_assert_eq(fixture_rows("api_keys", &first), 1);
    cr_assert_eq(fixture_balance(&first), 5, "the first customer's credits changed");

    cr_assert_eq(onboard(first.email, &ctx, &c), TG_ECONFLICT, "the same spelling too");
    cr_assert_eq(customers_with(first.email), 1);
}

static void onboard_racer(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    char email[128];
    snprintf(email, sizeof(email), "%s", (const char *)arg);
    /* Each racer spells it differently: racer i upper-cases letter i. */
    for (size_t n = 0, at = 0; email[at] != '\0'; at++)
        if (isalpha((unsigned char)email[at]) && n++ == i)
            email[at] = (char)toupper((unsigned char)email[at]);
    struct customer c;
    struct apikey key;
    out->code = customer_onboard(ctx, email, "Racer", "direct", &c, &key);
    if (out->code == TG_OK)
        apikey_cleanse(&key);
}

Test(customer, racing_signups_of_one_address_make_one_customer)
{
    char email[128];
    fixture_email(email, sizeof(email), "example.com");
    struct fixture_shot shots[6];
    fixture_race(6, onboard_racer, email, shots);
    int made = 0;
    for (size_t i = 0; i < 6; i++) {
        cr_assert(shots[i].code == TG_OK || shots[i].code == TG_ECONFLICT, "racer %zu: %s", i,
                  tg_strerror(shots[i].code));
        made += shots[i].code == TG_OK;
    }
    cr_assert_eq(made, 1);
    cr_assert_eq(customers_with(email), 1);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM api_keys a JOIN customers c"
                            "    ON c.id = a.customer_id WHERE lower(c.email) = lower($1)",
                            email, NULL),
                 1);
}

Test(customer, disposable_domain_is_refused)
{
    static const char *const domains[] = {"mailinator.com", "sub.mailinator.com", "MAILINATOR.COM"};
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        char email[128];
        fixture_email(email, sizeof(email), domains[i]);
        struct tg_ctx *ctx;
        struct customer c;
        cr_assert_eq(onboard(email, &ctx, &c), TG_EDISPOSABLE, "%s", email);
        cr_assert_eq(ctx->error.code, TG_EDISPOSABLE);
        cr_assert_eq(customers_with(email), 0, "%s was created", email);
    }
}

Test(customer, malformed_email_is_invalid)
{
    static const char *const bad[] = {"no-at-sign.example.com", "a@", "@example.com",
                                      "two@@example.com", "a b@example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tg_ctx *ctx;
        struct customer c;
        cr_assert_eq(onboard(bad[i], &ctx, &c), TG_EINVALID, "%s", bad[i]);
        cr_assert_eq(customers_with(bad[i]), 0);
    }
}

Test(customer, signup_closed_by_flag)
{
    char email[128];
    fixture_email(email, sizeof(email), "example.com");
    long long before = fixture_ll("SELECT count(*) FROM customers", NULL);
    fixture_flag(FLAG_ONBOARDING, 0);

    struct tg_ctx *ctx;
    struct customer c;
    cr_assert_eq(onboard(email, &ctx, &c), TG_ESIGNUPCLOSED);
    cr_assert_eq(ctx->error.code, TG_ESIGNUPCLOSED);
    cr_assert_eq(ctx->error.retry_after, 3600);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM customers", NULL), before,
                 "a customer was made while signup was closed");

    fixture_flag(FLAG_ONBOARDING, 100);
    cr_assert_eq(onboard(email, &ctx, &c), TG_OK, "the same address once signup is open");
    cr_assert_eq(c.credit_balance, 5);
}

Test(customer, get_unknown_is_not_found)
{
    struct tg_ctx *ctx = fixture_ctx();
    struct customer c;
    cr_assert_eq(customer_get(ctx, "00000000-0000-4000-8000-000000000000", &c), TG_ENOTFOUND);
    cr_assert_eq(ctx->error.code, TG_ENOTFOUND);
}
