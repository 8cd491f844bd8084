/*
 * test_apikeys: the database half of domain/apikey.c (t/unit/test_apikey.c
 * covers generating and parsing keys). apikey_authenticate knows a
 * customer's key (sets ctx->customer_id and the audit actor), refuses
 * unknown, malformed, missing and revoked keys with TG_EUNAUTHORIZED, and
 * counts the hourly limit (the request over it is TG_ERATELIMITED with a
 * retry-after); apikey_create stores only the hash and prefix, refuses the
 * 11th active key (TG_EAPIKEYLIMIT, nothing stored) also when 12 racers
 * create at once, and allows one again after a revoke; apikey_revoke
 * refuses the customer's last key (TG_ELASTAPIKEY, the key still works)
 * unless allow_last, also when two racers revoke a customer's two keys at
 * once, is idempotent, and cannot touch another customer's key;
 * apikey_list shows the customer's keys, newest first.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "domain/apikey.h"
#include "fixture.h"

TestSuite(apikeys, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

static long long active_keys(const struct fixture_customer *c)
{
    return fixture_ll("SELECT count(*) FROM api_keys WHERE customer_id = $1"
                      "   AND revoked_at IS NULL",
                      c->id, NULL);
}

/* key_id: the id of c's key with the given secret (asserted). */
static void key_id(const struct fixture_customer *c, const char *key, char *out, size_t len)
{
    fixture_text(out, len,
                 "SELECT id FROM api_keys WHERE customer_id = $1"
                 "   AND key_hash = sha256(convert_to($2, 'UTF8'))",
                 c->id, key, NULL);
}

static enum tg_err authenticate(const char *key, struct tg_ctx **ctx)
{
    struct api_key_auth a;
    *ctx = fixture_ctx();
    return apikey_authenticate(*ctx, key, &a);
}

Test(apikeys, authenticate_knows_the_customer)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct api_key_auth a;
    cr_assert_eq(apikey_authenticate(ctx, c.api_key, &a), TG_OK);
    cr_assert_str_eq(a.customer_id, c.id);
    cr_assert_str_eq(ctx->customer_id, c.id);
    cr_assert_eq(strncmp(a.key_prefix, c.api_key, APIKEY_PREFIX_LEN), 0);
    char actor[64];
    snprintf(actor, sizeof(actor), "api_key:%s", a.key_prefix);
    cr_assert_str_eq(ctx->actor, actor);
    cr_assert_eq(a.requests, 1, "the first request of the hour");
    cr_assert(a.reset_seconds > 0 && a.reset_seconds <= 3600);
}

Test(apikeys, unknown_malformed_and_missing_keys_are_unauthorized)
{
    struct fixture_customer c;
    fixture_customer(&c);
    char unknown[APIKEY_MAX_LEN + 1];
    snprintf(unknown, sizeof(unknown), "%s", c.api_key);
    unknown[APIKEY_MAX_LEN - 1] = unknown[APIKEY_MAX_LEN - 1] == '0' ? '1' : '0';
    char live[APIKEY_MAX_LEN + 1];
    snprintf(live, sizeof(live), "%s", c.api_key);
    memcpy(live, "tg_live_", 8); /* the same secret for another environment */
    const char *const keys[] = {unknown, live, "tg_test_short", "Bearer", ""};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct tg_ctx *ctx;
        cr_assert_eq(authenticate(keys[i], &ctx), TG_EUNAUTHORIZED, "key %zu", i);
        cr_assert_eq(ctx->error.code, TG_EUNAUTHORIZED);
        cr_assert_null(ctx->customer_id);
    }
    struct tg_ctx *ctx;
    cr_assert_eq(authenticate(NULL, &ctx), TG_EUNAUTHORIZED);
}

Test(apikeys, hourly_limit)
{
    struct fixture_customer c;
    fixture_customer(&c);
    fixture_config()->rate_limit_per_hour = 2;
    long long hour = fixture_hour();
    struct tg_ctx *ctx;
    cr_assert_eq(authenticate(c.api_key, &ctx), TG_OK);
    cr_assert_eq(authenticate(c.api_key, &ctx), TG_OK);
    enum tg_err e = authenticate(c.api_key, &ctx);
    /* Only the clock hour turning between the requests resets the count. */
    if (e == TG_OK && fixture_hour() != hour)
        cr_skip_test("the hour's window turned during the test");
    cr_assert_eq(e, TG_ERATELIMITED);
    cr_assert_eq(ctx->error.code, TG_ERATELIMITED);
    cr_assert(ctx->error.retry_after > 0 && ctx->error.retry_after <= 3600, "retry_after %d",
              ctx->error.retry_after);
}

