/*
 * test_github: GitHub Marketplace webhooks and the e-mail outbox through
 * nginx, the workers, tollgate-worker and the stack's SMTP sink
 * (scripts/stack.sh: aiosmtpd storing mail in the Maildir
 * $TOLLGATE_MAILDIR). Deliveries are signed here as GitHub signs them
 * (X-Hub-Signature-256: HMAC-SHA256 of the body with the stack's secret,
 * $TOLLGATE_TEST_DIR/github-webhook-secret).
 *
 * A signed purchase provisions one marketplace customer with 5 credits and
 * sends one welcome mail (RFC 5322 fields present) whose API key works,
 * and the stored mail keeps only the key's prefix once sent; the same
 * delivery again, and a new delivery for the same account, change nothing;
 * a forged, missing or wrongly keyed signature, a malformed payload and a
 * purchase without an e-mail are refused with nothing stored; changed and
 * cancelled are recorded on the customer; ping is acknowledged; a payment
 * failure sends payment_failed and the last day of grace sends
 * grace_ending, once. The ledger invariants are checked around every test
 * (harness.c).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "harness.h"

TestSuite(github, .init = it_init, .fini = it_fini, .timeout = 90);

#define MAIL_WAIT_SECONDS 20
#define KEY_LEN (8 + 64)

static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* ---- signing and delivering --------------------------------------------- */

/* secret: the stack's GitHub webhook secret (first line of its file). */
static void secret(char *out, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/github-webhook-secret", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_not_null(fgets(out, (int)len, f));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

/* sign: "sha256=<hex HMAC-SHA256 of body keyed with key>". */
static void sign(const char *key, const char *body, char *out, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    cr_assert_not_null(HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body,
                            strlen(body), mac, &maclen));
    size_t n = (size_t)snprintf(out, len, "sha256=");
    for (unsigned int i = 0; i < maclen && n + 2 < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%02x", mac[i]);
}

enum sig { SIG_VALID, SIG_NONE, SIG_FORGED, SIG_WRONG_SECRET };

/* deliver: POST body to /webhooks/github as GitHub does, with event,
 * delivery GUID and a signature made as sig says. */
static void deliver(const char *event, const char *delivery, const char *body, enum sig sig,
                    struct it_response *out)
{
    char key[600], mac[128], h_sig[200], h_event[128], h_delivery[128];
    secret(key, sizeof(key));
    sign(sig == SIG_WRONG_SECRET ? "not-the-secret" : key, body, mac, sizeof(mac));
    if (sig == SIG_FORGED)
        mac[7] = mac[7] == '0' ? '1' : '0'; /* one hex digit of the MAC changed */
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", mac);
    snprintf(h_event, sizeof(h_event), "X-GitHub-Event: %s", event);
    snprintf(h_delivery, sizeof(h_delivery), "X-GitHub-Delivery: %s", delivery);
    const char *headers[] = {"Content-Type: application/json", "User-Agent: GitHub-Hookshot/it",
                             h_event, h_delivery, sig == SIG_NONE ? NULL : h_sig, NULL};
    it_send("POST", "/webhooks/github", headers, body, strlen(body), out);
}

/* guid: a new random delivery GUID (8-4-4-4-12 hex). */
static void guid(char *out, size_t len)
{
    unsigned char r[16];
    cr_assert_eq(getrandom(r, sizeof(r), 0), (ssize_t)sizeof(r));
    snprintf(out, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
             r[13], r[14], r[15]);
}

/* A GitHub account buying tollgate in a test. */
struct account {
    long long id;
    char id_text[24];
    char login[64];
    char email[160];
};

static void new_account(struct account *a)
{
    unsigned int r = 0;
    cr_assert_eq(getrandom(&r, sizeof(r), 0), (ssize_t)sizeof(r));
    a->id = 100000000LL + (long long)(r % 1900000000u);
    snprintf(a->id_text, sizeof(a->id_text), "%lld", a->id);
    snprintf(a->login, sizeof(a->login), "octo-it-%lld", a->id);
    it_unique_email(a->email, sizeof(a->email), "example.com");
}

/* payload: a marketplace_purchase payload shaped like GitHub's documented
 * example; billing_email NULL: a user account (no
 * organization_billing_email), sender_email NULL: none. Caller frees. */
static char *payload(const char *action, const struct account *a, const char *billing_email,
                     const char *sender_email, const char *plan, const char *effective)
{
    json_t *acct = json_pack("{s:s, s:I, s:s, s:s}", "type",
                             billing_email != NULL ? "Organization" : "User", "id",
                             (json_int_t)a->id, "node_id", "MDEyOk9yZ2FuaXphdGlvbjE4NDA0NzE5",
                             "login", a->login);
    if (billing_email != NULL)
        json_object_set_new(acct, "organization_billing_email", json_string(billing_email));
    json_t *sender = json_pack("{s:s, s:I, s:s}", "login", "octocat", "id", (json_int_t)3877742,
                               "type", "User");
    if (sender_email != NULL)
        json_object_set_new(sender, "email", json_string(sender_email));
    json_t *p = json_pack(
        "{s:s, s:s, s:o, s:{s:o, s:s, s:i, s:b, s:n, s:s, s:{s:i, s:s, s:s, s:i, s:i, s:s, "
        "s:b, s:s, s:[s]}}}",
        "action", action, "effective_date", effective, "sender", sender, "marketplace_purchase",
        "account", acct, "billing_cycle", "monthly", "unit_count", 1, "on_free_trial", 0,
        "free_trial_ends_on", "next_billing_date", "2017-11-05T00:00:00+00:00", "plan", "id",
        435, "name", plan, "description", "Basic Plan", "monthly_price_in_cents", 1000,
        "yearly_price_in_cents", 10000, "price_model", "FLAT_RATE", "has_free_trial", 1,
        "unit_name", "seat", "bullets", "Is Basic");
    cr_assert_not_null(p);
    char *s = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    cr_assert_not_null(s);
    return s;
}

/* purchase: deliver a signed 'purchased' for a and assert 200 with the
 * outcome. */
static void purchase(const struct account *a, const char *delivery, const char *outcome)
{
    char *body = payload("purchased", a, a->email, NULL, "Basic Plan",
                         "2017-10-25T00:00:00+00:00");
    struct it_response r;
    deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "outcome"), outcome, "%s", r.body);
    cr_assert_str_eq(it_jstr(j, "delivery"), delivery);
    json_decref(j);
    it_response_free(&r);
    free(body);
}

