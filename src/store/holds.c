/*
 * holds: see holds.h.
 */
#include "store/holds.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"

/* A hold (table alias h). */
#define HOLD_COLS                                                                              \
    "h.id, h.kind, h.fix_id, h.reserves, h.status, h.amount_cents, h.currency, "               \
    SQL_TS("h.expires_at") ", " SQL_TS("h.created_at") ", " SQL_TS("h.updated_at")             \
    ", h.usage_event_id"
#define HOLD_NCOLS 11

/* The API key's columns of the *_keyed functions (struct api_key_auth). */
#define KEY_COLS "s.outcome, s.api_key_id, s.customer_id, s.key_prefix, s.requests, s.reset_seconds"
#define KEY_NCOLS 6

static const struct db_statement create_st = {
    "holds_create",
    "SELECT " KEY_COLS ", " HOLD_COLS
    " FROM hold_create_keyed($1, $2, $3, $4, $5, $6::integer) s"
    " LEFT JOIN LATERAL (SELECT (s.hold).*) h ON true",
    6};

/* The usage event of a settle, in the columns USAGE_EVENT_COLS reads. */
#define SETTLE_EVENT                                                                           \
    " LEFT JOIN LATERAL (SELECT (s.event).id AS event_id, (s.event).outcome AS event_outcome,"  \
    " (s.event).balance_after, (s.event).ledger_entry_id, (s.event).fix_id,"                    \
    " (s.event).created_at, (s.event).charge_id, s.amount_cents, s.currency) u ON true"

static const struct db_statement settle_st = {
    "holds_settle",
    "SELECT " KEY_COLS ", " HOLD_COLS ", " USAGE_EVENT_COLS ", s.call_id, s.call_key,"
    " s.call_params::text FROM hold_settle_keyed($1, $2, " SQL_UUID_ID("$3") ") s"
    " LEFT JOIN LATERAL (SELECT (s.hold).*) h ON true" SETTLE_EVENT,
    3};

static const struct db_statement release_st = {
    "holds_release",
    "SELECT " KEY_COLS ", " HOLD_COLS
    " FROM hold_release_keyed($1, $2, " SQL_UUID_ID("$3") ") s"
    " LEFT JOIN LATERAL (SELECT (s.hold).*) h ON true",
    3};

/* The cursor is a hold id of this customer: holds created before it (ties
 * by id), newest first, through holds_customer. */
static const struct db_statement list_st = {
    "holds_list",
    "SELECT " HOLD_COLS " FROM holds h"
    " WHERE h.customer_id = $1 AND ($2::text IS NULL OR h.status = $2)"
    "   AND ($3::text IS NULL OR (h.created_at, h.id) < (SELECT x.created_at, x.id FROM holds x"
    "        WHERE x.customer_id = $1 AND x.id = " SQL_UUID_ID("$3") "))"
    " ORDER BY h.created_at DESC, h.id DESC LIMIT $4::integer",
    4};

static const struct db_statement expire_st = {
    "holds_expire_due", "SELECT count(*) FROM holds_expire_due($1::integer)", 1};

const struct db_statement *const holds_statements[] = {&create_st, &settle_st, &release_st,
                                                       &list_st, &expire_st, NULL};

static const char *const decisions[] = {
    [HOLD_CREDIT] = "credit",           [HOLD_CHARGE] = "charge",
    [HOLD_UNBILLED] = "unbilled",       [HOLD_REPLAY] = "replay",
    [HOLD_KEY_REUSED] = "key_reused",   [HOLD_IN_PROGRESS] = "in_progress",
    [HOLD_RELEASED] = "hold_released", [HOLD_EXPIRED] = "hold_expired",
    [HOLD_SETTLED] = "hold_settled",         [HOLD_NOT_FOUND] = "not_found",
    [HOLD_NO_CREDIT] = "no_credit",     [HOLD_DELINQUENT] = "delinquent",
    [HOLD_RELEASED_NOW] = "released",   [HOLD_SPEND_LIMIT] = "spend_limit",
    [HOLD_RATE_LIMITED] = "rate_limited",
};

static void hold_from_row(const PGresult *r, int i, int col, struct hold *h)
{
    h->id = db_str(r, i, col);
    h->kind = db_str(r, i, col + 1);
    h->fix_id = db_str(r, i, col + 2);
    h->reserves = db_str(r, i, col + 3);
    h->status = db_str(r, i, col + 4);
    h->amount_cents = db_ll(r, i, col + 5);
    h->currency = db_str(r, i, col + 6);
    h->expires_at = db_str(r, i, col + 7);
    h->created_at = db_str(r, i, col + 8);
    h->updated_at = db_str(r, i, col + 9);
    h->usage_event_id = db_ll(r, i, col + 10);
}

