/*
 * db: connection and prepared statements; see db.h.
 */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

#define DB_PREPARED_MAX 256

struct db {
    char *conninfo;
    char statement_timeout[24]; /* milliseconds, as text for set_config */
    PGconn *conn;
    bool ready; /* connected and every registered statement prepared */
    const struct tg_ctx *ctx; /* the work in progress, for notices */
    const struct db_statement *prepared[DB_PREPARED_MAX];
    size_t nprepared;
};

const struct db_statement *db_statement_find(const char *name)
{
    for (const struct db_statement *const *const *m = db_modules; *m != NULL; m++)
        for (const struct db_statement *const *s = *m; *s != NULL; s++)
            if (strcmp((*s)->name, name) == 0)
                return *s;
    return NULL;
}

struct db *db_new(const char *conninfo, long statement_timeout_ms)
{
    struct db *db = calloc(1, sizeof(*db));
    if (db == NULL)
        return NULL;
    snprintf(db->statement_timeout, sizeof(db->statement_timeout), "%ld", statement_timeout_ms);
    db->conninfo = strdup(conninfo);
    if (db->conninfo == NULL) {
        free(db);
        return NULL;
    }
    return db;
}

void db_free(struct db *db)
{
    if (db == NULL)
        return;
    PQfinish(db->conn);
    free(db->conninfo);
    free(db);
}

static void drop(struct db *db)
{
    PQfinish(db->conn);
    db->conn = NULL;
    db->ready = false;
    db->nprepared = 0;
}

static void log_db(const struct db *db, enum log_level level, json_t *line)
{
    if (db->ctx != NULL)
        ctx_log(db->ctx, level, line);
    else
        log_json(level, line);
}

/* prepare: PQprepare st on db's connection and remember it. */
static bool prepare(struct db *db, const struct db_statement *st)
{
    if (db->nprepared >= DB_PREPARED_MAX) {
        log_db(db, LOG_ERROR, json_pack("{s:s, s:s}", "msg", "too many prepared statements",
                                        "statement", st->name));
        return false;
    }
    PGresult *r = PQprepare(db->conn, st->name, st->sql, st->nparams, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok)
        db->prepared[db->nprepared++] = st;
    else
        log_db(db, LOG_ERROR, json_pack("{s:s, s:s, s:s}", "msg", "prepare failed", "statement",
                                        st->name, "error", PQerrorMessage(db->conn)));
    PQclear(r);
    return ok;
}

static bool is_prepared(const struct db *db, const struct db_statement *st)
{
    for (size_t i = 0; i < db->nprepared; i++)
        if (db->prepared[i] == st)
            return true;
    return false;
}

/* session_setup: session settings -- the statement timeout, and the
 * default low-balance threshold the database's rules read
 * (sql/functions/credit_thresholds.sql; cfg NULL: theirs) -- then every
 * registered statement. */
static bool session_setup(struct db *db, const struct config *cfg)
{
    char threshold[24] = "";
    if (cfg != NULL)
        snprintf(threshold, sizeof(threshold), "%ld", cfg->low_balance_threshold);
    const char *params[2] = {db->statement_timeout, threshold};
    PGresult *t = PQexecParams(db->conn,
                               "SELECT set_config('statement_timeout', $1, false),"
                               " set_config('tollgate.low_balance_threshold', $2, false)",
                               2, NULL, params, NULL, NULL, 0);
    bool set = PQresultStatus(t) == PGRES_TUPLES_OK;
    PQclear(t);
    if (!set) {
        log_db(db, LOG_ERROR, json_pack("{s:s, s:s}", "msg", "set statement_timeout failed",
                                        "error", PQerrorMessage(db->conn)));
        return false;
    }
    for (const struct db_statement *const *const *m = db_modules; *m != NULL; m++)
        for (const struct db_statement *const *s = *m; *s != NULL; s++)
            if (!prepare(db, *s))
                return false;
    return true;
}

/* on_notice: log server messages as JSON lines (libpq would print them raw
 * on stderr); a FATAL one means the server is ending this connection. */
static void on_notice(void *arg, const PGresult *res)
{
    struct db *db = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    bool fatal = severity != NULL && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0);
    if (fatal)
        db->ready = false;
    log_db(db, fatal ? LOG_WARN : LOG_INFO,
           json_pack("{s:s, s:s, s:s}", "msg", "postgresql notice", "severity",
                     severity ? severity : "NOTICE", "notice", msg ? msg : ""));
}

