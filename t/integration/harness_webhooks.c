/*
 * harness_webhooks: the helpers of the Stripe webhook suites (see
 * harness_webhooks.h). Signatures come from libtollgate's
 * webhook_sig_stripe_header(), the same code the service verifies with, so
 * test_webhooks also checks it against Stripe's own Python library.
 */
#define _GNU_SOURCE
#include "harness_webhooks.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "integration/webhook_sig.h"

#define SIG_MAX 256

double wh_elapsed(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* ---- fixtures ------------------------------------------------------------ */

void wh_init(void)
{
    it_stripe_init();
}

/* endpoint_form: the emulator's form for the stack's webhook endpoint. */
static void endpoint_form(char *out, size_t len)
{
    char *url = curl_easy_escape(NULL, getenv("TOLLGATE_URL"), 0);
    snprintf(out, len, "url=%s%%2Fwebhooks%%2Fstripe&secret=%s", url != NULL ? url : "",
             wh_secret());
    curl_free(url);
}

void wh_fini(void)
{
    /* A test that failed while deliveries were held (or the endpoint was
     * removed) must not leave it so for the next one; these go straight to
     * the emulator (no assertions in a fini: Criterion 2.4 ignores them). */
    const char *base = getenv("TOLLGATE_STRIPE_URL");
    struct it_response r;
    if (base != NULL && it_request_to(base, "GET", "/_emulator/webhooks", NULL, NULL, 0, &r) == 0) {
        json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
        bool none = json_array_size(json_object_get(j, "endpoints")) == 0 && r.status == 200;
        json_decref(j);
        it_response_free(&r);
        char form[1024];
        endpoint_form(form, sizeof(form));
        const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
        if (none && it_request_to(base, "POST", "/_emulator/webhooks", headers, form, strlen(form),
                                  &r) == 0)
            it_response_free(&r);
    }
    if (base != NULL &&
        it_request_to(base, "POST", "/_emulator/webhooks/resume", NULL, "", 0, &r) == 0)
        it_response_free(&r);
    if (base != NULL &&
        it_request_to(base, "POST", "/_emulator/webhooks/flush?timeout=30", NULL, "", 0, &r) == 0)
        it_response_free(&r);
    it_stripe_fini();
}

/* ---- signing and delivering ---------------------------------------------- */

const char *wh_secret(void)
{
    static char secret[256];
    if (secret[0] != '\0')
        return secret;
    char path[4096];
    snprintf(path, sizeof(path), "%s/stripe-webhook-secret", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char *ok = fgets(secret, sizeof(secret), f);
    fclose(f);
    cr_assert_not_null(ok, "%s is empty", path);
    secret[strcspn(secret, "\r\n")] = '\0';
    cr_assert_eq(strncmp(secret, "whsec_", 6), 0, "%s does not hold a whsec_ secret", path);
    return secret;
}

void wh_sign(const char *secret, const char *body, size_t len, long long t, char *out,
             size_t outlen)
{
    cr_assert_eq(webhook_sig_stripe_header(secret, body, len, t, out, outlen), 0,
                 "webhook_sig_stripe_header failed");
}

void wh_post(const char *body, size_t len, const char *signature, struct it_response *out)
{
    char sig[SIG_MAX + 32];
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    if (signature != NULL && signature[0] == '\0') {
        headers[1] = "Stripe-Signature;"; /* curl: send the header, empty */
    } else if (signature != NULL) {
        snprintf(sig, sizeof(sig), "Stripe-Signature: %s", signature);
        headers[1] = sig;
    }
    it_send("POST", "/webhooks/stripe", headers, body, len, out);
}

bool wh_deliver(const char *body, size_t len)
{
    char sig[SIG_MAX];
    wh_sign(wh_secret(), body, len, (long long)time(NULL), sig, sizeof(sig));
    struct it_response r;
    wh_post(body, len, sig, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert(json_is_true(it_jget(j, "received")), "%s", r.body);
    json_t *dup = it_jget(j, "duplicate");
    cr_assert(json_is_boolean(dup), "%s", r.body);
    bool duplicate = json_is_true(dup);
    json_decref(j);
    it_response_free(&r);
    return duplicate;
}

void wh_event_id(char *out, size_t len)
{
    unsigned char rnd[12];
    cr_assert_eq(getrandom(rnd, sizeof(rnd), 0), (ssize_t)sizeof(rnd));
    char hex[2 * sizeof(rnd) + 1];
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(out, len, "evt_it%s", hex);
}

char *wh_event(const char *id, const char *type, json_t *object)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:I, s:{s:O}, s:b, s:i, s:{s:n, s:n}, s:s}", "id", id,
                           "object", "event", "api_version", "2023-08-16", "created",
                           (json_int_t)time(NULL), "data", "object", object, "livemode", 0,
                           "pending_webhooks", 1, "request", "id", "idempotency_key", "type", type);
    cr_assert_not_null(ev);
    char *text = json_dumps(ev, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(ev);
    cr_assert_not_null(text);
    return text;
}

/* ---- the inbox ----------------------------------------------------------- */

long long wh_rows(const char *id)
{
    PGconn *db = it_db();
    const char *p[1] = {id};
    long long n = it_db_ll(db, "SELECT count(*) FROM stripe_events WHERE id = $1", 1, p);
    PQfinish(db);
    return n;
}

bool wh_status(const char *id, char *status, size_t len, long long *attempts, char *error,
               size_t errlen)
{
    PGconn *db = it_db();
    const char *p[1] = {id};
    PGresult *r = PQexecParams(db,
                               "SELECT status, attempts, coalesce(last_error, '')"
                               "  FROM stripe_events WHERE id = $1",
                               1, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    bool found = PQntuples(r) == 1;
    if (status != NULL)
        snprintf(status, len, "%s", found ? PQgetvalue(r, 0, 0) : "");
    if (attempts != NULL)
        *attempts = found ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : -1;
    if (error != NULL)
        snprintf(error, errlen, "%s", found ? PQgetvalue(r, 0, 2) : "");
    PQclear(r);
    PQfinish(db);
    return found;
}

void wh_wait_final(const char *id, int seconds, char *status, size_t len)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        cr_assert(wh_status(id, status, len, NULL, NULL, 0), "event %s is not in the inbox", id);
        if (strcmp(status, "pending") != 0 || wh_elapsed(&start) > seconds)
            return;
        it_pause_ms(100);
    }
}

