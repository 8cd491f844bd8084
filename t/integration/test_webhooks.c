/*
 * test_webhooks: POST /webhooks/stripe as Stripe calls it (DESIGN.md section
 * 4). A delivery signed with the endpoint's secret is stored by its evt_ id
 * and acknowledged with 200 {"received":true}; any v1 of several may match
 * (secret rotation). Everything else is refused with 400
 * webhook-signature-invalid and stores nothing: another secret, a timestamp
 * older than 300 s, no header, v0 only, upper-case or truncated hex, a body
 * changed after signing, a header that is not Stripe's form, a signature
 * lifted onto another body, and a captured delivery replayed once its
 * timestamp is too old. A verified body that is not JSON, or JSON that is not
 * an event, is a 400 that stores nothing. The same event delivered again
 * (also many times at once) is acknowledged as a duplicate and applied once.
 * A header computed by Stripe's own Python library (Debian's python3-stripe)
 * is accepted. Every real Stripe payload in $STRIPE_SHARED/events, re-signed,
 * is accepted and ends `ignored`: none of them is about an object tollgate
 * has, so none may be retried into a dead letter. Around every test: the
 * ledger invariants and that every request Stripe received was valid.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness_webhooks.h"

TestSuite(webhooks, .init = wh_init, .fini = wh_fini, .timeout = 180);

#define SIG 256

/* customer_event: a customer.created event (not tollgate's business, so
 * accepting it changes nothing but the inbox) with a fresh id into id. */
static char *customer_event(char *id, size_t len)
{
    wh_event_id(id, len);
    json_t *obj = json_pack("{s:s, s:s, s:s, s:s}", "id", "cus_itwebhooks", "object", "customer",
                            "email", "it@example.com", "name", "Zoë Webhook");
    char *body = wh_event(id, "customer.created", obj);
    json_decref(obj);
    return body;
}

/* refused: POST body with signature; a 400 webhook-signature-invalid, and
 * event id (NULL: none) not stored. */
static void refused(const char *what, const char *body, size_t len, const char *signature,
                    const char *id)
{
    struct it_response r;
    wh_post(body, len, signature, &r);
    cr_assert_eq(r.status, 400, "%s: expected 400, got %ld: %s", what, r.status, r.body);
    it_assert_problem(&r, 400, "webhook-signature-invalid", NULL);
    it_response_free(&r);
    if (id != NULL)
        cr_assert_eq(wh_rows(id), 0, "%s: event %s was stored", what, id);
}

static long long total_rows(void)
{
    PGconn *db = it_db();
    long long n = it_db_ll(db, "SELECT count(*) FROM stripe_events", 0, NULL);
    PQfinish(db);
    return n;
}