static enum tg_err connect_db(struct tg_ctx *ctx, struct db *db)
{
    /* PQconsumeInput reads what the server sent while we were idle: a
     * server shutting down sends FATAL (see on_notice) and closes, so a
     * restarted server is noticed here, before a statement is sent. */
    if (db->ready && PQconsumeInput(db->conn) == 1 && !PQisBusy(db->conn) && db->ready &&
        PQstatus(db->conn) == CONNECTION_OK)
        return TG_OK; /* PQisBusy parses what PQconsumeInput read */
    drop(db);
    db->conn = PQconnectdb(db->conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        log_db(db, LOG_ERROR, json_pack("{s:s, s:s}", "msg", "database connection failed",
                                        "error", PQerrorMessage(db->conn)));
        drop(db);
        return ctx_fail(ctx, TG_EDB, "the database is unreachable; retry shortly");
    }
    PQsetNoticeReceiver(db->conn, on_notice, db);
    if (!session_setup(db, ctx->svc->cfg)) {
        drop(db);
        return ctx_fail(ctx, TG_EDB, "the database is unreachable; retry shortly");
    }
    db->ready = true;
    return TG_OK;
}

/* The context is lent to the notice receiver only for the length of a
 * call: notices arrive while libpq waits inside it. */
enum tg_err db_connect(struct tg_ctx *ctx)
{
    struct db *db = ctx->svc->db;
    db->ctx = ctx;
    enum tg_err e = connect_db(ctx, db);
    db->ctx = NULL;
    ctx_progress(ctx);
    return e;
}

static void pqclear_cb(void *p)
{
    PQclear(p);
}

static enum tg_err exec(struct tg_ctx *ctx, struct db *db, const struct db_statement *st,
                        const char *const *params, const int *lengths, const int *formats,
                        PGresult **out)
{
    if (!db->ready)
        return ctx_fail(ctx, TG_EDB, "the database is unreachable; retry shortly");
    if (!is_prepared(db, st) && !prepare(db, st))
        return ctx_fail(ctx, TG_EDB, NULL);
    PGresult *r = PQexecPrepared(db->conn, st->name, st->nparams, params, lengths, formats, 0);
    if (arena_defer(ctx->arena, pqclear_cb, r) != 0)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
        *out = r;
        return TG_OK;
    }
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    ctx_log(ctx, LOG_ERROR,
            json_pack("{s:s, s:s, s:s, s:s}", "msg", "statement failed", "statement", st->name,
                      "sqlstate", state ? state : "none", "error", PQerrorMessage(db->conn)));
    if (PQstatus(db->conn) != CONNECTION_OK)
        drop(db);
    return ctx_fail(ctx, TG_EDB, NULL);
}

enum tg_err db_exec(struct tg_ctx *ctx, const struct db_statement *st, const char *const *params,
                    const int *lengths, const int *formats, PGresult **out)
{
    struct db *db = ctx->svc->db;
    *out = NULL;
    db->ctx = ctx;
    enum tg_err e = exec(ctx, db, st, params, lengths, formats, out);
    db->ctx = NULL;
    ctx_progress(ctx); /* a statement is over, however it ended */
    return e;
}

enum tg_err db_exec_rows(struct tg_ctx *ctx, const struct db_statement *st,
                         const char *const *params, size_t elem_size, PGresult **r,
                         void **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    enum tg_err e = db_exec(ctx, st, params, NULL, NULL, r);
    if (e != TG_OK)
        return e;
    size_t count = (size_t)PQntuples(*r);
    *rows = arena_alloc(ctx->arena, (count + 1) * elem_size);
    if (*rows == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    *n = count;
    return TG_OK;
}

enum tg_err db_exec_one(struct tg_ctx *ctx, const struct db_statement *st,
                        const char *const *params, PGresult **r)
{
    enum tg_err e = db_exec(ctx, st, params, NULL, NULL, r);
    if (e == TG_OK && PQntuples(*r) != 1)
        return TG_ENOTFOUND;
    return e;
}

enum tg_err db_outcome(struct tg_ctx *ctx, const PGresult *r, int col, const char *const names[],
                       int n, int *out)
{
    const char *word = PQntuples(r) == 1 ? db_str(r, 0, col) : NULL;
    for (int i = 0; word != NULL && i < n; i++)
        if (names[i] != NULL && strcmp(names[i], word) == 0) {
            *out = i;
            return TG_OK;
        }
    return ctx_fail(ctx, TG_EINTERNAL, "unexpected outcome %s", word != NULL ? word : "(none)");
}

PGconn *db_conn(struct db *db)
{
    return db->ready ? db->conn : NULL;
}

const char *db_str(const PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? NULL : PQgetvalue(r, i, col);
}

long long db_ll(const PGresult *r, int i, int col)
{
    return PQgetisnull(r, i, col) ? 0 : strtoll(PQgetvalue(r, i, col), NULL, 10);
}

bool db_bool(const PGresult *r, int i, int col)
{
    return !PQgetisnull(r, i, col) && strcmp(PQgetvalue(r, i, col), "t") == 0;
}

const char *db_text_ll(struct tg_ctx *ctx, long long v)
{
    return arena_printf(ctx->arena, "%lld", v);
}
