/*
 * test_bad_input: what tollgate and nginx answer to requests that are wrong
 * -- malformed or non-object JSON, wrong field types, unknown and missing
 * fields, a bad source, bad e-mail syntax, disposable and duplicate
 * (case-insensitive) e-mail, bodies over nginx's 64 KiB and over a route's
 * own limit, the wrong Content-Type, nesting deeper than 16, duplicate keys,
 * invalid UTF-8 and NUL in strings, missing or bad API keys, unknown routes,
 * wrong methods (with Allow), duplicate Idempotency-Key and Authorization
 * headers -- and that SQL metacharacters are stored and returned literally.
 * Every refusal must be application/problem+json with type, title, a status
 * equal to the HTTP status and the request id (it_assert_problem), and must
 * leave nothing behind.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

TestSuite(bad_input, .init = it_init, .fini = it_fini, .timeout = 120);

static const char *const json_ct[] = {"Content-Type: application/json", NULL};

static void signup_expect(const char *body, size_t len, long status, const char *slug,
                          const char *detail_has)
{
    struct it_response r;
    it_send("POST", "/api/v1/customers", json_ct, body, len, &r);
    cr_assert_eq(r.status, status, "%s -> %ld %s", body, r.status, r.body);
    it_assert_problem(&r, status, slug, detail_has);
    it_response_free(&r);
}

static void signup_expect_s(const char *body, long status, const char *slug, const char *detail)
{
    signup_expect(body, strlen(body), status, slug, detail);
}

static void usage_expect(const struct it_customer *c, const char *body, size_t len, long status,
                         const char *slug, const char *detail_has)
{
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->api_key);
    const char *h[] = {"Content-Type: application/json", auth, "Idempotency-Key: bad-input", NULL};
    struct it_response r;
    it_send("POST", "/api/v1/usage", h, body, len, &r);
    cr_assert_eq(r.status, status, "%s -> %ld %s", body, r.status, r.body);
    it_assert_problem(&r, status, slug, detail_has);
    it_response_free(&r);
    cr_assert_eq(it_balance(c), 5, "a refused request consumes nothing");
}

/* signup_body: {"email":<fresh address>,"name":"T"<extra>}. */
static void signup_body(char *buf, size_t len, const char *extra)
{
    char email[160];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(buf, len, "{\"email\":\"%s\",\"name\":\"T\"%s}", email, extra);
}

static long long customers_with_email(const char *email)
{
    PGconn *db = it_db();
    const char *p[1] = {email};
    long long n =
        it_db_ll(db, "SELECT count(*) FROM customers WHERE lower(email) = lower($1)", 1, p);
    PQfinish(db);
    return n;
}

Test(bad_input, malformed_json)
{
    static const char *const bodies[] = {"{\"email\":", "{\"email\":\"a@example.com\",}",
                                         "not json", "{'email':'a@example.com'}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        signup_expect_s(bodies[i], 400, "invalid-json", NULL);
    /* An empty body is an empty object: the required fields are missing. */
    signup_expect_s("", 400, "validation-failed", "email");
    struct it_customer c;
    onboard(&c);
    static const char body[] = "{kind:\"fix_deployed\"}";
    usage_expect(&c, body, strlen(body), 400, "invalid-json", NULL);
}

Test(bad_input, json_that_is_not_an_object)
{
    static const char *const bodies[] = {"[1,2]", "\"text\"", "42", "null", "true", "[]"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        signup_expect_s(bodies[i], 400, "invalid-json", NULL);
}

Test(bad_input, wrong_field_types_name_the_field)
{
    char body[512], email[160];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":5,\"name\":\"T\"}");
    signup_expect_s(body, 400, "validation-failed", "email");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":[\"T\"]}", email);
    signup_expect_s(body, 400, "validation-failed", "name");
    signup_body(body, sizeof(body), ",\"source\":true");
    signup_expect_s(body, 400, "validation-failed", "source");
    cr_assert_eq(customers_with_email(email), 0);

    struct it_customer c;
    onboard(&c);
    static const struct {
        const char *body, *field;
    } usage[] = {
        {"{\"kind\":\"fix_deployed\",\"fix_id\":7}", "fix_id"},
        {"{\"kind\":1,\"fix_id\":\"f\"}", "kind"},
        {"{\"kind\":\"fix_deployed\",\"fix_id\":\"f\",\"metadata\":\"m\"}", "metadata"},
        {"{\"kind\":\"fix_deployed\",\"fix_id\":\"f\",\"metadata\":{\"k\":1}}", "metadata.k"},
    };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        usage_expect(&c, usage[i].body, strlen(usage[i].body), 400, "validation-failed",
                     usage[i].field);
}

