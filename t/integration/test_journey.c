/*
 * test_journey: the customer journey end to end through nginx and the
 * workers -- onboarding (201, the API key shown once as tg_test_ + 64 hex,
 * five trial credits recorded as one trial_signup entry), the profile and
 * the usage summary with its no_billing warning, five fixes that spend the
 * credits one by one and a sixth refused with 402, the ledger newest first
 * with cursor pagination and its parameter checks, and idempotency: a replay
 * answers the first response byte for byte, a reused key with another body
 * is 422, a missing key 400, a 402 leaves the key free for a later retry and
 * keys are scoped to their customer. The ledger invariants are checked
 * around every test (harness.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite(journey, .init = it_init, .fini = it_fini, .timeout = 120);

/* usage: POST a fix and assert the answer's status; returns the body. */
static json_t *usage(const struct it_customer *c, const char *key, const char *fix_id, long status,
                     struct it_response *r)
{
    it_post_usage(c, key, fix_id, r);
    cr_assert_eq(r->status, status, "fix %s: expected %ld, got %ld: %s", fix_id, status, r->status,
                 r->body);
    return status < 300 ? it_assert_json(r, status) : NULL;
}

static long long usage_events(const struct it_customer *c, const char *key)
{
    PGconn *db = it_db();
    const char *p[2] = {c->id, key};
    long long n = it_db_ll(db,
                           "SELECT count(*) FROM usage_events"
                           " WHERE customer_id = $1 AND ($2::text IS NULL OR idempotency_key = $2)",
                           2, p);
    PQfinish(db);
    return n;
}

static bool has_warning(json_t *summary, const char *code)
{
    json_t *w = it_jget(summary, "warnings"), *item;
    size_t i;
    cr_assert(json_is_array(w));
    json_array_foreach(w, i, item)
    {
        if (strcmp(it_jstr(item, "code"), code) == 0)
            return true;
    }
    return false;
}

static void spend_all(const struct it_customer *c, const char *prefix)
{
    for (int i = 1; i <= 5; i++) {
        char key[64], fix[64];
        snprintf(key, sizeof(key), "%s-key-%d", prefix, i);
        snprintf(fix, sizeof(fix), "%s-fix-%d", prefix, i);
        struct it_response r;
        json_t *j = usage(c, key, fix, 201, &r);
        cr_assert_eq(it_jint(j, "credits_remaining"), 5 - i);
        cr_assert_str_eq(it_jstr(j, "outcome"), "credit");
        cr_assert_str_eq(it_jstr(j, "kind"), "fix_deployed");
        cr_assert_str_eq(it_jstr(j, "fix_id"), fix);
        cr_assert_null(it_header(&r, "Idempotent-Replayed"), "a first request is no replay");
        json_decref(j);
        it_response_free(&r);
    }
}

static void assert_key_stored_hashed(const char *customer_id, const char *key)
{
    PGconn *db = it_db();
    const char *p[3] = {customer_id, key, NULL};
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.12s", key);
    p[2] = prefix;
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM api_keys WHERE customer_id = $1"
                          " AND key_hash = sha256(convert_to($2, 'UTF8')) AND key_prefix = $3"
                          " AND revoked_at IS NULL",
                          3, p),
                 1, "the key's SHA-256 and prefix are stored");
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                          " AND kind = 'trial_signup' AND amount = 5 AND balance_after = 5",
                          1, p),
                 1, "one trial_signup entry of 5 credits");
    cr_assert_eq(
        it_db_ll(db, "SELECT count(*) FROM credit_transactions WHERE customer_id = $1", 1, p), 1);
    PQfinish(db);
}