Test(webhooks, a_valid_signature_is_stored_and_acknowledged)
{
    char id[64], sig[SIG], status[32];
    char *body = customer_event(id, sizeof(id));
    long long now = (long long)time(NULL);
    wh_sign(wh_secret(), body, strlen(body), now, sig, sizeof(sig));
    struct it_response r;
    wh_post(body, strlen(body), sig, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert(json_is_true(it_jget(j, "received")), "%s", r.body);
    cr_assert_str_eq(it_jstr(j, "id"), id);
    cr_assert(json_is_false(it_jget(j, "duplicate")), "%s", r.body);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(wh_rows(id), 1);
    PGconn *db = it_db();
    const char *p[1] = {id};
    cr_assert_eq(
        it_db_ll(db,
                 "SELECT count(*) FROM stripe_events WHERE id = $1"
                 " AND type = 'customer.created' AND api_version = '2023-08-16'"
                 " AND NOT livemode AND payload->'data'->'object'->>'name' = 'Zoë Webhook'",
                 1, p),
        1, "the event is stored as sent");
    PQfinish(db);
    wh_wait_final(id, 15, status, sizeof(status));
    cr_assert_str_eq(status, "ignored", "customer.created is none of tollgate's business");
    free(body);

    /* Secret rotation: Stripe signs with every active secret; one match is
     * enough. And a timestamp inside the 300 s tolerance is fine. */
    char id2[64], good[SIG], bad[SIG], both[2 * SIG];
    body = customer_event(id2, sizeof(id2));
    now = (long long)time(NULL) - 240;
    wh_sign(wh_secret(), body, strlen(body), now, good, sizeof(good));
    wh_sign("whsec_the_previous_secret", body, strlen(body), now, bad, sizeof(bad));
    snprintf(both, sizeof(both), "%s,%s", bad, strchr(good, ',') + 1);
    wh_post(body, strlen(body), both, &r);
    j = it_assert_json(&r, 200);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(wh_rows(id2), 1);
    free(body);
}

Test(webhooks, bad_signatures_are_refused_and_nothing_is_stored)
{
    char id[64], sig[SIG], h[2 * SIG];
    char *body = customer_event(id, sizeof(id));
    size_t len = strlen(body);
    long long now = (long long)time(NULL);
    const char *secret = wh_secret();
    wh_sign(secret, body, len, now, sig, sizeof(sig));
    const char *hex = strstr(sig, "v1=") + 3;

    wh_sign("whsec_somebody_else", body, len, now, h, sizeof(h));
    refused("another secret", body, len, h, id);
    wh_sign(secret, body, len, now - 301 - 5, h, sizeof(h));
    refused("timestamp older than 300 s", body, len, h, id);
    wh_sign(secret, body, len, now - 86400, h, sizeof(h));
    refused("timestamp a day old", body, len, h, id);
    refused("no Stripe-Signature header", body, len, NULL, id);
    refused("an empty Stripe-Signature header", body, len, "", id);
    snprintf(h, sizeof(h), "t=%lld,v0=%s", now, hex);
    refused("v0 only (the right HMAC, wrong scheme)", body, len, h, id);
    char upper[80];
    snprintf(upper, sizeof(upper), "%s", hex);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    snprintf(h, sizeof(h), "t=%lld,v1=%s", now, upper);
    refused("upper-case hex", body, len, h, id);
    snprintf(h, sizeof(h), "t=%lld,v1=%.63s", now, hex);
    refused("a truncated signature", body, len, h, id);
    snprintf(h, sizeof(h), "t=%lld,v1=", now);
    refused("an empty v1", body, len, h, id);
    snprintf(h, sizeof(h), "v1=%s", hex);
    refused("no timestamp", body, len, h, id);
    snprintf(h, sizeof(h), "t=%lld", now);
    refused("no signature", body, len, h, id);
    snprintf(h, sizeof(h), "t=%lldx,v1=%s", now, hex);
    refused("a timestamp that is not a number", body, len, h, id);
    snprintf(h, sizeof(h), "t=%lld;v1=%s", now, hex);
    refused("';' instead of ','", body, len, h, id);
    refused("not Stripe's form at all", body, len, "garbage", id);
    snprintf(h, sizeof(h), "t=%lld,v1=%s", now + 1, hex);
    refused("the signature of another timestamp", body, len, h, id);

    /* The body changed after signing: one byte, then one trailing newline. */
    char *tampered = strdup(body);
    cr_assert_not_null(tampered);
    char *name = strstr(tampered, "Zoë");
    cr_assert_not_null(name);
    name[0] = 'X';
    refused("a body changed after signing", tampered, len, sig, id);
    free(tampered);
    char *longer = NULL;
    cr_assert_gt(asprintf(&longer, "%s\n", body), 0);
    refused("a byte appended after signing", longer, len + 1, sig, id);
    free(longer);

    /* A captured signature lifted onto another event. */
    char other[64];
    char *body2 = customer_event(other, sizeof(other));
    refused("a signature of another body", body2, strlen(body2), sig, other);
    free(body2);

    /* The genuine delivery still goes through: nothing above used it up. */
    struct it_response r;
    wh_post(body, len, sig, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
    cr_assert_eq(wh_rows(id), 1);
    free(body);
}

Test(webhooks, a_delivery_replayed_after_the_tolerance_is_refused)
{
    /* Signed 295 s ago: accepted now; the very same bytes and header sent
     * again once the timestamp is more than 300 s old are a replay. */
    char id[64], sig[SIG], status[32];
    char *body = customer_event(id, sizeof(id));
    long long t = (long long)time(NULL) - 295;
    wh_sign(wh_secret(), body, strlen(body), t, sig, sizeof(sig));
    struct it_response r;
    wh_post(body, strlen(body), sig, &r);
    json_decref(it_assert_json(&r, 200));
    it_response_free(&r);
    wh_wait_final(id, 15, status, sizeof(status));
    long long attempts;
    cr_assert(wh_status(id, NULL, 0, &attempts, NULL, 0));
    while ((long long)time(NULL) - t < 303)
        it_pause_ms(200);
    refused("the same delivery replayed after 300 s", body, strlen(body), sig, NULL);
    cr_assert_eq(wh_rows(id), 1);
    long long after;
    cr_assert(wh_status(id, NULL, 0, &after, NULL, 0));
    cr_assert_eq(after, attempts, "the refused replay was not applied again");
    free(body);
}

Test(webhooks, bodies_that_are_not_events_are_refused)
{
    static const struct {
        const char *body, *slug;
    } cases[] = {
        {"{\"id\": \"evt_itbroken\", \"type\": ", "invalid-json"},
        {"not json at all", "invalid-json"},
        {"", "invalid-json"},
        {"{\"id\":\"evt_itdup\",\"id\":\"evt_itdup2\",\"object\":\"event\",\"type\":\"x.y\","
         "\"created\":1,\"data\":{\"object\":{}}}",
         "invalid-json"},
        {"[]", "validation-failed"},
        {"{}", "validation-failed"},
        {"\"evt_itstring\"", NULL}, /* JSON, but not an object: either answer */
        {"{\"object\":\"list\",\"data\":[],\"has_more\":false}", "validation-failed"},
        {"{\"id\":\"evt_it bad\",\"object\":\"event\",\"type\":\"customer.created\","
         "\"created\":1700000000,\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
         "validation-failed"},
        {"{\"id\":\"ch_itnotanevent\",\"object\":\"event\",\"type\":\"customer.created\","
         "\"created\":1700000000,\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
         "validation-failed"},
        {"{\"id\":\"evt_itnotype\",\"object\":\"event\",\"created\":1700000000,"
         "\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
         "validation-failed"},
        {"{\"id\":\"evt_itcreated\",\"object\":\"event\",\"type\":\"customer.created\","
         "\"created\":\"yesterday\",\"data\":{\"object\":{\"id\":\"cus_1\"}}}",
         "validation-failed"},
        {"{\"id\":\"evt_itnodata\",\"object\":\"event\",\"type\":\"customer.created\","
         "\"created\":1700000000}",
         "validation-failed"},
        {"{\"id\":\"evt_itobj\",\"object\":\"event\",\"type\":\"customer.created\","
         "\"created\":1700000000,\"data\":{\"object\":\"cus_1\"}}",
         "validation-failed"},
    };
    wh_flush();
    long long before = total_rows();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char sig[SIG];
        size_t len = strlen(cases[i].body);
        wh_sign(wh_secret(), cases[i].body, len, (long long)time(NULL), sig, sizeof(sig));
        struct it_response r;
        wh_post(cases[i].body, len, sig, &r);
        cr_assert_eq(r.status, 400, "body %zu (%s): expected 400, got %ld: %s", i, cases[i].body,
                     r.status, r.body);
        if (cases[i].slug != NULL)
            it_assert_problem(&r, 400, cases[i].slug, NULL);
        else
            cr_assert(strstr(r.body, IT_PROBLEM_BASE "invalid-json") != NULL ||
                          strstr(r.body, IT_PROBLEM_BASE "validation-failed") != NULL,
                      "body %zu: %s", i, r.body);
        it_response_free(&r);
    }
    cr_assert_eq(total_rows(), before, "a refused body was stored");
}

struct racer {
    const char *body;
    pthread_barrier_t *barrier;
    long status;
    int fresh; /* answers with "duplicate": false */
};

static void *race(void *arg)
{
    struct racer *x = arg;
    char sig[SIG];
    wh_sign(wh_secret(), x->body, strlen(x->body), (long long)time(NULL), sig, sizeof(sig));
    char hdr[SIG + 32];
    snprintf(hdr, sizeof(hdr), "Stripe-Signature: %s", sig);
    const char *headers[] = {"Content-Type: application/json", hdr, NULL};
    pthread_barrier_wait(x->barrier);
    struct it_response r;
    if (it_request(NULL, "POST", "/webhooks/stripe", headers, x->body, strlen(x->body), &r) != 0)
        return NULL;
    x->status = r.status;
    x->fresh = strstr(r.body, "\"duplicate\":false") != NULL;
    it_response_free(&r);
    return NULL;
}

Test(webhooks, the_same_event_delivered_again_is_applied_once)
{
    struct it_customer c;
    char cus[64], sub[64], path[128], id[64], status[32];
    wh_pro_customer(&c, "pm_card_visa", cus, sub);
    wh_settle(cus, 20);
    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub);
    json_t *obj = it_stripe_get(path, NULL);
    size_t first = it_stripe_request_count();

    /* As Stripe redelivers: the same bytes, signed again each time. */
    wh_event_id(id, sizeof(id));
    char *body = wh_event(id, "customer.subscription.updated", obj);
    cr_assert_not(wh_deliver(body, strlen(body)), "the first delivery is not a duplicate");
    cr_assert(wh_deliver(body, strlen(body)), "the second delivery is a duplicate");
    cr_assert(wh_deliver(body, strlen(body)), "the third delivery is a duplicate");
    cr_assert_eq(wh_rows(id), 1);
    wh_wait_final(id, 15, status, sizeof(status));
    cr_assert_str_eq(status, "processed");
    long long attempts;
    cr_assert(wh_status(id, NULL, 0, &attempts, NULL, 0));
    cr_assert_eq(attempts, 1, "applied once, not %lld times", attempts);
    it_pause_ms(1500); /* a second application would come with the next pass */
    cr_assert_eq(wh_requests(first, "GET", path), 1,
                 "the subscription was re-fetched for each delivery, not once");
    free(body);

    /* Eight deliveries of one new event at the same moment: one is new. */
    enum { RACERS = 8 };
    wh_event_id(id, sizeof(id));
    body = wh_event(id, "customer.subscription.updated", obj);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACERS);
    struct racer x[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        x[i] = (struct racer){.body = body, .barrier = &barrier};
        cr_assert_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
    }
    int fresh = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(x[i].status, 200, "a concurrent delivery got %ld", x[i].status);
        fresh += x[i].fresh;
    }
    pthread_barrier_destroy(&barrier);
    cr_assert_eq(fresh, 1, "%d of %d concurrent deliveries were taken as new", fresh, RACERS);
    cr_assert_eq(wh_rows(id), 1);
    wh_wait_final(id, 15, status, sizeof(status));
    cr_assert_str_eq(status, "processed");
    it_pause_ms(1500);
    cr_assert_eq(wh_requests(first, "GET", path), 2, "the racing event was applied more than once");
    free(body);
    json_decref(obj);
}

