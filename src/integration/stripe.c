/*
 * stripe: see stripe.h.
 */
#include <config.h>

#include "integration/stripe.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"

struct stripe {
    CURL *curl;
    char *api_base;
    char *secret_key;
    long connect_timeout_ms;
    long timeout_ms;
    int max_retries;
};

/* What one attempt collected. */
struct exchange {
    char *body;
    size_t len;
    bool too_large;
    int should_retry; /* Stripe-Should-Retry: -1 absent, 0 false, 1 true */
    char request_id[64];
    bool replayed; /* Idempotent-Replayed: true */
};

struct stripe *stripe_new(const struct stripe_config *cfg)
{
    struct stripe *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->curl = curl_easy_init();
    s->api_base = strdup(cfg->api_base);
    s->secret_key = strdup(cfg->secret_key != NULL ? cfg->secret_key : "");
    s->connect_timeout_ms = cfg->connect_timeout_ms;
    s->timeout_ms = cfg->timeout_ms;
    s->max_retries = cfg->max_retries;
    if (s->curl == NULL || s->api_base == NULL || s->secret_key == NULL) {
        stripe_free(s);
        return NULL;
    }
    return s;
}

bool stripe_id_valid(const char *id, const char *prefix)
{
    size_t n = id != NULL ? strlen(id) : 0, p = strlen(prefix);
    return n > p && n < 256 && strncmp(id, prefix, p) == 0 &&
           strspn(id + p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
               n - p;
}

int stripe_open(const struct config *cfg, struct stripe **out)
{
    *out = NULL;
    if (cfg->stripe_secret_key == NULL)
        return 0;
    struct stripe_config sc = {.api_base = cfg->stripe_api_base,
                               .secret_key = cfg->stripe_secret_key,
                               .connect_timeout_ms = cfg->stripe_connect_timeout_ms,
                               .timeout_ms = cfg->stripe_timeout_ms,
                               .max_retries = (int)cfg->stripe_max_retries};
    *out = stripe_new(&sc);
    return *out != NULL ? 0 : -1;
}

void stripe_free(struct stripe *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    if (s->secret_key != NULL) {
        OPENSSL_cleanse(s->secret_key, strlen(s->secret_key));
        free(s->secret_key);
    }
    free(s->api_base);
    free(s);
}

char *stripe_form_encode(struct arena *a, const struct stripe_param *params, size_t nparams)
{
    size_t cap = 1;
    char **enc = nparams ? arena_alloc(a, 2 * nparams * sizeof(*enc)) : NULL;
    if (nparams && enc == NULL)
        return NULL;
    for (size_t i = 0; i < nparams; i++) {
        for (int k = 0; k < 2; k++) {
            const char *raw = k == 0 ? params[i].key : params[i].value;
            char *e = curl_easy_escape(NULL, raw, 0);
            enc[2 * i + k] = e != NULL ? arena_strdup(a, e) : NULL;
            curl_free(e);
            if (enc[2 * i + k] == NULL)
                return NULL;
            cap += strlen(enc[2 * i + k]) + 1;
        }
    }
    char *out = arena_alloc(a, cap);
    if (out == NULL)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < nparams; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s=%s", i ? "&" : "", enc[2 * i],
                                 enc[2 * i + 1]);
    return out;
}

long stripe_backoff_ms(int attempt)
{
    long full = 250L << (attempt > 4 ? 4 : (attempt < 1 ? 0 : attempt - 1));
    if (full > 2000)
        full = 2000;
    unsigned int r = 0;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = 0;
    return full / 2 + (long)(r % (unsigned int)(full / 2 + 1));
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    struct exchange *x = user;
    size_t len = size * n;
    if (x->len + len > STRIPE_MAX_RESPONSE) {
        x->too_large = true;
        return 0;
    }
    char *grown = realloc(x->body, x->len + len + 1);
    if (grown == NULL)
        return 0;
    memcpy(grown + x->len, data, len);
    x->body = grown;
    x->len += len;
    x->body[x->len] = '\0';
    return len;
}