Test(journey, onboarding_shows_the_key_once)
{
    char email[160], body[400];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Ada\",\"source\":\"direct\"}",
             email);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    json_t *j = it_assert_json(&r, 201);
    const char *cc = it_header(&r, "Cache-Control");
    cr_assert(cc != NULL && strstr(cc, "no-store") != NULL, "the key must not be cached");
    const char *key = it_jstr(j, "api_key");
    cr_assert_eq(strlen(key), 72, "tg_test_ + 64 hex: %s", key);
    cr_assert_eq(strncmp(key, "tg_test_", 8), 0, "%s", key);
    cr_assert_eq(strspn(key + 8, "0123456789abcdef"), 64, "%s", key);
    cr_assert_eq(strncmp(it_jstr(j, "api_key_prefix"), key, 12), 0);
    json_t *cust = it_jget(j, "customer");
    cr_assert_eq(strlen(it_jstr(cust, "id")), 36, "a uuid");
    cr_assert_str_eq(it_jstr(cust, "email"), email);
    cr_assert_str_eq(it_jstr(cust, "name"), "Ada");
    cr_assert_str_eq(it_jstr(cust, "source"), "direct");
    cr_assert_str_eq(it_jstr(cust, "tier"), "trial");
    cr_assert_str_eq(it_jstr(cust, "billing_status"), "none");
    cr_assert_eq(it_jint(cust, "credit_balance"), 5);
    assert_key_stored_hashed(it_jstr(cust, "id"), key);

    struct it_response me;
    it_get("/api/v1/customers/me", key, &me);
    json_t *mj = it_assert_json(&me, 200);
    cr_assert_str_eq(it_jstr(mj, "id"), it_jstr(cust, "id"));
    cr_assert_str_eq(it_jstr(mj, "email"), email);
    cr_assert_str_eq(it_jstr(mj, "tier"), "trial");
    cr_assert_eq(it_jint(mj, "credit_balance"), 5);
    cr_assert_null(json_object_get(mj, "api_key"), "the key is shown only at signup");
    cr_assert_null(strstr(me.body, key + 8), "the key is shown only at signup");
    json_decref(mj);
    json_decref(j);
    it_response_free(&me);
    it_response_free(&r);
}

Test(journey, summary_warns_about_missing_billing)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    it_get("/api/v1/usage/summary", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "customer_id"), c.id);
    cr_assert_eq(it_jint(j, "credit_balance"), 5);
    cr_assert_str_eq(it_jstr(j, "billing_status"), "none");
    cr_assert(has_warning(j, "no_billing"), "%s", r.body);
    cr_assert(!has_warning(j, "no_credits"), "%s", r.body);
    cr_assert(!has_warning(j, "low_balance"), "%s", r.body);
    json_t *recent = it_jget(j, "recent_entries");
    cr_assert_eq(json_array_size(recent), 1);
    cr_assert_str_eq(it_jstr(json_array_get(recent, 0), "kind"), "trial_signup");
    cr_assert_eq(it_jint(json_array_get(recent, 0), "amount"), 5);
    json_decref(j);
    it_response_free(&r);
}

Test(journey, five_fixes_then_payment_required)
{
    struct it_customer c;
    onboard(&c);
    spend_all(&c, "spend");
    struct it_response r;
    usage(&c, "spend-key-6", "spend-fix-6", 402, &r);
    it_assert_problem(&r, 402, "insufficient-credits", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 0);
    cr_assert_eq(usage_events(&c, "spend-key-6"), 0, "a refusal is not recorded");
    cr_assert_eq(usage_events(&c, NULL), 5);

    it_get("/api/v1/usage/summary", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(j, "credit_balance"), 0);
    cr_assert(has_warning(j, "no_credits"), "%s", r.body);
    cr_assert(has_warning(j, "no_billing"), "%s", r.body);
    json_decref(j);
    it_response_free(&r);
}

/* ledger_page: GET one page; returns the body and the page's entries. */
static json_t *ledger_page(const struct it_customer *c, const char *query, json_t **data)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/v1/credits/transactions%s", query);
    struct it_response r;
    it_get(path, c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    cr_assert_str_eq(it_jstr(j, "object"), "list");
    *data = it_jget(j, "data");
    cr_assert(json_is_array(*data));
    return j;
}

