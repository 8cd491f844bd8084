/*
 * test_idempotency: domain/idempotency.c against PostgreSQL. An ATOMIC
 * claim runs its route in a transaction: idempotency_finish commits the
 * effect with the answer (a retry replays it, another request under the
 * key is TG_EIDEMPOTENCYREUSE), idempotency_abandon rolls the effect back
 * and frees the key. A claim still running is TG_EIDEMPOTENCYBUSY with a
 * retry-after until its lease is over, then taken over; the dead
 * request's late finish stores nothing. Racers with one key: one claims,
 * the others are busy. idempotency_purge drops old records and secret
 * bodies (then TG_EIDEMPOTENCYGONE).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "domain/apikey.h"
#include "domain/idempotency.h"
#include "fixture.h"

TestSuite(idempotency, .init = fixture_init, .fini = fixture_fini, .timeout = 60);
FIXTURE_SERIAL_MAIN()

static const struct idempotency_answer ok = {201, "application/json",
                                             "[[\"Cache-Control\",\"no-store\"]]", "{\"a\":1}"};

static void fresh_key(char *buf, size_t len)
{
    static int n;
    snprintf(buf, len, "dt-%d-%d", (int)getpid(), ++n);
}

static void hash_of(const char *s, uint8_t out[HASH_SHA256_LEN])
{
    cr_assert_eq(hash_sha256(s, strlen(s), out), 0);
}

static long long active_keys(const struct fixture_customer *c)
{
    return fixture_ll("SELECT count(*) FROM api_keys WHERE customer_id = $1"
                      "   AND revoked_at IS NULL",
                      c->id, NULL);
}

/* start: idempotency_start in a fresh context. */
static enum tg_err start(struct tg_ctx **ctx, const char *scope_id, const char *key,
                         const char *request, enum idempotency_mode mode, struct idempotency *idem,
                         bool *replayed, struct idempotency_answer *answer)
{
    uint8_t h[HASH_SHA256_LEN];
    hash_of(request, h);
    *ctx = fixture_ctx();
    return idempotency_start(*ctx, idempotency_scope_customer(*ctx, scope_id), key, "test", h,
                             mode, idem, replayed, answer);
}

/* make_key: apikey_create for c in ctx (asserted). */
static void make_key(struct tg_ctx *ctx, const struct fixture_customer *c)
{
    struct apikey k;
    struct api_key info;
    cr_assert_eq(apikey_create(ctx, c->id, NULL, &k, &info), TG_OK);
    apikey_cleanse(&k);
}

