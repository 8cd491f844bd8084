/*
 * Unit tests for src/core/token.c: a signed token verifies and gives back
 * its claims; RFC 7515 Appendix A.1's HS256 example (key, header, payload,
 * signature) comes out byte for byte; base64url is canonical and unpadded;
 * alg "none" and every other header are refused even when correctly
 * signed; any changed character of header, payload or signature, another
 * key, a non-canonical signature, an expired token, claims of the wrong
 * type, truncated, extra or empty parts, padding, stray characters and
 * tokens over 4096 bytes are refused, each with its own result.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/token.h"
#include "unit.h"

TestSuite(token, .fini = leak_check);

/* A 64-byte key, as scripts/stack.sh writes them (hex text). */
static const char key[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
#define KEYLEN (sizeof(key) - 1)
static const char other_key[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static const char header_b64[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/* claims: a valid claim set expiring at exp. New reference. */
static json_t *claims(long long exp)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", "tollgate", "sub",
                          "4b0c8e8f-8d4e-4a53-9d4c-2f1a5f0e6b11", "scope",
                          "usage:write usage:read billing:read", "iat", (json_int_t)(exp - 900),
                          "exp", (json_int_t)exp, "jti", "0123456789abcdef0123456789abcdef", "key",
                          "tg_test_1a2b");
    cr_assert_not_null(c);
    return c;
}

static char *sign(long long exp)
{
    json_t *c = claims(exp);
    char *tok = NULL;
    cr_assert_eq(token_sign(key, KEYLEN, c, &tok), TG_OK);
    json_decref(c);
    cr_assert_not_null(tok);
    return tok;
}

/* make: header.payload.signature from raw JSON texts, signed with k; a
 * test's way to write tokens token_sign() never would. */
static char *make(const char *k, const char *header, const char *payload)
{
    char *h = token_b64url_encode(header, strlen(header));
    char *p = token_b64url_encode(payload, strlen(payload));
    cr_assert(h != NULL && p != NULL);
    size_t len = strlen(h) + strlen(p) + TOKEN_HS256_B64_LEN + 3;
    char *tok = malloc(len);
    cr_assert_not_null(tok);
    int n = snprintf(tok, len, "%s.%s.", h, p);
    cr_assert_eq(token_hs256(k, strlen(k), tok, (size_t)n - 1, tok + n), 0);
    free(h);
    free(p);
    return tok;
}

static enum token_result verify(const char *tok, long long now)
{
    json_t *c = (json_t *)1;
    enum token_result r = token_verify(key, KEYLEN, tok, now, &c);
    if (r == TOKEN_OK) {
        cr_assert_not_null(c);
        json_decref(c);
    } else {
        cr_assert_null(c, "no claims unless the token is valid");
    }
    return r;
}

Test(token, sign_then_verify)
{
    long long now = (long long)time(NULL);
    char *tok = sign(now + 900);
    cr_assert_eq(strncmp(tok, header_b64, strlen(header_b64)), 0,
                 "header is exactly {\"alg\":\"HS256\",\"typ\":\"JWT\"}: %s", tok);
    cr_assert_eq(tok[strlen(header_b64)], '.');
    cr_assert_eq(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
                 strlen(tok), "base64url without padding: %s", tok);
    cr_assert_eq(strlen(strrchr(tok, '.') + 1), TOKEN_HS256_B64_LEN);

    json_t *got = NULL, *want = claims(now + 900);
    cr_assert_eq(token_verify(key, KEYLEN, tok, now, &got), TOKEN_OK);
    cr_assert(json_equal(got, want), "the claims come back as signed");
    json_decref(got);
    json_decref(want);
    cr_assert_eq(token_verify(key, KEYLEN, tok, now, NULL), TOKEN_OK);
    cr_assert_eq(token_verify(other_key, KEYLEN, tok, now, NULL), TOKEN_ESIGNATURE);
    free(tok);
}

/* RFC 7515 Appendix A.1: the example JWS using HMAC SHA-256. */
Test(token, rfc7515_a1)
{
    static const char header[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    static const char payload[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    static const char jwk_k[] =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
    static const char h_b64[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
    static const char p_b64[] = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGF"
                                "tcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    static const char sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    char *h = token_b64url_encode(header, strlen(header));
    char *p = token_b64url_encode(payload, strlen(payload));
    cr_assert_str_eq(h, h_b64);
    cr_assert_str_eq(p, p_b64);
    size_t klen;
    unsigned char *k = token_b64url_decode(jwk_k, strlen(jwk_k), &klen);
    cr_assert_not_null(k);
    cr_assert_eq(klen, 64);
    cr_assert_eq(k[0], 3, "the JWK's first octet");
    cr_assert_eq(k[63], 0xa3, "the JWK's last octet");

    char input[256], mac[TOKEN_HS256_B64_LEN + 1];
    int n = snprintf(input, sizeof(input), "%s.%s", h, p);
    cr_assert_eq(token_hs256(k, klen, input, (size_t)n, mac), 0);
    cr_assert_str_eq(mac, sig);

    /* token_verify computes the same signature: the example passes it and is
     * then refused only for what tollgate adds (iat, sub, scope). */
    char tok[512];
    snprintf(tok, sizeof(tok), "%s.%s", input, sig);
    cr_assert_eq(token_verify(k, klen, tok, 1300819379, NULL), TOKEN_EMALFORMED);
    tok[strlen(tok) - 1] = 'j';
    cr_assert_eq(token_verify(k, klen, tok, 1300819379, NULL), TOKEN_ESIGNATURE);
    free(k);
    free(h);
    free(p);
}

Test(token, base64url_is_canonical)
{
    unsigned char raw[64];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 37 + 251);
    for (size_t len = 0; len <= sizeof(raw); len++) {
        char *text = token_b64url_encode(raw, len);
        cr_assert_not_null(text);
        cr_assert_eq(strlen(text), (4 * len + 2) / 3, "unpadded length for %zu bytes", len);
        cr_assert_null(strpbrk(text, "+/="), "%s", text);
        size_t n;
        unsigned char *back = token_b64url_decode(text, strlen(text), &n);
        cr_assert_not_null(back, "%s", text);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(back, raw, len), 0);
        free(back);
        free(text);
    }
    static const char *const bad[] = {"QQ==", "QQ=",  "QUI=", "Q",      "QUJDR", "QR",
                                      "QUJ",  "a+b/", "ab c", "ab\ncd", "ab.c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = 99;
        cr_assert_null(token_b64url_decode(bad[i], strlen(bad[i]), &n), "\"%s\" accepted", bad[i]);
        cr_assert_eq(n, 0);
    }
    size_t n;
    unsigned char *ok = token_b64url_decode("QUI", 3, &n);
    cr_assert(ok != NULL && n == 2 && memcmp(ok, "AB", 2) == 0);
    free(ok);
}

Test(token, alg_none_and_other_headers_refused)
{
    long long now = (long long)time(NULL);
    json_t *c = claims(now + 900);
    char *payload = json_dumps(c, JSON_COMPACT);
    json_decref(c);

    /* The classic attack: alg none and an empty signature... */
    char *tok = make(key, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload);
    *(strrchr(tok, '.') + 1) = '\0';
    cr_assert_neq(verify(tok, now), TOKEN_OK);
    free(tok);

    /* ...and every header but ours, even with a correct HMAC behind it. */
    static const struct {
        const char *header;
        enum token_result want;
    } cases[] = {
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", TOKEN_OK},
        {"{\"typ\":\"JWT\",\"alg\":\"HS256\"}", TOKEN_OK},
        {"{\"alg\":\"HS256\"}", TOKEN_OK},
        {"{\"alg\":\"none\",\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"alg\":\"none\"}", TOKEN_EALGORITHM},
        {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"alg\":\"hs256\",\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"alg\":\"HS256 \",\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"alg\":[\"HS256\"],\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{\"typ\":\"JWT\"}", TOKEN_EALGORITHM},
        {"{}", TOKEN_EALGORITHM},
        {"{\"alg\":\"HS256\",\"typ\":\"JWS\"}", TOKEN_EMALFORMED},
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"1\"}", TOKEN_EMALFORMED},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", TOKEN_EMALFORMED},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", TOKEN_EMALFORMED},
        {"[\"HS256\"]", TOKEN_EMALFORMED},
        {"\"HS256\"", TOKEN_EMALFORMED},
        {"not json", TOKEN_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tok = make(key, cases[i].header, payload);
        enum token_result r = verify(tok, now);
        cr_assert_eq(r, cases[i].want, "%s: %s, expected %s", cases[i].header, token_result_str(r),
                     token_result_str(cases[i].want));
        free(tok);
    }
    free(payload);
}

Test(token, any_changed_character_is_refused)
{
    long long now = (long long)time(NULL);
    char *tok = sign(now + 900);
    size_t len = strlen(tok), sig = (size_t)(strrchr(tok, '.') - tok) + 1;
    size_t payload = strlen(header_b64) + 1;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] == '.')
            continue;
        char was = tok[i];
        tok[i] = was == 'A' ? 'B' : 'A';
        enum token_result r = verify(tok, now);
        if (i >= payload)
            cr_assert_eq(r, TOKEN_ESIGNATURE, "character %zu (%s) changed: %s", i,
                         i >= sig ? "signature" : "payload", token_result_str(r));
        else
            cr_assert_neq(r, TOKEN_OK, "header character %zu changed", i);
        tok[i] = was;
    }
    cr_assert_eq(verify(tok, now), TOKEN_OK);

    /* 43 characters carry 258 bits: the last one's two spare bits must be
     * zero, so a signature has one spelling. */
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *last = tok + len - 1;
    int v = (int)(strchr(alphabet, *last) - alphabet);
    *last = alphabet[v ^ 1];
    cr_assert_eq(verify(tok, now), TOKEN_ESIGNATURE, "a non-canonical signature verified");
    free(tok);
}

