/*
 * usage_events: see usage_events.h.
 */
#include "store/usage_events.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"

static const struct db_statement record_st = {
    "usage_events_record",
    "SELECT u.outcome, u.api_key_id, u.customer_id, u.key_prefix, u.requests,"
    " u.reset_seconds, " USAGE_EVENT_COLS ", u.call_id, u.call_key, u.call_params::text"
    " FROM usage_record($1, $2, $3, $4, $5, $6::jsonb) u",
    6};

const struct db_statement *const usage_events_statements[] = {&record_st, NULL};

void usage_events_from_row(const PGresult *r, int i, int col, struct usage_event *ev)
{
    ev->id = db_ll(r, i, col);
    ev->kind = "fix_deployed";
    ev->outcome = db_str(r, i, col + 1);
    ev->balance_after = db_ll(r, i, col + 2);
    ev->ledger_entry_id = db_ll(r, i, col + 3);
    ev->fix_id = db_str(r, i, col + 4);
    ev->created_at = db_str(r, i, col + 5);
    ev->charge_id = db_ll(r, i, col + 6);
    ev->amount_cents = db_ll(r, i, col + 7);
    ev->currency = db_str(r, i, col + 8);
    ev->replayed = false;
}

static const char *const decisions[] = {
    [USAGE_CREDIT] = "credit",         [USAGE_CHARGE] = "charge",
    [USAGE_UNBILLED] = "unbilled",     [USAGE_REPLAY] = "replay",
    [USAGE_KEY_REUSED] = "key_reused", [USAGE_IN_PROGRESS] = "in_progress",
    [USAGE_NO_CREDIT] = "no_credit",   [USAGE_DELINQUENT] = "delinquent",
    [USAGE_RATE_LIMITED] = "rate_limited", [USAGE_SPEND_LIMIT] = "spend_limit",
};

enum tg_err usage_events_record(struct tg_ctx *ctx, const uint8_t key_hash[HASH_SHA256_LEN],
                                long limit, const char *idempotency_key,
                                const uint8_t request_hash[HASH_SHA256_LEN], const char *fix_id,
                                const char *metadata, struct usage_record *out)
{
    const char *p[6] = {(const char *)key_hash, db_text_ll(ctx, limit), idempotency_key,
                        (const char *)request_hash, fix_id, metadata};
    const int lengths[6] = {HASH_SHA256_LEN, 0, 0, HASH_SHA256_LEN, 0, 0};
    const int formats[6] = {1, 0, 0, 1, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &record_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    int decision;
    if ((e = db_outcome(ctx, r, 0, decisions, (int)(sizeof(decisions) / sizeof(decisions[0])),
                        &decision)) != TG_OK)
        return e;
    out->decision = (enum usage_decision)decision;
    out->key.api_key_id = db_str(r, 0, 1);
    out->key.customer_id = db_str(r, 0, 2);
    out->key.key_prefix = db_str(r, 0, 3);
    out->key.requests = db_ll(r, 0, 4);
    out->key.reset_seconds = (int)db_ll(r, 0, 5);
    usage_events_from_row(r, 0, 6, &out->event);
    if (out->decision == USAGE_CHARGE) {
        const int c = 6 + USAGE_EVENT_NCOLS;
        out->call.id = db_ll(r, 0, c);
        out->call.key = db_str(r, 0, c + 1);
        out->call.customer_id = out->key.customer_id;
        out->call.operation = "charge";
        out->call.attempts = 0;
        out->call.created_at = 0; /* just begun */
        return stripe_requests_params(ctx, db_str(r, 0, c + 2), &out->call.params);
    }
    return TG_OK;
}
