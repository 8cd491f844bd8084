/*
 * test_outbound: webhooks to the product through the real stack: changes
 * made through nginx and tollgatectl, events written by PostgreSQL in the
 * change's transaction, delivered by the stack's tollgate-worker to the
 * loopback receiver (t/integration/receiver.py), whose signatures are
 * checked with the verification code of docs/outbound-webhooks.md. Serial:
 * every endpoint receives every customer's events, and the tests count
 * what arrives.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_outbound.h"
#include "harness_stripe.h"

TestSuite(outbound, .init = it_init, .fini = it_fini, .timeout = 120);
IT_SERIAL_MAIN()

static struct rx rx;

static void stop_rx(void)
{
    rx_stop(&rx);
}

/* sql_exec: run sql with params on a fresh connection (asserted). */
static void sql_exec(const char *sql, int n, const char *const *p)
{
    PGconn *db = it_db();
    char state[6];
    it_db_exec(db, sql, n, p, state);
    PQfinish(db);
    cr_assert_str_eq(state, "", "%s: SQLSTATE %s", sql, state);
}

static long long sql_ll(const char *sql, int n, const char *const *p)
{
    PGconn *db = it_db();
    long long v = it_db_ll(db, sql, n, p);
    PQfinish(db);
    return v;
}

/* types_of: the types of events (a JSON array), space-separated, into out. */
static void types_of(json_t *events, char *out, size_t len)
{
    size_t i, used = 0;
    json_t *ev;
    out[0] = '\0';
    json_array_foreach(events, i, ev) {
        int k = snprintf(out + used, len - used, "%s%s", i > 0 ? " " : "",
                         json_string_value(json_object_get(ev, "type")));
        if (k < 0 || (size_t)k >= len - used)
            break;
        used += (size_t)k;
    }
}

/* ev_str: member key of event i of events. */
static const char *ev_str(json_t *events, size_t i, const char *key)
{
    return json_string_value(json_object_get(json_array_get(events, i), key));
}

static size_t ev_index(json_t *events, size_t i)
{
    return (size_t)json_integer_value(json_object_get(json_array_get(events, i), "_index"));
}