Test(bad_input, unknown_and_missing_fields)
{
    char body[512], email[160];
    signup_body(body, sizeof(body), ",\"admin\":true");
    signup_expect_s(body, 400, "validation-failed", "admin");
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
    signup_expect_s(body, 400, "validation-failed", "name");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":null}", email);
    signup_expect_s(body, 400, "validation-failed", "name");
    signup_expect_s("{\"name\":\"T\"}", 400, "validation-failed", "email");
    cr_assert_eq(customers_with_email(email), 0);

    struct it_customer c;
    onboard(&c);
    static const char *const usage[][2] = {
        {"{\"kind\":\"fix_deployed\",\"fix_id\":\"f\",\"amount\":3}", "amount"},
        {"{\"kind\":\"fix_deployed\"}", "fix_id"},
        {"{\"fix_id\":\"f\"}", "kind"},
        {"{\"kind\":\"fix_refunded\",\"fix_id\":\"f\"}", "kind"},
        {"{\"kind\":\"fix_deployed\",\"fix_id\":\"\"}", "fix_id"},
    };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        usage_expect(&c, usage[i][0], strlen(usage[i][0]), 400, "validation-failed", usage[i][1]);
}

Test(bad_input, bad_source)
{
    static const char *const sources[] = {"twitter", "", "DIRECT", "direct "};
    for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
        char body[512], extra[64];
        snprintf(extra, sizeof(extra), ",\"source\":\"%s\"", sources[i]);
        signup_body(body, sizeof(body), extra);
        signup_expect_s(body, 400, "validation-failed", "source");
    }
}

Test(bad_input, bad_email_syntax)
{
    static const char *const emails[] = {
        "plainaddress",     "@example.com",   "user@",          "user@@example.com",
        "a..b@example.com", ".a@example.com", "a.@example.com", "a b@example.com",
        "a@example",        "a@-example.com", "a@example-.com", "a@exa_mple.com",
        "a@example..com",   "a@123.456",      "a@example.com.", "a\\\"b@example.com",
    };
    for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"T\"}", emails[i]);
        signup_expect_s(body, 400, "validation-failed", "email");
    }
    char body[700], local[300];
    memset(local, 'a', 250);
    local[250] = '\0';
    snprintf(body, sizeof(body), "{\"email\":\"%s@example.com\",\"name\":\"T\"}", local);
    signup_expect_s(body, 400, "validation-failed", "email");
}

Test(bad_input, disposable_email)
{
    static const char *const domains[] = {"mailinator.com", "sub.mailinator.com", "MAILINATOR.COM",
                                          "deep.sub.Mailinator.com"};
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        char email[160], body[512];
        it_unique_email(email, sizeof(email), domains[i]);
        snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"T\"}", email);
        signup_expect_s(body, 422, "disposable-email", "email");
        cr_assert_eq(customers_with_email(email), 0, "%s was stored", email);
    }
    signup_expect_s("{\"email\":\"someone@mailinator.com\",\"name\":\"T\"}", 422,
                    "disposable-email", NULL);
}

