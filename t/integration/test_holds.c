/*
 * test_holds: credit holds through nginx and the FastCGI workers
 * (docs/api.md#holds). POST /api/v1/holds requires an Idempotency-Key and
 * answers a retry with the same hold; a credit hold shows in
 * /customers/me and the usage summary as held and leaves available one
 * less, and usage cannot take it; settle and release answer the same body
 * on every retry, and the other one then 409 with its own problem type;
 * GET /api/v1/holds lists them by status, page by page; N parallel holds
 * on k credits take exactly k credit holds (402 for the rest without
 * billing, charge holds with a card), and settling those charges makes
 * exactly that many PaymentIntents at the emulator; settle racing release
 * over HTTP: exactly one side wins; an expired hold answers 409
 * hold-expired, and a pass of tollgate-worker expires a due one;
 * tollgatectl verify-ledger reports held credits beyond the balance.
 * Spend limits: PUT/DELETE /api/v1/customers/me/spend_limit and
 * tollgatectl spend-limit (validated, shown in /customers/me and the
 * summary, audited with the operator as actor); parallel fixes at balance
 * 0 with a card charge exactly as many as the limit allows (the
 * emulator's PaymentIntents equal), the rest 402 spend-limit-reached, and
 * a hold past the limit too.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_stripe.h"

TestSuite(holds, .init = it_stripe_init, .fini = it_stripe_fini, .timeout = 180);
/* One test at a time: verify_ledger_reports_held_beyond_the_balance breaks
 * the ledger invariant for a moment, which another test's fini (it runs
 * verify-ledger) would see. */
IT_SERIAL_MAIN()

/* take: POST /api/v1/holds for fix_id under key idem (NULL: none). */
static void take(const struct it_customer *c, const char *idem, const char *fix_id,
                 struct it_response *r)
{
    char body[160];
    snprintf(body, sizeof(body), "{\"kind\":\"fix_deployed\",\"fix_id\":\"%s\",\"ttl_seconds\":600}",
             fix_id);
    it_post_json("/api/v1/holds", c->api_key, idem, body, r);
}

/* end: POST /api/v1/holds/{id}/verb (settle, release), no body. */
static void end(const struct it_customer *c, const char *id, const char *verb,
                struct it_response *r)
{
    char path[160], auth[160];
    snprintf(path, sizeof(path), "/api/v1/holds/%s/%s", id, verb);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    const char *headers[] = {auth, NULL};
    it_send("POST", path, headers, NULL, 0, r);
}