Test(token, payload_changed_and_resigned_with_another_key)
{
    long long now = (long long)time(NULL);
    json_t *c = claims(now + 900);
    json_object_set_new(c, "scope", json_string("usage:write usage:read billing:read admin"));
    char *payload = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    char *tok = make(other_key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
    cr_assert_eq(verify(tok, now), TOKEN_ESIGNATURE);
    free(tok);
    free(payload);
}

Test(token, expiry)
{
    long long now = 1900000000;
    char *tok = sign(now + 60);
    cr_assert_eq(verify(tok, now), TOKEN_OK);
    cr_assert_eq(verify(tok, now + 59), TOKEN_OK);
    cr_assert_eq(verify(tok, now + 60), TOKEN_EEXPIRED, "exp is the first second it is invalid");
    cr_assert_eq(verify(tok, now + 3600), TOKEN_EEXPIRED);
    free(tok);
    tok = sign((long long)time(NULL) - 1);
    cr_assert_eq(verify(tok, (long long)time(NULL)), TOKEN_EEXPIRED);
    free(tok);
}

Test(token, claims_must_have_their_types)
{
    long long now = (long long)time(NULL);
    char exp[32], iat[32];
    snprintf(exp, sizeof(exp), "%lld", now + 900);
    snprintf(iat, sizeof(iat), "%lld", now);
    static const char *const fmt[] = {
        /* each with one thing wrong */
        "{\"iat\":%s,\"sub\":\"c\",\"scope\":\"usage:read\"}%.0s",
        "{\"exp\":\"%s\",\"iat\":%s,\"sub\":\"c\",\"scope\":\"usage:read\"}",
        "{\"exp\":%s.5,\"iat\":%s,\"sub\":\"c\",\"scope\":\"usage:read\"}",
        "{\"exp\":%s,\"iat\":\"%s\",\"sub\":\"c\",\"scope\":\"usage:read\"}",
        "{\"exp\":%s,\"sub\":\"c\",\"scope\":\"usage:read\"}%.0s",
        "{\"exp\":%s,\"iat\":%s,\"sub\":1,\"scope\":\"usage:read\"}",
        "{\"exp\":%s,\"iat\":%s,\"scope\":\"usage:read\"}",
        "{\"exp\":%s,\"iat\":%s,\"sub\":\"c\",\"scope\":[\"usage:read\"]}",
        "{\"exp\":%s,\"iat\":%s,\"sub\":\"c\"}",
        "{\"exp\":%s,\"iat\":%s,\"iat\":0,\"sub\":\"c\",\"scope\":\"usage:read\"}",
        "[%s,%s]",
        "{\"exp\":%s,\"iat\":%s,\"sub\":\"c\",\"scope\":\"usage:read\"",
    };
    for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
        char payload[256];
        snprintf(payload, sizeof(payload), fmt[i], exp, iat);
        char *tok = make(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
        enum token_result r = verify(tok, now);
        cr_assert_eq(r, TOKEN_EMALFORMED, "%s: %s", payload, token_result_str(r));
        free(tok);
    }
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"exp\":%s,\"iat\":%s,\"sub\":\"c\",\"scope\":\"x\"}", exp,
             iat);
    char *tok = make(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
    cr_assert_eq(verify(tok, now), TOKEN_OK, "the smallest valid claim set");
    free(tok);
}

Test(token, malformed_shapes)
{
    long long now = (long long)time(NULL);
    char *tok = sign(now + 900);
    size_t len = strlen(tok);
    char buf[8192];
    const char *sig = strrchr(tok, '.') + 1;
    size_t head = (size_t)(sig - tok); /* "header.payload." */

    static const char *const fixed[] = {"", ".", "..", "...", "a.b", "a.b.c.d"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        cr_assert_eq(verify(fixed[i], now), TOKEN_EMALFORMED, "\"%s\"", fixed[i]);
    cr_assert_eq(verify(NULL, now), TOKEN_EMALFORMED);

    /* truncated: the last character, the whole signature, the dot too */
    snprintf(buf, sizeof(buf), "%.*s", (int)len - 1, tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "one character short");
    snprintf(buf, sizeof(buf), "%.*s", (int)head, tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "no signature");
    snprintf(buf, sizeof(buf), "%.*s", (int)head - 1, tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "two parts");
    /* extra parts and characters */
    snprintf(buf, sizeof(buf), "%s.", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "trailing dot");
    snprintf(buf, sizeof(buf), "%s.%s", tok, sig);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "four parts");
    snprintf(buf, sizeof(buf), "%sA", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "signature too long");
    snprintf(buf, sizeof(buf), ".%s", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "empty first part");
    snprintf(buf, sizeof(buf), "%s..%s", header_b64, sig);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "empty payload");
    snprintf(buf, sizeof(buf), "%s\n", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "newline");
    snprintf(buf, sizeof(buf), " %s", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "space");
    /* base64 instead of base64url */
    snprintf(buf, sizeof(buf), "%s", tok);
    for (char *p = buf; *p != '\0'; p++)
        if (*p == '-' || *p == '_')
            *p = *p == '-' ? '+' : '/';
    if (strcmp(buf, tok) != 0)
        cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "+ and / are not base64url");
    free(tok);
}

