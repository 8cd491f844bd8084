/*
 * Unit tests for src/domain/apikey.c: apikey_generate gives "tg_live_" in
 * production and "tg_test_" elsewhere, followed by 64 lower-case hex digits;
 * the display prefix is the key's first 12 characters; the stored hash is the
 * SHA-256 of the whole key (checked against OpenSSL directly); keys differ;
 * apikey_cleanse wipes the secret. apikey_parse accepts exactly the
 * well-formed keys (and hashes them like generate does) and refuses wrong
 * lengths, prefixes, upper-case or non-hex digits. apikey_authenticate is
 * checked up to the database: a missing or malformed key is
 * TG_EUNAUTHORIZED without touching it (svc->db is NULL here); reading the
 * key from the Authorization header is the API's (t/unit/test_dispatch.c).
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "domain/apikey.h"
#include "core/ctx.h"
#include "unit.h"

TestSuite(apikey, .fini = leak_check);

/* sha256: OpenSSL's digest, independent of core/hash.c. */
static void sha256(const char *s, uint8_t out[32])
{
    unsigned int n = 0;
    cr_assert_eq(EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL), 1);
    cr_assert_eq(n, 32);
}

static void check_generated(const char *environment, const char *want_prefix)
{
    struct apikey k;
    cr_assert_eq(apikey_generate(environment, &k), TG_OK);
    cr_assert_eq(strlen(k.key), 72, "key \"%s\"", k.key);
    cr_assert_eq(strncmp(k.key, want_prefix, 8), 0, "%s: key \"%s\"", environment, k.key);
    cr_assert_eq(strspn(k.key + 8, "0123456789abcdef"), 64, "key \"%s\"", k.key);
    cr_assert_eq(strlen(k.prefix), APIKEY_PREFIX_LEN);
    cr_assert_eq(strlen(k.prefix), 12);
    cr_assert_eq(strncmp(k.prefix, k.key, 12), 0);
    uint8_t want[32];
    sha256(k.key, want);
    cr_assert_eq(memcmp(k.hash, want, 32), 0, "hash is not SHA-256 of the key");
    apikey_cleanse(&k);
}

Test(apikey, production_keys_are_live)
{
    check_generated("production", "tg_live_");
}

Test(apikey, other_environments_get_test_keys)
{
    check_generated("development", "tg_test_");
    check_generated("staging", "tg_test_");
    check_generated("", "tg_test_");
    check_generated("Production", "tg_test_");
}

Test(apikey, keys_differ)
{
    struct apikey a, b;
    cr_assert_eq(apikey_generate("development", &a), TG_OK);
    cr_assert_eq(apikey_generate("development", &b), TG_OK);
    cr_assert_str_neq(a.key, b.key);
    cr_assert_neq(memcmp(a.hash, b.hash, 32), 0);
    /* and not only in one place: the random part is all new */
    int same = 0;
    for (int i = 8; i < 72; i++)
        same += a.key[i] == b.key[i];
    cr_assert_lt(same, 40, "%d of 64 hex digits equal", same);
    apikey_cleanse(&a);
    apikey_cleanse(&b);
}

Test(apikey, cleanse_wipes_everything)
{
    struct apikey k;
    cr_assert_eq(apikey_generate("production", &k), TG_OK);
    apikey_cleanse(&k);
    const unsigned char *p = (const unsigned char *)&k;
    for (size_t i = 0; i < sizeof(k); i++)
        cr_assert_eq(p[i], 0, "byte %zu survives", i);
}

Test(apikey, parse_accepts_generated_keys_with_the_same_hash)
{
    static const char *const envs[] = {"production", "development"};
    for (int i = 0; i < 2; i++) {
        struct apikey k;
        uint8_t h[32];
        cr_assert_eq(apikey_generate(envs[i], &k), TG_OK);
        cr_assert(apikey_parse(k.key, h), "%s", k.key);
        cr_assert_eq(memcmp(h, k.hash, 32), 0);
        apikey_cleanse(&k);
    }
}

Test(apikey, parse_accepts_well_formed_keys)
{
    static const char *const good[] = {
        "tg_live_0000000000000000000000000000000000000000000000000000000000000000",
        "tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "tg_test_ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t h[32], want[32];
        cr_assert(apikey_parse(good[i], h), "%s refused", good[i]);
        sha256(good[i], want);
        cr_assert_eq(memcmp(h, want, 32), 0);
    }
}

Test(apikey, parse_refuses_malformed_keys)
{
    static const char *const bad[] = {
        "",
        "tg_live_",
        /* 63 and 65 hex digits */
        "tg_live_000000000000000000000000000000000000000000000000000000000000000",
        "tg_live_00000000000000000000000000000000000000000000000000000000000000000",
        /* wrong prefixes */
        "tg_prod_0000000000000000000000000000000000000000000000000000000000000000",
        "TG_LIVE_0000000000000000000000000000000000000000000000000000000000000000",
        "tg-live_0000000000000000000000000000000000000000000000000000000000000000",
        "xg_test_0000000000000000000000000000000000000000000000000000000000000000",
        "tg_tests0000000000000000000000000000000000000000000000000000000000000000",
        /* upper-case or non-hex digits */
        "tg_live_000000000000000000000000000000000000000000000000000000000000000A",
        "tg_test_0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "tg_live_000000000000000000000000000000000000000000000000000000000000000g",
        "tg_live_00000000000000000000000000000000 0000000000000000000000000000000",
        "tg_live_0000000000000000000000000000000000000000000000000000000000000000\n",
        " tg_live_000000000000000000000000000000000000000000000000000000000000000",
        "Bearer tg_live_0000000000000000000000000000000000000000000000000000000000000000",
        /* 72 bytes, but not hex after the prefix */
        "tg_live_tg_live_00000000000000000000000000000000000000000000000000000000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t h[32];
        cr_assert_not(apikey_parse(bad[i], h), "\"%s\" accepted", bad[i]);
    }
}

/* ---- authentication before the database ------------------------------ */

static struct arena *arena;
static struct config cfg;
static struct service svc;
static struct tg_ctx ctx;

static void setup(void)
{
    arena = arena_new(4096);
    cr_assert_not_null(arena);
    svc.cfg = &cfg;
    svc.db = NULL; /* reaching the database would crash the test */
    ctx_init(&ctx, arena, &svc, NULL);
}

static void teardown(void)
{
    arena_free(arena);
    leak_check();
}

TestSuite(apikey_auth, .init = setup, .fini = teardown);

/* expect_unauthorized: the presented key (NULL: none) is refused before
 * the database, with a detail that does not echo it. */
static void expect_unauthorized(const char *key)
{
    ctx_init(&ctx, arena, &svc, NULL);
    struct api_key_auth auth;
    cr_assert_eq(apikey_authenticate(&ctx, key, &auth), TG_EUNAUTHORIZED, "\"%s\"",
                 key ? key : "(none)");
    cr_assert_null(auth.customer_id);
    cr_assert_null(ctx.customer_id);
    cr_assert_eq(ctx.error.code, TG_EUNAUTHORIZED);
    cr_assert_not_null(ctx.error.detail);
    if (key != NULL && strlen(key) > 20)
        cr_assert_null(strstr(ctx.error.detail, key + 8), "the detail echoes the key");
}

Test(apikey_auth, missing_key)
{
    expect_unauthorized(NULL);
}

Test(apikey_auth, malformed_keys)
{
    expect_unauthorized("");
    expect_unauthorized("tg_test_abc");
    expect_unauthorized(" tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    expect_unauthorized("tg_test_0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef");
    expect_unauthorized("tg_prod_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    expect_unauthorized("tg_test_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde");
}