Test(apikeys, create_stores_hash_and_prefix_only)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key info;
    cr_assert_eq(apikey_create(ctx, c.id, "ci", &key, &info), TG_OK);
    cr_assert_str_eq(info.customer_id, c.id);
    cr_assert_str_eq(info.prefix, key.prefix);
    cr_assert_str_eq(info.name, "ci");
    cr_assert_null(info.revoked_at);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM api_keys WHERE id = $1"
                            "   AND key_hash = sha256(convert_to($2, 'UTF8'))",
                            info.id, key.key, NULL),
                 1);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM api_keys a WHERE a::text LIKE '%' || $1 || '%'",
                            key.key + 8, NULL),
                 0, "the key's secret is stored");
    struct tg_ctx *auth;
    cr_assert_eq(authenticate(key.key, &auth), TG_OK, "the new key works");
    cr_assert_eq(authenticate(c.api_key, &auth), TG_OK, "and so does the old one");
    apikey_cleanse(&key);
}

Test(apikeys, eleventh_active_key_is_refused)
{
    struct fixture_customer c;
    fixture_customer(&c);
    for (int i = 1; i < APIKEY_MAX_ACTIVE; i++) {
        struct tg_ctx *ctx = fixture_ctx();
        struct apikey key;
        struct api_key info;
        cr_assert_eq(apikey_create(ctx, c.id, NULL, &key, &info), TG_OK, "key %d", i + 1);
        apikey_cleanse(&key);
    }
    cr_assert_eq(active_keys(&c), APIKEY_MAX_ACTIVE);

    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key info;
    cr_assert_eq(apikey_create(ctx, c.id, NULL, &key, &info), TG_EAPIKEYLIMIT);
    cr_assert_eq(ctx->error.code, TG_EAPIKEYLIMIT);
    cr_assert_eq(fixture_rows("api_keys", &c), APIKEY_MAX_ACTIVE, "the refused key was stored");

    /* A revoked key frees its place. */
    char id[40];
    key_id(&c, c.api_key, id, sizeof(id));
    struct api_key revoked;
    bool already;
    ctx = fixture_ctx();
    cr_assert_eq(apikey_revoke(ctx, c.id, id, false, &revoked, &already), TG_OK);
    ctx = fixture_ctx();
    cr_assert_eq(apikey_create(ctx, c.id, NULL, &key, &info), TG_OK);
    apikey_cleanse(&key);
    cr_assert_eq(active_keys(&c), APIKEY_MAX_ACTIVE);
}

static void create_key(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    (void)i;
    const struct fixture_customer *c = arg;
    struct apikey key;
    struct api_key info;
    out->code = apikey_create(ctx, c->id, NULL, &key, &info);
    if (out->code == TG_OK)
        apikey_cleanse(&key);
}

Test(apikeys, racing_creates_stop_at_the_limit)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct fixture_shot shots[12];
    fixture_race(12, create_key, &c, shots);
    int created = 0, refused = 0;
    for (size_t i = 0; i < 12; i++) {
        if (shots[i].code == TG_OK)
            created++;
        else if (shots[i].code == TG_EAPIKEYLIMIT)
            refused++;
        else
            cr_assert_fail("racer %zu: %s (%s)", i, tg_strerror(shots[i].code), shots[i].text);
    }
    cr_assert_eq(created, APIKEY_MAX_ACTIVE - 1);
    cr_assert_eq(refused, 12 - (APIKEY_MAX_ACTIVE - 1));
    cr_assert_eq(active_keys(&c), APIKEY_MAX_ACTIVE);
}

