/*
 * api_keys: see api_keys.h.
 */
#include "store/api_keys.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

/* The columns of a key, in the order key_from_row reads them. */
#define KEY_COLS                                                                               \
    "k.id, k.customer_id, k.key_prefix, k.name, " SQL_TS("k.created_at") ", "                \
    SQL_TS("k.last_used_at") ", " SQL_TS("k.revoked_at")
#define KEY_NCOLS 7

static const struct db_statement api_keys_authenticate_st = {
    "api_keys_authenticate",
    "SELECT api_key_id, customer_id, key_prefix, requests, reset_seconds"
    " FROM api_key_authenticate($1, $2)",
    2};

static const struct db_statement api_keys_list_st = {
    "api_keys_list",
    "SELECT " KEY_COLS " FROM api_keys k WHERE k.customer_id = $1"
    " ORDER BY k.created_at DESC, k.id",
    1};

static const struct db_statement api_keys_create_st = {
    "api_keys_create",
    "SELECT k.outcome, " KEY_COLS " FROM api_key_create($1, $2, $3, $4, $5) k", 5};

static const struct db_statement api_keys_revoke_st = {
    "api_keys_revoke",
    "SELECT k.outcome, " KEY_COLS ", k.already_revoked"
    " FROM api_key_revoke($1, $2, $3::boolean) k",
    3};

static const struct db_statement api_keys_prune_st = {"api_keys_prune_rate_limits",
                                               "SELECT rate_limits_prune()", 0};

const struct db_statement *const api_keys_statements[] = {
    &api_keys_authenticate_st, &api_keys_list_st, &api_keys_create_st, &api_keys_revoke_st,
    &api_keys_prune_st, NULL};

static void key_from_row(const PGresult *r, int i, int col, struct api_key *k)
{
    k->id = db_str(r, i, col);
    k->customer_id = db_str(r, i, col + 1);
    k->prefix = db_str(r, i, col + 2);
    k->name = db_str(r, i, col + 3);
    k->created_at = db_str(r, i, col + 4);
    k->last_used_at = db_str(r, i, col + 5);
    k->revoked_at = db_str(r, i, col + 6);
}

enum tg_err api_keys_authenticate(struct tg_ctx *ctx, const uint8_t hash[HASH_SHA256_LEN],
                                  long limit, struct api_key_auth *out)
{
    const char *p[2] = {(const char *)hash, db_text_ll(ctx, limit)};
    const int lengths[2] = {HASH_SHA256_LEN, 0};
    const int formats[2] = {1, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &api_keys_authenticate_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return TG_ENOTFOUND;
    out->api_key_id = db_str(r, 0, 0);
    out->customer_id = db_str(r, 0, 1);
    out->key_prefix = db_str(r, 0, 2);
    out->requests = db_ll(r, 0, 3);
    out->reset_seconds = (int)db_ll(r, 0, 4);
    return TG_OK;
}

enum tg_err api_keys_list(struct tg_ctx *ctx, const char *customer_id, struct api_key **out,
                          size_t *n)
{
    const char *p[1] = {customer_id};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &api_keys_list_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++)
        key_from_row(r, (int)i, 0, &(*out)[i]);
    return TG_OK;
}

enum tg_err api_keys_create(struct tg_ctx *ctx, const char *customer_id,
                            const uint8_t hash[HASH_SHA256_LEN], const char *prefix,
                            const char *name, int max, enum api_keys_create_outcome *outcome,
                            struct api_key *out)
{
    const char *p[5] = {customer_id, (const char *)hash, prefix, name, db_text_ll(ctx, max)};
    const int lengths[5] = {0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[5] = {0, 1, 0, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &api_keys_create_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    static const char *const outcomes[] = {[API_KEYS_CREATED] = "created",
                                           [API_KEYS_NO_CUSTOMER] = "no_customer",
                                           [API_KEYS_LIMIT_REACHED] = "limit_reached"};
    int o;
    if ((e = db_outcome(ctx, r, 0, outcomes, 3, &o)) != TG_OK)
        return e;
    *outcome = (enum api_keys_create_outcome)o;
    key_from_row(r, 0, 1, out);
    return TG_OK;
}

enum tg_err api_keys_revoke(struct tg_ctx *ctx, const char *customer_id, const char *key_id,
                            bool allow_last, enum api_keys_revoke_outcome *outcome,
                            bool *already_revoked, struct api_key *out)
{
    const char *p[3] = {customer_id, key_id, allow_last ? "true" : "false"};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &api_keys_revoke_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    static const char *const outcomes[] = {[API_KEYS_REVOKED] = "revoked",
                                           [API_KEYS_NOT_FOUND] = "not_found",
                                           [API_KEYS_LAST_KEY] = "last_key"};
    int o;
    if ((e = db_outcome(ctx, r, 0, outcomes, 3, &o)) != TG_OK)
        return e;
    *outcome = (enum api_keys_revoke_outcome)o;
    key_from_row(r, 0, 1, out);
    *already_revoked = db_bool(r, 0, 1 + KEY_NCOLS);
    return TG_OK;
}

enum tg_err api_keys_prune_rate_limits(struct tg_ctx *ctx, long long *deleted)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &api_keys_prune_st, NULL, NULL, NULL, &r);
    if (e == TG_OK)
        *deleted = db_ll(r, 0, 0);
    return e;
}
