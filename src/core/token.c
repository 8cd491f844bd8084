/*
 * token: JWTs signed with HS256, written and checked strictly; see token.h.
 */
#include "core/token.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The one header we write (RFC 7519 section 3.1 without the line breaks). */
static const char token_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

#define HS256_LEN 32

/* b64url_value: the 6-bit value of base64url character c, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

char *token_b64url_encode(const void *data, size_t len)
{
    if (len > (size_t)INT_MAX / 2)
        return NULL;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    unsigned char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    int n = EVP_EncodeBlock(out, data, (int)len);
    if (n < 0) {
        free(out);
        return NULL;
    }
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return (char *)out;
}

unsigned char *token_b64url_decode(const char *text, size_t len, size_t *outlen)
{
    *outlen = 0;
    if (len % 4 == 1 || len > (size_t)INT_MAX / 2)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if (b64url_value((unsigned char)text[i]) < 0)
            return NULL;
    /* The bits after the last whole byte must be zero (RFC 4648 section
     * 3.5), or several texts would decode to the same bytes. */
    if (len % 4 == 2 && (b64url_value((unsigned char)text[len - 1]) & 0x0f) != 0)
        return NULL;
    if (len % 4 == 3 && (b64url_value((unsigned char)text[len - 1]) & 0x03) != 0)
        return NULL;
    size_t pad = (4 - len % 4) % 4;
    unsigned char *in = malloc(len + pad + 1);
    unsigned char *out = malloc((len + pad) / 4 * 3 + 1);
    if (in == NULL || out == NULL) {
        free(in);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < len; i++)
        in[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : (unsigned char)text[i];
    memset(in + len, '=', pad);
    in[len + pad] = '\0';
    /* EVP_DecodeBlock counts the bytes the padding stands for too. */
    int n = EVP_DecodeBlock(out, in, (int)(len + pad));
    free(in);
    if (n < 0 || (size_t)n < pad) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)n - pad;
    out[*outlen] = '\0';
    return out;
}

int token_hs256(const void *key, size_t keylen, const char *input, size_t len,
                char out[TOKEN_HS256_B64_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    out[0] = '\0';
    if (keylen > INT_MAX ||
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)input, len, mac, &maclen) ==
            NULL ||
        maclen != HS256_LEN)
        return -1;
    char *b64 = token_b64url_encode(mac, maclen);
    if (b64 == NULL || strlen(b64) != TOKEN_HS256_B64_LEN) {
        free(b64);
        return -1;
    }
    memcpy(out, b64, TOKEN_HS256_B64_LEN + 1);
    free(b64);
    return 0;
}

enum tg_err token_sign(const void *key, size_t keylen, json_t *claims, char **out)
{
    enum tg_err e = TG_ENOMEM;
    char *header = NULL, *text = NULL, *payload = NULL, *tok = NULL;
    *out = NULL;
    if (key == NULL || keylen < TOKEN_KEY_MIN || !json_is_object(claims))
        return TG_EINVALID;
    header = token_b64url_encode(token_header, sizeof(token_header) - 1);
    text = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (header == NULL || text == NULL)
        goto out;
    payload = token_b64url_encode(text, strlen(text));
    if (payload == NULL)
        goto out;
    size_t hlen = strlen(header), plen = strlen(payload);
    size_t total = hlen + 1 + plen + 1 + TOKEN_HS256_B64_LEN;
    if (total > TOKEN_MAX_LEN) {
        e = TG_EINVALID; /* token_verify() would refuse it */
        goto out;
    }
    if ((tok = malloc(total + 1)) == NULL)
        goto out;
    memcpy(tok, header, hlen);
    tok[hlen] = '.';
    memcpy(tok + hlen + 1, payload, plen);
    tok[hlen + 1 + plen] = '.';
    if (token_hs256(key, keylen, tok, hlen + 1 + plen, tok + hlen + 1 + plen + 1) != 0) {
        e = TG_EINTERNAL;
        goto out;
    }
    *out = tok;
    tok = NULL;
    e = TG_OK;
out:
    free(header);
    free(text);
    free(payload);
    free(tok);
    return e;
}