/* ---- database ----------------------------------------------------------- */

static long long db_count(const char *sql, const char *param)
{
    PGconn *db = it_db();
    const char *p[1] = {param};
    long long n = it_db_ll(db, sql, param != NULL ? 1 : 0, p);
    PQfinish(db);
    return n;
}

/* db_text: the single text value of sql with $1 = param, into out. */
static void db_text(const char *sql, const char *param, char *out, size_t len)
{
    PGconn *db = it_db();
    const char *p[1] = {param};
    PGresult *r = PQexecParams(db, sql, 1, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    snprintf(out, len, "%s", PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(db);
}

static long long customers_of(const struct account *a)
{
    return db_count("SELECT count(*) FROM customers WHERE github_account_id = $1::bigint",
                    a->id_text);
}

static long long deliveries(const char *delivery)
{
    return db_count("SELECT count(*) FROM github_deliveries WHERE id = $1", delivery);
}

/* wait_sent: wait until the mail of kind to address to is recorded as
 * sent (assert). */
static void wait_sent(const char *to, const char *kind)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM email_outbox WHERE to_address = $1 AND kind = '%s'"
             " AND status = 'sent'",
             kind);
    for (int i = 0; i < MAIL_WAIT_SECONDS * 10; i++) {
        if (db_count(sql, to) == 1)
            return;
        pause_ms(100);
    }
    cr_assert_fail("the %s mail to %s was not recorded as sent within %d s", kind, to,
                   MAIL_WAIT_SECONDS);
}

/* ---- the Maildir -------------------------------------------------------- */

