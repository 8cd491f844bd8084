/*
 * test_flag: domain/flag.c against the database. A flag at 0 is off and at
 * 100 on for every subject; an unknown flag is on; in between, a subject
 * is in when the first four bytes of SHA-256("<flag>:<subject>"), read big
 * endian, modulo 100 are below the percentage (computed here in C,
 * independently of sql/functions/flags.sql), so both answers occur and the
 * same subject always gets the same one; a change is seen by the next call
 * without reconnecting. Signup asks about the lower-cased address, so its
 * spelling does not change the answer.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/hash.h"
#include "domain/customer.h"
#include "domain/flag.h"
#include "fixture.h"

TestSuite(flag, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

/* bucket: the subject's bucket, 0..99, for flag name (the rule of
 * sql/functions/flags.sql, written again). */
static int bucket(const char *name, const char *subject)
{
    char text[256];
    uint8_t h[HASH_SHA256_LEN];
    int n = snprintf(text, sizeof(text), "%s:%s", name, subject);
    cr_assert(n > 0 && (size_t)n < sizeof(text));
    cr_assert_eq(hash_sha256(text, (size_t)n, h), 0);
    unsigned long v = (unsigned long)h[0] << 24 | (unsigned long)h[1] << 16 |
                      (unsigned long)h[2] << 8 | (unsigned long)h[3];
    return (int)(v % 100);
}

static bool enabled(const char *name, const char *subject)
{
    struct tg_ctx *ctx = fixture_ctx();
    bool on = false;
    cr_assert_eq(flag_enabled(ctx, name, subject, &on), TG_OK);
    return on;
}

Test(flag, all_or_nothing_and_unknown)
{
    fixture_flag(FLAG_BILLING_ENABLED, 0);
    cr_assert_not(enabled(FLAG_BILLING_ENABLED, "a"));
    cr_assert_not(enabled(FLAG_BILLING_ENABLED, "b"));
    fixture_flag(FLAG_BILLING_ENABLED, 100);
    cr_assert(enabled(FLAG_BILLING_ENABLED, "a"), "the change is seen at once");
    cr_assert(enabled(FLAG_BILLING_ENABLED, "b"));
    cr_assert(enabled("no_such_flag", "a"), "an unknown flag is on");
}

Test(flag, percentage_follows_the_subject_bucket)
{
    fixture_flag(FLAG_BILLING_ENABLED, 30);
    int on = 0;
    for (int i = 0; i < 60; i++) {
        char subject[40];
        snprintf(subject, sizeof(subject), "00000000-0000-4000-8000-%012d", i);
        bool want = bucket(FLAG_BILLING_ENABLED, subject) < 30;
        cr_assert_eq(enabled(FLAG_BILLING_ENABLED, subject), want, "subject %s, bucket %d", subject,
                     bucket(FLAG_BILLING_ENABLED, subject));
        cr_assert_eq(enabled(FLAG_BILLING_ENABLED, subject), want, "not stable for %s", subject);
        on += want;
    }
    cr_assert(on > 0 && on < 60, "%d of 60 on: the test needs both answers", on);
}

/* upper: s upper-cased into out. */
static void upper(const char *s, char *out, size_t len)
{
    snprintf(out, len, "%s", s);
    for (char *p = out; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
}

Test(flag, signup_asks_about_the_lower_cased_address)
{
    fixture_flag(FLAG_ONBOARDING, 50);
    bool seen_in = false, seen_out = false;
    for (int tries = 0; tries < 500 && !(seen_in && seen_out); tries++) {
        char email[128], shout[128];
        fixture_email(email, sizeof(email), "example.com");
        upper(email, shout, sizeof(shout));
        bool in = bucket(FLAG_ONBOARDING, email) < 50;
        /* Only addresses whose spellings fall on different sides tell. */
        if (in == (bucket(FLAG_ONBOARDING, shout) < 50) || (in && seen_in) || (!in && seen_out))
            continue;
        struct tg_ctx *ctx = fixture_ctx();
        struct customer c;
        struct apikey key;
        enum tg_err e = customer_onboard(ctx, shout, "Flagged", "direct", &c, &key);
        cr_assert_eq(e, in ? TG_OK : TG_ESIGNUPCLOSED, "%s (bucket %d of %s): %s", shout,
                     bucket(FLAG_ONBOARDING, email), email, tg_strerror(e));
        if (e == TG_OK)
            apikey_cleanse(&key);
        seen_in = seen_in || in;
        seen_out = seen_out || !in;
    }
    cr_assert(seen_in && seen_out);
}