/* stripe_python: an interpreter that imports Debian's python3-stripe, or
 * NULL. t/integration/run installs the package when it can. */
static const char *stripe_python(void)
{
    static const char *const candidates[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        char out[512];
        const char *argv[] = {candidates[i], "-c", "import stripe.webhook", NULL};
        if (it_run(argv, NULL, out, sizeof(out)) == 0)
            return candidates[i];
    }
    return NULL;
}

/* Stripe's own library (stripe-python's WebhookSignature: the header
 * Stripe's servers send, checked by the verifier every Stripe user runs). */
static const char stripe_sign_py[] =
    "import sys, time\n"
    "from stripe.webhook import WebhookSignature as W\n"
    "body = open(sys.argv[1], encoding='utf-8').read()\n"
    "secret = sys.argv[2]\n"
    "t = int(time.time())\n"
    "header = 't=%d,%s=%s' % (t, W.EXPECTED_SCHEME, W._compute_signature('%d.%s' % (t, body), "
    "secret))\n"
    "W.verify_header(body, header, secret, 300)\n"
    "print(header)\n";

static const char stripe_verify_py[] = "import sys\n"
                                       "from stripe.webhook import WebhookSignature as W\n"
                                       "body = open(sys.argv[1], encoding='utf-8').read()\n"
                                       "W.verify_header(body, sys.argv[3], sys.argv[2], 300)\n"
                                       "print('ok')\n";