/* on_header: keep Stripe-Should-Retry and Request-Id. */
static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    struct exchange *x = user;
    size_t len = size * n;
    static const char retry[] = "stripe-should-retry:", rid[] = "request-id:",
                      replayed[] = "idempotent-replayed:";
    if (len > sizeof(retry) - 1 && strncasecmp(data, retry, sizeof(retry) - 1) == 0) {
        const char *v = data + sizeof(retry) - 1;
        while (*v == ' ')
            v++;
        x->should_retry = strncasecmp(v, "true", 4) == 0 ? 1 : 0;
    } else if (len > sizeof(replayed) - 1 &&
               strncasecmp(data, replayed, sizeof(replayed) - 1) == 0) {
        const char *v = data + sizeof(replayed) - 1;
        while (*v == ' ')
            v++;
        x->replayed = strncasecmp(v, "true", 4) == 0;
    } else if (len > sizeof(rid) - 1 && strncasecmp(data, rid, sizeof(rid) - 1) == 0) {
        const char *v = data + sizeof(rid) - 1;
        while (*v == ' ')
            v++;
        size_t vlen = strcspn(v, "\r\n");
        if (vlen >= sizeof(x->request_id))
            vlen = sizeof(x->request_id) - 1;
        memcpy(x->request_id, v, vlen);
        x->request_id[vlen] = '\0';
    }
    return len;
}

/* attempt: one HTTP exchange of at most timeout_ms; returns the curl
 * code, *status the HTTP one. */
static CURLcode attempt(struct stripe *s, const char *method, const char *url, const char *form,
                        struct curl_slist *headers, long timeout_ms, struct exchange *x,
                        long *status)
{
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, s->secret_key);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tollgate/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     s->connect_timeout_ms < timeout_ms ? s->connect_timeout_ms : timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    CURLcode rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return rc;
}

/* retryable: Stripe's advice first (Stripe-Should-Retry), then the status. */
static bool retryable(CURLcode rc, long status, int should_retry)
{
    if (rc != CURLE_OK)
        return true; /* no answer: safe with the same Idempotency-Key */
    if (should_retry >= 0)
        return should_retry == 1;
    return status == 409 || status == 429 || status >= 500;
}

/* classify: fill out from the final attempt. */
static enum tg_err classify(struct arena *a, CURLcode rc, long status, struct exchange *x,
                            struct stripe_result *out)
{
    out->status = (int)status;
    out->request_id = x->request_id[0] ? arena_strdup(a, x->request_id) : NULL;
    if (rc == CURLE_OK && x->body != NULL) {
        out->body = json_loadb(x->body, x->len, 0, NULL);
        if (out->body != NULL && arena_defer(a, arena_json_decref, out->body) != 0)
            return TG_ENOMEM;
    }
    json_t *err = json_object_get(out->body, "error");
    out->error_type = json_string_value(json_object_get(err, "type"));
    out->error_code = json_string_value(json_object_get(err, "code"));
    out->decline_code = json_string_value(json_object_get(err, "decline_code"));
    out->message = json_string_value(json_object_get(err, "message"));
    if (rc != CURLE_OK || status == 0 || status == 409 || status == 429 || status >= 500) {
        out->outcome = STRIPE_UNREACHABLE;
        return TG_EUPSTREAM;
    }
    if (status >= 200 && status < 300 && json_is_object(out->body))
        out->outcome = STRIPE_OK;
    else if (status == 402 || (out->error_type && strcmp(out->error_type, "card_error") == 0))
        out->outcome = STRIPE_CARD_ERROR;
    else if (status >= 200 && status < 300) {
        out->outcome = STRIPE_UNREACHABLE; /* 2xx without a JSON object */
        return TG_EUPSTREAM;
    } else
        out->outcome = STRIPE_INVALID;
    return TG_OK;
}

