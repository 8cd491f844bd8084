/*
 * webhook_sig: verifying webhook signatures, before any JSON is parsed.
 *
 * Stripe ("Check the webhook signatures"; stripe-node/stripe-python
 * verifyHeader): Stripe-Signature is "t=<unix>,v1=<hex>[,v1=<hex>...]
 * [,v0=...]"; the signed string is "<t>.<raw body>", HMAC-SHA256 keyed with
 * the whole whsec_... secret; any v1 may match (secret rotation); v0 is
 * never checked; a timestamp older than the tolerance is refused, and so,
 * unlike the official libraries (which accept any future t), is one more
 * than the tolerance ahead of our clock: a delivery dated in the future
 * would otherwise stay replayable until long after it was captured. Hex is
 * compared as lower-case text, in constant time.
 *
 * GitHub ("Validating webhook deliveries"): X-Hub-Signature-256 is
 * "sha256=<hex HMAC-SHA256 of the raw body>".
 */
#ifndef TOLLGATE_WEBHOOK_SIG_H
#define TOLLGATE_WEBHOOK_SIG_H

#include <stddef.h>

enum webhook_sig {
    WEBHOOK_SIG_OK,
    WEBHOOK_SIG_MALFORMED,   /* header missing or not of the documented form */
    WEBHOOK_SIG_NO_V1,       /* no v1 signature in the header */
    WEBHOOK_SIG_TOO_OLD,     /* timestamp older than the tolerance */
    WEBHOOK_SIG_MISMATCH,    /* no signature matches */
    WEBHOOK_SIG_TOO_NEW,     /* timestamp ahead of now by more than the tolerance */
};

/* webhook_sig_stripe: verify header for body (len bytes) with secret at
 * time now (unix seconds), refusing timestamps more than tolerance seconds
 * away from now in either direction (WEBHOOK_SIG_TOO_OLD, _TOO_NEW; a
 * difference of exactly tolerance is accepted). */
enum webhook_sig webhook_sig_stripe(const char *secret, const char *header, const char *body,
                                    size_t len, long long now, long long tolerance);

/* webhook_sig_github: verify an X-Hub-Signature-256 header for body. */
enum webhook_sig webhook_sig_github(const char *secret, const char *header, const char *body,
                                    size_t len);

/* webhook_sig_stripe_header: the Stripe-Signature header for body signed
 * with secret at time t, into out (at least 80 bytes). For tests and tools.
 * Returns 0, or -1 when out is too small or libcrypto fails. */
int webhook_sig_stripe_header(const char *secret, const char *body, size_t len, long long t,
                              char *out, size_t outlen);

/* webhook_sig_sign: a signature header as Stripe writes one, for the
 * webhooks tollgate sends (Tollgate-Signature, docs/outbound-webhooks.md):
 * "t=<t>,v1=<hex>" with one v1 per secret of secrets[0..n) (n >= 1; two
 * while a rotated secret still signs), each the lower-case hex
 * HMAC-SHA256 keyed with the whole secret over "<t>.<body>". Into out
 * (at least 16 + 68 n bytes). Returns 0, or -1 when out is too small or
 * libcrypto fails. */
int webhook_sig_sign(const char *const *secrets, size_t n, const char *body, size_t len,
                     long long t, char *out, size_t outlen);

/* webhook_sig_str: a short English description of r, for logs and problems. */
const char *webhook_sig_str(enum webhook_sig r);

#endif