Test(webhooks, a_header_from_stripes_own_library_is_accepted)
{
    const char *py = stripe_python();
    if (py == NULL)
        cr_skip_test("python3-stripe is not installed (apt-get install python3-stripe)");
    char id[64], file[4096], out[1024], status[32];
    char *body = customer_event(id, sizeof(id));
    snprintf(file, sizeof(file), "%s/%s.json", it_env("TOLLGATE_TEST_DIR"), id);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(body, 1, strlen(body), f), strlen(body));
    cr_assert_eq(fclose(f), 0);

    const char *sign[] = {py, "-c", stripe_sign_py, file, wh_secret(), NULL};
    cr_assert_eq(it_run(sign, NULL, out, sizeof(out)), 0, "stripe-python failed: %s", out);
    out[strcspn(out, "\r\n")] = '\0';
    cr_assert_eq(strncmp(out, "t=", 2), 0, "stripe-python printed: %s", out);
    struct it_response r;
    wh_post(body, strlen(body), out, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "id"), id);
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(wh_rows(id), 1);
    wh_wait_final(id, 15, status, sizeof(status));
    cr_assert_str_eq(status, "ignored");

    /* And the other way round: what the tests sign with (libtollgate's
     * webhook_sig_stripe_header) is what Stripe's library accepts. */
    char sig[SIG];
    wh_sign(wh_secret(), body, strlen(body), (long long)time(NULL), sig, sizeof(sig));
    const char *verify[] = {py, "-c", stripe_verify_py, file, wh_secret(), sig, NULL};
    cr_assert_eq(it_run(verify, NULL, out, sizeof(out)), 0,
                 "stripe-python refuses libtollgate's header: %s", out);
    unlink(file);
    free(body);
}

