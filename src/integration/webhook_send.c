/*
 * webhook_send: see webhook_send.h.
 */
#include <config.h>

#include "integration/webhook_send.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct webhook_send {
    CURL *curl;
};

struct webhook_send *webhook_send_open(void)
{
    struct webhook_send *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->curl = curl_easy_init();
    if (s->curl == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void webhook_send_free(struct webhook_send *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->curl);
    free(s);
}

/* loopback: host names this machine only: localhost, ::1, or an IPv4
 * address in 127.0.0.0/8. */
static bool loopback(const char *host)
{
    struct in_addr a;
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
           strcmp(host, "::1") == 0 ||
           (inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127);
}

bool webhook_send_check_url(const char *url, bool allow_http, char *why, size_t whylen)
{
    size_t len = url != NULL ? strlen(url) : 0;
    if (len == 0 || len > WEBHOOK_SEND_MAX_URL) {
        snprintf(why, whylen, "a URL of 1 to %d bytes is needed", WEBHOOK_SEND_MAX_URL);
        return false;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            snprintf(why, whylen, "the URL may hold printable ASCII only (no spaces)");
            return false;
        }
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    bool ok = false;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(why, whylen, "not an absolute URL with a host");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
        snprintf(why, whylen, "the URL may not hold a user name or password");
        goto out;
    }
    if (strcmp(scheme, "https") == 0) {
        ok = true;
    } else if (strcmp(scheme, "http") != 0) {
        snprintf(why, whylen, "the URL must be https://");
    } else if (!allow_http) {
        snprintf(why, whylen, "the URL must be https:// (http:// only to loopback, with "
                              "outbound_allow_http = 1)");
    } else if (!loopback(host)) {
        snprintf(why, whylen, "http:// is allowed to a loopback address only");
    } else {
        ok = true;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return ok;
}

/* on_body: count the answer, and stop reading past the limit. */
static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    size_t *seen = user;
    *seen += size * n;
    return *seen > WEBHOOK_SEND_MAX_RESPONSE ? 0 : size * n;
}

void webhook_send_post(struct webhook_send *s, const char *url, const char *signature,
                       const char *event_id, const char *body, size_t len, long connect_ms,
                       long total_ms, struct webhook_send_result *out)
{
    memset(out, 0, sizeof(*out));
    char sig[512], id[128];
    snprintf(sig, sizeof(sig), "Tollgate-Signature: %s", signature);
    snprintf(id, sizeof(id), "Tollgate-Event-Id: %s", event_id);
    struct curl_slist *h = NULL, *t;
    const char *lines[] = {"Content-Type: application/json", sig, id, "Expect:"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if ((t = curl_slist_append(h, lines[i])) == NULL) {
            curl_slist_free_all(h);
            snprintf(out->error, sizeof(out->error), "out of memory");
            return;
        }
        h = t;
    }
    size_t seen = 0;
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tollgate-webhooks/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms < total_ms ? connect_ms : total_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(h);
    out->delivered = out->status >= 200 && out->status <= 299 &&
                     (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && seen > WEBHOOK_SEND_MAX_RESPONSE));
    if (out->delivered)
        return;
    if (out->status != 0)
        snprintf(out->error, sizeof(out->error), "HTTP %ld", out->status);
    else
        snprintf(out->error, sizeof(out->error), "%s", curl_easy_strerror(rc));
}
