/*
 * mail: see mail.h. Message format: RFC 5322 (fields,
 * CRLF, 998-byte lines), RFC 2045/2046 (MIME-Version, text/plain, 7bit or
 * base64), RFC 2047 (encoded words in Subject), RFC 3834
 * (Auto-Submitted: auto-generated).
 */
#include "domain/mail.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "domain/email.h"
#include "integration/smtp.h"
#include "store/email_outbox.h"

#define MESSAGE_MAX (1 << 20) /* our mails are a few KiB */
#define LINE_MAX_OCTETS 998   /* RFC 5322 section 2.1.1 */
#define B64_LINE_INPUT 57     /* 57 bytes -> 76 characters, RFC 2045 6.8 */
#define WORD_INPUT_MAX 45     /* 45 bytes -> 60 characters: encoded words stay under 75 */
#define LEASE_SLACK_SECONDS 60

/* ---- a bounded growing buffer (curl's dynbuf habit) -------------------- */

struct mbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void mbuf_add(struct mbuf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > MESSAGE_MAX) {
        b->failed = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        if (cap > MESSAGE_MAX)
            cap = MESSAGE_MAX;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void mbuf_str(struct mbuf *b, const char *s)
{
    mbuf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        b->failed = true;
        return;
    }
    mbuf_add(b, line, (size_t)n);
}

/* mbuf_base64: n bytes of data as base64, lines of at most 76 characters
 * each followed by CRLF when wrap, else one run. */
static void mbuf_base64(struct mbuf *b, const unsigned char *data, size_t n, bool wrap)
{
    unsigned char out[4 * ((B64_LINE_INPUT + 2) / 3) + 1];
    for (size_t i = 0; i < n; i += B64_LINE_INPUT) {
        size_t take = n - i < B64_LINE_INPUT ? n - i : B64_LINE_INPUT;
        int m = EVP_EncodeBlock(out, data + i, (int)take);
        mbuf_add(b, out, (size_t)m);
        if (wrap)
            mbuf_add(b, "\r\n", 2);
    }
}

/* ---- header fields ------------------------------------------------------ */

static bool printable_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

const char *mail_envelope(struct arena *a, const char *from)
{
    if (from == NULL || !printable_ascii(from))
        return NULL;
    const char *lt = strrchr(from, '<');
    const char *addr = from;
    size_t n = strlen(from);
    if (lt != NULL) {
        const char *gt = strchr(lt, '>');
        if (gt == NULL || gt[1] != '\0')
            return NULL;
        addr = lt + 1;
        n = (size_t)(gt - addr);
    }
    char *copy = arena_strndup(a, addr, n);
    return copy != NULL && email_valid(copy) ? copy : NULL;
}

/* add_subject: "Subject: ..." CRLF; RFC 2047 "B" encoded words, folded,
 * when the subject is not printable ASCII. Words never split a UTF-8
 * sequence. */