/* read_file: the whole file (malloc'd), or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *p = realloc(buf, cap);
            cr_assert_not_null(p);
            buf = p;
        }
        memcpy(buf + len, chunk, n);
        len += n;
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

/* has_field: msg has a header field line "name: value" (value NULL: any). */
static bool has_field(const char *msg, const char *name, const char *value)
{
    size_t n = strlen(name);
    for (const char *line = msg; *line != '\0' && *line != '\r' && *line != '\n';) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            v += strspn(v, " \t");
            if (value == NULL || strncmp(v, value, strlen(value)) == 0)
                return true;
        }
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return false;
}

/* mails_to: the messages in the Maildir addressed to to (new/ and cur/),
 * up to max, each malloc'd into out; returns how many. */
static size_t mails_to(const char *to, char **out, size_t max)
{
    static const char *const subdirs[] = {"new", "cur"};
    size_t found = 0;
    for (size_t s = 0; s < 2; s++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", it_env("TOLLGATE_MAILDIR"), subdirs[s]);
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[8192];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            char *msg = read_file(path);
            if (msg != NULL && has_field(msg, "To", to) && found < max)
                out[found++] = msg;
            else
                free(msg);
        }
        closedir(d);
    }
    return found;
}

static void free_mails(char **m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i]);
}

/* wait_mail: the first message to to whose Subject starts with subject,
 * waiting up to MAIL_WAIT_SECONDS (tollgate-worker passes every second);
 * malloc'd. */
static char *wait_mail(const char *to, const char *subject)
{
    for (int i = 0; i < MAIL_WAIT_SECONDS * 10; i++) {
        char *m[8];
        size_t n = mails_to(to, m, 8);
        char *hit = NULL;
        for (size_t k = 0; k < n; k++) {
            if (hit == NULL && has_field(m[k], "Subject", subject)) {
                hit = m[k];
                m[k] = NULL;
            }
        }
        free_mails(m, n);
        if (hit != NULL)
            return hit;
        pause_ms(100);
    }
    cr_assert_fail("no mail \"%s\" to %s within %d s", subject, to, MAIL_WAIT_SECONDS);
    return NULL;
}

static size_t count_mails(const char *to)
{
    char *m[16];
    size_t n = mails_to(to, m, 16);
    free_mails(m, n);
    return n;
}

/* find_key: the API key (tg_test_ + 64 hex) in text, into out. */
static bool find_key(const char *text, char out[KEY_LEN + 1])
{
    for (const char *p = strstr(text, "tg_test_"); p != NULL; p = strstr(p + 1, "tg_test_")) {
        if (strspn(p + 8, "0123456789abcdef") >= 64) {
            memcpy(out, p, KEY_LEN);
            out[KEY_LEN] = '\0';
            return true;
        }
    }
    return false;
}

/* ---- tests -------------------------------------------------------------- */

Test(github, purchase_provisions_a_customer_and_mails_a_working_key)
{
    struct account a;
    char delivery[64], key[KEY_LEN + 1], id[64], stored[4096];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    purchase(&a, delivery, "created");

    cr_assert_eq(customers_of(&a), 1);
    db_text("SELECT source || ' ' || credit_balance || ' ' || name || ' ' || email || ' ' ||"
            " github_plan || ' ' || github_plan_status FROM customers"
            " WHERE github_account_id = $1::bigint",
            a.id_text, stored, sizeof(stored));
    char want[512];
    snprintf(want, sizeof(want), "marketplace 5 %s %s Basic Plan active", a.login, a.email);
    cr_assert_str_eq(stored, want);
    cr_assert_eq(db_count("SELECT count(*) FROM credit_transactions t JOIN customers c"
                          " ON c.id = t.customer_id WHERE c.github_account_id = $1::bigint"
                          " AND t.kind = 'trial_signup' AND t.amount = 5",
                          a.id_text),
                 1);
    cr_assert_eq(deliveries(delivery), 1);

    char *mail = wait_mail(a.email, "Your tollgate API key");
    cr_assert(has_field(mail, "Date", NULL), "no Date: %s", mail);
    cr_assert(has_field(mail, "From", "tollgate <billing@tollgate.test>"), "From: %s", mail);
    cr_assert(has_field(mail, "Message-ID", "<tollgate."), "Message-ID: %s", mail);
    cr_assert(has_field(mail, "MIME-Version", "1.0"));
    cr_assert(find_key(mail, key), "no API key in the welcome mail: %s", mail);
    free(mail);

    struct it_response r;
    it_get("/api/v1/customers/me", key, &r);
    json_t *me = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(me, "email"), a.email);
    cr_assert_str_eq(it_jstr(me, "source"), "marketplace");
    snprintf(id, sizeof(id), "%s", it_jstr(me, "id"));
    json_decref(me);
    it_response_free(&r);

    /* Once sent, the stored body keeps only the key's display prefix. */
    wait_sent(a.email, "welcome");
    db_text("SELECT body FROM email_outbox WHERE customer_id = $1::uuid AND kind = 'welcome'", id,
            stored, sizeof(stored));
    cr_assert_null(strstr(stored, key), "the sent mail's body still holds the key");
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "%.12s\xe2\x80\xa6", key);
    cr_assert_not_null(strstr(stored, prefix), "no redacted prefix in: %s", stored);
    cr_assert_eq(db_count("SELECT count(*) FROM email_outbox WHERE status <> 'pending'"
                          " AND body ~ $1",
                          "tg_(live|test)_[0-9a-f]{64}"),
                 0, "a sent or failed mail still holds an API key");
}

