/*
 * fuzz_stripe_signature: webhook signatures (src/integration/webhook_sig.c)
 * as the webhook routes check them, before any JSON is parsed: the
 * Stripe-Signature header ("t=...,v1=...") with webhook_sig_stripe, and the
 * same header text as GitHub's X-Hub-Signature-256 ("sha256=...") with
 * webhook_sig_github, each over the raw body, with fixed secrets and a
 * fixed "now". Then, for any body, a header signed by
 * webhook_sig_stripe_header must verify, and no header may verify with a
 * timestamp more than the tolerance away from now, before or after.
 *
 * Input: the header, '\n', the raw body (the body may hold any bytes).
 */
#include <string.h>

#include "fuzz.h"
#include "integration/webhook_sig.h"

#define NOW 1700000000LL /* 2023-11-14T22:13:20Z */
#define TOLERANCE 300    /* webhook_tolerance_seconds' default */

static const char stripe_secret[] = "whsec_tollgate_emulator_secret";
static const char github_secret[] = "tollgate_dev_github_webhook_secret";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
    size_t blen = nl != NULL ? size - hlen - 1 : 0;
    char *header = fuzz_strndup(data, hlen);
    char *body = fuzz_memdup(nl != NULL ? nl + 1 : data + size, blen);

    enum webhook_sig r = webhook_sig_stripe(stripe_secret, header, body, blen, NOW, TOLERANCE);
    fuzz_assert(r >= WEBHOOK_SIG_OK && r <= WEBHOOK_SIG_TOO_NEW);
    fuzz_assert(webhook_sig_str(r) != NULL);
    /* Past the tolerance nothing verifies, whatever the header says. */
    fuzz_assert(webhook_sig_stripe(stripe_secret, header, body, blen, NOW + 1000000000000LL,
                                   TOLERANCE) != WEBHOOK_SIG_OK);
    /* Nor ahead of it: a timestamp far in the future is refused too. */
    fuzz_assert(webhook_sig_stripe(stripe_secret, header, body, blen, NOW - 1000000000000LL,
                                   TOLERANCE) != WEBHOOK_SIG_OK);

    enum webhook_sig g = webhook_sig_github(github_secret, header, body, blen);
    fuzz_assert(g == WEBHOOK_SIG_OK || g == WEBHOOK_SIG_MALFORMED || g == WEBHOOK_SIG_MISMATCH);

    /* Round trip: what we sign, we accept; signed with the other secret, not. */
    char signed_header[128];
    fuzz_assert(webhook_sig_stripe_header(stripe_secret, body, blen, NOW - 10, signed_header,
                                          sizeof(signed_header)) == 0);
    fuzz_assert(webhook_sig_stripe(stripe_secret, signed_header, body, blen, NOW, TOLERANCE) ==
                WEBHOOK_SIG_OK);
    fuzz_assert(webhook_sig_stripe(github_secret, signed_header, body, blen, NOW, TOLERANCE) ==
                WEBHOOK_SIG_MISMATCH);

    free(body);
    free(header);
    return 0;
}