long wh_max_attempts(void)
{
    const char *v = getenv("TOLLGATE_WEBHOOK_MAX_ATTEMPTS");
    char *end;
    long n = v != NULL ? strtol(v, &end, 10) : 0;
    return v != NULL && *end == '\0' && n > 0 ? n : 5;
}

/* ---- the emulator -------------------------------------------------------- */

void wh_pause(bool paused)
{
    json_decref(
        it_stripe_post(paused ? "/_emulator/webhooks/pause" : "/_emulator/webhooks/resume", NULL));
}

void wh_endpoint(bool on)
{
    if (!on) {
        json_t *j = it_stripe_get("/_emulator/webhooks", NULL), *ep;
        size_t i;
        json_array_foreach(it_jget(j, "endpoints"), i, ep)
        {
            char want[4096];
            snprintf(want, sizeof(want), "%s/webhooks/stripe", it_env("TOLLGATE_URL"));
            cr_assert_str_eq(it_jstr(ep, "url"), want, "an endpoint the test cannot put back");
        }
        json_decref(j);
        struct it_response r;
        cr_assert_eq(it_request_to(it_env("TOLLGATE_STRIPE_URL"), "DELETE", "/_emulator/webhooks",
                                   NULL, NULL, 0, &r),
                     0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        it_response_free(&r);
        return;
    }
    char form[1024];
    endpoint_form(form, sizeof(form));
    json_t *ep = it_stripe_post("/_emulator/webhooks", form);
    char want[4096];
    snprintf(want, sizeof(want), "%s/webhooks/stripe", it_env("TOLLGATE_URL"));
    cr_assert_str_eq(it_jstr(ep, "url"), want);
    json_decref(ep);
}

void wh_flush(void)
{
    json_t *j = it_stripe_post("/_emulator/webhooks/flush", "timeout=60");
    cr_assert_eq(it_jint(j, "pending"), 0, "the emulator still has deliveries queued");
    json_decref(j);
}

json_t *wh_advance(long days)
{
    char form[64];
    snprintf(form, sizeof(form), "days=%ld", days);
    json_t *j = it_stripe_post("/_emulator/clock/advance", form);
    json_t *events = json_incref(it_jget(j, "events"));
    json_decref(j);
    return events;
}

void wh_advance_until_paid(const char *cus, int max_days)
{
    char query[160];
    snprintf(query, sizeof(query), "customer=%s&status=open&limit=10", cus);
    size_t open = 0;
    for (int day = 0; day <= max_days; day++) {
        if (day > 0)
            json_decref(wh_advance(1));
        json_t *list = it_stripe_get("/v1/invoices", query);
        open = json_array_size(it_jget(list, "data"));
        json_decref(list);
        if (open == 0)
            return;
    }
    cr_assert_fail("%s still has %zu open invoice(s) after %d days", cus, open, max_days);
}

json_t *wh_customer_events(const char *cus)
{
    json_t *list = it_stripe_get("/_emulator/events", "full=true"), *out = json_array(), *e;
    size_t i;
    json_array_foreach(it_jget(list, "data"), i, e)
    {
        json_t *ev = it_jget(e, "event");
        json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
        const char *owner = json_string_value(json_object_get(obj, "customer"));
        const char *id = json_string_value(json_object_get(obj, "id"));
        if ((owner != NULL && strcmp(owner, cus) == 0) || (id != NULL && strcmp(id, cus) == 0))
            json_array_append(out, ev);
    }
    json_decref(list);
    return out;
}

size_t wh_requests(size_t first, const char *method, const char *path)
{
    json_t *all = it_stripe_requests(first), *e;
    size_t i, n = 0;
    json_array_foreach(all, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "method"));
        const char *p = json_string_value(json_object_get(e, "path"));
        n += m != NULL && p != NULL && strcmp(m, method) == 0 && strcmp(p, path) == 0;
    }
    json_decref(all);
    return n;
}

