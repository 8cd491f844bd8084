/*
 * test_access: API key management and the per-key rate limit, through nginx,
 * the workers and PostgreSQL (DESIGN.md section 3). A customer lists its
 * keys, creates more (the key is shown once and works at once), revokes one
 * (it answers 401 from the next request on, whichever worker serves it),
 * cannot revoke its only active key, and cannot touch another customer's
 * keys; each change is in the audit log under the acting key's prefix. The
 * rate limit admits exactly rate_limit_per_hour requests of one key in the
 * hour even when they arrive in parallel on every worker, answers the rest
 * 429 with Retry-After, and every answer carries RateLimit-Policy and
 * RateLimit. Around every test: the ledger and audit-chain invariants
 * (harness.c).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(access, .init = it_init, .fini = it_fini, .timeout = 180);

#define LIMIT 500 /* the stack runs with the default rate_limit_per_hour */

static json_t *create_key(const struct it_customer *c, const char *body, long status)
{
    struct it_response r;
    it_post_json("/api/v1/api_keys", c->api_key, NULL, body, &r);
    cr_assert_eq(r.status, status, "%s", r.body);
    json_t *j = it_json(&r);
    if (status == 201)
        cr_assert_str_eq(it_header(&r, "Cache-Control"), "no-store");
    it_response_free(&r);
    return j;
}

static long revoke_key(const char *api_key, const char *id, json_t **body)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/api_keys/%s", id);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
    const char *h[] = {auth, NULL};
    struct it_response r;
    it_send("DELETE", path, h, NULL, 0, &r);
    long status = r.status;
    if (body != NULL)
        *body = it_json(&r);
    it_response_free(&r);
    return status;
}

static long me_status(const char *api_key)
{
    struct it_response r;
    it_get("/api/v1/customers/me", api_key, &r);
    long status = r.status;
    it_response_free(&r);
    return status;
}

static json_t *list_keys(const struct it_customer *c)
{
    struct it_response r;
    it_get("/api/v1/api_keys", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    return j;
}

static long long audit_rows(const struct it_customer *c, const char *action, const char *actor)
{
    PGconn *db = PQconnectdb("");
    const char *p[3] = {c->id, action, actor};
    long long n = it_db_ll(db,
                           "SELECT count(*) FROM audit_log WHERE customer_id = $1::uuid"
                           " AND action = $2 AND actor = $3",
                           3, p);
    PQfinish(db);
    return n;
}

Test(access, create_list_revoke)
{
    struct it_customer c;
    onboard(&c);
    json_t *k = create_key(&c, "{\"name\":\"ci deploys\"}", 201);
    const char *key = it_jstr(k, "key");
    cr_assert_eq(strncmp(key, "tg_test_", 8), 0, "%s", key);
    cr_assert_str_eq(it_jstr(k, "name"), "ci deploys");
    cr_assert(json_is_true(it_jget(k, "active")));
    cr_assert(json_is_false(it_jget(k, "current")), "made by the first key");
    cr_assert_eq(me_status(key), 200, "a new key works at once");

    json_t *list = list_keys(&c);
    json_t *data = it_jget(list, "data");
    cr_assert_eq(json_array_size(data), 2);
    cr_assert_str_eq(it_jstr(json_array_get(data, 0), "id"), it_jstr(k, "id"), "newest first");
    cr_assert_null(json_object_get(json_array_get(data, 0), "key"), "never shown again");
    cr_assert_null(json_object_get(json_array_get(data, 0), "key_hash"));

    /* The first key revokes itself: it has a successor, so it may. */
    char first_id[64];
    snprintf(first_id, sizeof(first_id), "%s", it_jstr(json_array_get(data, 1), "id"));
    json_t *rev;
    cr_assert_eq(revoke_key(c.api_key, first_id, &rev), 200);
    cr_assert(json_is_false(it_jget(rev, "active")));
    cr_assert_not_null(it_jstr(rev, "revoked_at"));
    json_decref(rev);
    /* 401 on every one of the next requests, whichever worker takes it. */
    for (int i = 0; i < 12; i++)
        cr_assert_eq(me_status(c.api_key), 401, "request %d after the revoke", i);
    cr_assert_eq(me_status(key), 200);

    /* Revoking again (with the key left) is idempotent. */
    cr_assert_eq(revoke_key(key, first_id, NULL), 200);
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "api_key:%.12s", c.api_key);
    cr_assert_eq(audit_rows(&c, "api_key.created", prefix), 1);
    cr_assert_eq(audit_rows(&c, "api_key.revoked", prefix), 1);
    json_decref(list);
    json_decref(k);
}

Test(access, last_key_and_other_customers)
{
    struct it_customer a, b;
    onboard(&a);
    onboard(&b);
    json_t *list = list_keys(&a);
    const char *only = it_jstr(json_array_get(it_jget(list, "data"), 0), "id");
    json_t *p;
    cr_assert_eq(revoke_key(a.api_key, only, &p), 409);
    cr_assert(strstr(it_jstr(p, "type"), "/last-api-key") != NULL);
    json_decref(p);
    cr_assert_eq(me_status(a.api_key), 200, "the refused revoke changed nothing");

    /* b can neither see nor revoke a's key: it is not found. */
    cr_assert_eq(revoke_key(b.api_key, only, &p), 404);
    json_decref(p);
    cr_assert_eq(revoke_key(b.api_key, "not-a-uuid", &p), 404);
    json_decref(p);
    cr_assert_eq(revoke_key(b.api_key, "00000000-0000-0000-0000-000000000000", &p), 404);
    json_decref(p);
    cr_assert_eq(me_status(a.api_key), 200);
    json_decref(list);
}

