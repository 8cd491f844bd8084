/*
 * mail: the e-mail tollgate sends (sql/functions/email.sql, table
 * email_outbox). Mails are queued by SQL in the transaction that
 * causes them: the welcome mail of a GitHub Marketplace purchase (the only
 * place an API key is ever sent), payment_failed when a customer becomes
 * past_due. tollgate-worker queues grace_ending (fewer than 24 hours of
 * grace left, once per grace period) and sends what is due: claimed with
 * FOR UPDATE SKIP LOCKED, written as an RFC 5322 message (Date, From, To,
 * Subject, Message-ID; MIME text/plain UTF-8), sent over SMTP
 * (integration/smtp.h), and recorded: sent, retried with backoff (5 s
 * doubling to 1 h), or failed after email_max_attempts or when the server
 * refuses the recipient for good. Once a mail is final its stored body no
 * longer holds any API key. Delivery is at least once: a worker that dies
 * between the server's 250 and the record sends the mail again after its
 * lease, with the same Message-ID.
 */
#ifndef TOLLGATE_MAIL_H
#define TOLLGATE_MAIL_H

#include <stddef.h>
#include <time.h>

#include "core/arena.h"
#include "core/ctx.h"

/* One message to write; strings borrowed. */
struct email_message {
    long long id;          /* email_outbox.id: part of the Message-ID */
    long long created;     /* email_outbox.created_at, unix seconds: same */
    const char *from;      /* the From: field as configured: "Name <a@b>" or "a@b" */
    const char *to;        /* bare address */
    const char *subject;   /* UTF-8; encoded (RFC 2047) when not plain ASCII */
    const char *body;      /* UTF-8 text, LF or CRLF line ends */
    time_t date;           /* the Date: field */
};

/* mail_envelope: the bare address of a From: value ("Name <a@b>"
 * or "a@b") as a new arena string, or NULL when it holds no valid address
 * or a character that does not belong in a header (CR, LF, non-ASCII). */
const char *mail_envelope(struct arena *a, const char *from);

/* mail_message: m as an RFC 5322 message with CRLF line ends, in a
 * new arena buffer of *len bytes. The body goes as 7bit when it is ASCII
 * with lines of at most 998 bytes, else base64. NULL when a header field
 * would hold a line break or the From: value is unusable, or when out of
 * memory. The Message-ID is <tollgate.ID.CREATED@domain of From>, the same
 * on every attempt, so a mail sent twice can be recognized. */
char *mail_message(struct arena *a, const struct email_message *m, size_t *len);

/* mail_send_due: one pass for tollgate-worker: queue the due
 * grace_ending mails, then claim up to limit due mails and send them with
 * the configured SMTP server (none configured: mails wait in the outbox).
 * Each attempt is logged (with the mail's customer) and recorded, then
 * ctx_progress() called. Returns how many mails were claimed. */
size_t mail_send_due(struct tg_ctx *ctx, int limit);

#endif