/* attempt_ms: the time-out of the next attempt, which starts after
 * pause_ms: stripe_timeout_ms cut to what is left of the request's budget
 * (ctx_set_budget), so that the request answers before nginx gives up on
 * it; 0 when too little is left for an attempt (STRIPE_MIN_ATTEMPT_MS). */
static long attempt_ms(const struct stripe *s, const struct tg_ctx *ctx, long pause_ms)
{
    long long left = ctx_budget_left_ms(ctx) - pause_ms;
    if (left < STRIPE_MIN_ATTEMPT_MS)
        return 0;
    return left < s->timeout_ms ? (long)left : s->timeout_ms;
}

/* not_sent: the answer to a call certainly not sent (Stripe not
 * configured, or no time left in the request), yet with no final answer,
 * on purpose: a recorded call stays pending and tollgate-worker sends it,
 * with its key, later. A final one would settle a charge as failed (the
 * customer past_due, the money never asked for). The line makes each such
 * call seen, in the log of the process. message: for the customer; why:
 * for the log. */
static enum tg_err not_sent(struct tg_ctx *ctx, const char *method, const char *path,
                            const char *key, const char *message, const char *why,
                            struct stripe_result *out)
{
    out->outcome = STRIPE_UNREACHABLE;
    out->message = message;
    ctx_log(ctx, LOG_WARN,
            json_pack("{s:s, s:s, s:s, s:s?, s:s}", "msg", "stripe call not sent", "method", method,
                      "path", path, "idempotency_key", key, "error", why));
    return TG_EUPSTREAM;
}

/* The operations tollgate calls, by method and path ("*" one id). */
static const struct {
    const char *method, *path, *name;
} operation_names[] = {
    {"POST", "/v1/customers", "create_customer"},
    {"POST", "/v1/customers/*", "update_customer"},
    {"POST", "/v1/payment_methods/*/attach", "attach_payment_method"},
    {"GET", "/v1/payment_methods/*", "get_payment_method"},
    {"POST", "/v1/payment_intents", "create_payment_intent"},
    {"GET", "/v1/payment_intents", "list_payment_intents"},
    {"GET", "/v1/payment_intents/*", "get_payment_intent"},
    {"POST", "/v1/subscriptions", "create_subscription"},
    {"POST", "/v1/subscriptions/*", "update_subscription"},
    {"DELETE", "/v1/subscriptions/*", "cancel_subscription"},
    {"GET", "/v1/subscriptions", "list_subscriptions"},
    {"GET", "/v1/subscriptions/*", "get_subscription"},
    {"GET", "/v1/invoices", "list_invoices"},
    {"GET", "/v1/invoices/upcoming", "preview_invoice"},
    {"GET", "/v1/invoices/*", "get_invoice"},
    {"POST", "/v1/invoices/*/pay", "pay_invoice"},
    {"GET", "/v1/charges/*", "get_charge"},
};

/* path_matches: path (its query ignored) against pattern, where "*" is
 * one segment. */