Test(github, a_redelivery_changes_nothing)
{
    struct account a;
    char delivery[64];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    purchase(&a, delivery, "created");

    char *body = payload("purchased", &a, a.email, NULL, "Basic Plan",
                         "2017-10-25T00:00:00+00:00");
    struct it_response r;
    deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert(json_is_true(it_jget(j, "duplicate")), "%s", r.body);
    cr_assert_str_eq(it_jstr(j, "outcome"), "duplicate");
    json_decref(j);
    it_response_free(&r);
    free(body);

    cr_assert_eq(customers_of(&a), 1);
    cr_assert_eq(deliveries(delivery), 1);
    cr_assert_eq(db_count("SELECT count(*) FROM email_outbox WHERE to_address = $1", a.email), 1);
    free(wait_mail(a.email, "Your tollgate API key"));
    wait_sent(a.email, "welcome");
    pause_ms(1500); /* a second mail would be sent within a worker pass */
    cr_assert_eq(count_mails(a.email), 1, "more than one mail to %s", a.email);
}

Test(github, a_new_delivery_for_the_same_account_makes_no_second_customer)
{
    struct account a;
    char first[64], second[64], id[64];
    new_account(&a);
    guid(first, sizeof(first));
    guid(second, sizeof(second));
    purchase(&a, first, "created");
    purchase(&a, second, "existing");

    cr_assert_eq(customers_of(&a), 1);
    cr_assert_eq(deliveries(first), 1);
    cr_assert_eq(deliveries(second), 1);
    db_text("SELECT id::text FROM customers WHERE github_account_id = $1::bigint", a.id_text, id,
            sizeof(id));
    cr_assert_eq(db_count("SELECT count(*) FROM api_keys WHERE customer_id = $1::uuid", id), 1);
    cr_assert_eq(db_count("SELECT count(*) FROM email_outbox WHERE customer_id = $1::uuid", id), 1);
    cr_assert_eq(db_count("SELECT credit_balance FROM customers WHERE id = $1::uuid", id), 5);
}

Test(github, bad_signatures_are_refused_and_nothing_is_stored)
{
    static const enum sig sigs[] = {SIG_FORGED, SIG_NONE, SIG_WRONG_SECRET};
    static const char *const details[] = {"no signature matches", "missing or malformed",
                                          "no signature matches"};
    struct account a;
    new_account(&a);
    char *body = payload("purchased", &a, a.email, NULL, "Basic Plan",
                         "2017-10-25T00:00:00+00:00");
    for (size_t i = 0; i < 3; i++) {
        char delivery[64];
        guid(delivery, sizeof(delivery));
        struct it_response r;
        deliver("marketplace_purchase", delivery, body, sigs[i], &r);
        it_assert_problem(&r, 400, "webhook-signature-invalid", details[i]);
        it_response_free(&r);
        cr_assert_eq(deliveries(delivery), 0);
    }
    free(body);
    cr_assert_eq(customers_of(&a), 0);
    cr_assert_eq(db_count("SELECT count(*) FROM customers WHERE email = $1", a.email), 0);
}

