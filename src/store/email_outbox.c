/*
 * email_outbox: see email_outbox.h.
 */
#include "store/email_outbox.h"

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement queue_grace_st = {"email_outbox_queue_grace_ending",
                                                   "SELECT email_queue_grace_ending()", 0};

/* Due mails, oldest first, leased for $2 seconds (longer than sending the
 * batch may take); SKIP LOCKED lets several workers claim side by side. */
static const struct db_statement claim_st = {
    "email_outbox_claim",
    "UPDATE email_outbox m"
    "   SET next_attempt_at = now() + make_interval(secs => $2::integer)"
    " WHERE m.id IN (SELECT id FROM email_outbox"
    "                 WHERE status = 'pending' AND next_attempt_at <= now()"
    "                 ORDER BY next_attempt_at, id LIMIT $1::integer"
    "                 FOR UPDATE SKIP LOCKED)"
    " RETURNING m.id, m.customer_id, m.kind, m.to_address, m.subject, m.body, m.attempts,"
    "           extract(epoch FROM m.created_at)::bigint",
    2};

static const struct db_statement done_st = {
    "email_outbox_done", "SELECT email_outbox_done($1, $2, $3, $4::integer)", 4};

const struct db_statement *const email_outbox_statements[] = {&queue_grace_st, &claim_st,
                                                               &done_st, NULL};

enum tg_err email_outbox_queue_grace_ending(struct tg_ctx *ctx, long long *queued)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &queue_grace_st, NULL, NULL, NULL, &r);
    if (e == TG_OK)
        *queued = PQntuples(r) == 1 ? db_ll(r, 0, 0) : 0;
    return e;
}

enum tg_err email_outbox_claim(struct tg_ctx *ctx, int limit, long lease_seconds,
                               struct email_outbox_mail **out, size_t *n)
{
    const char *p[2] = {db_text_ll(ctx, limit), db_text_ll(ctx, lease_seconds)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &claim_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        struct email_outbox_mail *m = &(*out)[i];
        m->id = db_ll(r, (int)i, 0);
        m->customer_id = db_str(r, (int)i, 1);
        m->kind = db_str(r, (int)i, 2);
        m->to = db_str(r, (int)i, 3);
        m->subject = db_str(r, (int)i, 4);
        m->body = PQgetvalue(r, (int)i, 5);
        m->attempts = (int)db_ll(r, (int)i, 6);
        m->created = db_ll(r, (int)i, 7);
    }
    return TG_OK;
}

enum tg_err email_outbox_done(struct tg_ctx *ctx, long long id, const char *outcome,
                              const char *error, long max_attempts, const char **status)
{
    const char *p[4] = {db_text_ll(ctx, id), outcome, error, db_text_ll(ctx, max_attempts)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &done_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *status = PQntuples(r) == 1 && db_str(r, 0, 0) != NULL ? db_str(r, 0, 0) : "unknown";
    return TG_OK;
}
