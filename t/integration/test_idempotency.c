/*
 * test_idempotency: Idempotency-Key on every state-changing route (IETF
 * draft "The Idempotency-Key HTTP Header Field"; docs/api.md#idempotency),
 * through nginx against PostgreSQL and the Stripe emulator. For each route:
 * a retry with the same key and request answers the first answer again
 * (status, body, the headers that matter, Idempotent-Replayed) with one
 * effect only (one customer, one active key more, one card and one
 * subscription at Stripe); the same key with another request is 422
 * idempotency-key-reused; duplicates sent at once take effect once, the
 * others answered 409 idempotency-key-in-progress (with Retry-After) or
 * the replay; a quoted key ("k", an RFC 8941 sf-string) and the bare k are
 * the same key, for usage too; an answer holding a secret loses its body
 * after 10 minutes (410), and tollgate-worker purges records after 24 hours.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_stripe.h"

TestSuite(idempotency, .init = it_stripe_init, .fini = it_stripe_fini, .timeout = 180);

/* ---- helpers ------------------------------------------------------------- */

/* unique_key: a fresh Idempotency-Key. */
static void unique_key(char *buf, size_t len, const char *what)
{
    static int n;
    snprintf(buf, len, "it-%s-%d-%d-%ld", what, (int)getpid(), ++n, random());
}

/* quoted: "key" as an sf-string. */
static void quoted(char *buf, size_t len, const char *key)
{
    snprintf(buf, len, "\"%s\"", key);
}

/* call: method path with an API key (NULL: none), an Idempotency-Key
 * header value (NULL: none) and a JSON body (NULL: none). */
static void call(const char *method, const char *path, const char *api_key, const char *idem,
                 const char *body, struct it_response *out)
{
    char auth[160], key[400];
    const char *headers[4] = {"Content-Type: application/json", NULL, NULL, NULL};
    size_t n = 1;
    if (api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        headers[n++] = auth;
    }
    if (idem != NULL) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s", idem);
        headers[n++] = key;
    }
    it_send(method, path, headers, body, body != NULL ? strlen(body) : 0, out);
}

/* assert_replay: second answers exactly as first did, and says it replays. */
static void assert_replay(const struct it_response *first, const struct it_response *second)
{
    cr_assert_eq(second->status, first->status, "replay %ld, first %ld: %s", second->status,
                 first->status, second->body);
    cr_assert_str_eq(second->body, first->body, "the replay's body differs");
    cr_assert_str_eq(it_header(second, "Content-Type"), it_header(first, "Content-Type"));
    const char *cc = it_header(first, "Cache-Control");
    if (cc != NULL)
        cr_assert_str_eq(it_header(second, "Cache-Control"), cc);
    cr_assert_null(it_header(first, "Idempotent-Replayed"));
    cr_assert_str_eq(it_header(second, "Idempotent-Replayed"), "true");
}

static char *signup_body(const char *email, const char *name)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "email", email, "name", name, "source", "direct");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    cr_assert_not_null(s);
    return s;
}

static long long customers_with(const char *email)
{
    PGconn *db = it_db();
    const char *p[1] = {email};
    long long n = it_db_ll(db, "SELECT count(*) FROM customers WHERE email = $1", 1, p);
    PQfinish(db);
    return n;
}

/* ---- concurrency --------------------------------------------------------- */

struct shot {
    pthread_barrier_t *barrier;
    const char *method, *path, *body;
    const char *headers[4];
    long status;
    char *answer;
    bool replayed, retry_after;
};