Test(github, malformed_json_with_a_valid_signature_is_refused)
{
    static const char *const bodies[] = {"{\"action\": \"purchased\",", "not json", "[1, 2]",
                                         "{\"action\":\"a\",\"action\":\"b\"}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char delivery[64];
        guid(delivery, sizeof(delivery));
        struct it_response r;
        deliver("marketplace_purchase", delivery, bodies[i], SIG_VALID, &r);
        it_assert_problem(&r, 400, "invalid-json", NULL);
        it_response_free(&r);
        cr_assert_eq(deliveries(delivery), 0);
    }
    /* Well-formed, but not a marketplace_purchase payload. */
    char delivery[64];
    guid(delivery, sizeof(delivery));
    struct it_response r;
    deliver("marketplace_purchase", delivery, "{\"action\":\"purchased\"}", SIG_VALID, &r);
    it_assert_problem(&r, 400, "validation-failed", "marketplace_purchase.account");
    it_response_free(&r);
    cr_assert_eq(deliveries(delivery), 0);
}

Test(github, a_purchase_without_an_email_is_refused_with_422)
{
    struct account a;
    char delivery[64];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    char *body = payload("purchased", &a, NULL, NULL, "Basic Plan", "2017-10-25T00:00:00+00:00");
    struct it_response r;
    deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
    it_assert_problem(&r, 422, "marketplace-email-missing", "organization_billing_email");
    it_response_free(&r);
    free(body);
    cr_assert_eq(deliveries(delivery), 0);
    cr_assert_eq(customers_of(&a), 0);
}

Test(github, a_user_account_uses_the_senders_email)
{
    struct account a;
    char delivery[64];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    char *body = payload("purchased", &a, NULL, a.email, "Basic Plan", "2017-10-25");
    struct it_response r;
    deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "outcome"), "created");
    json_decref(j);
    it_response_free(&r);
    free(body);
    cr_assert_eq(db_count("SELECT count(*) FROM customers WHERE github_account_id = $1::bigint"
                          " AND github_account_type = 'User'",
                          a.id_text),
                 1);
    free(wait_mail(a.email, "Your tollgate API key"));
}

Test(github, changed_and_cancelled_are_recorded)
{
    struct account a;
    char delivery[64], state[256];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    purchase(&a, delivery, "created");

    static const struct {
        const char *action, *plan, *effective, *outcome, *state;
    } steps[] = {
        {"changed", "Pro Plan", "2017-11-05T00:00:00+00:00", "processed", "Pro Plan active"},
        /* older than the change above: stored, not applied */
        {"cancelled", "Pro Plan", "2017-11-01T00:00:00+00:00", "stale", "Pro Plan active"},
        {"pending_change", "Basic Plan", "2017-11-20T00:00:00+00:00", "recorded",
         "Pro Plan active"},
        {"cancelled", "Pro Plan", "2017-12-05T00:00:00+00:00", "processed",
         "Pro Plan cancelled"},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *body = payload(steps[i].action, &a, a.email, NULL, steps[i].plan,
                             steps[i].effective);
        guid(delivery, sizeof(delivery));
        struct it_response r;
        deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
        json_t *j = it_assert_json(&r, 200);
        cr_assert_str_eq(it_jstr(j, "outcome"), steps[i].outcome, "%s: %s", steps[i].action,
                         r.body);
        cr_assert_str_eq(it_jstr(j, "action"), steps[i].action);
        json_decref(j);
        it_response_free(&r);
        free(body);
        cr_assert_eq(deliveries(delivery), 1);
        db_text("SELECT github_plan || ' ' || github_plan_status FROM customers"
                " WHERE github_account_id = $1::bigint",
                a.id_text, state, sizeof(state));
        cr_assert_str_eq(state, steps[i].state, "after %s", steps[i].action);
    }
    /* Cancelling keeps the credits and the key. */
    cr_assert_eq(db_count("SELECT credit_balance FROM customers WHERE github_account_id ="
                          " $1::bigint",
                          a.id_text),
                 5);
    cr_assert_eq(db_count("SELECT count(*) FROM github_deliveries WHERE account_id = $1::bigint"
                          " AND status = 'processed'",
                          a.id_text),
                 3);
    cr_assert_eq(db_count("SELECT count(*) FROM customers c WHERE github_account_id = $1::bigint"
                          " AND github_cancelled_at = '2017-12-05T00:00:00+00:00'",
                          a.id_text),
                 1);
}