/* ---- real Stripe payloads ------------------------------------------------ */

static const char *shared_events_dir(char *buf, size_t len)
{
    const char *shared = getenv("STRIPE_SHARED");
    if (shared != NULL && *shared != '\0')
        snprintf(buf, len, "%s/events", shared);
    else
        snprintf(buf, len, "%s/../shared/stripe/events", it_env("TOLLGATE_SRC"));
    return buf;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n, "short read of %s", path);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* with_id: raw with its event id (the one occurrence of it, checked)
 * replaced by id: every other byte stays as Stripe sent it. Several files
 * share placeholder ids (see SOURCES.md), and the inbox is keyed by id. */
static char *with_id(const char *raw, size_t len, const char *file, const char *id, size_t *outlen)
{
    json_error_t err;
    json_t *ev = json_loadb(raw, len, 0, &err);
    cr_assert_not_null(ev, "%s is not JSON: %s", file, err.text);
    const char *old = json_string_value(json_object_get(ev, "id"));
    cr_assert(old != NULL && strncmp(old, "evt_", 4) == 0, "%s has no event id", file);
    char quoted[128];
    snprintf(quoted, sizeof(quoted), "\"%s\"", old);
    json_decref(ev);
    const char *at = strstr(raw, quoted);
    cr_assert_not_null(at, "%s: the id is not written plainly", file);
    cr_assert_null(strstr(at + 1, quoted), "%s: the event id occurs more than once", file);
    size_t head = (size_t)(at - raw), qlen = strlen(quoted);
    char *out = NULL;
    int n = asprintf(&out, "%.*s\"%s\"%s", (int)head, raw, id, at + qlen);
    cr_assert_gt(n, 0);
    *outlen = (size_t)n;
    return out;
}

struct payload {
    char file[256];
    char id[64];
    char type[128];
    char status[32];
    long long attempts;
    char error[256];
};

