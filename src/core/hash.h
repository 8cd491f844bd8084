/*
 * hash: SHA-256 and hex helpers over OpenSSL's libcrypto.
 */
#ifndef TOLLGATE_HASH_H
#define TOLLGATE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HASH_SHA256_LEN 32

/* hash_sha256: out = SHA-256(data[0..len)). Returns 0, or -1 if libcrypto
 * fails (out is then zeroed). */
int hash_sha256(const void *data, size_t len, uint8_t out[HASH_SHA256_LEN])
    __attribute__((warn_unused_result));

/* hash_hex: lower-case hex of len bytes into out, which must hold 2*len+1
 * bytes; NUL-terminated. */
void hash_hex(const uint8_t *bytes, size_t len, char *out);

/* hash_unhex: exactly 2*len hex digits (either case) of hex (NUL-terminated)
 * into len bytes at out. false, with out untouched past what was read,
 * when hex is NULL, of another length or not hex. */
bool hash_unhex(const char *hex, uint8_t *out, size_t len);

#endif
