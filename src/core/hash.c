/*
 * hash: see hash.h. The SHA-256 implementation is fetched from OpenSSL's
 * provider once per process, and its digest context reused: fetching it
 * again for every call (what EVP_Digest(..., EVP_sha256(), ...) does) cost
 * about half of each hash on the request path. Processes are single
 * threaded (one request at a time per worker), so one context suffices.
 */
#include "core/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

static EVP_MD *sha256_md;
static EVP_MD_CTX *sha256_ctx;

int hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN])
{
    unsigned int n = 0;
    if (sha256_md == NULL)
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_ctx == NULL)
        sha256_ctx = EVP_MD_CTX_new();
    if (sha256_md == NULL || sha256_ctx == NULL ||
        EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(sha256_ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(sha256_ctx, out, &n) != 1 || n != HASH_SHA256_LEN) {
        memset(out, 0, HASH_SHA256_LEN);
        return -1;
    }
    return 0;
}

void hash_hex(const uint8_t *bytes, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

bool hash_unhex(const char *hex, uint8_t *out, size_t len)
{
    if (hex == NULL || strlen(hex) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}