/* me: GET path's (customers/me or usage/summary) held and available. */
static void held_available(const struct it_customer *c, const char *path, long long *held,
                           long long *available)
{
    struct it_response r;
    it_get(path, c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    *held = it_jint(j, "held");
    *available = it_jint(j, "available");
    json_decref(j);
    it_response_free(&r);
}

Test(holds, lifecycle_through_http)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r, r2;
    take(&c, NULL, "fix-1", &r);
    it_assert_problem(&r, 400, "idempotency-key-required", NULL);
    it_response_free(&r);

    take(&c, "h-1", "fix-1", &r);
    json_t *h = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(h, "object"), "hold");
    cr_assert_str_eq(it_jstr(h, "reserves"), "credit");
    cr_assert_str_eq(it_jstr(h, "status"), "active");
    char id[64];
    snprintf(id, sizeof(id), "%s", it_jstr(h, "id"));
    take(&c, "h-1", "fix-1", &r2);
    cr_assert_eq(r2.status, 201);
    cr_assert_not_null(it_header(&r2, "Idempotent-Replayed"));
    json_t *h2 = it_json(&r2);
    cr_assert_str_eq(it_jstr(h2, "id"), id);
    json_decref(h2);
    it_response_free(&r2);
    json_decref(h);
    it_response_free(&r);

    long long held, available;
    held_available(&c, "/api/v1/customers/me", &held, &available);
    cr_assert_eq(held, 1);
    cr_assert_eq(available, 4);
    held_available(&c, "/api/v1/usage/summary", &held, &available);
    cr_assert_eq(held, 1);
    cr_assert_eq(available, 4);
    cr_assert_eq(it_balance(&c), 5, "a hold is a ledger entry");

    end(&c, id, "settle", &r);
    json_t *s = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(s, "status"), "settled");
    cr_assert_str_eq(it_jstr(it_jget(s, "usage_event"), "outcome"), "credit");
    cr_assert_eq(it_jint(it_jget(s, "usage_event"), "credits_remaining"), 4);
    json_decref(s);
    end(&c, id, "settle", &r2);
    cr_assert_eq(r2.status, 200);
    cr_assert_str_eq(r2.body, r.body, "a retried settle answered otherwise");
    it_response_free(&r2);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 4);
    held_available(&c, "/api/v1/customers/me", &held, &available);
    cr_assert_eq(held, 0);
    cr_assert_eq(available, 4);

    end(&c, id, "release", &r);
    it_assert_problem(&r, 409, "hold-settled", NULL);
    it_response_free(&r);
    end(&c, "00000000-0000-0000-0000-000000000000", "settle", &r);
    it_assert_problem(&r, 404, "not-found", NULL);
    it_response_free(&r);
    end(&c, "not-a-hold", "release", &r);
    it_assert_problem(&r, 404, "not-found", NULL);
    it_response_free(&r);
    /* The key is judged in the statement: another customer's key finds no
     * such hold, an unknown one is 401. */
    struct it_customer other;
    onboard(&other);
    end(&other, id, "settle", &r);
    it_assert_problem(&r, 404, "not-found", NULL);
    it_response_free(&r);
    snprintf(other.api_key, sizeof(other.api_key), "%s",
             "tg_test_0000000000000000000000000000000000000000000000000000000000000000");
    end(&other, id, "release", &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);

    /* Released: the same answer again, and settling it is refused. */
    take(&c, "h-2", "fix-2", &r);
    h = it_assert_json(&r, 201);
    snprintf(id, sizeof(id), "%s", it_jstr(h, "id"));
    json_decref(h);
    it_response_free(&r);
    end(&c, id, "release", &r);
    json_t *rel = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(rel, "status"), "released");
    json_decref(rel);
    end(&c, id, "release", &r2);
    cr_assert_eq(r2.status, 200);
    cr_assert_str_eq(r2.body, r.body, "a retried release answered otherwise");
    it_response_free(&r2);
    it_response_free(&r);
    end(&c, id, "settle", &r);
    it_assert_problem(&r, 409, "hold-released", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 4);

    /* Usage still works, as before. */
    it_post_usage(&c, "u-1", "fix-u", &r);
    json_t *u = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(u, "outcome"), "credit");
    json_decref(u);
    it_response_free(&r);
    cr_assert_eq(it_balance(&c), 3);
}

