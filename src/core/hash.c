/*
 * hash: see hash.h.
 */
#include "core/hash.h"

#include <openssl/evp.h>
#include <string.h>

int hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != HASH_SHA256_LEN) {
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