static void *fire(void *arg)
{
    struct shot *s = arg;
    CURL *h = curl_easy_init();
    pthread_barrier_wait(s->barrier);
    struct it_response r;
    if (h != NULL && it_request(h, s->method, s->path, s->headers, s->body,
                                s->body != NULL ? strlen(s->body) : 0, &r) == 0) {
        s->status = r.status;
        s->answer = strdup(r.body);
        s->replayed = it_header(&r, "Idempotent-Replayed") != NULL;
        s->retry_after = it_header(&r, "Retry-After") != NULL;
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

#define SHOTS 6

/* race: SHOTS identical requests at once; returns how many were the
 * original success (status ok, not replayed). Every other answer must be
 * the replay of it or 409 idempotency-key-in-progress with Retry-After. */
static int race(const char *method, const char *path, const char *api_key, const char *idem,
                const char *body, long ok)
{
    char auth[160], key[400];
    struct shot shots[SHOTS];
    pthread_t threads[SHOTS];
    pthread_barrier_t barrier;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key != NULL ? api_key : "");
    snprintf(key, sizeof(key), "Idempotency-Key: %s", idem);
    cr_assert_eq(pthread_barrier_init(&barrier, NULL, SHOTS), 0);
    for (int i = 0; i < SHOTS; i++) {
        shots[i] = (struct shot){&barrier, method, path, body,
                                 {"Content-Type: application/json", key,
                                  api_key != NULL ? auth : NULL, NULL},
                                 0, NULL, false, false};
        cr_assert_eq(pthread_create(&threads[i], NULL, fire, &shots[i]), 0);
    }
    for (int i = 0; i < SHOTS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    int originals = 0;
    const char *first = NULL;
    for (int i = 0; i < SHOTS; i++) {
        struct shot *s = &shots[i];
        cr_assert_neq(s->status, 0, "shot %d failed in transport", i);
        if (s->status == 409) {
            cr_assert(strstr(s->answer, "idempotency-key-in-progress") != NULL, "%s", s->answer);
            cr_assert(s->retry_after, "a 409 without Retry-After");
            continue;
        }
        cr_assert_eq(s->status, ok, "shot %d: %ld %s", i, s->status, s->answer);
        if (!s->replayed)
            originals++;
        if (first == NULL)
            first = s->answer;
        else
            cr_assert_str_eq(s->answer, first, "two successes with different bodies");
    }
    for (int i = 0; i < SHOTS; i++)
        free(shots[i].answer);
    return originals;
}

/* ---- signup -------------------------------------------------------------- */

Test(idempotency, signup_retry_replays_the_first_answer_and_its_api_key)
{
    char email[160], key[96];
    struct it_response a, b;
    it_unique_email(email, sizeof(email), "example.com");
    unique_key(key, sizeof(key), "signup");
    char *body = signup_body(email, "Retry Test");
    call("POST", "/api/v1/customers", NULL, key, body, &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/customers", NULL, key, body, &b);
    assert_replay(&a, &b);
    cr_assert_eq(customers_with(email), 1, "one customer");
    /* The replayed key is the one that works. */
    json_t *j = it_json(&b);
    struct it_response me;
    it_get("/api/v1/customers/me", it_jstr(j, "api_key"), &me);
    json_decref(it_assert_json(&me, 200));
    it_response_free(&me);
    json_decref(j);
    it_response_free(&a);
    it_response_free(&b);
    free(body);
}

Test(idempotency, signup_quoted_and_bare_key_are_the_same_key)
{
    char email[160], key[96], q[100];
    struct it_response a, b;
    it_unique_email(email, sizeof(email), "example.com");
    unique_key(key, sizeof(key), "quoted");
    quoted(q, sizeof(q), key);
    char *body = signup_body(email, "Quoted Test");
    call("POST", "/api/v1/customers", NULL, q, body, &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/customers", NULL, key, body, &b);
    assert_replay(&a, &b);
    cr_assert_eq(customers_with(email), 1);
    it_response_free(&a);
    it_response_free(&b);
    free(body);
}

Test(idempotency, signup_same_key_other_body_is_422)
{
    char email[160], key[96];
    struct it_response a, b;
    it_unique_email(email, sizeof(email), "example.com");
    unique_key(key, sizeof(key), "other");
    char *body = signup_body(email, "First Name"), *other = signup_body(email, "Other Name");
    call("POST", "/api/v1/customers", NULL, key, body, &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/customers", NULL, key, other, &b);
    it_assert_problem(&b, 422, "idempotency-key-reused", NULL);
    cr_assert_eq(customers_with(email), 1);
    it_response_free(&a);
    it_response_free(&b);
    free(body);
    free(other);
}

Test(idempotency, signup_sent_at_once_creates_one_customer)
{
    char email[160], key[96];
    it_unique_email(email, sizeof(email), "example.com");
    unique_key(key, sizeof(key), "race");
    char *body = signup_body(email, "Race Test");
    cr_assert_eq(race("POST", "/api/v1/customers", NULL, key, body, 201), 1);
    cr_assert_eq(customers_with(email), 1);
    free(body);
}

Test(idempotency, malformed_keys_are_refused)
{
    static const char *const bad[] = {"\"\"", "\"a b\"", "\"abc", "\"a\\x\""};
    char email[160], big[300];
    it_unique_email(email, sizeof(email), "example.com");
    char *body = signup_body(email, "Bad Key");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_response r;
        call("POST", "/api/v1/customers", NULL, bad[i], body, &r);
        it_assert_problem(&r, 400, "idempotency-key-required", NULL);
        it_response_free(&r);
    }
    memset(big, 'k', 256);
    big[256] = '\0';
    struct it_response r;
    call("POST", "/api/v1/customers", NULL, big, body, &r);
    it_assert_problem(&r, 400, "idempotency-key-required", NULL);
    it_response_free(&r);
    cr_assert_eq(customers_with(email), 0);
    free(body);
}

/* ---- API keys ------------------------------------------------------------ */

static long long active_keys(const struct it_customer *c)
{
    return it_db_count(c, "SELECT count(*) FROM api_keys WHERE customer_id = $1 "
                          "AND revoked_at IS NULL");
}

Test(idempotency, api_key_create_retry_makes_one_key)
{
    struct it_customer c;
    char key[96];
    struct it_response a, b, d;
    onboard(&c);
    unique_key(key, sizeof(key), "apikey");
    call("POST", "/api/v1/api_keys", c.api_key, key, "{\"name\":\"ci\"}", &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/api_keys", c.api_key, key, "{\"name\":\"ci\"}", &b);
    assert_replay(&a, &b);
    cr_assert_eq(active_keys(&c), 2, "the signup's key and one more");
    call("POST", "/api/v1/api_keys", c.api_key, key, "{\"name\":\"other\"}", &d);
    it_assert_problem(&d, 422, "idempotency-key-reused", NULL);
    cr_assert_eq(active_keys(&c), 2);
    it_response_free(&a);
    it_response_free(&b);
    it_response_free(&d);
}

Test(idempotency, api_key_create_sent_at_once_makes_one_key)
{
    struct it_customer c;
    char key[96];
    onboard(&c);
    unique_key(key, sizeof(key), "apikey-race");
    cr_assert_eq(race("POST", "/api/v1/api_keys", c.api_key, key, "{}", 201), 1);
    cr_assert_eq(active_keys(&c), 2);
}

Test(idempotency, api_key_revoke_retry_replays)
{
    struct it_customer c;
    char key[96], path[160], q[100];
    struct it_response made, a, b, d;
    onboard(&c);
    call("POST", "/api/v1/api_keys", c.api_key, NULL, "{}", &made);
    json_t *j = it_assert_json(&made, 201);
    snprintf(path, sizeof(path), "/api/v1/api_keys/%s", it_jstr(j, "id"));
    json_decref(j);
    unique_key(key, sizeof(key), "revoke");
    quoted(q, sizeof(q), key);
    call("DELETE", path, c.api_key, key, NULL, &a);
    json_decref(it_assert_json(&a, 200));
    call("DELETE", path, c.api_key, q, NULL, &b);
    assert_replay(&a, &b);
    cr_assert_eq(active_keys(&c), 1);
    /* The same key on another key's path is another request. */
    snprintf(path, sizeof(path), "/api/v1/api_keys/%s", "00000000-0000-4000-8000-000000000000");
    call("DELETE", path, c.api_key, key, NULL, &d);
    it_assert_problem(&d, 422, "idempotency-key-reused", NULL);
    it_response_free(&made);
    it_response_free(&a);
    it_response_free(&b);
    it_response_free(&d);
}

/* ---- credentials --------------------------------------------------------- */

Test(idempotency, credentials_retry_returns_the_same_token)
{
    struct it_customer c;
    char key[96];
    struct it_response a, b, d;
    onboard(&c);
    unique_key(key, sizeof(key), "cred");
    call("POST", "/api/v1/credentials", c.api_key, key, "{\"ttl_seconds\":300}", &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/credentials", c.api_key, key, "{\"ttl_seconds\":300}", &b);
    assert_replay(&a, &b);
    call("POST", "/api/v1/credentials", c.api_key, key, "{\"ttl_seconds\":600}", &d);
    it_assert_problem(&d, 422, "idempotency-key-reused", NULL);
    it_response_free(&a);
    it_response_free(&b);
    it_response_free(&d);
}

/* ---- payment method and subscriptions (Stripe) --------------------------- */

static const char card[] = "{\"payment_method\":\"pm_card_visa\",\"billing_consent\":true}";

Test(idempotency, payment_method_retry_attaches_one_card)
{
    struct it_customer c;
    char key[96], cus[64];
    struct it_response a, b, d;
    onboard(&c);
    unique_key(key, sizeof(key), "card");
    call("POST", "/api/v1/customers/me/payment_method", c.api_key, key, card, &a);
    json_decref(it_assert_json(&a, 200));
    call("POST", "/api/v1/customers/me/payment_method", c.api_key, key, card, &b);
    assert_replay(&a, &b);
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/payment_methods", cus), 1, "one card at Stripe");
    call("POST", "/api/v1/customers/me/payment_method", c.api_key, key,
         "{\"payment_method\":\"pm_card_mastercard\",\"billing_consent\":true}", &d);
    it_assert_problem(&d, 422, "idempotency-key-reused", NULL);
    cr_assert_eq(it_stripe_count("/v1/payment_methods", cus), 1);
    it_response_free(&a);
    it_response_free(&b);
    it_response_free(&d);
}

Test(idempotency, payment_method_sent_at_once_attaches_one_card)
{
    struct it_customer c;
    char key[96], cus[64];
    onboard(&c);
    unique_key(key, sizeof(key), "card-race");
    cr_assert_eq(race("POST", "/api/v1/customers/me/payment_method", c.api_key, key, card, 200),
                 1);
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/payment_methods", cus), 1, "one card at Stripe");
}

Test(idempotency, subscribe_and_cancel_retries_replay)
{
    struct it_customer c;
    char key[96], cus[64];
    struct it_response a, b, x, y;
    it_customer_with_card(&c, "pm_card_visa");
    unique_key(key, sizeof(key), "sub");
    call("POST", "/api/v1/subscriptions", c.api_key, key, "{\"plan\":\"pro\"}", &a);
    json_decref(it_assert_json(&a, 201));
    call("POST", "/api/v1/subscriptions", c.api_key, key, "{\"plan\":\"pro\"}", &b);
    assert_replay(&a, &b);
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 1, "one subscription at Stripe");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM subscriptions WHERE customer_id = $1"), 1);

    unique_key(key, sizeof(key), "cancel");
    call("DELETE", "/api/v1/subscriptions/current", c.api_key, key, NULL, &x);
    json_decref(it_assert_json(&x, 200));
    call("DELETE", "/api/v1/subscriptions/current", c.api_key, key, NULL, &y);
    assert_replay(&x, &y);
    it_response_free(&y);
    /* At period end is another request. */
    call("DELETE", "/api/v1/subscriptions/current?at_period_end=true", c.api_key, key, NULL, &y);
    it_assert_problem(&y, 422, "idempotency-key-reused", NULL);
    it_response_free(&a);
    it_response_free(&b);
    it_response_free(&x);
    it_response_free(&y);
}

Test(idempotency, subscribe_sent_at_once_makes_one_subscription)
{
    struct it_customer c;
    char key[96], cus[64];
    it_customer_with_card(&c, "pm_card_visa");
    unique_key(key, sizeof(key), "sub-race");
    cr_assert_eq(race("POST", "/api/v1/subscriptions", c.api_key, key, "{\"plan\":\"pro\"}", 201),
                 1);
    it_stripe_customer(&c, cus, sizeof(cus));
    cr_assert_eq(it_stripe_count("/v1/subscriptions", cus), 1, "one subscription at Stripe");
}

/* ---- usage: its own mechanism, the same key syntax ----------------------- */

Test(idempotency, usage_quoted_and_bare_key_are_the_same_key)
{
    struct it_customer c;
    char key[96], q[100];
    struct it_response a, b;
    onboard(&c);
    long long before = it_balance(&c);
    unique_key(key, sizeof(key), "usage");
    quoted(q, sizeof(q), key);
    it_post_usage(&c, q, "fix-quoted", &a);
    json_decref(it_assert_json(&a, 201));
    it_post_usage(&c, key, "fix-quoted", &b);
    assert_replay(&a, &b);
    cr_assert_eq(it_balance(&c), before - 1, "one credit spent");
    it_response_free(&a);
    it_response_free(&b);
}

/* ---- retention ----------------------------------------------------------- */

/* age: make the record of key (any scope) look older by interval. */
static void age(const char *key, const char *column, const char *interval)
{
    char sql[200], state[6];
    snprintf(sql, sizeof(sql),
             "UPDATE idempotency_keys SET %s = now() - $2::interval WHERE idempotency_key = $1",
             column);
    const char *p[2] = {key, interval};
    PGconn *db = it_db();
    it_db_exec(db, sql, 2, p, state);
    PQfinish(db);
    cr_assert_str_eq(state, "", "SQLSTATE %s", state);
}

static long long records(const char *key)
{
    PGconn *db = it_db();
    const char *p[1] = {key};
    long long n = it_db_ll(db, "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = $1",
                           1, p);
    PQfinish(db);
    return n;
}

/* A signup's answer holds its API key: after 10 minutes its body is gone
 * (410, and still no second customer); after 24 hours tollgate-worker
 * deletes the record, and the key is free again. */
Test(idempotency, secret_answers_expire_and_records_are_purged)
{
    char email[160], key[96];
    struct it_response a, b;
    it_unique_email(email, sizeof(email), "example.com");
    unique_key(key, sizeof(key), "expire");
    char *body = signup_body(email, "Expiry Test");
    call("POST", "/api/v1/customers", NULL, key, body, &a);
    json_decref(it_assert_json(&a, 201));
    age(key, "body_expires_at", "1 second");
    call("POST", "/api/v1/customers", NULL, key, body, &b);
    it_assert_problem(&b, 410, "idempotency-answer-expired", NULL);
    cr_assert_eq(customers_with(email), 1);
    it_worker_pass();
    cr_assert_eq(records(key), 1, "kept for 24 hours");
    age(key, "created_at", "24 hours 1 second");
    it_worker_pass();
    cr_assert_eq(records(key), 0, "purged after 24 hours");
    it_response_free(&a);
    it_response_free(&b);
    free(body);
}
