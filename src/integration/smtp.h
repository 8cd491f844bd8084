/*
 * smtp: sending one finished RFC 5322 message to one recipient over SMTP
 * with libcurl (RFC 5321). The URL is smtp://host[:port][/ehlo-domain] or
 * smtps:// (TLS from the first byte, RFC 8314); on smtp:// STARTTLS
 * (RFC 3207) is required when asked for, and always when credentials are
 * configured, so a password never crosses the network in clear. Server
 * certificates are verified (libcurl's default). libcurl does the SMTP
 * dot-stuffing of the message.
 */
#ifndef TOLLGATE_SMTP_H
#define TOLLGATE_SMTP_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_config {
    const char *url;      /* smtp://... or smtps://...; borrowed */
    const char *username; /* NULL or "": no SMTP AUTH */
    const char *password; /* borrowed; NULL when none */
    bool require_starttls;
    long timeout_ms;      /* the whole exchange of one message */
};

struct smtp;

enum smtp_outcome {
    SMTP_SENT,     /* the server accepted the message (250 after DATA) */
    SMTP_RETRY,    /* network trouble, a 4xx answer, a TLS or AUTH problem: try later */
    SMTP_REJECTED, /* the server refused the recipient for good (5xx to RCPT TO) */
};

/* smtp_new: a client for cfg (strings copied; the password is wiped by
 * smtp_free). NULL when out of memory or libcurl cannot start. */
struct smtp *smtp_new(const struct smtp_config *cfg) __attribute__((warn_unused_result));

/* smtp_free: close the connection, wipe the password, release. NULL is ok. */
void smtp_free(struct smtp *s);

/* smtp_send: send message (len bytes, CRLF line ends, headers included)
 * with envelope sender from and recipient to (bare addresses, no angle
 * brackets). On anything but SMTP_SENT a short reason is left in err
 * (errlen bytes); it never contains the password. */
enum smtp_outcome smtp_send(struct smtp *s, const char *from, const char *to,
                            const char *message, size_t len, char *err, size_t errlen);

#endif
