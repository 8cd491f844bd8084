/*
 * audit_log: see audit_log.h.
 */
#include "store/audit_log.h"

#include <string.h>

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

#define FETCH_ROWS "1000"
#define BATCH_ARENA 65536 /* bytes; a batch's result is allocated by libpq */

static const struct db_statement set_actor_st = {
    "audit_log_set_actor", "SELECT set_config('tollgate.actor', $1, false)", 1};

/* The walk: one snapshot, the fields as UTF-8 (the hashes were computed
 * over UTF-8), two cursors. */
static const struct db_statement begin_st = {
    "audit_log_walk_begin", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0};
static const struct db_statement utf8_st = {
    "audit_log_walk_utf8", "SELECT set_config('client_encoding', 'UTF8', true)", 0};
static const struct db_statement commit_st = {"audit_log_walk_commit", "COMMIT", 0};
static const struct db_statement rollback_st = {"audit_log_walk_rollback", "ROLLBACK", 0};

/* Every seal with each of its heads, by seal and chain. */
static const struct db_statement seals_declare_st = {
    "audit_log_walk_seals",
    "DECLARE audit_walk_seals NO SCROLL CURSOR FOR"
    " SELECT s.seq, " SQL_TS("s.sealed_at") ", s.chains, encode(s.prev_hash, 'hex'),"
    "        encode(s.hash, 'hex'), h.chain, h.chain_seq, encode(h.hash, 'hex')"
    "   FROM audit_seals s LEFT JOIN audit_seal_heads h ON h.seal = s.seq"
    "  ORDER BY s.seq, h.chain",
    0};
static const struct db_statement seals_fetch_st = {
    "audit_log_walk_seals_fetch", "FETCH " FETCH_ROWS " FROM audit_walk_seals", 0};

/* The rows, the sealed heads and the chains' heads, merged chain by chain
 * (kind 0, 1, 2: see enum audit_log_item_kind); each part is read in
 * index order and merged (Merge Append), so nothing is sorted whole. The
 * content fields are formatted as audit_content_v1() formats them. */
static const struct db_statement items_declare_st = {
    "audit_log_walk_items",
    "DECLARE audit_walk_items NO SCROLL CURSOR FOR"
    " SELECT * FROM ("
    "  SELECT a.chain, a.chain_seq AS pos, 0 AS kind, a.chain_seq, a.seq, a.format::integer,"
    "         " SQL_TS("a.occurred_at") " AS occurred_at, a.actor, a.action,"
    "         coalesce(a.customer_id::text, '') AS customer_id,"
    "         coalesce(a.before::text, 'null') AS before, coalesce(a.after::text, 'null') AS after,"
    "         encode(a.prev_hash, 'hex') AS prev_hash, encode(a.hash, 'hex') AS hash,"
    "         NULL::bigint AS seal"
    "    FROM audit_log a"
    "  UNION ALL"
    "  SELECT h.chain, h.chain_seq, 1, h.chain_seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    "         NULL, NULL, encode(h.hash, 'hex'), h.seal"
    "    FROM audit_seal_heads h"
    "  UNION ALL"
    "  SELECT c.chain, 9223372036854775807, 2, c.seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    "         NULL, NULL, encode(c.hash, 'hex'), NULL"
    "    FROM audit_chains c"
    " ) i ORDER BY i.chain, i.pos, i.kind",
    0};
static const struct db_statement items_fetch_st = {
    "audit_log_walk_items_fetch", "FETCH " FETCH_ROWS " FROM audit_walk_items", 0};

static const struct db_statement seal_st = {
    "audit_log_seal",
    "SELECT s.seq, " SQL_TS("s.sealed_at") ", s.chains, encode(s.hash, 'hex')"
    "  FROM audit_seal($1::interval) s",
    1};

/* By customer_id, not chain: a customer's rows from before the chains
 * are in the system chain. */
static const struct db_statement recent_st = {
    "audit_log_recent",
    "SELECT a.seq, " SQL_TS("a.occurred_at") ", a.actor, a.action FROM audit_log a"
    " WHERE a.customer_id = $1::uuid ORDER BY a.seq DESC LIMIT $2::integer",
    2};

const struct db_statement *const audit_log_statements[] = {
    &set_actor_st,     &begin_st,       &utf8_st,          &commit_st,
    &rollback_st,      &seals_declare_st, &seals_fetch_st, &items_declare_st,
    &items_fetch_st,   &seal_st,        &recent_st,        NULL};

enum tg_err audit_log_set_actor(struct tg_ctx *ctx, const char *actor)
{
    const char *p[1] = {actor};
    PGresult *r;
    return db_exec(ctx, &set_actor_st, p, NULL, NULL, &r);
}

/* ---- the walk ---------------------------------------------------------------- */

/* hex32: column col of row i as 32 bytes into out; false (out zeroed) when
 * it is NULL or not 64 hex digits. */
static bool hex32(const PGresult *r, int i, int col, uint8_t out[HASH_SHA256_LEN])
{
    if (hash_unhex(db_str(r, i, col), out, HASH_SHA256_LEN))
        return true;
    memset(out, 0, HASH_SHA256_LEN);
    return false;
}

static bool seal_line(const PGresult *r, int i, const struct audit_log_walker *w)
{
    struct audit_seal_line l = {
        .seal = db_ll(r, i, 0),
        .sealed_at = db_str(r, i, 1),
        .chains = db_ll(r, i, 2),
        .chain = db_str(r, i, 5),
        .chain_seq = db_ll(r, i, 6),
    };
    bool prev_ok = hex32(r, i, 3, l.prev_hash); /* both filled, always */
    l.hashes_ok = hex32(r, i, 4, l.hash) && prev_ok;
    l.head_hash_ok = hex32(r, i, 7, l.head_hash);
    if (l.sealed_at == NULL)
        l.sealed_at = "";
    return w->seal_line(w->arg, &l);
}