Test(idempotency, atomic_finish_commits_the_effect_with_the_answer)
{
    struct fixture_customer c;
    struct idempotency idem;
    struct idempotency_answer a;
    struct tg_ctx *ctx;
    bool replayed;
    char key[64];
    fixture_customer(&c);
    fresh_key(key, sizeof(key));
    cr_assert_eq(start(&ctx, c.id, key, "one", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert_not(replayed);
    make_key(ctx, &c);
    cr_assert_eq(idempotency_finish(ctx, &idem, &ok, false), TG_OK);
    cr_assert_eq(active_keys(&c), 2);

    cr_assert_eq(start(&ctx, c.id, key, "one", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert(replayed);
    cr_assert_eq(a.status, 201);
    cr_assert_str_eq(a.content_type, ok.content_type);
    cr_assert_str_eq(a.body, ok.body);
    cr_assert_str_eq(a.headers, "[[\"Cache-Control\", \"no-store\"]]");
    cr_assert_eq(start(&ctx, c.id, key, "two", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a),
                 TG_EIDEMPOTENCYREUSE);
    cr_assert_eq(active_keys(&c), 2);
}

Test(idempotency, atomic_abandon_rolls_the_effect_back_and_frees_the_key)
{
    struct fixture_customer c;
    struct idempotency idem;
    struct idempotency_answer a;
    struct tg_ctx *ctx;
    bool replayed;
    char key[64];
    fixture_customer(&c);
    fresh_key(key, sizeof(key));
    cr_assert_eq(start(&ctx, c.id, key, "one", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    make_key(ctx, &c);
    ctx_fail(ctx, TG_EINVALID, "the route failed");
    idempotency_abandon(ctx, &idem);
    cr_assert_eq(ctx->error.code, TG_EINVALID, "the route's failure is kept");
    cr_assert_eq(active_keys(&c), 1, "the effect rolled back");
    cr_assert_eq(fixture_ll("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1",
                            key, NULL),
                 0);
    /* Another request may use the key now. */
    cr_assert_eq(start(&ctx, c.id, key, "two", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert_not(replayed);
    idempotency_abandon(ctx, &idem);
}

Test(idempotency, running_claim_is_busy_until_its_lease_is_over)
{
    struct fixture_customer c;
    struct idempotency first, second;
    struct idempotency_answer a;
    struct tg_ctx *ctx1, *ctx2;
    bool replayed;
    char key[64];
    fixture_customer(&c);
    fresh_key(key, sizeof(key));
    cr_assert_eq(start(&ctx1, c.id, key, "one", IDEMPOTENCY_EXTERNAL, &first, &replayed, &a),
                 TG_OK);
    cr_assert_not_null(ctx1->idempotency_ref, "Stripe keys derive from the claim");
    cr_assert_eq(strlen(ctx1->idempotency_ref), 64);
    cr_assert_eq(start(&ctx2, c.id, key, "one", IDEMPOTENCY_EXTERNAL, &second, &replayed, &a),
                 TG_EIDEMPOTENCYBUSY);
    cr_assert(ctx2->error.retry_after > 0 && ctx2->error.retry_after <= 60,
              "retry after the lease, a minute at most: %d", ctx2->error.retry_after);
    fixture_exec("UPDATE idempotency_keys SET locked_until = now() WHERE idempotency_key = $1",
                 key, NULL);
    cr_assert_eq(start(&ctx2, c.id, key, "one", IDEMPOTENCY_EXTERNAL, &second, &replayed, &a),
                 TG_OK, "taken over");
    cr_assert_not(replayed);
    cr_assert_eq(second.id, first.id);
    cr_assert_str_eq(ctx2->idempotency_ref, ctx1->idempotency_ref, "the same Stripe keys");
    cr_assert_eq(second.attempt, first.attempt + 1);
    /* The first request, late, may answer (its Stripe calls are the
     * second's) but neither stores its answer nor gives the claim up. */
    struct idempotency_answer late = ok;
    late.body = "{\"late\":true}";
    cr_assert_eq(idempotency_finish(ctx1, &first, &late, false), TG_OK);
    first.active = true;
    idempotency_abandon(ctx1, &first);
    cr_assert_eq(idempotency_finish(ctx2, &second, &ok, false), TG_OK);
    cr_assert_eq(start(&ctx2, c.id, key, "one", IDEMPOTENCY_EXTERNAL, &second, &replayed, &a),
                 TG_OK);
    cr_assert(replayed);
    cr_assert_str_eq(a.body, ok.body);
}

struct race {
    char scope_id[40];
    char key[64];
};

static void race_start(struct tg_ctx *ctx, size_t i, void *arg, struct fixture_shot *out)
{
    (void)i;
    const struct race *r = arg;
    struct idempotency idem;
    struct idempotency_answer a;
    bool replayed;
    uint8_t h[HASH_SHA256_LEN];
    if (hash_sha256("race", 4, h) != 0) {
        out->code = TG_EINTERNAL;
        return;
    }
    out->code = idempotency_start(ctx, idempotency_scope_customer(ctx, r->scope_id), r->key,
                                  "test", h, IDEMPOTENCY_EXTERNAL, &idem, &replayed, &a);
    out->flag = replayed;
}

Test(idempotency, racers_with_one_key_claim_it_once)
{
    enum { RACERS = 8 };
    struct fixture_customer c;
    static struct race r;
    fixture_customer(&c);
    snprintf(r.scope_id, sizeof(r.scope_id), "%s", c.id);
    fresh_key(r.key, sizeof(r.key));
    struct fixture_shot shots[RACERS];
    fixture_race(RACERS, race_start, &r, shots);
    int claimed = 0;
    for (size_t i = 0; i < RACERS; i++) {
        if (shots[i].code == TG_OK) {
            cr_assert_not(shots[i].flag);
            claimed++;
        } else {
            cr_assert_eq(shots[i].code, TG_EIDEMPOTENCYBUSY, "racer %zu: %s", i,
                         tg_strerror(shots[i].code));
        }
    }
    cr_assert_eq(claimed, 1);
}

Test(idempotency, purge_drops_old_records_and_secret_bodies)
{
    struct fixture_customer c;
    struct idempotency idem;
    struct idempotency_answer a;
    struct tg_ctx *ctx;
    bool replayed;
    char secret[64], old[64];
    long long n;
    fixture_customer(&c);
    fresh_key(secret, sizeof(secret));
    fresh_key(old, sizeof(old));
    cr_assert_eq(start(&ctx, c.id, secret, "s", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert_eq(idempotency_finish(ctx, &idem, &ok, true), TG_OK);
    cr_assert_eq(start(&ctx, c.id, old, "o", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert_eq(idempotency_finish(ctx, &idem, &ok, false), TG_OK);
    cr_assert_eq(start(&ctx, c.id, secret, "s", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a), TG_OK);
    cr_assert(replayed, "within its 10 minutes");
    fixture_exec("UPDATE idempotency_keys SET body_expires_at = now() - interval '1 second'"
                 " WHERE idempotency_key = $1",
                 secret, NULL);
    fixture_exec("UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 second'"
                 " WHERE idempotency_key = $1",
                 old, NULL);
    cr_assert_eq(start(&ctx, c.id, secret, "s", IDEMPOTENCY_ATOMIC, &idem, &replayed, &a),
                 TG_EIDEMPOTENCYGONE, "expired, even before the purge");
    ctx = fixture_ctx();
    cr_assert_eq(idempotency_purge(ctx, 1000, &n), TG_OK);
    cr_assert_geq(n, 2);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1",
                            old, NULL),
                 0);
    cr_assert_eq(fixture_ll("SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1"
                            "   AND response_body IS NULL",
                            secret, NULL),
                 1, "the record stays, its secret goes");
}
