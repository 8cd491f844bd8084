/*
 * db: one PostgreSQL connection per process, with every statement of
 * store/statements.c prepared once per connection. A lost connection is
 * noticed on the failing call and re-established (and re-prepared) by the
 * next db_connect(); a statement is never retried behind the caller's back,
 * since it may have committed.
 */
#ifndef TOLLGATE_DB_H
#define TOLLGATE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "core/arena.h"
#include "core/tgerr.h"
#include "store/statements.h"

struct db;

/* db_new: a handle for conninfo (copied) whose statements PostgreSQL
 * cancels after statement_timeout_ms; does not connect. NULL when out of
 * memory. Free with db_free(). */
struct db *db_new(const char *conninfo, long statement_timeout_ms)
    __attribute__((warn_unused_result));

/* db_free: close the connection and release the handle. NULL is ok. */
void db_free(struct db *db);

/* db_connect: make sure the connection is up and its statements prepared;
 * cheap when it already is. TG_EDB when PostgreSQL cannot be reached or a
 * statement does not prepare (the error is logged). */
enum tg_err db_connect(struct db *db) __attribute__((warn_unused_result));

/* db_exec: run prepared statement stmt with params (text, NULL = SQL NULL;
 * lengths/formats may be NULL for all-text; the statement's own count of
 * params is used, so extra trailing entries are ignored). On success *out is a
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK result owned by arena a. Errors:
 * TG_EDB (logged with the statement name and SQLSTATE); if the connection
 * was lost it is marked for reconnection. */
enum tg_err db_exec(struct db *db, struct arena *a, enum db_stmt stmt,
                    const char *const *params, const int *lengths, const int *formats,
                    PGresult **out) __attribute__((warn_unused_result));

/* db_conn: the raw connection, for tollgatectl's migrations (reviewed SQL
 * files, not request data). NULL when not connected. */
PGconn *db_conn(struct db *db);

#endif
