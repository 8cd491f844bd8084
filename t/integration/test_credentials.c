/*
 * test_credentials: POST /api/v1/credentials through nginx and the workers.
 * An empty body and {} give a token with the defaults (all three scopes,
 * 900 seconds, Cache-Control: no-store) that verifies offline with
 * token_verify and the stack's key file ($TOLLGATE_TEST_DIR/token-signing-
 * key), with the customer, the key's prefix, a fresh jti and matching
 * expires_at/expires_in; scopes and ttl_seconds are honoured within their
 * bounds and anything else is a 400 problem naming the field; no, a
 * malformed, an unknown or a revoked API key is 401; a token whose payload
 * was changed and re-encoded, or signed with another key, does not verify;
 * a token stays valid after its key is revoked, until exp; the token never
 * reaches the service log. The ledger invariants are checked around every
 * test (harness.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/token.h"
#include "harness.h"

TestSuite(credentials, .init = it_init, .fini = it_fini, .timeout = 120);

#define ALL_SCOPES "usage:write usage:read billing:read"

/* signing_key: the stack's token signing key (first line of its file). */
static void signing_key(char *out, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/token-signing-key", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_not_null(fgets(out, (int)len, f));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    cr_assert_geq(strlen(out), TOKEN_KEY_MIN, "the stack's key is too short");
}

/* issue: POST /api/v1/credentials with api_key (NULL: none) and body
 * (NULL: no body and no Content-Type). */
static void issue(const char *api_key, const char *body, struct it_response *r)
{
    char auth[160];
    const char *h[3] = {NULL, NULL, NULL};
    size_t n = 0;
    if (api_key != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", api_key);
        h[n++] = auth;
    }
    if (body != NULL)
        h[n++] = "Content-Type: application/json";
    it_send("POST", "/api/v1/credentials", h, body, body != NULL ? strlen(body) : 0, r);
}

/* verify: token_verify with the stack's key at now; the claims on success. */
static enum token_result verify(const char *token, long long now, json_t **claims)
{
    char key[600];
    signing_key(key, sizeof(key));
    return token_verify(key, strlen(key), token, now, claims);
}

/* check_issued: a 201 for customer c with the given scope claim and
 * lifetime; verifies the token offline and returns the answer's body. */
static json_t *check_issued(const struct it_customer *c, const struct it_response *r,
                            const char *scope, long long ttl)
{
    long long before = (long long)time(NULL);
    json_t *j = it_assert_json(r, 201);
    const char *cc = it_header(r, "Cache-Control");
    cr_assert(cc != NULL && strstr(cc, "no-store") != NULL, "a token must not be cached: %s",
              cc ? cc : "(none)");
    cr_assert_str_eq(it_jstr(j, "token_type"), "Bearer");
    cr_assert_str_eq(it_jstr(j, "customer_id"), c->id);
    cr_assert_eq(it_jint(j, "expires_in"), ttl);

    json_t *claims = NULL;
    const char *token = it_jstr(j, "token");
    enum token_result v = verify(token, before, &claims);
    cr_assert_eq(v, TOKEN_OK, "the token does not verify offline: %s", token_result_str(v));
    cr_assert_str_eq(it_jstr(claims, "iss"), "tollgate");
    cr_assert_str_eq(it_jstr(claims, "sub"), c->id);
    cr_assert_str_eq(it_jstr(claims, "scope"), scope);
    long long iat = it_jint(claims, "iat"), exp = it_jint(claims, "exp");
    cr_assert_eq(exp - iat, ttl, "exp - iat is the lifetime");
    cr_assert(iat >= before - 30 && iat <= before + 30, "iat %lld is not now (%lld)", iat, before);
    const char *jti = it_jstr(claims, "jti");
    cr_assert_eq(strlen(jti), 32, "jti: %s", jti);
    cr_assert_eq(strspn(jti, "0123456789abcdef"), 32, "jti: %s", jti);
    cr_assert_eq(strlen(it_jstr(claims, "key")), 12, "key: the display prefix");
    cr_assert_eq(strncmp(it_jstr(claims, "key"), c->api_key, 12), 0, "key: the asking key");
    cr_assert_null(strstr(token, c->api_key + 8), "the API key is not in the token");
    cr_assert_eq(json_object_size(claims), 7, "iss sub scope iat exp jti key: %s", r->body);

    char want[32];
    time_t t = (time_t)exp;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
    cr_assert_str_eq(it_jstr(j, "expires_at"), want, "expires_at is exp in RFC 3339 UTC");

    /* The scopes list is the scope claim. */
    char joined[128] = "";
    size_t i, used = 0;
    json_t *s;
    json_array_foreach(it_jget(j, "scopes"), i, s)
    {
        cr_assert(json_is_string(s));
        used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", i ? " " : "",
                                 json_string_value(s));
    }
    cr_assert_str_eq(joined, scope);
    json_decref(claims);
    return j;
}