Test(token, padding_refused)
{
    long long now = (long long)time(NULL);
    char *tok = sign(now + 900);
    char buf[8192];
    snprintf(buf, sizeof(buf), "%s=", tok);
    cr_assert_eq(verify(buf, now), TOKEN_EMALFORMED, "padded signature");
    free(tok);

    /* A payload whose length needs padding, padded and correctly signed:
     * refused for the "=" alone. */
    char payload[160];
    int n = snprintf(payload, sizeof(payload),
                     "{\"exp\":%lld,\"iat\":%lld,\"sub\":\"c\",\"scope\":\"usage:read\"}",
                     now + 900, now);
    if (n % 3 == 0)
        n = snprintf(payload, sizeof(payload),
                     "{\"exp\":%lld,\"iat\":%lld,\"sub\":\"c\",\"scope\":\"usage:read \"}",
                     now + 900, now);
    cr_assert_neq(n % 3, 0);
    tok = make(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload);
    cr_assert_eq(verify(tok, now), TOKEN_OK);
    char *dot = strrchr(tok, '.');
    char padded[1024];
    int m =
        snprintf(padded, sizeof(padded), "%.*s%s.", (int)(dot - tok), tok, n % 3 == 1 ? "==" : "=");
    cr_assert_eq(token_hs256(key, KEYLEN, padded, (size_t)m - 1, padded + m), 0);
    cr_assert_eq(verify(padded, now), TOKEN_EMALFORMED, "padded payload: %s", padded);
    free(tok);
}

