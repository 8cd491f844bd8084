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
        /* Local policy (issue 13): a timestamp further in the future than
         * the tolerance is refused, where the official libraries (and so
         * the vectors) accept it. */
        long long t = -1, now = json_integer_value(json_object_get(v, "now"));
        const char *header = json_string_value(json_object_get(v, "header"));
        if (header != NULL && strncmp(header, "t=", 2) == 0)
            t = strtoll(header + 2, NULL, 10);
        if (t - now > json_integer_value(json_object_get(v, "tolerance"))) {
            cr_expect_eq(r, WEBHOOK_SIG_SKEWED, "vector %s (future): got \"%s\"", name,
                         webhook_sig_str(r));
            want = r == WEBHOOK_SIG_OK; /* checked just above */
        }
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
                 WEBHOOK_SIG_SKEWED);
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 1300, 300),
                 WEBHOOK_SIG_OK, "age equal to the tolerance is accepted");
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 699, 300),
                 WEBHOOK_SIG_SKEWED, "a timestamp too far in the future is refused");
    cr_assert_eq(webhook_sig_stripe("whsec_abc", h, body, strlen(body), 700, 300),
                 WEBHOOK_SIG_OK, "a future timestamp within the tolerance is accepted");
    cr_assert_eq(webhook_sig_stripe_header("whsec_abc", body, strlen(body), 1000, h, 20), -1);
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