/* or_empty: a content field, never NULL (NOT NULL columns, unless someone
 * dropped the constraint). */
static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static bool item(const PGresult *r, int i, const struct audit_log_walker *w)
{
    struct audit_log_item it = {
        .kind = (enum audit_log_item_kind)db_ll(r, i, 2),
        .chain = or_empty(db_str(r, i, 0)),
        .chain_seq = db_ll(r, i, 3),
        .seal = db_ll(r, i, 14),
    };
    if (it.kind == AUDIT_LOG_ROW) {
        struct audit_row *a = &it.row;
        a->chain = it.chain;
        a->chain_seq = it.chain_seq;
        a->seq = db_ll(r, i, 4);
        a->format = (int)db_ll(r, i, 5);
        a->occurred_at = or_empty(db_str(r, i, 6));
        a->actor = or_empty(db_str(r, i, 7));
        a->action = or_empty(db_str(r, i, 8));
        a->customer_id = or_empty(db_str(r, i, 9));
        a->before = or_empty(db_str(r, i, 10));
        a->after = or_empty(db_str(r, i, 11));
        bool prev_ok = hex32(r, i, 12, a->prev_hash); /* both filled, always */
        a->hashes_ok = hex32(r, i, 13, a->hash) && prev_ok;
        it.hash_ok = a->hashes_ok;
        memcpy(it.hash, a->hash, HASH_SHA256_LEN);
    } else {
        it.hash_ok = hex32(r, i, 13, it.hash);
    }
    return w->item(w->arg, &it);
}

/* each_row: FETCH with fetch until no row is left, handing every row to
 * fn. Each batch's result lives in an arena of its own, freed after the
 * batch, so memory does not grow with the log. */
static enum tg_err each_row(struct tg_ctx *ctx, const struct db_statement *fetch,
                            bool (*fn)(const PGresult *, int, const struct audit_log_walker *),
                            const struct audit_log_walker *w)
{
    for (;;) {
        struct tg_ctx batch = *ctx;
        batch.arena = arena_new(BATCH_ARENA);
        if (batch.arena == NULL)
            return ctx_fail(ctx, TG_ENOMEM, NULL);
        PGresult *r;
        enum tg_err e = db_exec(&batch, fetch, NULL, NULL, NULL, &r);
        int n = e == TG_OK ? PQntuples(r) : 0;
        bool go = true;
        for (int i = 0; go && i < n; i++)
            go = fn(r, i, w);
        arena_free(batch.arena);
        if (e != TG_OK)
            return ctx_fail(ctx, e, NULL);
        if (!go)
            return ctx->error.code != TG_OK ? ctx->error.code : ctx_fail(ctx, TG_EINTERNAL, NULL);
        if (n == 0)
            return TG_OK;
    }
}

/* walk: everything of audit_log_walk inside the open transaction. */
static enum tg_err walk(struct tg_ctx *ctx, const struct audit_log_walker *w)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &utf8_st, NULL, NULL, NULL, &r);
    if (e == TG_OK)
        e = db_exec(ctx, &seals_declare_st, NULL, NULL, NULL, &r);
    if (e == TG_OK)
        e = db_exec(ctx, &items_declare_st, NULL, NULL, NULL, &r);
    if (e == TG_OK)
        e = each_row(ctx, &seals_fetch_st, seal_line, w);
    if (e == TG_OK)
        e = each_row(ctx, &items_fetch_st, item, w);
    return e;
}

enum tg_err audit_log_walk(struct tg_ctx *ctx, const struct audit_log_walker *w)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &begin_st, NULL, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    e = walk(ctx, w);
    if (e == TG_OK)
        return db_exec(ctx, &commit_st, NULL, NULL, NULL, &r);
    /* Keep the walk's failure, not the rollback's. */
    struct tg_error failed = ctx->error;
    if (db_exec(ctx, &rollback_st, NULL, NULL, NULL, &r) != TG_OK)
        ctx_log(ctx, LOG_WARN, json_pack("{s:s}", "msg", "audit walk: rollback failed"));
    ctx->error = failed;
    return e;
}

/* ---- seals ------------------------------------------------------------------- */

enum tg_err audit_log_seal(struct tg_ctx *ctx, long every_seconds, bool *sealed,
                           struct audit_seal *out)
{
    const char *p[1] = {arena_printf(ctx->arena, "%ld seconds", every_seconds)};
    if (p[0] == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    PGresult *r;
    enum tg_err e = db_exec(ctx, &seal_st, p, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    *sealed = PQntuples(r) == 1;
    if (*sealed) {
        out->seq = db_ll(r, 0, 0);
        out->sealed_at = db_str(r, 0, 1);
        out->chains = db_ll(r, 0, 2);
        out->hash = db_str(r, 0, 3);
    }
    return TG_OK;
}

/* ---- reading ------------------------------------------------------------------- */

enum tg_err audit_log_recent(struct tg_ctx *ctx, const char *customer_id, int n,
                             struct audit_entry **out, size_t *count)
{
    const char *p[2] = {customer_id, db_text_ll(ctx, n)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &recent_st, p, sizeof(**out), &r, &rows, count);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *count; i++) {
        struct audit_entry *a = &(*out)[i];
        a->seq = db_ll(r, (int)i, 0);
        a->occurred_at = db_str(r, (int)i, 1);
        a->actor = db_str(r, (int)i, 2);
        a->action = db_str(r, (int)i, 3);
    }
    return TG_OK;
}
