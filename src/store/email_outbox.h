/*
 * email_outbox: the e-mail tollgate sends (sql/functions/email.sql).
 * Mails are queued by SQL in the transaction that causes them; the worker
 * queues grace_ending mails, claims due ones and records each attempt.
 */
#ifndef TOLLGATE_STORE_EMAIL_OUTBOX_H
#define TOLLGATE_STORE_EMAIL_OUTBOX_H

#include <stddef.h>

#include "core/ctx.h"

/* A claimed mail; strings live in the context's arena. body may hold an
 * API key (a welcome mail): wipe it once sent (OPENSSL_cleanse). */
struct email_outbox_mail {
    long long id;
    const char *customer_id;
    const char *kind;      /* welcome, payment_failed, grace_ending */
    const char *to;
    const char *subject;
    char *body;
    int attempts;          /* made before this one */
    long long created;     /* unix seconds */
};

/* email_outbox_queue_grace_ending: one grace_ending mail per grace period
 * of every past_due customer with fewer than 24 hours left; *queued
 * counts the new ones. TG_EDB. */
enum tg_err email_outbox_queue_grace_ending(struct tg_ctx *ctx, long long *queued)
    __attribute__((warn_unused_result));

/* email_outbox_claim: up to limit due mails, oldest first, leased for
 * lease_seconds (FOR UPDATE SKIP LOCKED), into *out (*n, arena-owned). */
enum tg_err email_outbox_claim(struct tg_ctx *ctx, int limit, long lease_seconds,
                               struct email_outbox_mail **out, size_t *n)
    __attribute__((warn_unused_result));

/* email_outbox_done: record one attempt at mail id: "sent", "failed" (for
 * good) or "retry" (backoff; failed after max_attempts), with error text
 * (may be NULL). *status is the mail's status now. TG_EDB. */
enum tg_err email_outbox_done(struct tg_ctx *ctx, long long id, const char *outcome,
                              const char *error, long max_attempts, const char **status)
    __attribute__((warn_unused_result));

#endif