/* load_part: parse len characters of base64url at text as a JSON object
 * (duplicate names refused); NULL when it is not one. New reference. */
static json_t *load_part(const char *text, size_t len)
{
    size_t n;
    unsigned char *raw = token_b64url_decode(text, len, &n);
    if (raw == NULL)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* check_header: TOKEN_OK for {"alg":"HS256"} with at most typ "JWT"
 * beside it (in any order); crit, kid, jku and the like are refused. */
static enum token_result check_header(json_t *h)
{
    json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        return TOKEN_EALGORITHM;
    if (typ != NULL && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0 ||
                        json_string_length(typ) != 3))
        return TOKEN_EMALFORMED;
    if (json_object_size(h) != (typ != NULL ? 2u : 1u))
        return TOKEN_EMALFORMED;
    return TOKEN_OK;
}

enum token_result token_verify(const void *key, size_t keylen, const char *token, long long now,
                               json_t **claims_out)
{
    if (claims_out != NULL)
        *claims_out = NULL;
    if (key == NULL || keylen < TOKEN_KEY_MIN)
        return TOKEN_EINTERNAL;
    if (token == NULL)
        return TOKEN_EMALFORMED;
    size_t n = strnlen(token, TOKEN_MAX_LEN + 1);
    if (n > TOKEN_MAX_LEN)
        return TOKEN_EMALFORMED;

    /* Exactly two dots, and only base64url characters around them. */
    const char *dot[2];
    size_t ndots = 0;
    for (size_t i = 0; i < n; i++) {
        if (token[i] == '.') {
            if (ndots == 2)
                return TOKEN_EMALFORMED;
            dot[ndots++] = token + i;
        } else if (b64url_value((unsigned char)token[i]) < 0) {
            return TOKEN_EMALFORMED;
        }
    }
    if (ndots != 2)
        return TOKEN_EMALFORMED;
    size_t hlen = (size_t)(dot[0] - token), plen = (size_t)(dot[1] - dot[0] - 1);
    const char *sig = dot[1] + 1;
    if (hlen == 0 || plen == 0 || strlen(sig) != TOKEN_HS256_B64_LEN)
        return TOKEN_EMALFORMED;

    json_t *h = load_part(token, hlen);
    if (h == NULL)
        return TOKEN_EMALFORMED;
    enum token_result r = check_header(h);
    json_decref(h);
    if (r != TOKEN_OK)
        return r;

    /* The signature before the claims: nothing unauthenticated is parsed
     * beyond the header. The expected text is canonical, so comparing the
     * texts compares the MACs. */
    char want[TOKEN_HS256_B64_LEN + 1];
    if (token_hs256(key, keylen, token, (size_t)(dot[1] - token), want) != 0)
        return TOKEN_EINTERNAL;
    if (CRYPTO_memcmp(want, sig, TOKEN_HS256_B64_LEN) != 0)
        return TOKEN_ESIGNATURE;

    json_t *c = load_part(dot[0] + 1, plen);
    if (c == NULL)
        return TOKEN_EMALFORMED;
    json_t *exp = json_object_get(c, "exp");
    if (!json_is_integer(exp) || !json_is_integer(json_object_get(c, "iat")) ||
        !json_is_string(json_object_get(c, "sub")) ||
        !json_is_string(json_object_get(c, "scope"))) {
        json_decref(c);
        return TOKEN_EMALFORMED;
    }
    if (json_integer_value(exp) <= now) {
        json_decref(c);
        return TOKEN_EEXPIRED;
    }
    if (claims_out != NULL)
        *claims_out = c;
    else
        json_decref(c);
    return TOKEN_OK;
}

const char *token_result_str(enum token_result r)
{
    switch (r) {
    case TOKEN_OK: return "valid";
    case TOKEN_EMALFORMED: return "malformed token";
    case TOKEN_EALGORITHM: return "algorithm other than HS256";
    case TOKEN_ESIGNATURE: return "signature does not match";
    case TOKEN_EEXPIRED: return "token expired";
    case TOKEN_EINTERNAL: return "internal error verifying the token";
    }
    return "unknown token result";
}