Test(credentials, defaults_verify_offline)
{
    struct it_customer c;
    onboard(&c);
    static const char *const bodies[] = {NULL, "{}", "{\"scopes\":null,\"ttl_seconds\":null}"};
    char jti[3][40];
    for (size_t i = 0; i < 3; i++) {
        struct it_response r;
        issue(c.api_key, bodies[i], &r);
        json_t *j = check_issued(&c, &r, ALL_SCOPES, 900);
        json_t *claims = NULL;
        cr_assert_eq(verify(it_jstr(j, "token"), (long long)time(NULL), &claims), TOKEN_OK);
        snprintf(jti[i], sizeof(jti[i]), "%s", it_jstr(claims, "jti"));
        for (size_t k = 0; k < i; k++)
            cr_assert_str_neq(jti[k], jti[i], "every token has its own jti");
        /* It expires when it says. */
        long long exp = it_jint(claims, "exp");
        cr_assert_eq(verify(it_jstr(j, "token"), exp - 1, NULL), TOKEN_OK);
        cr_assert_eq(verify(it_jstr(j, "token"), exp, NULL), TOKEN_EEXPIRED);
        json_decref(claims);
        json_decref(j);
        it_response_free(&r);
    }
    cr_assert_eq(it_balance(&c), 5, "a token costs no credit");
}

Test(credentials, custom_scopes_and_ttl)
{
    static const struct {
        const char *body, *scope;
        long long ttl;
    } cases[] = {
        {"{\"scopes\":[\"usage:read\"],\"ttl_seconds\":60}", "usage:read", 60},
        {"{\"scopes\":[\"billing:read\",\"usage:write\"]}", "billing:read usage:write", 900},
        {"{\"ttl_seconds\":30}", ALL_SCOPES, 30},
        {"{\"ttl_seconds\":3600,\"scopes\":[\"usage:write\",\"usage:read\",\"billing:read\"]}",
         ALL_SCOPES, 3600},
        {"{\"ttl_seconds\": 900, \"scopes\": [\"usage:write\"]}", "usage:write", 900},
    };
    struct it_customer c;
    onboard(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_response r;
        issue(c.api_key, cases[i].body, &r);
        cr_assert_eq(r.status, 201, "%s -> %ld %s", cases[i].body, r.status, r.body);
        json_decref(check_issued(&c, &r, cases[i].scope, cases[i].ttl));
        it_response_free(&r);
    }
}