Test(holds, list_by_status_and_page)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    char id[3][64];
    for (int i = 0; i < 3; i++) {
        char key[16], fix[16];
        snprintf(key, sizeof(key), "h-%d", i);
        snprintf(fix, sizeof(fix), "fix-%d", i);
        take(&c, key, fix, &r);
        json_t *h = it_assert_json(&r, 201);
        snprintf(id[i], sizeof(id[i]), "%s", it_jstr(h, "id"));
        json_decref(h);
        it_response_free(&r);
    }
    end(&c, id[0], "release", &r);
    it_response_free(&r);

    it_get("/api/v1/holds?status=active", c.api_key, &r);
    json_t *l = it_assert_json(&r, 200);
    cr_assert_eq(json_array_size(it_jget(l, "data")), 2);
    cr_assert_str_eq(it_jstr(json_array_get(it_jget(l, "data"), 0), "id"), id[2], "newest first");
    json_decref(l);
    it_response_free(&r);
    it_get("/api/v1/holds?status=released", c.api_key, &r);
    l = it_assert_json(&r, 200);
    cr_assert_eq(json_array_size(it_jget(l, "data")), 1);
    cr_assert_str_eq(it_jstr(json_array_get(it_jget(l, "data"), 0), "id"), id[0]);
    json_decref(l);
    it_response_free(&r);

    it_get("/api/v1/holds?limit=2", c.api_key, &r);
    l = it_assert_json(&r, 200);
    cr_assert_eq(json_array_size(it_jget(l, "data")), 2);
    cr_assert(json_is_true(it_jget(l, "has_more")));
    char path[160];
    snprintf(path, sizeof(path), "/api/v1/holds?limit=2&cursor=%s", it_jstr(l, "next_cursor"));
    json_decref(l);
    it_response_free(&r);
    it_get(path, c.api_key, &r);
    l = it_assert_json(&r, 200);
    cr_assert_eq(json_array_size(it_jget(l, "data")), 1);
    cr_assert_str_eq(it_jstr(json_array_get(it_jget(l, "data"), 0), "id"), id[0]);
    cr_assert(json_is_false(it_jget(l, "has_more")));
    json_decref(l);
    it_response_free(&r);

    it_get("/api/v1/holds?status=pending", c.api_key, &r);
    it_assert_problem(&r, 400, "validation-failed", "status");
    it_response_free(&r);
}

/* ---- parallel requests ----------------------------------------------------------- */

struct shot {
    pthread_barrier_t *barrier;
    char path[160], auth[160], idem[96];
    const char *method;
    char body[160];
    long status;
    char *answer;
};

