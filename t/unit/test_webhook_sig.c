/*
 * Unit tests for src/integration/webhook_sig.c: every vector of Stripe's
 * signature_vectors.json ($STRIPE_SHARED, made and cross-checked with
 * Stripe's own libraries) gives its expected verdict; headers we sign verify
 * and any change to body, time or secret breaks them; malformed headers are
 * refused; GitHub's documented example signature verifies.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "integration/webhook_sig.h"
#include "unit.h"

TestSuite(webhook_sig, .fini = leak_check);

/* read_file: the whole file, malloc'd; *len its size. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

Test(webhook_sig, stripe_vectors)
{
    const char *shared = getenv("STRIPE_SHARED");
    if (shared == NULL)
        cr_skip_test("STRIPE_SHARED not set: Stripe's signature vectors are not here");
    char path[1024];
    snprintf(path, sizeof(path), "%s/signature_vectors.json", shared);
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    cr_assert_not_null(doc, "%s: %s", path, jerr.text);
    size_t i, n = 0;
    json_t *v;
    json_array_foreach(json_object_get(doc, "vectors"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *file = json_string_value(json_object_get(v, "payload_file"));
        size_t len;
        char *owned = NULL;
        const char *payload;
        if (file != NULL) {
            snprintf(path, sizeof(path), "%s/%s", shared, file);
            payload = owned = read_file(path, &len);
        } else {
            payload = json_string_value(json_object_get(v, "payload"));
            len = strlen(payload);
        }
        enum webhook_sig r = webhook_sig_stripe(
            json_string_value(json_object_get(v, "secret")),
            json_string_value(json_object_get(v, "header")), payload, len,
            json_integer_value(json_object_get(v, "now")),
            json_integer_value(json_object_get(v, "tolerance")));
        bool want = json_is_true(json_object_get(v, "expect_valid"));
        /* Deliberate difference: Stripe's libraries accept a timestamp from
         * any time in the future; tollgate refuses one beyond the tolerance
         * (a captured, future-dated delivery would otherwise stay valid
         * for as long as its t lies ahead). */
        if (strcmp(name, "future_timestamp") == 0)
            want = false;
        cr_expect_eq(r == WEBHOOK_SIG_OK, want, "vector %s: got \"%s\"", name,
                     webhook_sig_str(r));
        free(owned);
        n++;
    }
    cr_assert_geq(n, 10, "only %zu vectors", n);
    json_decref(doc);
}

Test(webhook_sig, own_header_round_trips_and_detects_changes)
{
    const char *body = "{\"id\":\"evt_1\",\"object\":\"event\"}";
    char h[160];
    cr_assert_eq(webhook_sig_stripe_header("whsec_abc", body, strlen(body), 1000, h, sizeof(h)), 0);
    cr_assert_eq(strncmp(h, "t=1000,v1=", 10), 0, "%s", h);
    cr_assert_eq(strlen(h), 10 + 64);
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1000, 300),
                 WEBHOOK_SIG_OK);
    cr_assert_eq(webhook_sig_stripe("whsec_abd", h, body, strlen(body), 1000, 300),
                 WEBHOOK_SIG_MISMATCH);
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body) - 1, 1000, 300),
                 WEBHOOK_SIG_MISMATCH);
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1301, 300),
                 WEBHOOK_SIG_TOO_OLD);
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1300, 300),
                 WEBHOOK_SIG_OK, "age equal to the tolerance is accepted");
    cr_assert_eq(webhook_sig_stripe_header("whsec_abc", body, strlen(body), 1000, h, 20), -1);
}

/* A timestamp ahead of our clock is refused beyond the tolerance too:
 * t = now + 400 s with a 300 s tolerance was accepted before 0.2.1. */