Test(bad_input, duplicate_email_in_any_case)
{
    struct it_customer c;
    onboard(&c);
    char upper[160], body[512];
    snprintf(upper, sizeof(upper), "%s", c.email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Again\"}", c.email);
    signup_expect_s(body, 409, "conflict", "email");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"Again\"}", upper);
    signup_expect_s(body, 409, "conflict", "email");
    cr_assert_eq(customers_with_email(c.email), 1);
    cr_assert_eq(it_balance(&c), 5, "no second signup grant");
}

/* padded: a signup body of exactly len bytes (len >= 128). */
static char *padded(size_t len)
{
    char head[256];
    signup_body(head, sizeof(head), "");
    size_t hl = strlen(head) - 3; /* up to the name's opening quote: ...,"name":" */
    char *b = malloc(len + 1);
    cr_assert_not_null(b);
    memcpy(b, head, hl);
    memset(b + hl, 'x', len - hl - 2);
    memcpy(b + len - 2, "\"}", 3);
    return b;
}

Test(bad_input, body_over_64k_refused_by_nginx)
{
    static const char *const expect[] = {"Expect: 100-continue", "Expect:"};
    char *body = padded(70 * 1024);
    for (size_t i = 0; i < 2; i++) {
        const char *h[] = {"Content-Type: application/json", expect[i], NULL};
        struct it_response r;
        it_send("POST", "/api/v1/customers", h, body, strlen(body), &r);
        it_assert_problem(&r, 413, "body-too-large", "64 KiB");
        it_response_free(&r);
    }
    struct it_customer c;
    onboard(&c);
    usage_expect(&c, body, strlen(body), 413, "body-too-large", "64 KiB");
    free(body);
}

Test(bad_input, body_over_the_route_limit_refused_by_tollgate)
{
    char *body = padded(5000);
    signup_expect(body, strlen(body), 413, "body-too-large", "4096");
    free(body);
    body = padded(4097);
    signup_expect(body, strlen(body), 413, "body-too-large", "4096");
    free(body);
    /* 4096 bytes are read and judged on their content: the name is too long. */
    body = padded(4096);
    signup_expect(body, strlen(body), 400, "validation-failed", "name");
    free(body);

    struct it_customer c;
    onboard(&c);
    size_t len = 17000;
    char *u = malloc(len + 1);
    cr_assert_not_null(u);
    static const char head[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"f\",\"metadata\":{\"k\":\"";
    memcpy(u, head, sizeof(head) - 1);
    memset(u + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - 3);
    memcpy(u + len - 3, "\"}}", 4);
    usage_expect(&c, u, len, 413, "body-too-large", "16384");
    free(u);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    struct it_response r;
    it_send("GET", "/api/v1/customers/me", h, "{}", 2, &r);
    it_assert_problem(&r, 413, "body-too-large", NULL);
    it_response_free(&r);
}

Test(bad_input, head_works_where_get_does)
{
    struct it_customer c;
    onboard(&c);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *h[] = {auth, NULL};
    static const char *const paths[] = {"/health", "/api/v1/customers/me", "/api/v1/usage/summary"};
    for (size_t i = 0; i < 3; i++) {
        struct it_response r;
        it_send("HEAD", paths[i], h, NULL, 0, &r);
        cr_assert_eq(r.status, 200, "HEAD %s -> %ld", paths[i], r.status);
        cr_assert_eq(r.body_len, 0, "HEAD %s has no body", paths[i]);
        it_response_free(&r);
    }
    struct it_response r;
    it_send("HEAD", "/api/v1/customers/me", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 401, "HEAD authenticates like GET");
    it_response_free(&r);
}

Test(bad_input, wrong_content_type)
{
    static const char *const types[] = {"Content-Type: text/plain", "Content-Type:",
                                        "Content-Type: application/x-www-form-urlencoded",
                                        "Content-Type: application/jsonp"};
    char body[512];
    signup_body(body, sizeof(body), "");
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const char *h[] = {types[i], NULL};
        struct it_response r;
        it_send("POST", "/api/v1/customers", h, body, strlen(body), &r);
        it_assert_problem(&r, 415, "unsupported-media-type", NULL);
        it_response_free(&r);
    }
    const char *h[] = {"Content-Type: application/json; charset=utf-8", NULL};
    struct it_response r;
    it_send("POST", "/api/v1/customers", h, body, strlen(body), &r);
    cr_assert_eq(r.status, 201, "a charset parameter is fine: %s", r.body);
    it_response_free(&r);
}