static void *fire(void *arg)
{
    struct shot *s = arg;
    CURL *h = curl_easy_init();
    const char *headers[4] = {s->auth, "Content-Type: application/json",
                              s->idem[0] ? s->idem : NULL, NULL};
    pthread_barrier_wait(s->barrier);
    struct it_response r;
    if (h != NULL && it_request(h, s->method, s->path, headers, s->body[0] ? s->body : NULL,
                                strlen(s->body), &r) == 0) {
        s->status = r.status;
        s->answer = strdup(r.body);
        it_response_free(&r);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void fire_all(struct shot *shots, size_t n)
{
    pthread_t threads[32];
    pthread_barrier_t barrier;
    cr_assert(n <= 32);
    cr_assert_eq(pthread_barrier_init(&barrier, NULL, (unsigned)n), 0);
    for (size_t i = 0; i < n; i++) {
        shots[i].barrier = &barrier;
        cr_assert_eq(pthread_create(&threads[i], NULL, fire, &shots[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
}

/* parallel_holds: n holds on c at once; counts by outcome; the ids of the
 * charge holds into charge_ids (n entries of 64). */
static void parallel_holds(const struct it_customer *c, size_t n, int *credit, int *charge,
                           int *refused, char (*charge_ids)[64])
{
    struct shot shots[32];
    memset(shots, 0, sizeof(shots));
    for (size_t i = 0; i < n; i++) {
        shots[i].method = "POST";
        snprintf(shots[i].path, sizeof(shots[i].path), "/api/v1/holds");
        snprintf(shots[i].auth, sizeof(shots[i].auth), "Authorization: Bearer %s", c->api_key);
        snprintf(shots[i].idem, sizeof(shots[i].idem), "Idempotency-Key: hp-%zu", i);
        snprintf(shots[i].body, sizeof(shots[i].body),
                 "{\"kind\":\"fix_deployed\",\"fix_id\":\"fix-%zu\"}", i);
    }
    fire_all(shots, n);
    *credit = *charge = *refused = 0;
    for (size_t i = 0; i < n; i++) {
        if (shots[i].status == 402) {
            cr_assert(strstr(shots[i].answer, "insufficient-credits") != NULL, "%s",
                      shots[i].answer);
            (*refused)++;
        } else {
            cr_assert_eq(shots[i].status, 201, "hold %zu: %ld %s", i, shots[i].status,
                         shots[i].answer ? shots[i].answer : "");
            json_t *j = json_loads(shots[i].answer, 0, NULL);
            cr_assert_not_null(j);
            if (strcmp(it_jstr(j, "reserves"), "credit") == 0) {
                (*credit)++;
            } else {
                cr_assert_str_eq(it_jstr(j, "reserves"), "charge");
                cr_assert_eq(it_jint(j, "amount_cents"), 2900);
                snprintf(charge_ids[*charge], 64, "%s", it_jstr(j, "id"));
                (*charge)++;
            }
            json_decref(j);
        }
        free(shots[i].answer);
    }
}

Test(holds, parallel_holds_take_exactly_the_credits)
{
    enum { N = 12, K = 3 };
    struct it_customer c;
    onboard(&c);
    it_add_credits(&c, K - 5);
    int credit, charge, refused;
    char ids[N][64];
    parallel_holds(&c, N, &credit, &charge, &refused, ids);
    cr_assert_eq(credit, K);
    cr_assert_eq(charge, 0);
    cr_assert_eq(refused, N - K);
    long long held, available;
    held_available(&c, "/api/v1/customers/me", &held, &available);
    cr_assert_eq(held, K);
    cr_assert_eq(available, 0);
}

Test(holds, parallel_holds_with_a_card_charge_the_rest_once_each)
{
    enum { N = 8, K = 2 };
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_zero_balance(&c);
    it_add_credits(&c, K);
    int credit, charge, refused;
    char ids[N][64];
    parallel_holds(&c, N, &credit, &charge, &refused, ids);
    cr_assert_eq(credit, K);
    cr_assert_eq(charge, N - K);
    cr_assert_eq(refused, 0);
    json_t *none = it_charge_intents(&c);
    cr_assert_eq(json_array_size(none), 0, "a hold charged");
    json_decref(none);
    for (int i = 0; i < charge; i++) {
        struct it_response r;
        end(&c, ids[i], "settle", &r);
        json_t *j = it_assert_json(&r, 200);
        cr_assert_str_eq(it_jstr(it_jget(j, "usage_event"), "outcome"), "charged");
        json_decref(j);
        it_response_free(&r);
        end(&c, ids[i], "settle", &r); /* a retry charges nothing more */
        cr_assert_eq(r.status, 200);
        it_response_free(&r);
    }
    json_t *intents = it_charge_intents(&c);
    cr_assert_eq(json_array_size(intents), (size_t)(N - K), "PaymentIntents at Stripe");
    json_decref(intents);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"
                                 " AND status = 'succeeded'"),
                 N - K);
    cr_assert_eq(it_balance(&c), K, "the credit holds are still held, not taken");
}

Test(holds, settle_racing_release_one_wins)
{
    enum { N = 8 };
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    take(&c, "h-race", "fix-race", &r);
    json_t *h = it_assert_json(&r, 201);
    struct shot shots[N];
    memset(shots, 0, sizeof(shots));
    for (size_t i = 0; i < N; i++) {
        shots[i].method = "POST";
        snprintf(shots[i].path, sizeof(shots[i].path), "/api/v1/holds/%s/%s",
                 it_jstr(h, "id"), i % 2 ? "release" : "settle");
        snprintf(shots[i].auth, sizeof(shots[i].auth), "Authorization: Bearer %s", c.api_key);
    }
    json_decref(h);
    it_response_free(&r);
    fire_all(shots, N);
    int settled = 0, released = 0;
    for (size_t i = 0; i < N; i++) {
        if (shots[i].status == 200)
            *(i % 2 ? &released : &settled) += 1;
        else
            cr_assert_eq(shots[i].status, 409, "%zu: %ld %s", i, shots[i].status,
                         shots[i].answer);
        free(shots[i].answer);
    }
    cr_assert((settled == N / 2 && released == 0) || (released == N / 2 && settled == 0),
              "settled %d, released %d", settled, released);
    cr_assert_eq(it_balance(&c), settled ? 4 : 5);
}

Test(holds, expired_hold_is_409_and_the_worker_expires_due_ones)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    char id[2][64];
    for (int i = 0; i < 2; i++) {
        char key[16];
        snprintf(key, sizeof(key), "h-e%d", i);
        take(&c, key, "fix-e", &r);
        json_t *h = it_assert_json(&r, 201);
        snprintf(id[i], sizeof(id[i]), "%s", it_jstr(h, "id"));
        json_decref(h);
        it_response_free(&r);
    }
    PGconn *db = it_db();
    char state[6];
    const char *p[] = {c.id};
    it_db_exec(db, "UPDATE holds SET expires_at = now() - interval '1 second'"
                   " WHERE customer_id = $1", 1, p, state);
    cr_assert_str_eq(state, "");
    end(&c, id[0], "settle", &r);
    it_assert_problem(&r, 409, "hold-expired", NULL);
    it_response_free(&r);
    /* The other is due: a pass of tollgate-worker expires it. */
    it_worker_pass();
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM holds WHERE customer_id = $1"
                                 " AND status = 'expired'"),
                 2);
    long long held, available;
    held_available(&c, "/api/v1/customers/me", &held, &available);
    cr_assert_eq(held, 0);
    cr_assert_eq(available, 5);
    PQfinish(db);
}

Test(holds, verify_ledger_reports_held_beyond_the_balance)
{
    struct it_customer c;
    onboard(&c);
    PGconn *db = it_db();
    char state[6], out[4096];
    const char *p[] = {c.id};
    const char *args[] = {"verify-ledger", NULL};
    it_db_exec(db, "UPDATE customers SET credits_held = 7 WHERE id = $1", 1, p, state);
    cr_assert_str_eq(state, "");
    int rc = it_ctl(args, true, out, sizeof(out));
    it_db_exec(db, "UPDATE customers SET credits_held = 0 WHERE id = $1", 1, p, state);
    cr_assert_eq(rc, 1, "verify-ledger passed: %s", out);
    cr_assert(strstr(out, "held mismatch") != NULL && strstr(out, c.id) != NULL, "%s", out);
    PQfinish(db);
}

/* ---- spend limits -------------------------------------------------------------- */

/* put_limit: PUT /api/v1/customers/me/spend_limit with body. */
static void put_limit(const struct it_customer *c, const char *body, struct it_response *r)
{
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    it_send("PUT", "/api/v1/customers/me/spend_limit", headers, body, strlen(body), r);
}

Test(holds, spend_limit_through_http_and_tollgatectl)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    put_limit(&c, "{\"monthly_cents\":5000,\"currency\":\"eur\"}", &r);
    it_assert_problem(&r, 400, "validation-failed", "currency");
    it_response_free(&r);
    put_limit(&c, "{\"monthly_cents\":-5,\"currency\":\"usd\"}", &r);
    it_assert_problem(&r, 400, "validation-failed", "monthly_cents");
    it_response_free(&r);
    put_limit(&c, "{\"monthly_cents\":5000,\"currency\":\"usd\"}", &r);
    json_t *j = it_assert_json(&r, 200);
    json_t *l = it_jget(j, "spend_limit");
    cr_assert_eq(it_jint(l, "monthly_cents"), 5000);
    cr_assert_str_eq(it_jstr(l, "currency"), "usd");
    cr_assert_eq(it_jint(l, "spent_cents"), 0);
    json_decref(j);
    it_response_free(&r);
    it_get("/api/v1/usage/summary", c.api_key, &r);
    j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(it_jget(j, "spend_limit"), "monthly_cents"), 5000);
    json_decref(j);
    it_response_free(&r);

    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *headers[] = {auth, NULL};
    it_send("DELETE", "/api/v1/customers/me/spend_limit", headers, NULL, 0, &r);
    j = it_assert_json(&r, 200);
    cr_assert(json_is_null(it_jget(j, "spend_limit")));
    json_decref(j);
    it_response_free(&r);

    char out[1024];
    const char *set[] = {"spend-limit", "set", c.email, "2900", "usd", NULL};
    cr_assert_eq(it_ctl(set, true, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "2900 usd") != NULL, "%s", out);
    it_get("/api/v1/customers/me", c.api_key, &r);
    j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(it_jget(j, "spend_limit"), "monthly_cents"), 2900);
    json_decref(j);
    it_response_free(&r);
    const char *bad[] = {"spend-limit", "set", c.email, "12x", "usd", NULL};
    cr_assert_eq(it_ctl(bad, true, out, sizeof(out)), 2, "%s", out);
    const char *rm[] = {"spend-limit", "remove", c.id, NULL};
    cr_assert_eq(it_ctl(rm, true, out, sizeof(out)), 0, "%s", out);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action IN ('spend_limit.set', 'spend_limit.removed')"
                                 " AND actor LIKE 'operator:%'"),
                 2, "tollgatectl's changes are audited as the operator's");
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM audit_log WHERE customer_id = $1"
                                 " AND action IN ('spend_limit.set', 'spend_limit.removed')"),
                 4);
}

