/*
 * idempotency_keys: see idempotency_keys.h.
 */
#include "store/idempotency_keys.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"

static const struct db_statement claim_st = {
    "idempotency_keys_claim",
    "SELECT outcome, id, attempt, response_status, response_type, response_headers,"
    " response_body, retry_after FROM idempotency_claim($1, $2, $3, $4, $5)",
    5};

static const struct db_statement finish_st = {
    "idempotency_keys_finish", "SELECT idempotency_finish($1, $2, $3, $4, $5::jsonb, $6, $7)", 7};

static const struct db_statement release_st = {"idempotency_keys_release",
                                               "SELECT idempotency_release($1, $2)", 2};

static const struct db_statement purge_st = {"idempotency_keys_purge",
                                             "SELECT idempotency_purge($1, $2)", 2};

static const struct db_statement begin_st = {"idempotency_keys_begin", "BEGIN", 0};
static const struct db_statement commit_st = {"idempotency_keys_commit", "COMMIT", 0};
static const struct db_statement rollback_st = {"idempotency_keys_rollback", "ROLLBACK", 0};

const struct db_statement *const idempotency_keys_statements[] = {
    &claim_st, &finish_st, &release_st, &purge_st, &begin_st, &commit_st, &rollback_st, NULL};

static const char *const outcomes[] = {
    [IDEMPOTENCY_KEYS_NEW] = "new",
    [IDEMPOTENCY_KEYS_REPLAY] = "replay",
    [IDEMPOTENCY_KEYS_MISMATCH] = "mismatch",
    [IDEMPOTENCY_KEYS_IN_PROGRESS] = "in_progress",
};

enum tg_err idempotency_keys_claim(struct tg_ctx *ctx, const char *scope, const char *key,
                                   const char *route, const uint8_t hash[HASH_SHA256_LEN],
                                   int lease, struct idempotency_keys_claim *out)
{
    const char *p[5] = {scope, key, route, (const char *)hash, db_text_ll(ctx, lease)};
    const int lengths[5] = {0, 0, 0, HASH_SHA256_LEN, 0};
    const int formats[5] = {0, 0, 0, 1, 0};
    PGresult *r;
    memset(out, 0, sizeof(*out));
    enum tg_err e = db_exec(ctx, &claim_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    int outcome;
    if ((e = db_outcome(ctx, r, 0, outcomes, (int)(sizeof(outcomes) / sizeof(outcomes[0])),
                        &outcome)) != TG_OK)
        return e;
    out->outcome = (enum idempotency_keys_outcome)outcome;
    out->id = db_ll(r, 0, 1);
    out->attempt = (int)db_ll(r, 0, 2);
    out->status = (int)db_ll(r, 0, 3);
    out->content_type = db_str(r, 0, 4);
    out->headers = db_str(r, 0, 5);
    out->body = db_str(r, 0, 6);
    out->retry_after = (int)db_ll(r, 0, 7);
    return TG_OK;
}

enum tg_err idempotency_keys_finish(struct tg_ctx *ctx, long long id, int attempt, int status,
                                    const char *content_type, const char *headers, const char *body,
                                    int secret_seconds, bool *stored)
{
    const char *p[7] = {db_text_ll(ctx, id),
                        db_text_ll(ctx, attempt),
                        db_text_ll(ctx, status),
                        content_type,
                        headers,
                        body,
                        db_text_ll(ctx, secret_seconds)};
    PGresult *r;
    *stored = false;
    enum tg_err e = db_exec_one(ctx, &finish_st, p, &r);
    if (e != TG_OK)
        return e == TG_ENOTFOUND ? ctx_fail(ctx, TG_EINTERNAL, NULL) : e;
    *stored = db_bool(r, 0, 0);
    return TG_OK;
}

enum tg_err idempotency_keys_release(struct tg_ctx *ctx, long long id, int attempt)
{
    const char *p[2] = {db_text_ll(ctx, id), db_text_ll(ctx, attempt)};
    PGresult *r;
    return db_exec(ctx, &release_st, p, NULL, NULL, &r);
}

enum tg_err idempotency_keys_purge(struct tg_ctx *ctx, long retention, int limit, long long *n)
{
    const char *p[2] = {db_text_ll(ctx, retention), db_text_ll(ctx, limit)};
    PGresult *r;
    *n = 0;
    enum tg_err e = db_exec_one(ctx, &purge_st, p, &r);
    if (e == TG_OK)
        *n = db_ll(r, 0, 0);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, TG_EINTERNAL, NULL) : e;
}

static enum tg_err run(struct tg_ctx *ctx, const struct db_statement *st)
{
    PGresult *r;
    return db_exec(ctx, st, NULL, NULL, NULL, &r);
}

enum tg_err idempotency_keys_begin(struct tg_ctx *ctx)
{
    return run(ctx, &begin_st);
}

enum tg_err idempotency_keys_commit(struct tg_ctx *ctx)
{
    return run(ctx, &commit_st);
}

enum tg_err idempotency_keys_rollback(struct tg_ctx *ctx)
{
    return run(ctx, &rollback_st);
}