static void nested_body(char *buf, size_t len, int depth)
{
    char email[160];
    it_unique_email(email, sizeof(email), "example.com");
    int n = snprintf(buf, len, "{\"email\":\"%s\",\"name\":\"T\",\"deep\":", email);
    for (int i = 1; i < depth; i++)
        buf[n++] = '[';
    buf[n++] = '1';
    for (int i = 1; i < depth; i++)
        buf[n++] = ']';
    snprintf(buf + n, len - (size_t)n, "}");
}

Test(bad_input, nesting_deeper_than_16)
{
    char body[1024];
    nested_body(body, sizeof(body), 17);
    signup_expect_s(body, 400, "invalid-json", "nesting");
    nested_body(body, sizeof(body), 40);
    signup_expect_s(body, 400, "invalid-json", "nesting");
    /* 16 levels parse; the field is then unknown. */
    nested_body(body, sizeof(body), 16);
    signup_expect_s(body, 400, "validation-failed", "deep");
    /* Brackets inside a string are no nesting. */
    char email[160];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"[[[[[[[[[[[[[[[[[[[[{{{{\"}", email);
    struct it_response r;
    it_send("POST", "/api/v1/customers", json_ct, body, strlen(body), &r);
    json_decref(it_assert_json(&r, 201));
    it_response_free(&r);
}

Test(bad_input, duplicate_json_keys)
{
    char body[512], email[160];
    it_unique_email(email, sizeof(email), "example.com");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"a\",\"name\":\"b\"}", email);
    signup_expect_s(body, 400, "invalid-json", "duplicate");
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"email\":\"%s\",\"name\":\"a\"}", email,
             email);
    signup_expect_s(body, 400, "invalid-json", "duplicate");
    cr_assert_eq(customers_with_email(email), 0);
}

Test(bad_input, invalid_utf8_and_nul)
{
    static const char *const names[] = {"\xff\xfe", "\xc3\x28",  "\xc0\xaf", "a\xed\xa0\x80z",
                                        "\\ud800",  "a\\u0000b", "\\u0000"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char body[512], email[160];
        it_unique_email(email, sizeof(email), "example.com");
        snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"%s\"}", email, names[i]);
        signup_expect_s(body, 400, "invalid-json", NULL);
        cr_assert_eq(customers_with_email(email), 0);
    }
    struct it_customer c;
    onboard(&c);
    static const char *const usage[] = {
        "{\"kind\":\"fix_deployed\",\"fix_id\":\"\xff\"}",
        "{\"kind\":\"fix_deployed\",\"fix_id\":\"a\\u0000\"}",
        "{\"kind\":\"fix_deployed\",\"fix_id\":\"f\",\"metadata\":{\"k\\u0000\":\"v\"}}",
    };
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        usage_expect(&c, usage[i], strlen(usage[i]), 400, "invalid-json", NULL);
}

Test(bad_input, control_characters_in_strings)
{
    static const char *const names[] = {"\\u0007", "a\\nb", "\\u001b[31m", "\\u007f"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char body[512], email[160];
        it_unique_email(email, sizeof(email), "example.com");
        snprintf(body, sizeof(body), "{\"email\":\"%s\",\"name\":\"%s\"}", email, names[i]);
        signup_expect_s(body, 400, "validation-failed", "name");
    }
}

/* get_with: GET path with one Authorization header value (NULL: none). */
static void get_with(const char *path, const char *authorization, struct it_response *r)
{
    char h[256];
    const char *headers[] = {NULL, NULL};
    if (authorization != NULL) {
        snprintf(h, sizeof(h), "Authorization: %s", authorization);
        headers[0] = h;
    }
    it_send("GET", path, headers, NULL, 0, r);
}