Test(access, create_validates_and_caps)
{
    struct it_customer c;
    onboard(&c);
    json_t *p = create_key(&c, "{\"name\":\"\"}", 400);
    json_decref(p);
    p = create_key(&c, "{\"label\":\"x\"}", 400);
    json_decref(p);
    /* Up to 10 active keys; the 11th is refused. */
    for (int i = 1; i < 10; i++)
        json_decref(create_key(&c, "{}", 201));
    p = create_key(&c, "{}", 409);
    cr_assert(strstr(it_jstr(p, "type"), "/api-key-limit") != NULL);
    json_decref(p);
}

struct burst {
    const char *auth;
    int n;
    int ok, limited, other;
    long retry_after_min; /* over the 429s */
};

static void *hammer(void *arg)
{
    struct burst *b = arg;
    CURL *h = curl_easy_init();
    const char *hdr[] = {b->auth, NULL};
    b->retry_after_min = 1L << 30;
    for (int i = 0; i < b->n; i++) {
        struct it_response r;
        if (h == NULL || it_request(h, "GET", "/api/v1/customers/me", hdr, NULL, 0, &r) != 0) {
            b->other++;
            continue;
        }
        if (r.status == 200) {
            b->ok++;
        } else if (r.status == 429 && it_header(&r, "Retry-After") != NULL &&
                   strstr(r.body, "/rate-limited") != NULL) {
            b->limited++;
            long ra = strtol(it_header(&r, "Retry-After"), NULL, 10);
            if (ra < b->retry_after_min)
                b->retry_after_min = ra;
        } else {
            b->other++;
        }
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

Test(access, rate_limit_is_exact_under_parallel_load)
{
    /* The window is the clock hour: stay clear of its end. */
    PGconn *clock = PQconnectdb("");
    long long left = it_db_ll(clock,
                              "SELECT extract(epoch FROM date_trunc('hour', now())"
                              " + interval '1 hour' - now())::bigint",
                              0, NULL);
    PQfinish(clock);
    if (left < 30)
        sleep((unsigned)left + 2);
    struct it_customer c;
    onboard(&c);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    enum { THREADS = 16, EACH = 40 }; /* 640 requests for a limit of 500 */
    struct burst b[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        b[i] = (struct burst){.auth = auth, .n = EACH};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, &b[i]), 0);
    }
    int ok = 0, limited = 0, other = 0;
    long ra = 1L << 30;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ok += b[i].ok;
        limited += b[i].limited;
        other += b[i].other;
        if (b[i].retry_after_min < ra)
            ra = b[i].retry_after_min;
    }
    cr_assert_eq(other, 0, "every answer is 200 or tollgate's 429");
    cr_assert_eq(ok, LIMIT, "exactly the limit is admitted: %d of %d", ok, THREADS * EACH);
    cr_assert_eq(limited, THREADS * EACH - LIMIT);
    cr_assert(ra >= 1 && ra <= 3600, "Retry-After %ld is the rest of the hour", ra);

    /* Over the limit: the answer says so in the headers too. */
    struct it_response r;
    it_get("/api/v1/customers/me", c.api_key, &r);
    cr_assert_eq(r.status, 429);
    cr_assert_str_eq(it_header(&r, "RateLimit-Policy"), "\"hourly\";q=500;w=3600");
    cr_assert(strncmp(it_header(&r, "RateLimit"), "\"hourly\";r=0;t=", 15) == 0, "%s",
              it_header(&r, "RateLimit"));
    it_response_free(&r);

    /* The counter holds every request of the hour, refused ones too. */
    PGconn *db = PQconnectdb("");
    const char *p[1] = {c.id};
    cr_assert_eq(it_db_ll(db,
                          "SELECT requests FROM rate_limits r JOIN api_keys k"
                          " ON k.id = r.api_key_id WHERE k.customer_id = $1::uuid"
                          " AND r.window_start = date_trunc('hour', now())",
                          1, p),
                 THREADS * EACH + 1, "every request was counted, the refused ones too");
    PQfinish(db);
}

Test(access, headers_count_down)
{
    struct it_customer c;
    onboard(&c);
    long long last = LIMIT;
    for (int i = 0; i < 3; i++) {
        struct it_response r;
        it_get("/api/v1/usage/summary", c.api_key, &r);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(it_header(&r, "RateLimit-Policy"), "\"hourly\";q=500;w=3600");
        const char *h = it_header(&r, "RateLimit");
        cr_assert(strncmp(h, "\"hourly\";r=", 11) == 0, "%s", h);
        char *end;
        long long left = strtoll(h + 11, &end, 10);
        cr_assert(strncmp(end, ";t=", 3) == 0, "%s", h);
        long reset = strtol(end + 3, &end, 10);
        cr_assert_eq(*end, '\0', "%s", h);
        cr_assert_eq(left, last - 1);
        cr_assert(reset >= 0 && reset <= 3600);
        last = left;
        it_response_free(&r);
    }
    /* A refused request of an authenticated key carries them too. */
    struct it_response r;
    it_post_json("/api/v1/usage", c.api_key, NULL, "{\"kind\":\"fix_deployed\",\"fix_id\":\"x\"}",
                 &r);
    cr_assert_eq(r.status, 400);
    cr_assert_not_null(it_header(&r, "RateLimit"));
    it_response_free(&r);
    /* No key, no headers. */
    it_get("/api/v1/customers/me", NULL, &r);
    cr_assert_eq(r.status, 401);
    cr_assert_null(it_header(&r, "RateLimit"));
    it_response_free(&r);
}