/* walk: all pages of limit entries; ids[] newest first; returns the count. */
static size_t walk(const struct it_customer *c, int limit, long long *ids, size_t max)
{
    char query[96], cursor[32] = "";
    size_t n = 0;
    for (int page = 0; page < 20; page++) {
        json_t *data, *e;
        size_t i;
        snprintf(query, sizeof(query), "?limit=%d%s%s", limit, cursor[0] ? "&cursor=" : "", cursor);
        json_t *j = ledger_page(c, query, &data);
        cr_assert_leq(json_array_size(data), (size_t)limit);
        json_array_foreach(data, i, e)
        {
            cr_assert_lt(n, max);
            ids[n++] = it_jint(e, "id");
            cr_assert_str_eq(it_jstr(e, "object"), "ledger_entry");
        }
        bool more = json_is_true(it_jget(j, "has_more"));
        json_t *next = json_object_get(j, "next_cursor");
        if (!more) {
            cr_assert(json_is_null(next), "next_cursor is null on the last page");
            json_decref(j);
            return n;
        }
        cr_assert_eq(json_array_size(data), (size_t)limit, "a full page before the last");
        cr_assert(json_is_string(next), "has_more needs a next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(j);
    }
    cr_assert_fail("pagination did not end");
    return n;
}

Test(journey, ledger_is_newest_first_and_paginated)
{
    struct it_customer c;
    onboard(&c);
    spend_all(&c, "page");
    long long ids[16];
    size_t n = walk(&c, 2, ids, 16);
    cr_assert_eq(n, 6, "one signup entry and five fixes");
    for (size_t i = 1; i < n; i++)
        cr_assert_gt(ids[i - 1], ids[i], "newest first, no repeats");

    PGconn *db = it_db();
    const char *p[1] = {c.id};
    cr_assert_eq(
        it_db_ll(db, "SELECT max(id) FROM credit_transactions WHERE customer_id = $1", 1, p),
        ids[0]);
    cr_assert_eq(
        it_db_ll(db, "SELECT min(id) FROM credit_transactions WHERE customer_id = $1", 1, p),
        ids[n - 1]);
    PQfinish(db);

    json_t *data;
    json_t *j = ledger_page(&c, "", &data);
    cr_assert_eq(json_array_size(data), 6);
    cr_assert(json_is_false(it_jget(j, "has_more")));
    for (size_t i = 0; i < 6; i++) {
        json_t *e = json_array_get(data, i);
        cr_assert_eq(it_jint(e, "id"), ids[i]);
        cr_assert_eq(it_jint(e, "balance_after"), (long long)i, "balances 0..5 going back");
        cr_assert_eq(it_jint(e, "amount"), i < 5 ? -1 : 5);
        cr_assert_str_eq(it_jstr(e, "kind"), i < 5 ? "fix_deployed" : "trial_signup");
    }
    cr_assert_str_eq(it_jstr(json_array_get(data, 0), "reference"), "page-fix-5");
    json_decref(j);

    n = walk(&c, 6, ids, 16);
    cr_assert_eq(n, 6, "a page of exactly the remaining entries has no more");
}

Test(journey, pagination_is_stable_while_entries_are_added)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    for (int i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "stable-%d", i);
        json_decref(usage(&c, key, key, 201, &r));
        it_response_free(&r);
    }
    json_t *data, *first = ledger_page(&c, "?limit=2", &data);
    long long newest = it_jint(json_array_get(data, 0), "id");
    long long last = it_jint(json_array_get(data, 1), "id");
    cr_assert(json_is_true(it_jget(first, "has_more")));
    char query[64];
    snprintf(query, sizeof(query), "?limit=2&cursor=%s", it_jstr(first, "next_cursor"));
    json_decref(first);
    /* New entries arrive in front of the first page... */
    json_decref(usage(&c, "stable-late", "stable-late", 201, &r));
    it_response_free(&r);
    /* ...and the walk goes on exactly where it was. */
    json_t *second = ledger_page(&c, query, &data);
    cr_assert_eq(json_array_size(data), 2);
    cr_assert_lt(it_jint(json_array_get(data, 0), "id"), last, "no entry repeated");
    cr_assert_str_eq(it_jstr(json_array_get(data, 1), "kind"), "trial_signup");
    cr_assert(json_is_false(it_jget(second, "has_more")));
    json_decref(second);
    json_t *again = ledger_page(&c, "?limit=1", &data);
    cr_assert_gt(it_jint(json_array_get(data, 0), "id"), newest, "the new entry comes first");
    json_decref(again);
}

Test(journey, ledger_rejects_bad_parameters)
{
    static const char *const bad[] = {
        "?cursor=abc",  "?cursor=0", "?cursor=-1",
        "?cursor=1.5",  "?cursor=",  "?cursor=99999999999999999999",
        "?cursor=1%00", "?limit=0",  "?limit=101",
        "?limit=x",     "?limit=",   "?limit=2&limit=3",
        "?cursor",      "?limit=-5",
    };
    struct it_customer c;
    onboard(&c);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char path[160];
        snprintf(path, sizeof(path), "/api/v1/credits/transactions%s", bad[i]);
        struct it_response r;
        it_get(path, c.api_key, &r);
        cr_assert_eq(r.status, 400, "%s: expected 400, got %ld", bad[i], r.status);
        it_assert_problem(&r, 400, "validation-failed",
                          strstr(bad[i], "limit") ? "limit" : "cursor");
        it_response_free(&r);
    }
}