/* decode: the outcome, the key and the hold of an answer r; TG_ENOTFOUND
 * when it has no row (an unknown or revoked key). */
static enum tg_err decode(struct tg_ctx *ctx, const PGresult *r, struct hold_record *out)
{
    int d;
    memset(out, 0, sizeof(*out));
    if (PQntuples(r) != 1)
        return TG_ENOTFOUND;
    enum tg_err e = db_outcome(ctx, r, 0, decisions, (int)(sizeof(decisions) / sizeof(decisions[0])),
                               &d);
    if (e != TG_OK)
        return e;
    out->decision = (enum hold_decision)d;
    out->key.api_key_id = db_str(r, 0, 1);
    out->key.customer_id = db_str(r, 0, 2);
    out->key.key_prefix = db_str(r, 0, 3);
    out->key.requests = db_ll(r, 0, 4);
    out->key.reset_seconds = (int)db_ll(r, 0, 5);
    hold_from_row(r, 0, KEY_NCOLS, &out->hold);
    return TG_OK;
}

enum tg_err holds_create(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                         const char *idempotency_key,
                         const uint8_t request_hash[HASH_SHA256_LEN], const char *fix_id,
                         long ttl, struct hold_record *out)
{
    const char *p[6] = {(const char *)key_hash, db_text_ll(ctx, limit), idempotency_key,
                        (const char *)request_hash, fix_id, db_text_ll(ctx, ttl)};
    const int lengths[6] = {HASH_SHA256_LEN, 0, 0, HASH_SHA256_LEN, 0, 0};
    const int formats[6] = {1, 0, 0, 1, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &create_st, p, lengths, formats, &r);
    return e != TG_OK ? e : decode(ctx, r, out);
}

/* by_key: run st (the key, its limit, hold_id) into r. */
static enum tg_err by_key(struct tg_ctx *ctx, const struct db_statement *st,
                          const uint8_t key_hash[HASH_SHA256_LEN], long limit, const char *hold_id,
                          PGresult **r)
{
    const char *p[3] = {(const char *)key_hash, db_text_ll(ctx, limit), hold_id};
    const int lengths[3] = {HASH_SHA256_LEN, 0, 0};
    const int formats[3] = {1, 0, 0};
    return db_exec(ctx, st, p, lengths, formats, r);
}

enum tg_err holds_settle(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                         const char *hold_id, struct hold_record *out)
{
    PGresult *r;
    enum tg_err e = by_key(ctx, &settle_st, key_hash, limit, hold_id, &r);
    if (e != TG_OK || (e = decode(ctx, r, out)) != TG_OK)
        return e;
    const int ev = KEY_NCOLS + HOLD_NCOLS, call = ev + USAGE_EVENT_NCOLS;
    usage_events_from_row(r, 0, ev, &out->event);
    if (out->decision != HOLD_CHARGE)
        return TG_OK;
    out->call.id = db_ll(r, 0, call);
    out->call.key = db_str(r, 0, call + 1);
    out->call.customer_id = out->key.customer_id;
    out->call.operation = "charge";
    out->call.attempts = 0;
    out->call.created_at = 0; /* just begun */
    return stripe_requests_params(ctx, db_str(r, 0, call + 2), &out->call.params);
}

enum tg_err holds_release(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN], long limit,
                          const char *hold_id, struct hold_record *out)
{
    PGresult *r;
    enum tg_err e = by_key(ctx, &release_st, key_hash, limit, hold_id, &r);
    return e != TG_OK ? e : decode(ctx, r, out);
}

enum tg_err holds_list(struct tg_ctx *ctx, const char *customer_id, const char *status,
                       const char *cursor, int limit, struct hold **rows, size_t *n)
{
    const char *p[4] = {customer_id, status, cursor, db_text_ll(ctx, limit)};
    PGresult *r;
    void *v;
    enum tg_err e = db_exec_rows(ctx, &list_st, p, sizeof(struct hold), &r, &v, n);
    if (e != TG_OK)
        return e;
    *rows = v;
    for (size_t i = 0; i < *n; i++)
        hold_from_row(r, (int)i, 0, &(*rows)[i]);
    return TG_OK;
}

enum tg_err holds_expire_due(struct tg_ctx *ctx, int limit, long long *n)
{
    const char *p[1] = {db_text_ll(ctx, limit)};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &expire_st, p, &r);
    if (e == TG_OK)
        *n = db_ll(r, 0, 0);
    return e;
}