Test(credentials, bad_bodies_are_problems)
{
    static const struct {
        const char *body;
        long status;
        const char *slug, *detail;
    } cases[] = {
        {"{\"scopes\":[]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"admin\"]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"usage:read\",\"usage:admin\"]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"usage:read\",\"usage:read\"]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"Usage:read\"]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"\"]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[1]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[null]}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":\"usage:read\"}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":{\"usage:read\":true}}", 400, "validation-failed", "scopes"},
        {"{\"scopes\":[\"usage:read\",\"usage:write\",\"billing:read\",\"usage:read\"]}", 400,
         "validation-failed", "scopes"},
        {"{\"ttl_seconds\":29}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":3601}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":0}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":-60}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":60.5}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":\"60\"}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":true}", 400, "validation-failed", "ttl_seconds"},
        {"{\"ttl_seconds\":99999999999999999999}", 400, "invalid-json", NULL},
        {"{\"ttl\":60}", 400, "validation-failed", "unknown field"},
        {"{\"scope\":\"usage:read\"}", 400, "validation-failed", "unknown field"},
        {"{\"scopes\":[\"usage:read\"],\"audience\":\"x\"}", 400, "validation-failed",
         "unknown field"},
        {"{", 400, "invalid-json", NULL},
        {"[]", 400, "invalid-json", NULL},
        {"null", 400, "invalid-json", NULL},
        {"{\"ttl_seconds\":60,\"ttl_seconds\":61}", 400, "invalid-json", NULL},
    };
    struct it_customer c;
    onboard(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct it_response r;
        issue(c.api_key, cases[i].body, &r);
        cr_assert_eq(r.status, cases[i].status, "%s -> %ld %s", cases[i].body, r.status, r.body);
        it_assert_problem(&r, cases[i].status, cases[i].slug, cases[i].detail);
        cr_assert_null(strstr(r.body, "\"token\""), "no token in a refusal: %s", r.body);
        it_response_free(&r);
    }

    /* A body must be JSON; an empty one needs no Content-Type. */
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c.api_key);
    const char *h[] = {auth, "Content-Type: text/plain", NULL};
    struct it_response r;
    it_send("POST", "/api/v1/credentials", h, "{}", 2, &r);
    it_assert_problem(&r, 415, "unsupported-media-type", NULL);
    it_response_free(&r);
    it_send("POST", "/api/v1/credentials", h, "", 0, &r);
    json_decref(check_issued(&c, &r, ALL_SCOPES, 900));
    it_response_free(&r);

    /* Only POST. */
    it_get("/api/v1/credentials", c.api_key, &r);
    it_assert_problem(&r, 405, "method-not-allowed", NULL);
    it_response_free(&r);
}

