/*
 * db: connection and prepared statements; see db.h.
 */
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct db {
    char *conninfo;
    char statement_timeout[24]; /* milliseconds, as text for set_config */
    PGconn *conn;
    bool ready; /* connected and every statement prepared */
};

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
}

/* session_setup: session settings, then every statement prepared. */
static enum tg_err session_setup(struct db *db)
{
    const char *params[1] = {db->statement_timeout};
    PGresult *t = PQexecParams(db->conn, "SELECT set_config('statement_timeout', $1, false)", 1,
                               NULL, params, NULL, NULL, 0);
    bool set = PQresultStatus(t) == PGRES_TUPLES_OK;
    PQclear(t);
    if (!set) {
        log_msg(LOG_ERROR, "set statement_timeout: %s", PQerrorMessage(db->conn));
        return TG_EDB;
    }
    for (int i = 0; i < DB_STMT_COUNT; i++) {
        const struct db_statement *s = &db_statements[i];
        PGresult *r = PQprepare(db->conn, s->name, s->sql, s->nparams, NULL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            log_msg(LOG_ERROR, "prepare %s: %s", s->name, PQerrorMessage(db->conn));
        PQclear(r);
        if (!ok)
            return TG_EDB;
    }
    return TG_OK;
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
    log_msg(fatal ? LOG_WARN : LOG_INFO, "postgresql %s: %s", severity ? severity : "NOTICE",
            msg ? msg : "");
}

enum tg_err db_connect(struct db *db)
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
        log_msg(LOG_ERROR, "database connection failed: %s", PQerrorMessage(db->conn));
        drop(db);
        return TG_EDB;
    }
    PQsetNoticeReceiver(db->conn, on_notice, db);
    if (session_setup(db) != TG_OK) {
        drop(db);
        return TG_EDB;
    }
    db->ready = true;
    return TG_OK;
}

static void pqclear_cb(void *p)
{
    PQclear(p);
}

enum tg_err db_exec(struct db *db, struct arena *a, enum db_stmt stmt,
                    const char *const *params, const int *lengths, const int *formats,
                    PGresult **out)
{
    *out = NULL;
    if (!db->ready)
        return TG_EDB;
    const struct db_statement *s = &db_statements[stmt];
    PGresult *r = PQexecPrepared(db->conn, s->name, s->nparams, params, lengths, formats, 0);
    if (arena_defer(a, pqclear_cb, r) != 0)
        return TG_ENOMEM;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = r;
        return TG_OK;
    }
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    log_msg(LOG_ERROR, "statement %s failed (SQLSTATE %s): %s", s->name, state ? state : "none",
            PQerrorMessage(db->conn));
    if (PQstatus(db->conn) != CONNECTION_OK)
        drop(db);
    return TG_EDB;
}

PGconn *db_conn(struct db *db)
{
    return db->ready ? db->conn : NULL;
}
