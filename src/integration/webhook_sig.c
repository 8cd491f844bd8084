/*
 * webhook_sig: see webhook_sig.h.
 */
#include "integration/webhook_sig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/num.h"

#define HEX_LEN (2 * HASH_SHA256_LEN)
#define HEADER_MAX 4096

/* hmac_hex: lower-case hex of HMAC-SHA256(key, prefix || body), with
 * OpenSSL 3's EVP_MAC. */
static int hmac_hex(const char *key, const char *prefix, const char *body, size_t len,
                    char out[HEX_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    int ok = 0;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
    if (ctx != NULL &&
        EVP_MAC_init(ctx, (const unsigned char *)key, strlen(key), params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)prefix, strlen(prefix)) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)body, len) == 1 &&
        EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) == 1 && maclen == HASH_SHA256_LEN)
        ok = 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    if (!ok)
        return -1;
    hash_hex(mac, HASH_SHA256_LEN, out);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

/* hex_equal: candidate (clen bytes) equals expected, in constant time for
 * candidates of the right length. */
static bool hex_equal(const char *candidate, size_t clen, const char *expected)
{
    if (clen != HEX_LEN)
        return false;
    return CRYPTO_memcmp(candidate, expected, HEX_LEN) == 0;
}


enum webhook_sig webhook_sig_stripe(const char *secret, const char *header, const char *body,
                                    size_t len, long long now, long long tolerance)
{
    if (header == NULL || strlen(header) > HEADER_MAX)
        return WEBHOOK_SIG_MALFORMED;
    long long t = -1;
    const char *v1[16];
    size_t v1len[16], nv1 = 0;
    for (const char *p = header; *p != '\0';) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (eq == NULL)
            return WEBHOOK_SIG_MALFORMED;
        size_t klen = (size_t)(eq - p), vlen = n - klen - 1;
        if (klen == 1 && p[0] == 't') {
            if (!num_parse(eq + 1, vlen, 999999999999LL, &t))
                return WEBHOOK_SIG_MALFORMED;
        } else if (klen == 2 && memcmp(p, "v1", 2) == 0 && nv1 < 16) {
            v1[nv1] = eq + 1;
            v1len[nv1++] = vlen;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (t < 0)
        return WEBHOOK_SIG_MALFORMED;
    if (nv1 == 0)
        return WEBHOOK_SIG_NO_V1;
    if (now - t > tolerance)
        return WEBHOOK_SIG_TOO_OLD;
    if (t - now > tolerance) /* stricter than Stripe's libraries: see webhook_sig.h */
        return WEBHOOK_SIG_TOO_NEW;
    char prefix[32], expected[HEX_LEN + 1];
    snprintf(prefix, sizeof(prefix), "%lld.", t);
    if (hmac_hex(secret, prefix, body, len, expected) != 0)
        return WEBHOOK_SIG_MISMATCH;
    bool match = false;
    for (size_t i = 0; i < nv1; i++)
        match |= hex_equal(v1[i], v1len[i], expected); /* check them all: no early exit */
    return match ? WEBHOOK_SIG_OK : WEBHOOK_SIG_MISMATCH;
}

enum webhook_sig webhook_sig_github(const char *secret, const char *header, const char *body,
                                    size_t len)
{
    static const char scheme[] = "sha256=";
    char expected[HEX_LEN + 1];
    if (header == NULL || strncmp(header, scheme, sizeof(scheme) - 1) != 0)
        return WEBHOOK_SIG_MALFORMED;
    if (hmac_hex(secret, "", body, len, expected) != 0)
        return WEBHOOK_SIG_MISMATCH;
    const char *got = header + sizeof(scheme) - 1;
    return hex_equal(got, strlen(got), expected) ? WEBHOOK_SIG_OK : WEBHOOK_SIG_MISMATCH;
}

int webhook_sig_stripe_header(const char *secret, const char *body, size_t len, long long t,
                              char *out, size_t outlen)
{
    char prefix[32], hex[HEX_LEN + 1];
    snprintf(prefix, sizeof(prefix), "%lld.", t);
    if (hmac_hex(secret, prefix, body, len, hex) != 0)
        return -1;
    int n = snprintf(out, outlen, "t=%lld,v1=%s", t, hex);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int webhook_sig_sign(const char *const *secrets, size_t n, const char *body, size_t len,
                     long long t, char *out, size_t outlen)
{
    char prefix[32], hex[HEX_LEN + 1];
    snprintf(prefix, sizeof(prefix), "%lld.", t);
    int used = snprintf(out, outlen, "t=%lld", t);
    if (n == 0 || used < 0 || (size_t)used >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (hmac_hex(secrets[i], prefix, body, len, hex) != 0)
            return -1;
        int k = snprintf(out + used, outlen - (size_t)used, ",v1=%s", hex);
        if (k < 0 || (size_t)k >= outlen - (size_t)used)
            return -1;
        used += k;
    }
    return 0;
}

const char *webhook_sig_str(enum webhook_sig r)
{
    switch (r) {
    case WEBHOOK_SIG_OK: return "signature valid";
    case WEBHOOK_SIG_MALFORMED: return "signature header missing or malformed";
    case WEBHOOK_SIG_NO_V1: return "no v1 signature in the header";
    case WEBHOOK_SIG_TOO_OLD: return "signature timestamp outside the tolerance";
    case WEBHOOK_SIG_MISMATCH: return "no signature matches the payload";
    case WEBHOOK_SIG_TOO_NEW: return "signature timestamp is in the future beyond the tolerance";
    }
    return "unknown";
}