Test(credentials, api_key_required)
{
    struct it_response r;
    issue(NULL, NULL, &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
    issue(NULL, "{}", &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
    issue("tg_test_123", NULL, &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
    issue("tg_test_0000000000000000000000000000000000000000000000000000000000000000", NULL, &r);
    it_assert_problem(&r, 401, "unauthorized", "unknown or revoked");
    it_response_free(&r);

    /* Neither the body checks nor a token before the key is known. */
    issue(NULL, "{\"ttl\":1}", &r);
    it_assert_problem(&r, 401, "unauthorized", NULL);
    it_response_free(&r);
}

Test(credentials, revoked_key_gets_no_token_but_issued_ones_live_on)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    issue(c.api_key, NULL, &r);
    json_t *j = check_issued(&c, &r, ALL_SCOPES, 900);
    it_response_free(&r);

    PGconn *db = it_db();
    const char *p[1] = {c.id};
    char state[6];
    it_db_exec(db, "UPDATE api_keys SET revoked_at = now() WHERE customer_id = $1", 1, p, state);
    cr_assert_str_eq(state, "", "revoking failed: SQLSTATE %s", state);
    PQfinish(db);

    issue(c.api_key, NULL, &r);
    it_assert_problem(&r, 401, "unauthorized", "unknown or revoked");
    it_response_free(&r);
    /* docs/credentials.md: a token is valid until it expires, whatever
     * happens to the key that asked for it. */
    cr_assert_eq(verify(it_jstr(j, "token"), (long long)time(NULL), NULL), TOKEN_OK);
    json_decref(j);
}

/* reencode: token's header "." base64url(payload) "." signature (the
 * forger keeps the signature). New string. */
static char *reencode(const char *token, const char *payload, const char *signature)
{
    const char *dot1 = strchr(token, '.');
    char *p = token_b64url_encode(payload, strlen(payload));
    cr_assert_not_null(p);
    size_t len = (size_t)(dot1 - token) + strlen(p) + strlen(signature) + 3;
    char *out = malloc(len);
    cr_assert_not_null(out);
    snprintf(out, len, "%.*s.%s.%s", (int)(dot1 - token), token, p, signature);
    free(p);
    return out;
}

Test(credentials, forged_tokens_do_not_verify)
{
    struct it_customer c, other;
    onboard(&c);
    onboard(&other);
    struct it_response r;
    issue(c.api_key, "{\"scopes\":[\"usage:read\"],\"ttl_seconds\":60}", &r);
    json_t *j = check_issued(&c, &r, "usage:read", 60);
    it_response_free(&r);
    const char *token = it_jstr(j, "token");
    long long now = (long long)time(NULL);

    /* The payload as issued, decoded and re-encoded, still verifies... */
    const char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
    size_t n;
    unsigned char *raw = token_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &n);
    cr_assert_not_null(raw);
    json_t *claims = json_loadb((const char *)raw, n, 0, NULL);
    free(raw);
    cr_assert_not_null(claims);
    char *same = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = reencode(token, same, dot2 + 1);
    cr_assert_str_eq(copy, token, "the re-encoding is faithful");
    cr_assert_eq(verify(copy, now, NULL), TOKEN_OK);
    free(copy);
    free(same);

    /* ...and any change to it does not: more scopes, another customer, a
     * longer life. */
    const struct {
        const char *name;
        json_t *value;
    } forgeries[] = {
        {"scope", json_string(ALL_SCOPES)},
        {"sub", json_string(other.id)},
        {"exp", json_integer(it_jint(claims, "exp") + 86400)},
    };
    for (size_t i = 0; i < sizeof(forgeries) / sizeof(forgeries[0]); i++) {
        json_t *forged = json_deep_copy(claims);
        json_object_set_new(forged, forgeries[i].name, forgeries[i].value);
        char *payload = json_dumps(forged, JSON_COMPACT | JSON_PRESERVE_ORDER);
        char *tok = reencode(token, payload, dot2 + 1);
        enum token_result v = verify(tok, now, NULL);
        cr_assert_eq(v, TOKEN_ESIGNATURE, "changed %s: %s", forgeries[i].name, token_result_str(v));

        /* Signed properly, but with a key of the forger's own. */
        static const char mine[] = "forger-forger-forger-forger-forger-forger-forger-forger!!";
        char *resigned = NULL;
        cr_assert_eq(token_sign(mine, sizeof(mine) - 1, forged, &resigned), TG_OK);
        cr_assert_eq(verify(resigned, now, NULL), TOKEN_ESIGNATURE);
        free(resigned);
        free(tok);
        free(payload);
        json_decref(forged);
    }
    json_decref(claims);
    json_decref(j);
}

/* log_has: whether the service log holds needle. */
static bool log_has(const char *needle)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tollgate-fcgi.log", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    static char line[65536];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

Test(credentials, token_never_logged)
{
    struct it_customer c;
    onboard(&c);
    struct it_response r;
    issue(c.api_key, NULL, &r);
    json_t *j = check_issued(&c, &r, ALL_SCOPES, 900);
    it_response_free(&r);
    json_t *claims = NULL;
    cr_assert_eq(verify(it_jstr(j, "token"), (long long)time(NULL), &claims), TOKEN_OK);
    /* The issue is logged by its jti, which is written before the answer
     * leaves the worker... */
    cr_assert(log_has(it_jstr(claims, "jti")), "the issue is logged with its jti");
    /* ...the token is not, nor its signature alone. */
    const char *token = it_jstr(j, "token");
    cr_assert(!log_has(token), "the token is in the service log");
    cr_assert(!log_has(strrchr(token, '.') + 1), "the token's signature is in the service log");
    json_decref(claims);
    json_decref(j);
}