static void add_subject(struct mbuf *b, const char *subject)
{
    if (printable_ascii(subject)) {
        mbuf_printf(b, "Subject: %s\r\n", subject);
        return;
    }
    const unsigned char *s = (const unsigned char *)subject;
    size_t n = strlen(subject);
    mbuf_str(b, "Subject:");
    for (size_t i = 0; i < n;) {
        size_t take = n - i < WORD_INPUT_MAX ? n - i : WORD_INPUT_MAX;
        while (take > 1 && i + take < n && (s[i + take] & 0xc0) == 0x80)
            take--; /* do not end inside a multi-byte sequence */
        mbuf_str(b, i == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
        mbuf_base64(b, s + i, take, false);
        mbuf_str(b, "?=");
        i += take;
    }
    mbuf_str(b, "\r\n");
}

/* body_is_7bit: ASCII without NUL or bare controls other than TAB, CR, LF,
 * and no line longer than LINE_MAX_OCTETS. */
static bool body_is_7bit(const char *body)
{
    size_t line = 0;
    for (const unsigned char *p = (const unsigned char *)body; *p != '\0'; p++) {
        if (*p == '\n') {
            line = 0;
            continue;
        }
        if (*p >= 0x80 || (*p < 0x20 && *p != '\t' && *p != '\r') || *p == 0x7f)
            return false;
        if (*p != '\r' && ++line > LINE_MAX_OCTETS)
            return false;
    }
    return true;
}

/* add_crlf_text: body with every LF, CRLF or lone CR as CRLF. */
static void add_crlf_text(struct mbuf *b, const char *body)
{
    for (const char *p = body; *p != '\0';) {
        size_t run = strcspn(p, "\r\n");
        mbuf_add(b, p, run);
        p += run;
        if (*p == '\0')
            break;
        mbuf_add(b, "\r\n", 2);
        p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
    }
}

static void free_cb(void *p)
{
    free(p);
}

char *mail_message(struct arena *a, const struct email_message *m, size_t *len)
{
    const char *envelope = mail_envelope(a, m->from);
    if (envelope == NULL || !email_valid(m->to) || strcspn(m->subject, "\r\n") !=
                                                       strlen(m->subject))
        return NULL;
    const char *domain = strrchr(envelope, '@') + 1;
    char date[64];
    struct tm tm;
    if (gmtime_r(&m->date, &tm) == NULL ||
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
        return NULL;

    struct mbuf b = {0};
    mbuf_printf(&b, "Date: %s\r\n", date);
    mbuf_printf(&b, "From: %s\r\n", m->from);
    mbuf_printf(&b, "To: %s\r\n", m->to);
    add_subject(&b, m->subject);
    mbuf_printf(&b, "Message-ID: <tollgate.%lld.%lld@%s>\r\n", m->id, m->created, domain);
    mbuf_str(&b, "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Auto-Submitted: auto-generated\r\n");
    if (body_is_7bit(m->body)) {
        mbuf_str(&b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
        add_crlf_text(&b, m->body);
    } else {
        struct mbuf text = {0};
        add_crlf_text(&text, m->body);
        mbuf_str(&b, "Content-Transfer-Encoding: base64\r\n\r\n");
        if (text.failed)
            b.failed = true;
        else if (text.len > 0)
            mbuf_base64(&b, (const unsigned char *)text.p, text.len, true);
        if (text.p != NULL)
            OPENSSL_cleanse(text.p, text.len);
        free(text.p);
    }
    if (b.len >= 2 && memcmp(b.p + b.len - 2, "\r\n", 2) != 0)
        mbuf_add(&b, "\r\n", 2);
    if (b.failed || arena_defer(a, free_cb, b.p) != 0) {
        if (b.failed)
            free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* ---- the worker's pass -------------------------------------------------- */

/* send_one: write and send mail m; returns the outcome to record and
 * leaves a reason in err. */
static const char *send_one(struct tg_ctx *ctx, struct smtp *smtp, const char *envelope,
                            const struct email_outbox_mail *m, char *err, size_t errlen)
{
    const struct email_message msg = {.id = m->id,
                                      .created = m->created,
                                      .from = ctx->svc->cfg->smtp_from,
                                      .to = m->to,
                                      .subject = m->subject,
                                      .body = m->body,
                                      .date = ctx->now};
    size_t len = 0;
    char *text = mail_message(ctx->arena, &msg, &len);
    if (text == NULL) {
        snprintf(err, errlen, "cannot write the message (From, To or Subject unusable)");
        return "retry";
    }
    enum smtp_outcome o = smtp_send(smtp, envelope, m->to, text, len, err, errlen);
    /* The message may hold an API key (welcome): wipe the copy we made. */
    OPENSSL_cleanse(text, len);
    return o == SMTP_SENT ? "sent" : (o == SMTP_REJECTED ? "failed" : "retry");
}

/* send_all: send the n claimed mails with one SMTP client and record each. */
static void send_all(struct tg_ctx *ctx, const char *envelope, struct email_outbox_mail *mails,
                     size_t n)
{
    const struct config *cfg = ctx->svc->cfg;
    struct smtp_config sc = {.url = cfg->smtp_url,
                             .username = cfg->smtp_username,
                             .password = cfg->smtp_password,
                             .require_starttls = cfg->smtp_starttls != 0,
                             .timeout_ms = cfg->smtp_timeout_ms};
    struct smtp *smtp = smtp_new(&sc);
    const char *customer = ctx->customer_id;
    for (size_t i = 0; i < n; i++) {
        struct email_outbox_mail *m = &mails[i];
        char err[512] = "";
        const char *outcome = "retry", *status = "unknown";
        if (smtp == NULL)
            snprintf(err, sizeof(err), "cannot start the SMTP client");
        else
            outcome = send_one(ctx, smtp, envelope, m, err, sizeof(err));
        if (email_outbox_done(ctx, m->id, outcome, err[0] != '\0' ? err : NULL,
                              cfg->email_max_attempts, &status) != TG_OK)
            status = "unknown";
        ctx->customer_id = m->customer_id;
        ctx_log(ctx, strcmp(outcome, "sent") == 0 ? LOG_INFO : LOG_WARN,
                json_pack("{s:s, s:I, s:s, s:i, s:s, s:s?}", "msg", "email", "email_id",
                          (json_int_t)m->id, "kind", m->kind, "attempt", m->attempts + 1,
                          "status", status, "error", err[0] != '\0' ? err : NULL));
        ctx->customer_id = customer;
        /* The body may hold an API key (welcome): wipe it. */
        OPENSSL_cleanse(m->body, strlen(m->body));
        ctx_progress(ctx); /* one SMTP exchange takes at most smtp_timeout_ms */
    }
    smtp_free(smtp);
}

size_t mail_send_due(struct tg_ctx *ctx, int limit)
{
    const struct config *cfg = ctx->svc->cfg;
    long long queued = 0;
    if (email_outbox_queue_grace_ending(ctx, &queued) == TG_OK && queued > 0)
        ctx_log(ctx, LOG_INFO, json_pack("{s:s, s:I}", "msg", "grace_ending mails queued",
                                         "count", (json_int_t)queued));
    if (cfg->smtp_url[0] == '\0')
        return 0; /* no server: mails wait in the outbox */
    const char *envelope = mail_envelope(ctx->arena, cfg->smtp_from);
    if (envelope == NULL) {
        ctx_log(ctx, LOG_ERROR, json_pack("{s:s}", "msg", "smtp_from holds no usable address: "
                                                      "e-mail waits in the outbox"));
        return 0;
    }
    struct email_outbox_mail *mails;
    size_t n;
    long lease = (long)limit * (cfg->smtp_timeout_ms / 1000 + 1) + LEASE_SLACK_SECONDS;
    if (email_outbox_claim(ctx, limit, lease, &mails, &n) != TG_OK || n == 0)
        return 0;
    send_all(ctx, envelope, mails, n);
    return n;
}
