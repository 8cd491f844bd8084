/*
 * fuzz_token: credentials tokens (src/core/token.c) as a downstream service
 * checks them: token_verify with a fixed key and a fixed "now", and the
 * canonical base64url underneath.
 *
 * Input: one flag byte, then the token text (a NUL byte ends it early).
 * Flag bit 0: sign the text first -- append "." and the HS256 signature of
 * the text under the key -- so that inputs "header.claims" reach the
 * claims checks behind the signature; such a token must never fail on its
 * signature. Flag bit 1: also decode the text as one base64url part, which
 * must re-encode to the same text (one accepted encoding per byte string).
 */
#include <jansson.h>
#include <string.h>

#include "core/token.h"
#include "fuzz.h"

#define NOW 1700000000LL

/* A 64-byte key, as scripts/stack.sh writes them (hex text). */
static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
#define KEYLEN (sizeof(key) - 1)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned flags = data[0];
    char *text = fuzz_strndup(data + 1, size - 1);
    size_t len = strlen(text);
    char *tok = text;

    if (flags & 1) {
        tok = malloc(len + 1 + TOKEN_HS256_B64_LEN + 1);
        if (tok == NULL)
            abort();
        memcpy(tok, text, len);
        tok[len] = '.';
        fuzz_assert(token_hs256(key, KEYLEN, text, len, tok + len + 1) == 0);
    }
    json_t *claims = json_null(); /* token_verify must overwrite it */
    enum token_result r = token_verify(key, KEYLEN, tok, NOW, &claims);
    fuzz_assert(r >= TOKEN_OK && r <= TOKEN_EINTERNAL && r != TOKEN_EINTERNAL);
    fuzz_assert(token_result_str(r) != NULL);
    fuzz_assert((r == TOKEN_OK) == (claims != NULL));
    if (r == TOKEN_OK) {
        fuzz_assert(json_is_object(claims));
        fuzz_assert(json_integer_value(json_object_get(claims, "exp")) > NOW);
        fuzz_assert(json_is_string(json_object_get(claims, "sub")));
        fuzz_assert(json_is_string(json_object_get(claims, "scope")));
        json_decref(claims);
    }
    if (flags & 1)
        fuzz_assert(r != TOKEN_ESIGNATURE);
    /* No token verifies under two keys (here without claims_out). */
    static const char other[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    enum token_result o = token_verify(other, sizeof(other) - 1, tok, NOW, NULL);
    fuzz_assert(o != TOKEN_OK || r != TOKEN_OK);

    if (flags & 2) {
        size_t n;
        unsigned char *raw = token_b64url_decode(text, len, &n);
        if (raw != NULL) {
            char *again = token_b64url_encode(raw, n);
            fuzz_assert(again != NULL && strcmp(again, text) == 0);
            free(again);
            free(raw);
        } else {
            fuzz_assert(n == 0);
        }
    }
    if (tok != text)
        free(tok);
    free(text);
    return 0;
}