Test(apikeys, last_key_is_kept_unless_allowed)
{
    struct fixture_customer c;
    fixture_customer(&c);
    char id[40];
    key_id(&c, c.api_key, id, sizeof(id));
    struct tg_ctx *ctx = fixture_ctx();
    struct api_key info;
    bool already = true;
    cr_assert_eq(apikey_revoke(ctx, c.id, id, false, &info, &already), TG_ELASTAPIKEY);
    cr_assert_eq(ctx->error.code, TG_ELASTAPIKEY);
    cr_assert_eq(active_keys(&c), 1);
    struct tg_ctx *auth;
    cr_assert_eq(authenticate(c.api_key, &auth), TG_OK, "the last key still works");

    ctx = fixture_ctx();
    cr_assert_eq(apikey_revoke(ctx, c.id, id, true, &info, &already), TG_OK);
    cr_assert_not(already);
    cr_assert_not_null(info.revoked_at);
    cr_assert_eq(active_keys(&c), 0);
    cr_assert_eq(authenticate(c.api_key, &auth), TG_EUNAUTHORIZED, "a revoked key is refused");

    /* Revoking again answers the key again. */
    ctx = fixture_ctx();
    cr_assert_eq(apikey_revoke(ctx, c.id, id, false, &info, &already), TG_OK);
    cr_assert(already);
}

struct revoke_race {
    char customer_id[40];
    char key_ids[2][40];
};

static void revoke_key(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    const struct revoke_race *race = arg;
    struct api_key info;
    bool already;
    out->code = apikey_revoke(ctx, race->customer_id, race->key_ids[i % 2], false, &info, &already);
}

Test(apikeys, racing_revokes_keep_one_key)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct revoke_race race;
    snprintf(race.customer_id, sizeof(race.customer_id), "%s", c.id);
    key_id(&c, c.api_key, race.key_ids[0], sizeof(race.key_ids[0]));
    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key second;
    cr_assert_eq(apikey_create(ctx, c.id, NULL, &key, &second), TG_OK);
    apikey_cleanse(&key);
    snprintf(race.key_ids[1], sizeof(race.key_ids[1]), "%s", second.id);

    struct fixture_shot shots[2];
    fixture_race(2, revoke_key, &race, shots);
    cr_assert(shots[0].code == TG_OK || shots[0].code == TG_ELASTAPIKEY, "%s",
              tg_strerror(shots[0].code));
    cr_assert(shots[1].code == TG_OK || shots[1].code == TG_ELASTAPIKEY, "%s",
              tg_strerror(shots[1].code));
    cr_assert_neq(shots[0].code, shots[1].code, "both revokes answered %s",
                  tg_strerror(shots[0].code));
    cr_assert_eq(active_keys(&c), 1, "the customer was left without a key");
}

Test(apikeys, revoke_is_scoped_to_the_customer)
{
    struct fixture_customer a, b;
    fixture_customer(&a);
    fixture_customer(&b);
    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key second;
    cr_assert_eq(apikey_create(ctx, a.id, NULL, &key, &second), TG_OK);
    apikey_cleanse(&key);

    struct api_key info;
    bool already;
    ctx = fixture_ctx();
    cr_assert_eq(apikey_revoke(ctx, b.id, second.id, true, &info, &already), TG_ENOTFOUND,
                 "b revoked a's key");
    cr_assert_eq(active_keys(&a), 2);
    ctx = fixture_ctx();
    cr_assert_eq(
        apikey_revoke(ctx, a.id, "00000000-0000-4000-8000-000000000000", true, &info, &already),
        TG_ENOTFOUND);
    /* An operator (no customer) may revoke anyone's. */
    ctx = fixture_ctx();
    cr_assert_eq(apikey_revoke(ctx, NULL, second.id, false, &info, &already), TG_OK);
    cr_assert_eq(active_keys(&a), 1);
}

Test(apikeys, list_is_newest_first)
{
    struct fixture_customer c;
    fixture_customer(&c);
    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key made;
    cr_assert_eq(apikey_create(ctx, c.id, "second", &key, &made), TG_OK);
    apikey_cleanse(&key);
    struct api_key *keys;
    size_t n;
    ctx = fixture_ctx();
    cr_assert_eq(apikey_list(ctx, c.id, &keys, &n), TG_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(keys[0].id, made.id);
    cr_assert_str_eq(keys[0].name, "second");
    cr_assert_null(keys[1].name);
    cr_assert_eq(strncmp(keys[1].prefix, c.api_key, APIKEY_PREFIX_LEN), 0);
}

Test(apikeys, create_for_unknown_customer_is_not_found)
{
    struct tg_ctx *ctx = fixture_ctx();
    struct apikey key;
    struct api_key info;
    cr_assert_eq(apikey_create(ctx, "00000000-0000-4000-8000-000000000000", NULL, &key, &info),
                 TG_ENOTFOUND);
}