void wh_set_card_at_stripe(const char *cus, const char *payment_method)
{
    char path[160], form[256];
    snprintf(path, sizeof(path), "/v1/payment_methods/%s/attach", payment_method);
    snprintf(form, sizeof(form), "customer=%s", cus);
    json_t *pm = it_stripe_post(path, form);
    snprintf(path, sizeof(path), "/v1/customers/%s", cus);
    snprintf(form, sizeof(form), "invoice_settings[default_payment_method]=%s", it_jstr(pm, "id"));
    json_decref(pm);
    json_decref(it_stripe_post(path, form));
}

/* ---- customers ----------------------------------------------------------- */

void wh_pro_customer(struct it_customer *c, const char *payment_method, char *cus, char *sub)
{
    it_customer_with_card(c, payment_method);
    struct it_response r;
    it_post_json("/api/v1/subscriptions", c->api_key, NULL, "{\"plan\":\"pro\"}", &r);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "status"), "active", "%s", r.body);
    snprintf(sub, 64, "%s", it_jstr(j, "stripe_subscription_id"));
    json_decref(j);
    it_response_free(&r);
    it_stripe_customer(c, cus, 64);
}

void wh_settle(const char *cus, int seconds)
{
    wh_flush();
    PGconn *db = it_db();
    const char *p[1] = {cus};
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long long pending;
    for (;;) {
        pending = it_db_ll(db,
                           "SELECT count(*) FROM stripe_events WHERE status = 'pending'"
                           "   AND (payload->'data'->'object'->>'customer' = $1"
                           "        OR payload->'data'->'object'->>'id' = $1)",
                           1, p);
        if (pending == 0 || wh_elapsed(&start) > seconds)
            break;
        it_pause_ms(100);
    }
    PQfinish(db);
    cr_assert_eq(pending, 0, "%lld event(s) about %s still pending after %d s", pending, cus,
                 seconds);
}

json_t *wh_me(const struct it_customer *c)
{
    struct it_response r;
    it_get("/api/v1/customers/me", c->api_key, &r);
    json_t *j = it_assert_json(&r, 200);
    it_response_free(&r);
    return j;
}

long long wh_entries(const struct it_customer *c, const char *kind)
{
    PGconn *db = it_db();
    const char *p[2] = {c->id, kind};
    long long n = it_db_ll(db,
                           "SELECT count(*) FROM credit_transactions"
                           " WHERE customer_id = $1 AND kind = $2",
                           2, p);
    PQfinish(db);
    return n;
}