Test(bad_input, missing_or_bad_api_key)
{
    struct it_customer c;
    onboard(&c);
    char upper[128], longer[128], token[160], other[128], live[128];
    snprintf(upper, sizeof(upper), "Bearer tg_test_");
    for (const char *p = c.api_key + 8; *p; p++) {
        size_t n = strlen(upper);
        upper[n] = (char)(*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
        upper[n + 1] = '\0';
    }
    snprintf(longer, sizeof(longer), "Bearer %s0", c.api_key);
    snprintf(token, sizeof(token), "Token %s", c.api_key);
    snprintf(other, sizeof(other), "Bearer tg_test_%064d", 0);
    snprintf(live, sizeof(live), "Bearer tg_live_%.64s", c.api_key + 8);
    const char *const bad[] = {
        NULL,  "",     "Bearer", "Bearer ", "Bearer garbage", "Basic dXNlcjpwYXNz", other,
        upper, longer, token,    live};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_response r;
        get_with("/api/v1/customers/me", bad[i], &r);
        cr_assert_eq(r.status, 401, "Authorization %s -> %ld", bad[i] ? bad[i] : "(none)",
                     r.status);
        it_assert_problem(&r, 401, "unauthorized", NULL);
        it_response_free(&r);
    }
    struct it_response r;
    char good[128];
    snprintf(good, sizeof(good), "bearer %s", c.api_key);
    get_with("/api/v1/customers/me", good, &r);
    cr_assert_eq(r.status, 200, "the scheme is case-insensitive: %s", r.body);
    it_response_free(&r);

    const char *h[] = {"Content-Type: application/json", "Idempotency-Key: no-auth", NULL};
    static const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"f\"}";
    it_send("POST", "/api/v1/usage", h, body, strlen(body), &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
}

Test(bad_input, unknown_route)
{
    static const char *const paths[] = {"/api/v1/nope",
                                        "/api/v2/customers",
                                        "/api/v1/customers/me/extra",
                                        "/api/v1/usage/",
                                        "/nope",
                                        "/"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct it_response r;
        it_send("GET", paths[i], NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 404, "GET %s -> %ld", paths[i], r.status);
        it_assert_problem(&r, 404, "not-found", NULL);
        it_response_free(&r);
    }
}

/* lists: whether the comma-separated header value holds the token. */
static bool lists(const char *value, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p != NULL && *p != '\0'; p = strchr(p, ',')) {
        p += strspn(p, ", ");
        if (strncmp(p, token, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
    }
    return false;
}

Test(bad_input, wrong_method_names_the_allowed_ones)
{
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"PUT", "/api/v1/customers", "POST"},     {"GET", "/api/v1/customers", "POST"},
        {"DELETE", "/api/v1/usage", "POST"},      {"POST", "/health", "GET"},
        {"PUT", "/api/v1/customers/me", "PATCH"}, {"POST", "/api/v1/credits/transactions", "GET"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_response r;
        it_send(cases[i].method, cases[i].path, NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 405, "%s %s -> %ld", cases[i].method, cases[i].path, r.status);
        it_assert_problem(&r, 405, "method-not-allowed", NULL);
        cr_assert_eq(it_header_count(&r, "Allow"), 1, "%s %s: one Allow header", cases[i].method,
                     cases[i].path);
        const char *allow = it_header(&r, "Allow");
        cr_assert(lists(allow, cases[i].allow) && !lists(allow, cases[i].method),
                  "%s %s: Allow: %s", cases[i].method, cases[i].path, allow);
        it_response_free(&r);
    }
}

Test(bad_input, duplicate_idempotency_key_header)
{
    struct it_customer c;
    onboard(&c);
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    static const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"dup\"}";
    static const char *const second[] = {"Idempotency-Key: dup-1", "Idempotency-Key: dup-2",
                                         "idempotency-key: dup-1"};
    for (size_t i = 0; i < 3; i++) {
        const char *h[] = {"Content-Type: application/json", auth, "Idempotency-Key: dup-1",
                           second[i], NULL};
        struct it_response r;
        it_send("POST", "/api/v1/usage", h, body, strlen(body), &r);
        it_assert_problem(&r, 400, "bad-request", "Idempotency-Key");
        it_response_free(&r);
    }
    cr_assert_eq(it_balance(&c), 5, "nothing was consumed");
}

Test(bad_input, duplicate_authorization_header)
{
    struct it_customer a, b;
    onboard(&a);
    onboard(&b);
    char ha[160], hb[160];
    snprintf(ha, sizeof(ha), "Authorization: Bearer %s", a.api_key);
    snprintf(hb, sizeof(hb), "Authorization: Bearer %s", b.api_key);
    const char *get[] = {ha, hb, NULL};
    struct it_response r;
    it_send("GET", "/api/v1/customers/me", get, NULL, 0, &r);
    it_assert_problem(&r, 400, "bad-request", NULL);
    it_response_free(&r);
    const char *post[] = {"Content-Type: application/json", "Idempotency-Key: two-keys", ha, hb,
                          NULL};
    static const char body[] = "{\"kind\":\"fix_deployed\",\"fix_id\":\"f\"}";
    it_send("POST", "/api/v1/usage", post, body, strlen(body), &r);
    it_assert_problem(&r, 400, "bad-request", NULL);
    it_response_free(&r);
    cr_assert_eq(it_balance(&a), 5);
    cr_assert_eq(it_balance(&b), 5);
}

Test(bad_input, invalid_idempotency_keys)
{
    struct it_customer c;
    onboard(&c);
    char k256[300], k255[300];
    memset(k256, 'k', 256);
    k256[256] = '\0';
    memset(k255, 'k', 255);
    k255[255] = '\0';
    const char *const bad[] = {k256, "has space", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct it_response r;
        it_post_usage(&c, bad[i], "f", &r);
        it_assert_problem(&r, 400, "idempotency-key-required", NULL);
        it_response_free(&r);
    }
    cr_assert_eq(it_balance(&c), 5);
    struct it_response r;
    it_post_usage(&c, k255, "f", &r);
    cr_assert_eq(r.status, 201, "255 characters are fine: %s", r.body);
    it_response_free(&r);
}

Test(bad_input, sql_metacharacters_are_literal)
{
    static const char evil[] = "Robert'); DROP TABLE customers;--";
    char email[160];
    it_unique_email(email, sizeof(email), "example.com");
    json_t *req = json_pack("{s:s, s:s}", "email", email, "name", evil);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    free(body);
    json_t *j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(it_jget(j, "customer"), "name"), evil);
    struct it_customer c;
    memset(&c, 0, sizeof(c));
    snprintf(c.id, sizeof(c.id), "%s", it_jstr(it_jget(j, "customer"), "id"));
    snprintf(c.api_key, sizeof(c.api_key), "%s", it_jstr(j, "api_key"));
    json_decref(j);
    it_response_free(&r);

    it_get("/api/v1/customers/me", c.api_key, &r);
    j = it_assert_json(&r, 200);
    cr_assert_str_eq(it_jstr(j, "name"), evil);
    json_decref(j);
    it_response_free(&r);

    it_post_usage(&c, "Robert');DROP-TABLE-customers;--", evil, &r);
    j = it_assert_json(&r, 201);
    cr_assert_str_eq(it_jstr(j, "fix_id"), evil);
    json_decref(j);
    it_response_free(&r);

    PGconn *db = it_db();
    const char *p[2] = {c.id, evil};
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM credit_transactions WHERE customer_id = $1"
                          " AND kind = 'fix_deployed' AND reference = $2",
                          2, p),
                 1);
    cr_assert_eq(it_db_ll(db, "SELECT count(*) FROM customers WHERE id = $1 AND name = $2", 2, p),
                 1);
    PQfinish(db);
}