Test(github, a_change_for_an_unknown_account_is_stored_not_applied)
{
    struct account a;
    char delivery[64];
    new_account(&a);
    guid(delivery, sizeof(delivery));
    char *body = payload("cancelled", &a, a.email, NULL, "Basic Plan", "2017-12-05");
    struct it_response r;
    deliver("marketplace_purchase", delivery, body, SIG_VALID, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "outcome"), "unknown_account");
    json_decref(j);
    it_response_free(&r);
    free(body);
    cr_assert_eq(db_count("SELECT count(*) FROM github_deliveries WHERE id = $1"
                          " AND status = 'ignored'",
                          delivery),
                 1);
    cr_assert_eq(customers_of(&a), 0);
}

Test(github, ping_is_acknowledged)
{
    char delivery[64];
    guid(delivery, sizeof(delivery));
    const char *body = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1,"
                       "\"hook\":{\"type\":\"Marketplace::Listing\",\"id\":1}}";
    struct it_response r;
    deliver("ping", delivery, body, SIG_VALID, &r);
    json_t *j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "outcome"), "ignored");
    cr_assert_str_eq(it_jstr(j, "event"), "ping");
    json_decref(j);
    it_response_free(&r);
    cr_assert_eq(db_count("SELECT count(*) FROM github_deliveries WHERE id = $1"
                          " AND event = 'ping' AND status = 'ignored'",
                          delivery),
                 1);
}

Test(github, a_payment_failure_mails_the_customer_and_so_does_the_last_day_of_grace)
{
    struct it_customer c;
    onboard(&c);
    char cus[64], state[6];
    snprintf(cus, sizeof(cus), "cus_itgh%.16s", c.id);
    for (char *p = cus; *p != '\0'; p++)
        if (*p == '-')
            *p = '_';
    PGconn *db = it_db();
    const char *p2[2] = {c.id, cus};
    it_db_exec(db, "UPDATE customers SET stripe_customer_id = $2, billing_status = 'active'"
                   " WHERE id = $1",
               2, p2, state);
    cr_assert_str_eq(state, "");
    /* What tollgate-worker runs for invoice.payment_failed (sql/003). */
    const char *p1[1] = {cus};
    it_db_exec(db, "SELECT customer_payment_failed($1, interval '7 days')", 1, p1, state);
    cr_assert_str_eq(state, "");
    it_db_exec(db, "SELECT customer_payment_failed($1, interval '7 days')", 1, p1, state);
    cr_assert_str_eq(state, "");
    PQfinish(db);

    char *mail = wait_mail(c.email, "tollgate: a payment failed");
    cr_assert_not_null(strstr(mail, "grace period"), "%s", mail);
    free(mail);
    wait_sent(c.email, "payment_failed");
    cr_assert_eq(db_count("SELECT count(*) FROM email_outbox WHERE customer_id = $1::uuid"
                          " AND kind = 'payment_failed'",
                          c.id),
                 1, "a second failure within the grace period mails again");

    /* Fewer than 24 hours of grace left: one grace_ending mail. */
    db = it_db();
    it_db_exec(db, "UPDATE customers SET grace_period_ends_at = now() + interval '3 hours'"
                   " WHERE id = $1",
               1, (const char *const[]){c.id}, state);
    cr_assert_str_eq(state, "");
    PQfinish(db);
    free(wait_mail(c.email, "tollgate: your grace period ends"));
    wait_sent(c.email, "grace_ending");
    pause_ms(1500);
    cr_assert_eq(db_count("SELECT count(*) FROM email_outbox WHERE customer_id = $1::uuid"
                          " AND kind = 'grace_ending'",
                          c.id),
                 1);
    cr_assert_eq(count_mails(c.email), 2);
}