static int by_file(const void *a, const void *b)
{
    return strcmp(((const struct payload *)a)->file, ((const struct payload *)b)->file);
}

Test(webhooks, real_stripe_payloads_are_accepted_and_none_is_retried_to_death, .timeout = 240)
{
    char dir[4096];
    shared_events_dir(dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL)
        cr_skip_test("no Stripe payloads at %s (set STRIPE_SHARED)", dir);
    struct payload p[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        cr_assert_lt(n, sizeof(p) / sizeof(p[0]), "more payloads than the test holds");
        memset(&p[n], 0, sizeof(p[n]));
        snprintf(p[n].file, sizeof(p[n].file), "%s", de->d_name);
        n++;
    }
    closedir(d);
    cr_assert_gt(n, 0, "no *.json in %s", dir);
    qsort(p, n, sizeof(p[0]), by_file);

    for (size_t i = 0; i < n; i++) {
        char path[4096 + 256];
        int pl = snprintf(path, sizeof(path), "%s/%s", dir, p[i].file);
        cr_assert(pl > 0 && (size_t)pl < sizeof(path), "path too long");
        size_t len, blen;
        char *raw = slurp(path, &len);
        json_t *ev = json_loadb(raw, len, 0, NULL);
        cr_assert_not_null(ev, "%s is not JSON", p[i].file);
        snprintf(p[i].type, sizeof(p[i].type), "%s", it_jstr(ev, "type"));
        json_decref(ev);
        wh_event_id(p[i].id, sizeof(p[i].id));
        char *body = with_id(raw, len, p[i].file, p[i].id, &blen);
        cr_assert_not(wh_deliver(body, blen), "%s: taken as a duplicate", p[i].file);
        cr_assert_eq(wh_rows(p[i].id), 1, "%s was not stored", p[i].file);
        free(body);
        free(raw);
    }

    /* Each ends final: processed or ignored. Allow the handlers' whole
     * retry schedule up to the dead letter, so that a retried event shows
     * up as what it ends as, not as a time-out. */
    long max = wh_max_attempts();
    int budget = 20;
    for (long a = 1; a < max && a <= 12; a++)
        budget += 1 << (a - 1);
    for (size_t i = 0; i < n; i++) {
        wh_wait_final(p[i].id, budget, p[i].status, sizeof(p[i].status));
        cr_assert(wh_status(p[i].id, p[i].status, sizeof(p[i].status), &p[i].attempts, p[i].error,
                            sizeof(p[i].error)));
    }

    char report[16384] = "", wrong[16384] = "";
    size_t bad = 0, rl = 0, wl = 0;
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(report + rl, sizeof(report) - rl, "  %-58s %-30s %-9s %lld %s\n",
                         p[i].file, p[i].type, p[i].status, p[i].attempts, p[i].error);
        if (k > 0 && (size_t)k < sizeof(report) - rl)
            rl += (size_t)k;
        /* None of these objects (customers, subscriptions, invoices,
         * charges, PaymentIntents of other Stripe accounts) is tollgate's:
         * the right end is "ignored", at once. A 404 from Stripe on the
         * re-fetch is a final answer, not a reason to retry. */
        if (strcmp(p[i].status, "ignored") != 0) {
            bad++;
            k = snprintf(wrong + wl, sizeof(wrong) - wl,
                         "  %s (%s): %s after %lld attempt(s)%s%s\n", p[i].file, p[i].type,
                         p[i].status, p[i].attempts, p[i].error[0] ? ": " : "", p[i].error);
            if (k > 0 && (size_t)k < sizeof(wrong) - wl)
                wl += (size_t)k;
        }
    }
    fprintf(stderr, "real Stripe payloads (file, type, status, attempts, last error):\n%s", report);
    cr_assert_eq(bad, 0,
                 "%zu of %zu real Stripe events about objects tollgate does not have did not "
                 "end \"ignored\":\n%s",
                 bad, n, wrong);
}

/* One test at a time: the emulator's queue, clock and faults are shared. */
IT_SERIAL_MAIN()
