/*
 * token: the short-lived credentials tokens of POST /api/v1/credentials
 * (docs/credentials.md). A token is a JSON Web Token (RFC 7519) in the JWS
 * compact serialization (RFC 7515 section 7.1): base64url(header) "."
 * base64url(claims) "." base64url(HMAC-SHA256(key, the first two parts)),
 * base64url without padding (RFC 7515 section 2), header exactly
 * {"alg":"HS256","typ":"JWT"} (RFC 7518 section 3.2). Downstream services
 * verify tokens offline with the same key. Verification is strict: one
 * algorithm, one encoding of each part, the signature checked (in constant
 * time) before the claims are parsed. OpenSSL computes the MAC and the
 * base64, Jansson the JSON; nothing here is hand-written crypto.
 */
#ifndef TOLLGATE_TOKEN_H
#define TOLLGATE_TOKEN_H

#include <jansson.h>
#include <stddef.h>

#include "core/tgerr.h"

#define TOKEN_MAX_LEN 4096     /* longest token token_verify() looks at, in bytes */
#define TOKEN_KEY_MIN 32       /* RFC 7518 section 3.2: a key at least as long as the hash */
#define TOKEN_HS256_B64_LEN 43 /* base64url of a 32-byte HMAC-SHA256, unpadded */

/* What token_verify() found; each failure is distinct so that callers can
 * log (never the token itself) why a token was refused. */
enum token_result {
    TOKEN_OK = 0,
    TOKEN_EMALFORMED, /* not a compact JWS as we write them: size, parts,
                       * encoding, JSON, or a claim missing or of the wrong type */
    TOKEN_EALGORITHM, /* the header is not exactly alg HS256 (e.g. "none") */
    TOKEN_ESIGNATURE, /* the signature does not match: forged, altered, other key */
    TOKEN_EEXPIRED,   /* well signed, but exp is not after now */
    TOKEN_EINTERNAL,  /* out of memory, libcrypto failed, or a key under TOKEN_KEY_MIN */
};

/* token_sign: sign claims (borrowed; a JSON object, serialized compactly in
 * insertion order) with HMAC-SHA256 under key (keylen bytes, at least
 * TOKEN_KEY_MIN) as a JWT (RFC 7519) in JWS compact serialization (RFC
 * 7515 section 7.1). The claims are signed as given: the caller sets iss,
 * sub, exp and the rest. On TG_OK *out is a new NUL-terminated string the
 * caller frees with free(); on error *out is NULL. Errors: TG_EINVALID
 * (claims not an object, key shorter than TOKEN_KEY_MIN), TG_ENOMEM,
 * TG_EINTERNAL (libcrypto failed). */
enum tg_err token_sign(const void *key, size_t keylen, json_t *claims, char **out)
    __attribute__((warn_unused_result));

/* token_verify: check token (NUL-terminated, at most TOKEN_MAX_LEN bytes)
 * against key (keylen bytes) at time now (seconds since the epoch, UTC).
 * Strict, in this order: three parts of canonical unpadded base64url
 * (RFC 7515 section 2; "=" padding refused); a header that is a JSON
 * object of alg "HS256" and, optionally, typ "JWT", and nothing else (so
 * "none" and every other algorithm are refused, RFC 8725 section 3.1);
 * the HMAC-SHA256 signature, compared with CRYPTO_memcmp; then the claims:
 * a JSON object (duplicate names refused) with integer iat and exp,
 * string sub and scope, and exp > now (RFC 7519 section 4.1.4). On
 * TOKEN_OK, and only then, *claims_out (when claims_out is not NULL) is a
 * new reference the caller releases with json_decref(); otherwise it is
 * set to NULL. */
enum token_result token_verify(const void *key, size_t keylen, const char *token, long long now,
                               json_t **claims_out) __attribute__((warn_unused_result));

/* token_result_str: a short English description of r, for logs. Static. */
const char *token_result_str(enum token_result r);

/* token_b64url_encode: base64url of len bytes of data without padding (RFC
 * 4648 section 5, RFC 7515 section 2) into a new NUL-terminated string
 * (free()); NULL when out of memory. */
char *token_b64url_encode(const void *data, size_t len);

/* token_b64url_decode: decode len characters of canonical unpadded
 * base64url at text into a new buffer (free(); NUL-terminated for
 * convenience, *outlen excludes the NUL). Refuses (NULL) padding,
 * characters outside the alphabet, an impossible length and non-zero
 * trailing bits, so each byte string has exactly one accepted encoding;
 * also NULL when out of memory. */
unsigned char *token_b64url_decode(const char *text, size_t len, size_t *outlen);

/* token_hs256: out = base64url(HMAC-SHA256(key, input[0..len))), unpadded,
 * NUL-terminated (TOKEN_HS256_B64_LEN + 1 bytes): the JWS signature of
 * signing input "header.claims" (RFC 7515 section 5.1, RFC 7518 section
 * 3.2). Returns 0, or -1 when libcrypto fails (out is then ""). No key
 * length check: exposed for RFC 7515 test vectors. */
int token_hs256(const void *key, size_t keylen, const char *input, size_t len,
                char out[TOKEN_HS256_B64_LEN + 1]) __attribute__((warn_unused_result));

#endif