Test(token, size_limit)
{
    long long now = (long long)time(NULL);
    json_t *c = claims(now + 900);
    char *pad = malloc(4096);
    cr_assert_not_null(pad);
    size_t last_ok = 0;
    bool over = false;
    for (size_t l = 2000; l < 3400 && !over; l++) {
        memset(pad, 'x', l);
        pad[l] = '\0';
        json_object_set_new(c, "pad", json_string(pad));
        char *text = json_dumps(c, JSON_COMPACT);
        char *tok = make(key, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", text);
        size_t len = strlen(tok);
        if (len <= TOKEN_MAX_LEN) {
            cr_assert_eq(verify(tok, now), TOKEN_OK, "%zu bytes", len);
            last_ok = len;
            char *signed_tok = NULL;
            cr_assert_eq(token_sign(key, KEYLEN, c, &signed_tok), TG_OK);
            cr_assert_eq(strlen(signed_tok), len);
            free(signed_tok);
        } else {
            cr_assert_eq(verify(tok, now), TOKEN_EMALFORMED, "%zu bytes accepted", len);
            char *signed_tok = (char *)1;
            cr_assert_eq(token_sign(key, KEYLEN, c, &signed_tok), TG_EINVALID,
                         "token_sign wrote a token token_verify refuses");
            cr_assert_null(signed_tok);
            over = true;
        }
        free(tok);
        free(text);
    }
    cr_assert(over && last_ok > TOKEN_MAX_LEN - 4, "the limit was crossed (last %zu)", last_ok);
    json_decref(c);
    free(pad);
}

Test(token, sign_refuses_bad_arguments)
{
    char *tok = (char *)1;
    json_t *c = claims(2000000000);
    cr_assert_eq(token_sign(key, TOKEN_KEY_MIN - 1, c, &tok), TG_EINVALID, "short key");
    cr_assert_null(tok);
    cr_assert_eq(token_sign(NULL, KEYLEN, c, &tok), TG_EINVALID);
    json_t *arr = json_array();
    cr_assert_eq(token_sign(key, KEYLEN, arr, &tok), TG_EINVALID, "claims must be an object");
    json_decref(arr);
    cr_assert_eq(token_sign(key, TOKEN_KEY_MIN, c, &tok), TG_OK);
    cr_assert_eq(token_verify(key, TOKEN_KEY_MIN - 1, tok, 1900000000, NULL), TOKEN_EINTERNAL);
    cr_assert_eq(token_verify(key, TOKEN_KEY_MIN, tok, 1900000000, NULL), TOKEN_OK);
    cr_assert_eq(token_verify(key, KEYLEN, tok, 1900000000, NULL), TOKEN_ESIGNATURE,
                 "the whole key counts");
    free(tok);
    json_decref(c);
}