Test(journey, replay_answers_the_first_response)
{
    struct it_customer c;
    onboard(&c);
    struct it_response first, again;
    json_decref(usage(&c, "replay-1", "fix-replay", 201, &first));
    cr_assert_null(it_header(&first, "Idempotent-Replayed"));
    json_decref(usage(&c, "replay-1", "fix-replay", 201, &again));
    cr_assert_eq(again.body_len, first.body_len, "%s\n%s", first.body, again.body);
    cr_assert_eq(memcmp(again.body, first.body, first.body_len), 0, "%s\n%s", first.body,
                 again.body);
    const char *h = it_header(&again, "Idempotent-Replayed");
    cr_assert(h != NULL && strcmp(h, "true") == 0, "Idempotent-Replayed: true on a replay");
    cr_assert_eq(it_balance(&c), 4, "one credit for two requests");
    cr_assert_eq(usage_events(&c, NULL), 1);
    it_response_free(&again);

    struct it_response r;
    usage(&c, "replay-1", "another-fix", 422, &r);
    it_assert_problem(&r, 422, "idempotency-key-reused", NULL);
    it_response_free(&r);
    /* The key is bound to the bytes: the same object spelled otherwise is
     * another body. */
    it_post_json("/api/v1/usage", c.api_key, "replay-1",
                 "{\"kind\": \"fix_deployed\", \"fix_id\": \"fix-replay\"}", &r);
    it_assert_problem(&r, 422, "idempotency-key-reused", NULL);
    it_response_free(&r);
    it_post_json("/api/v1/usage", c.api_key, NULL, "{\"kind\":\"fix_deployed\",\"fix_id\":\"x\"}",
                 &r);
    it_assert_problem(&r, 400, "idempotency-key-required", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 4, "neither the 422 nor the 400 consumed a credit");

    /* Once the credits are gone, the replay still answers as the first time. */
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof(key), "replay-more-%d", i);
        json_decref(usage(&c, key, key, 201, &r));
        it_response_free(&r);
    }
    json_decref(usage(&c, "replay-1", "fix-replay", 201, &again));
    cr_assert_eq(again.body_len, first.body_len);
    cr_assert_eq(memcmp(again.body, first.body, first.body_len), 0, "%s\n%s", first.body,
                 again.body);
    it_response_free(&again);
    it_response_free(&first);
    cr_assert_eq(usage_events(&c, NULL), 5);
}

Test(journey, payment_required_leaves_the_key_free)
{
    struct it_customer c;
    onboard(&c);
    spend_all(&c, "free");
    struct it_response r;
    usage(&c, "free-retry", "fix-retry", 402, &r);
    it_assert_problem(&r, 402, "insufficient-credits", NULL);
    it_response_free(&r);
    cr_assert_eq(usage_events(&c, "free-retry"), 0, "a 402 records nothing");

    it_add_credits(&c, 1);
    json_t *j = usage(&c, "free-retry", "fix-retry", 201, &r);
    cr_assert_null(it_header(&r, "Idempotent-Replayed"), "the retry is a new event");
    cr_assert_eq(it_jint(j, "credits_remaining"), 0);
    cr_assert_str_eq(it_jstr(j, "outcome"), "credit");
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(usage_events(&c, "free-retry"), 1);
}

Test(journey, idempotency_keys_belong_to_one_customer)
{
    struct it_customer a, b;
    onboard(&a);
    onboard(&b);
    struct it_response ra, rb;
    json_decref(usage(&a, "shared-key", "fix-shared", 201, &ra));
    json_decref(usage(&b, "shared-key", "fix-shared", 201, &rb));
    cr_assert_null(it_header(&rb, "Idempotent-Replayed"), "another customer's key is no replay");
    cr_assert_eq(it_balance(&a), 4);
    cr_assert_eq(it_balance(&b), 4);
    it_response_free(&ra);
    it_response_free(&rb);
}