static bool path_matches(const char *pattern, const char *path)
{
    while (*pattern != '\0') {
        if (*pattern == '*') {
            size_t seg = strcspn(path, "/?");
            if (seg == 0)
                return false;
            path += seg;
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0' || *path == '?';
}

const char *stripe_operation(const char *method, const char *path)
{
    for (size_t i = 0; i < sizeof(operation_names) / sizeof(operation_names[0]); i++)
        if (strcmp(operation_names[i].method, method) == 0 &&
            path_matches(operation_names[i].path, path))
            return operation_names[i].name;
    return "other";
}

/* count_attempt: the metrics of one HTTP attempt begun at t0. */
static void count_attempt(const char *operation, const struct timespec *t0, CURLcode rc,
                          long status, bool replayed, bool retry)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 + (t1.tv_nsec - t0->tv_nsec) / 1000;
    const char *cls = rc != CURLE_OK || status == 0 ? "network"
                      : status >= 200 && status < 300 ? "2xx"
                      : status >= 400 && status < 500 ? "4xx"
                      : status >= 500 && status < 600 ? "5xx"
                                                      : "other";
    metrics_add(MF_STRIPE_REQUESTS, 1, operation, cls, NULL, NULL);
    metrics_observe_us(MF_STRIPE_DURATION, operation, us);
    if (retry)
        metrics_add(MF_STRIPE_RETRIES, 1, operation, NULL, NULL, NULL);
    if (replayed)
        metrics_add(MF_STRIPE_REPLAYS, 1, operation, NULL, NULL, NULL);
}

static void log_call(const struct tg_ctx *ctx, const char *method, const char *path,
                     const char *key, const struct stripe_result *out, CURLcode rc)
{
    json_t *line = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s?, s:s?, s:s?}", "msg", "stripe call",
                             "method", method, "path", path, "status", out->status, "attempts",
                             out->attempts, "idempotency_key", key, "stripe_request_id",
                             out->request_id, "error_code", out->error_code);
    if (line != NULL && rc != CURLE_OK)
        json_object_set_new(line, "curl_error", json_string(curl_easy_strerror(rc)));
    ctx_log(ctx, out->outcome == STRIPE_UNREACHABLE ? LOG_WARN : LOG_INFO, line);
}

enum tg_err stripe_call(struct tg_ctx *ctx, const char *method, const char *path,
                        const struct stripe_param *params, size_t nparams,
                        const char *idempotency_key, struct stripe_result *out)
{
    struct stripe *s = ctx->svc->stripe;
    struct arena *a = ctx->arena;
    memset(out, 0, sizeof(*out));
    if (s == NULL)
        return not_sent(ctx, method, path, idempotency_key,
                        "Stripe is not configured on this server",
                        "Stripe is not configured (stripe_secret_key_file)", out);
    bool post = strcmp(method, "POST") == 0;
    if (post && idempotency_key == NULL)
        return TG_EINTERNAL; /* every POST carries a key: DESIGN.md section 4 */
    long limit = attempt_ms(s, ctx, 0);
    if (limit == 0)
        return not_sent(ctx, method, path, idempotency_key,
                        "no time left in the request to call Stripe", "request_timeout_ms spent",
                        out);
    char *form = stripe_form_encode(a, params, nparams);
    const char *url = post || nparams == 0
                          ? arena_printf(a, "%s%s", s->api_base, path)
                          : arena_printf(a, "%s%s?%s", s->api_base, path, form ? form : "");
    const char *key_hdr = post ? arena_printf(a, "Idempotency-Key: %s", idempotency_key) : NULL;
    if (form == NULL || url == NULL || (post && key_hdr == NULL))
        return TG_ENOMEM;
    struct curl_slist *h = curl_slist_append(NULL, "Stripe-Version: " STRIPE_API_VERSION);
    if (h != NULL && post)
        h = curl_slist_append(h, key_hdr);
    if (h == NULL)
        return TG_ENOMEM;

    CURLcode rc = CURLE_OK;
    long status = 0;
    const char *operation = stripe_operation(method, path);
    struct exchange x = {.should_retry = -1};
    for (out->attempts = 1;; out->attempts++) {
        free(x.body);
        x = (struct exchange){.should_retry = -1};
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rc = attempt(s, method, url, form, h, limit, &x, &status);
        count_attempt(operation, &t0, rc, status, x.replayed, out->attempts > 1);
        ctx_progress(ctx); /* an attempt takes at most timeout_ms */
        if (!retryable(rc, status, x.should_retry) || out->attempts > s->max_retries)
            break;
        long pause = stripe_backoff_ms(out->attempts);
        if ((limit = attempt_ms(s, ctx, pause)) == 0)
            break; /* no time for another attempt: the last one's answer stands */
        nanosleep(&(struct timespec){pause / 1000, (pause % 1000) * 1000000L}, NULL);
    }
    curl_slist_free_all(h);
    enum tg_err e = classify(a, rc, status, &x, out);
    free(x.body);
    log_call(ctx, method, path, idempotency_key, out, rc);
    return e;
}