Test(outbound, events_are_signed_and_carry_the_object, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, NULL);
    struct it_customer c;
    onboard(&c);
    it_add_credits(&c, 3);
    cr_assert_eq(rx_wait_events(&rx, c.id, 3, 20), 3);
    json_t *ev = rx_events_of(&rx, c.id);
    char types[256];
    types_of(ev, types, sizeof(types));
    cr_assert_str_eq(types, "customer.created credits.granted credits.granted");
    for (size_t i = 0; i < 3; i++) {
        cr_assert(rx_verify(&rx, ev_index(ev, i), rx.secret), "event %zu does not verify", i);
        cr_assert_not(rx_verify(&rx, ev_index(ev, i), "whsec_not_the_secret"));
        cr_assert_eq(strncmp(ev_str(ev, i, "id"), "evt_", 4), 0);
        cr_assert_str_eq(ev_str(ev, i, "object"), "event");
    }
    json_t *created = json_object_get(json_object_get(json_array_get(ev, 0), "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(created, "id")), c.id);
    cr_assert_str_eq(json_string_value(json_object_get(created, "email")), c.email);
    json_t *grant = json_object_get(json_object_get(json_array_get(ev, 2), "data"), "object");
    cr_assert_eq(json_integer_value(json_object_get(grant, "amount")), 3);
    cr_assert_eq(json_integer_value(json_object_get(grant, "balance_after")), 8);
    cr_assert_str_eq(json_string_value(json_object_get(grant, "kind")), "adjustment");
    /* The header names the event; the event id is unique. */
    json_t *reqs = rx_requests(&rx);
    json_t *h = json_object_get(json_array_get(reqs, ev_index(ev, 1)), "headers");
    cr_assert_str_eq(json_string_value(json_object_get(h, "tollgate-event-id")),
                     ev_str(ev, 1, "id"));
    cr_assert_str_neq(ev_str(ev, 1, "id"), ev_str(ev, 2, "id"));
    json_decref(reqs);
    json_decref(ev);
}

Test(outbound, per_customer_order_across_customers, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    enum { N = 3, GRANTS = 6 };
    struct it_customer c[N];
    for (int k = 0; k < N; k++)
        onboard(&c[k]);
    for (int g = 1; g <= GRANTS; g++)
        for (int k = 0; k < N; k++)
            it_add_credits(&c[k], g);
    for (int k = 0; k < N; k++) {
        cr_assert_eq(rx_wait_events(&rx, c[k].id, GRANTS + 1, 30), GRANTS + 1);
        json_t *ev = rx_events_of(&rx, c[k].id);
        cr_assert_eq(json_array_size(ev), GRANTS + 1, "exactly once each");
        for (size_t i = 0; i < GRANTS + 1; i++) {
            json_t *o = json_object_get(json_object_get(json_array_get(ev, i), "data"), "object");
            long long amount = json_integer_value(json_object_get(o, "amount"));
            cr_assert_eq(amount, i == 0 ? 5 : (long long)i, "customer %d event %zu out of order",
                         k, i);
        }
        json_decref(ev);
    }
}

Test(outbound, retried_on_500_in_order, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    const char *fail[] = {"500", "500", NULL};
    rx_actions(&rx, fail, NULL);
    struct it_customer c;
    onboard(&c);      /* grant of 5: fails twice */
    it_add_credits(&c, 2); /* must wait for the first */
    cr_assert_eq(rx_wait_events(&rx, c.id, 4, 30), 4);
    json_t *ev = rx_events_of(&rx, c.id);
    cr_assert_eq(json_array_size(ev), 4);
    const char *first = ev_str(ev, 0, "id");
    cr_assert_str_eq(ev_str(ev, 1, "id"), first, "redelivery keeps the id");
    cr_assert_str_eq(ev_str(ev, 2, "id"), first);
    cr_assert_str_neq(ev_str(ev, 3, "id"), first, "the second event comes after the first");
    cr_assert(rx_wait_status(&rx, first, "delivered", 10));
    const char *p[2] = {first, rx.endpoint};
    cr_assert_eq(sql_ll("SELECT d.attempts FROM outbound_deliveries d JOIN outbound_events e"
                        " ON e.seq = d.event_seq WHERE e.id = $1 AND d.endpoint_id = $2",
                        2, p),
                 3);
    json_decref(ev);
}

Test(outbound, retried_after_a_timeout_and_huge_answers_are_cut, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    const char *acts[] = {"hang", "huge", NULL};
    rx_actions(&rx, acts, NULL);
    struct it_customer c;
    onboard(&c);
    /* The API answers while the receiver hangs: only the worker waits. */
    struct it_response r;
    it_get("/api/v1/customers/me", c.api_key, &r);
    cr_assert_eq(r.status, 200);
    it_response_free(&r);
    cr_assert_eq(rx_wait_events(&rx, c.id, 2, 30), 2);
    json_t *ev = rx_events_of(&rx, c.id);
    cr_assert_str_eq(ev_str(ev, 0, "id"), ev_str(ev, 1, "id"));
    cr_assert(rx_wait_status(&rx, ev_str(ev, 0, "id"), "delivered", 10),
              "a 200 with an 8 MiB body is delivered (the body is not read past 64 KiB)");
    json_decref(ev);
}

Test(outbound, dead_letter_then_replay_keeps_the_id, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    rx_actions(&rx, NULL, "500");
    char *m0 = it_metrics_scrape();
    struct it_customer c;
    onboard(&c);
    cr_assert_eq(rx_wait_events(&rx, c.id, 1, 20), 1);
    json_t *ev = rx_events_of(&rx, c.id);
    char id[64];
    snprintf(id, sizeof(id), "%s", ev_str(ev, 0, "id"));
    json_decref(ev);
    /* Three days pass (the horizon counts from when it was queued). */
    const char *p[1] = {id};
    sql_exec("UPDATE outbound_deliveries d SET since = now() - interval '4 days'"
             " FROM outbound_events e WHERE e.seq = d.event_seq AND e.id = $1",
             1, p);
    cr_assert(rx_wait_status(&rx, id, "dead", 20), "no dead letter");
    /* GET /metrics: the attempt that gave up, and the dead letter (the
     * gauge is cached for up to 5 seconds). */
    char *m1 = NULL;
    for (int i = 0; i < 80; i++) {
        free(m1);
        m1 = it_metrics_scrape();
        if (it_metrics_value(m1, "tollgate_dead_letters{queue=\"outbound_webhooks\"}") >= 1)
            break;
        usleep(100 * 1000);
    }
    cr_assert_geq(it_metrics_value(m1, "tollgate_dead_letters{queue=\"outbound_webhooks\"}"), 1,
                  "the dead letter is not in tollgate_dead_letters");
    cr_assert_geq(
        it_metrics_value(m1, "tollgate_outbound_deliveries_total{outcome=\"dead_letter\"}") -
            it_metrics_value(m0, "tollgate_outbound_deliveries_total{outcome=\"dead_letter\"}"),
        1);
    free(m1);
    char out[8192];
    const char *list[] = {"webhooks", "deliveries", "--failed", NULL};
    cr_assert_eq(it_ctl(list, false, out, sizeof(out)), 0);
    cr_assert(strstr(out, id) != NULL && strstr(out, "dead") != NULL, "%s", out);
    size_t before = rx_wait_events(&rx, c.id, 0, 0);
    rx_actions(&rx, NULL, "ok");
    const char *replay[] = {"webhooks", "replay", id, NULL};
    cr_assert_eq(it_ctl(replay, false, out, sizeof(out)), 0, "%s", out);
    cr_assert(rx_wait_status(&rx, id, "delivered", 20));
    m1 = it_metrics_scrape();
    cr_assert_geq(
        it_metrics_value(m1, "tollgate_outbound_deliveries_total{outcome=\"delivered\"}") -
            it_metrics_value(m0, "tollgate_outbound_deliveries_total{outcome=\"delivered\"}"),
        1, "the replayed delivery was not counted");
    cr_assert_geq(
        it_metrics_value(m1, "tollgate_outbound_deliveries_total{outcome=\"retry\"}") -
            it_metrics_value(m0, "tollgate_outbound_deliveries_total{outcome=\"retry\"}"),
        1, "the 500s were not counted as retries");
    free(m0);
    free(m1);
    ev = rx_events_of(&rx, c.id);
    cr_assert_gt(json_array_size(ev), before);
    cr_assert_str_eq(ev_str(ev, json_array_size(ev) - 1, "id"), id);
    json_decref(ev);
    cr_assert_eq(sql_ll("SELECT count(*) FROM audit_log WHERE action ="
                        " 'outbound_delivery.replayed' AND after->>'event' = $1",
                        1, p),
                 1);
}

Test(outbound, rotation_signs_with_both_secrets_for_a_day, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    char old[80], out[4096];
    snprintf(old, sizeof(old), "%s", rx.secret);
    const char *rot[] = {"webhooks", "rotate-secret", rx.endpoint, NULL};
    cr_assert_eq(it_ctl(rot, false, out, sizeof(out)), 0, "%s", out);
    rx_word_after(out, "secret ", rx.secret, sizeof(rx.secret));
    cr_assert_str_neq(rx.secret, old);
    struct it_customer c;
    onboard(&c);
    cr_assert_eq(rx_wait_events(&rx, c.id, 1, 20), 1);
    json_t *ev = rx_events_of(&rx, c.id);
    size_t i = ev_index(ev, 0);
    json_decref(ev);
    json_t *reqs = rx_requests(&rx);
    const char *sig = json_string_value(
        json_object_get(json_object_get(json_array_get(reqs, i), "headers"), "tollgate-signature"));
    cr_assert_not_null(sig);
    cr_assert_not_null(strstr(strstr(sig, "v1=") + 3, "v1="), "two signatures: %s", sig);
    json_decref(reqs);
    cr_assert(rx_verify(&rx, i, rx.secret), "the new secret verifies");
    cr_assert(rx_verify(&rx, i, old), "the old secret verifies during the overlap");
    /* The day is over: the old secret no longer signs. */
    const char *p[1] = {rx.endpoint};
    sql_exec("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 s'"
             " WHERE id = $1",
             1, p);
    it_add_credits(&c, 1);
    cr_assert_eq(rx_wait_events(&rx, c.id, 2, 20), 2);
    ev = rx_events_of(&rx, c.id);
    i = ev_index(ev, 1);
    json_decref(ev);
    cr_assert(rx_verify(&rx, i, rx.secret));
    cr_assert_not(rx_verify(&rx, i, old));
}

Test(outbound, ctl_checks_urls_filters_tests_and_removes, .fini = stop_rx)
{
    char out[4096];
    const char *bad[][5] = {
        {"webhooks", "add", "ftp://127.0.0.1/x", NULL},
        {"webhooks", "add", "http://192.0.2.1/hook", NULL},
        {"webhooks", "add", "https://user:pw@example.com/hook", NULL},
        {"webhooks", "add", "https://example.com/hook", "--events", "credits.nope"},
        {"webhooks", "add", "not a url", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_neq(it_ctl(bad[i], true, out, sizeof(out)), 0, "accepted %s", bad[i][2]);
    rx_start(&rx);
    rx_register(&rx, "credits.granted");
    const char *list[] = {"webhooks", "list", "--json", NULL};
    cr_assert_eq(it_ctl(list, false, out, sizeof(out)), 0);
    cr_assert_not_null(strstr(out, rx.endpoint));
    cr_assert_null(strstr(out, "whsec_"), "list shows no secret");
    const char *test[] = {"webhooks", "test", rx.endpoint, NULL};
    cr_assert_eq(it_ctl(test, false, out, sizeof(out)), 0, "%s", out);
    struct it_customer c;
    onboard(&c); /* customer.created is filtered out, credits.granted is not */
    cr_assert_eq(rx_wait_events(&rx, c.id, 1, 20), 1);
    cr_assert_eq(rx_wait_events(&rx, NULL, 2, 20), 2);
    json_t *all = rx_events_of(&rx, NULL);
    char types[256];
    types_of(all, types, sizeof(types));
    cr_assert_str_eq(types, "webhook.test credits.granted");
    json_decref(all);
    char endpoint[40];
    snprintf(endpoint, sizeof(endpoint), "%s", rx.endpoint);
    const char *p[1] = {endpoint};
    cr_assert_eq(sql_ll("SELECT count(*) FROM audit_log WHERE action = 'webhook_endpoint.added'"
                        " AND after->>'endpoint' = $1",
                        1, p),
                 1);
    const char *rm[] = {"webhooks", "remove", rx.endpoint, NULL};
    cr_assert_eq(it_ctl(rm, false, out, sizeof(out)), 0, "%s", out);
    rx.endpoint[0] = '\0';
    it_add_credits(&c, 1);
    cr_assert_eq(sql_ll("SELECT count(*) FROM outbound_deliveries WHERE endpoint_id = $1"
                        " AND status = 'pending'",
                        1, p),
                 0, "a removed endpoint gets nothing");
    cr_assert_eq(sql_ll("SELECT count(*) FROM audit_log WHERE action ="
                        " 'webhook_endpoint.removed' AND before->>'endpoint' = $1",
                        1, p),
                 1);
}

/* patch_threshold: PATCH /api/v1/customers/me with body; the answer in r. */
static void patch_me(const struct it_customer *c, const char *body, struct it_response *r)
{
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    it_send("PATCH", "/api/v1/customers/me", h, body, strlen(body), r);
}

static int fixes;

/* fix: one fix through POST /api/v1/usage; expect its status. */
static void fix(const struct it_customer *c, long status)
{
    char key[64], id[64];
    snprintf(key, sizeof(key), "outbound-fix-%d-%d", (int)getpid(), ++fixes);
    snprintf(id, sizeof(id), "fix-%d", fixes);
    struct it_response r;
    it_post_usage(c, key, id, &r);
    cr_assert_eq(r.status, status, "fix %d: %ld %s", fixes, r.status, r.body);
    it_response_free(&r);
}

/* has_warning: the usage summary of c warns code. */
static bool has_warning(const struct it_customer *c, const char *code)
{
    struct it_response r;
    it_get("/api/v1/usage/summary", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200), *w;
    size_t i;
    bool found = false;
    json_array_foreach(json_object_get(j, "warnings"), i, w)
        found = found || strcmp(json_string_value(json_object_get(w, "code")), code) == 0;
    json_decref(j);
    it_response_free(&r);
    return found;
}

Test(outbound, threshold_hysteresis_over_a_scripted_walk, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "credits.low,credits.depleted,credits.recovered");
    struct it_customer c;
    onboard(&c); /* 5 credits */
    struct it_response r;
    patch_me(&c, "{\"low_balance_threshold\": 3}", &r);
    json_t *me = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(me, "low_balance_threshold"), 3);
    cr_assert_str_eq(it_jstr(me, "credit_state"), "ok");
    json_decref(me);
    it_response_free(&r);
    static const char *const bad[] = {"{\"low_balance_threshold\": -1}",
                                      "{\"low_balance_threshold\": \"3\"}",
                                      "{\"low_balance_threshold\": 1000001}", "{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        patch_me(&c, bad[i], &r);
        cr_assert(r.status == 400 || r.status == 422, "%s: %ld", bad[i], r.status);
        it_response_free(&r);
    }
    cr_assert_not(has_warning(&c, "low_balance"));
    fix(&c, 201);           /* 4 */
    fix(&c, 201);           /* 3: low */
    cr_assert(has_warning(&c, "low_balance"));
    fix(&c, 201);           /* 2 */
    it_add_credits(&c, 1);  /* 3: a wobble, nothing */
    fix(&c, 201);           /* 2 */
    it_add_credits(&c, 2);  /* 4: recovered */
    cr_assert_not(has_warning(&c, "low_balance"));
    fix(&c, 201);           /* 3: low */
    fix(&c, 201);           /* 2 */
    fix(&c, 201);           /* 1 */
    fix(&c, 201);           /* 0: depleted */
    cr_assert(has_warning(&c, "no_credits"));
    fix(&c, 402);           /* refused: nothing changes */
    it_add_credits(&c, 2);  /* 2: still depleted until above the threshold */
    cr_assert(has_warning(&c, "low_balance"));
    it_add_credits(&c, 8);  /* 10: recovered */
    cr_assert_eq(rx_wait_events(&rx, c.id, 5, 20), 5);
    json_t *ev = rx_events_of(&rx, c.id);
    char types[256];
    types_of(ev, types, sizeof(types));
    cr_assert_str_eq(types, "credits.low credits.recovered credits.low credits.depleted "
                            "credits.recovered");
    json_t *o = json_object_get(json_object_get(json_array_get(ev, 3), "data"), "object");
    cr_assert_eq(json_integer_value(json_object_get(o, "credit_balance")), 0);
    cr_assert_eq(json_integer_value(json_object_get(o, "low_balance_threshold")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(o, "credit_state")), "depleted");
    for (size_t i = 0; i < json_array_size(ev); i++)
        cr_assert(rx_verify(&rx, ev_index(ev, i), rx.secret));
    json_decref(ev);
    const char *p[1] = {c.id};
    cr_assert_eq(sql_ll("SELECT count(*) FROM outbound_events WHERE customer_id = $1::uuid"
                        " AND type LIKE 'credits.%' AND type <> 'credits.granted'",
                        1, p),
                 5, "exactly these events, no more");
}

/* put_json: method path with a JSON body and c's key; the answer in r. */
static void send_json(const struct it_customer *c, const char *method, const char *path,
                      const char *idem, const char *body, struct it_response *r)
{
    char auth[160], key[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    snprintf(key, sizeof(key), "Idempotency-Key: %s", idem != NULL ? idem : "");
    const char *h[] = {auth, "Content-Type: application/json", idem != NULL ? key : NULL, NULL};
    it_send(method, path, h, body, strlen(body), r);
}

Test(outbound, holds_move_the_available_balance_and_expire_with_an_event, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "hold.expired,credits.low,credits.recovered");
    struct it_customer c;
    onboard(&c); /* 5 credits, threshold 2 */
    struct it_response r;
    for (int i = 0; i < 3; i++) {
        char key[64], body[128];
        snprintf(key, sizeof(key), "outbound-hold-%d-%d", (int)getpid(), i);
        snprintf(body, sizeof(body),
                 "{\"kind\": \"fix_deployed\", \"fix_id\": \"h%d\", \"ttl_seconds\": 3600}", i);
        send_json(&c, "POST", "/api/v1/holds", key, body, &r);
        cr_assert_eq(r.status, 201, "hold %d: %ld %s", i, r.status, r.body);
        it_response_free(&r);
    }
    it_get("/api/v1/customers/me", c.api_key, &r);
    json_t *me = it_assert_json(&r, 200);
    cr_assert_eq(it_jint(me, "available"), 2);
    cr_assert_str_eq(it_jstr(me, "credit_state"), "low", "3 of 5 held: 2 available");
    json_decref(me);
    it_response_free(&r);
    /* One hold's hour is over: tollgate-worker expires it. */
    const char *p[1] = {c.id};
    sql_exec("UPDATE holds SET expires_at = now() - interval '1 s'"
             " WHERE id = (SELECT id FROM holds WHERE customer_id = $1::uuid"
             "             ORDER BY created_at LIMIT 1)",
             1, p);
    cr_assert_eq(rx_wait_events(&rx, c.id, 3, 30), 3);
    json_t *ev = rx_events_of(&rx, c.id);
    char types[256];
    types_of(ev, types, sizeof(types));
    cr_assert_str_eq(types, "credits.low hold.expired credits.recovered");
    json_t *o = json_object_get(json_object_get(json_array_get(ev, 1), "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(o, "fix_id")), "h0");
    cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "expired");
    json_decref(ev);
}

Test(outbound, spend_limit_thresholds_fire_once_a_month, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "spend_limit.warning,spend_limit.reached,payment.succeeded");
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    struct it_response r;
    send_json(&c, "PUT", "/api/v1/customers/me/spend_limit", NULL,
              "{\"monthly_cents\": 5800, \"currency\": \"usd\"}", &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    it_response_free(&r);
    it_zero_balance(&c);
    fix(&c, 201); /* $29: 50 % */
    fix(&c, 201); /* $58: 80, 90 and 100 % at once */
    fix(&c, 402); /* refused: 100 % was noticed already */
    cr_assert_eq(rx_wait_events(&rx, c.id, 5, 30), 5);
    it_pause_ms(1500); /* nothing more is on its way */
    json_t *ev = rx_events_of(&rx, c.id);
    char types[256];
    types_of(ev, types, sizeof(types));
    /* The thresholds are crossed when the second charge is decided, before
     * Stripe is asked; its payment follows. */
    cr_assert_str_eq(types, "payment.succeeded spend_limit.warning spend_limit.warning "
                            "spend_limit.reached payment.succeeded");
    json_t *o = json_object_get(json_object_get(json_array_get(ev, 3), "data"), "object");
    cr_assert_eq(json_integer_value(json_object_get(o, "threshold_percent")), 100);
    cr_assert_eq(json_integer_value(json_object_get(o, "spent_cents")), 5800);
    o = json_object_get(json_object_get(json_array_get(ev, 0), "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "fix_charge");
    cr_assert_eq(json_integer_value(json_object_get(o, "amount_cents")), 2900);
    json_decref(ev);
}

/* count_type: events of type in events. */
static size_t count_type(json_t *events, const char *type)
{
    size_t i, n = 0;
    json_t *ev;
    json_array_foreach(events, i, ev)
        n += strcmp(json_string_value(json_object_get(ev, "type")), type) == 0;
    return n;
}

Test(outbound, subscriptions_and_payments, .fini = stop_rx)
{
    rx_start(&rx);
    rx_register(&rx, "subscription.created,subscription.canceled,payment.succeeded,"
                     "payment.failed");
    struct it_customer c;
    it_customer_with_card(&c, "pm_card_visa");
    struct it_response r;
    it_post_json("/api/v1/subscriptions", c.api_key, NULL, "{\"plan\": \"pro\"}", &r);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    it_response_free(&r);
    cr_assert_eq(rx_wait_events(&rx, c.id, 2, 30), 2);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *headers[] = {auth, NULL};
    it_send("DELETE", "/api/v1/subscriptions/current", headers, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    it_response_free(&r);
    cr_assert_eq(rx_wait_events(&rx, c.id, 3, 30), 3);
    it_pause_ms(1500); /* Stripe's own webhooks of all this are applied too */
    json_t *ev = rx_events_of(&rx, c.id);
    cr_assert_eq(json_array_size(ev), 3);
    cr_assert_eq(count_type(ev, "subscription.created"), 1);
    cr_assert_eq(count_type(ev, "payment.succeeded"), 1, "the invoice, once");
    cr_assert_str_eq(ev_str(ev, 2, "type"), "subscription.canceled");
    json_t *o = json_object_get(json_object_get(json_array_get(ev, 2), "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(o, "plan")), "pro");
    cr_assert_str_eq(json_string_value(json_object_get(o, "status")), "canceled");
    json_decref(ev);

    struct it_customer d;
    it_customer_with_card(&d, "pm_card_chargeCustomerFail");
    it_zero_balance(&d);
    fix(&d, 402);
    cr_assert_eq(rx_wait_events(&rx, d.id, 1, 30), 1);
    ev = rx_events_of(&rx, d.id);
    cr_assert_str_eq(ev_str(ev, 0, "type"), "payment.failed");
    o = json_object_get(json_object_get(json_array_get(ev, 0), "data"), "object");
    cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "fix_charge");
    cr_assert_str_eq(json_string_value(json_object_get(o, "decline_code")), "generic_decline");
    json_decref(ev);
}
