/*
 * smtp: see smtp.h.
 */
#include "integration/smtp.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMTP_ADDRESS_MAX 254 /* RFC 5321 section 4.5.3.1.3, as email.h */

struct smtp {
    CURL *curl;
    char *url;
    char *username; /* NULL: no AUTH */
    char *password; /* NULL: none; wiped by smtp_free */
    bool require_tls;
    long timeout_ms;
};

/* What the read callback hands libcurl: the rest of the message. */
struct upload {
    const char *p;
    size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
    struct upload *u = user;
    size_t room = size * n, take = u->left < room ? u->left : room;
    memcpy(buf, u->p, take);
    u->p += take;
    u->left -= take;
    return take;
}

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

struct smtp *smtp_new(const struct smtp_config *cfg)
{
    struct smtp *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->curl = curl_easy_init();
    s->url = strdup(cfg->url);
    s->username = dup_or_null(cfg->username);
    s->password = s->username != NULL ? dup_or_null(cfg->password) : NULL;
    /* Credentials only ever travel inside TLS (smtps://, or STARTTLS). */
    s->require_tls = cfg->require_starttls || s->username != NULL;
    s->timeout_ms = cfg->timeout_ms;
    if (s->curl == NULL || s->url == NULL || (cfg->username != NULL && cfg->username[0] != '\0' &&
                                              s->username == NULL)) {
        smtp_free(s);
        return NULL;
    }
    return s;
}

void smtp_free(struct smtp *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    if (s->password != NULL) {
        OPENSSL_cleanse(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->username);
    free(s->url);
    free(s);
}

/* angle: "<addr>" into out; -1 when addr is too long or could break the
 * SMTP command line (CR, LF, angle brackets). */
static int angle(const char *addr, char *out, size_t outlen)
{
    size_t n = strlen(addr);
    if (n == 0 || n > SMTP_ADDRESS_MAX || strcspn(addr, "\r\n<>") != n)
        return -1;
    return snprintf(out, outlen, "<%s>", addr) < (int)outlen ? 0 : -1;
}

enum smtp_outcome smtp_send(struct smtp *s, const char *from, const char *to,
                            const char *message, size_t len, char *err, size_t errlen)
{
    char mail_from[SMTP_ADDRESS_MAX + 3], rcpt[SMTP_ADDRESS_MAX + 3];
    char detail[CURL_ERROR_SIZE] = "";
    if (angle(from, mail_from, sizeof(mail_from)) != 0 || angle(to, rcpt, sizeof(rcpt)) != 0) {
        snprintf(err, errlen, "envelope address unusable");
        return SMTP_REJECTED;
    }
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    if (rcpts == NULL) {
        snprintf(err, errlen, "out of memory");
        return SMTP_RETRY;
    }
    if (s->curl == NULL && (s->curl = curl_easy_init()) == NULL) {
        curl_slist_free_all(rcpts);
        snprintf(err, errlen, "cannot start libcurl");
        return SMTP_RETRY;
    }
    struct upload up = {message, len};
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    if (s->require_tls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (s->username != NULL) {
        curl_easy_setopt(c, CURLOPT_USERNAME, s->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s->password != NULL ? s->password : "");
    }
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    /* Nothing of this call may outlive it inside the reused handle. */
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(rcpts);
    if (rc == CURLE_OK)
        return SMTP_SENT;
    /* The SMTP session may be mid-transaction now: never reuse it. */
    curl_easy_cleanup(s->curl);
    s->curl = NULL;
    snprintf(err, errlen, "%s (SMTP %ld): %s", curl_easy_strerror(rc), code,
             detail[0] != '\0' ? detail : "no detail");
    /* Only a 5xx to RCPT TO (no such mailbox: libcurl says "RCPT failed")
     * is final. A 5xx to MAIL FROM or AUTH is our configuration, which an
     * operator fixes, and anything else may pass later: retried. */
    if (code >= 500 && code < 600 && rc == CURLE_SEND_ERROR &&
        strncmp(detail, "RCPT failed", 11) == 0)
        return SMTP_REJECTED;
    return SMTP_RETRY;
}