Test(holds, parallel_charges_at_zero_stay_within_the_limit)
{
    enum { N = 8, ALLOWED = 3 };
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    it_zero_balance(&c);
    struct it_response r;
    char body[96];
    snprintf(body, sizeof(body), "{\"monthly_cents\":%d,\"currency\":\"usd\"}",
             ALLOWED * 2900 + 2000);
    put_limit(&c, body, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    it_response_free(&r);

    struct shot shots[N];
    memset(shots, 0, sizeof(shots));
    for (size_t i = 0; i < N; i++) {
        shots[i].method = "POST";
        snprintf(shots[i].path, sizeof(shots[i].path), "/api/v1/usage");
        snprintf(shots[i].auth, sizeof(shots[i].auth), "Authorization: Bearer %s", c.api_key);
        snprintf(shots[i].idem, sizeof(shots[i].idem), "Idempotency-Key: sl-%zu", i);
        snprintf(shots[i].body, sizeof(shots[i].body),
                 "{\"kind\":\"fix_deployed\",\"fix_id\":\"fix-%zu\"}", i);
    }
    fire_all(shots, N);
    int charged = 0, refused = 0;
    for (size_t i = 0; i < N; i++) {
        if (shots[i].status == 201) {
            cr_assert(strstr(shots[i].answer, "\"charged\"") != NULL, "%s", shots[i].answer);
            charged++;
        } else {
            cr_assert_eq(shots[i].status, 402, "%zu: %ld %s", i, shots[i].status,
                         shots[i].answer);
            cr_assert(strstr(shots[i].answer, "spend-limit-reached") != NULL, "%s",
                      shots[i].answer);
            refused++;
        }
        free(shots[i].answer);
    }
    cr_assert_eq(charged, ALLOWED);
    cr_assert_eq(refused, N - ALLOWED);
    json_t *intents = it_charge_intents(&c);
    cr_assert_eq(json_array_size(intents), (size_t)ALLOWED, "PaymentIntents at Stripe");
    json_decref(intents);
    cr_assert_eq(it_db_count(&c, "SELECT count(*) FROM charges WHERE customer_id = $1"), ALLOWED);

    /* A hold now is refused the same way; nothing is held. */
    take(&c, "h-over", "fix-over", &r);
    it_assert_problem(&r, 402, "spend-limit-reached", NULL);
    it_response_free(&r);
    it_get("/api/v1/customers/me", c.api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(it_jget(j, "spend_limit"), "spent_cents"), ALLOWED * 2900);
    json_decref(j);
    it_response_free(&r);
}