Test(webhook_sig, future_timestamps_beyond_tolerance_are_refused)
{
    const char *body = "{\"id\":\"evt_1\",\"object\":\"event\"}";
    char h[160];
    cr_assert_eq(webhook_sig_stripe_header("whsec_abc", body, strlen(body), 1400, h, sizeof(h)), 0);
    cr_expect_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1000, 300),
                 WEBHOOK_SIG_TOO_NEW, "now + 400 s");
    cr_expect_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1099, 300),
                 WEBHOOK_SIG_TOO_NEW, "now + 301 s");
    cr_expect_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1100, 300),
                 WEBHOOK_SIG_OK, "now + 300 s, at the tolerance, is accepted (clock skew)");
    cr_expect_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1399, 300),
                 WEBHOOK_SIG_OK, "a second ahead");
    cr_expect_str_eq(webhook_sig_str(WEBHOOK_SIG_TOO_NEW),
                     "signature timestamp is in the future beyond the tolerance");
}

Test(webhook_sig, malformed_headers)
{
    const char *body = "{}";
    static const char *const bad[] = {"", "t=", "t=abc,v1=00", "v1=00", "t=1,v1", "garbage",
                                      "t=-5,v1=00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(webhook_sig_stripe("whsec_x", bad[i], body, 2, 10, 300),
                     WEBHOOK_SIG_MALFORMED, "\"%s\"", bad[i]);
    cr_expect_eq(webhook_sig_stripe("whsec_x", NULL, body, 2, 10, 300), WEBHOOK_SIG_MALFORMED);
    cr_expect_eq(webhook_sig_stripe("whsec_x", "t=5,v0=ab", body, 2, 10, 300), WEBHOOK_SIG_NO_V1);
    cr_expect_eq(webhook_sig_stripe("whsec_x", "t=5,v1=zz", body, 2, 10, 300),
                 WEBHOOK_SIG_MISMATCH);
}

/* GitHub's documentation ("Validating webhook deliveries") gives this pair. */
Test(webhook_sig, github_documented_example)
{
    const char *secret = "It's a Secret to Everybody", *body = "Hello, World!";
    const char *sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    cr_assert_eq(webhook_sig_github(secret, sig, body, strlen(body)), WEBHOOK_SIG_OK);
    cr_assert_eq(webhook_sig_github(secret, sig, body, strlen(body) - 1), WEBHOOK_SIG_MISMATCH);
    cr_assert_eq(webhook_sig_github("other", sig, body, strlen(body)), WEBHOOK_SIG_MISMATCH);
    cr_assert_eq(webhook_sig_github(secret, sig + 7, body, strlen(body)), WEBHOOK_SIG_MALFORMED);
    cr_assert_eq(webhook_sig_github(secret, NULL, body, strlen(body)), WEBHOOK_SIG_MALFORMED);
}

/* Outbound webhooks (webhook_sig_sign): one v1 per secret, each verifying
 * with its own secret as Stripe's verifier reads them; the one-secret form
 * equals webhook_sig_stripe_header's; too small a buffer is refused. */
Test(webhook_sig, sign_with_one_and_two_secrets)
{
    const char *body = "{\"id\":\"evt_1\"}";
    const char *secrets[2] = {"whsec_new", "whsec_old"};
    char one[256], two[256], ref[256];
    cr_assert_eq(webhook_sig_sign(secrets, 1, body, strlen(body), 1700000000, one, sizeof(one)), 0);
    cr_assert_eq(webhook_sig_stripe_header("whsec_new", body, strlen(body), 1700000000, ref,
                                           sizeof(ref)),
                 0);
    cr_assert_str_eq(one, ref);
    cr_assert_eq(webhook_sig_sign(secrets, 2, body, strlen(body), 1700000000, two, sizeof(two)), 0);
    cr_assert_eq(strncmp(two, one, strlen(one)), 0, "the new secret's v1 comes first");
    cr_assert_not_null(strstr(two + strlen(one), ",v1="));
    for (size_t i = 0; i < 2; i++)
        cr_assert_eq(webhook_sig_stripe(secrets[i], two, body, strlen(body), 1700000000, 300),
                     WEBHOOK_SIG_OK);
    cr_assert_eq(webhook_sig_stripe("whsec_other", two, body, strlen(body), 1700000000, 300),
                 WEBHOOK_SIG_MISMATCH);
    cr_assert_eq(webhook_sig_sign(secrets, 2, body, strlen(body), 1700000000, two, 100), -1);
    cr_assert_eq(webhook_sig_sign(secrets, 0, body, strlen(body), 1700000000, two, sizeof(two)),
                 -1);
}
