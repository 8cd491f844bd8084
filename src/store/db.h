/*
 * db: one PostgreSQL connection per process, and the statements that run
 * on it. Every statement is a named constant beside the code that decodes
 * its rows (store/<table>.c), takes parameters only, and is prepared once
 * per connection: all of them when the connection is made (so a statement
 * that no longer fits the schema fails at start, not at first use), and
 * any statement not in the registry on first use. A lost connection is
 * noticed on the failing call and re-established (and re-prepared) by the
 * next db_connect(); a statement is never retried behind the caller's
 * back, since it may have committed. db_connect and db_exec call
 * ctx_progress() when they return (tollgate-worker's watchdog).
 */
#ifndef TOLLGATE_DB_H
#define TOLLGATE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "core/ctx.h"

struct db;

/* One statement: its prepared name (unique), text and number of params. */
struct db_statement {
    const char *name;
    const char *sql;
    int nparams;
};

/* db_modules: the statements of every store module, each module's a
 * NULL-terminated array, the list NULL-terminated (store/registry.c). */
extern const struct db_statement *const *const db_modules[];

/* db_statement_find: the registered statement called name, or NULL. For
 * tools (bench/print-statement) that must run exactly what a worker runs. */
const struct db_statement *db_statement_find(const char *name);

/* db_new: a handle for conninfo (copied) whose statements PostgreSQL
 * cancels after statement_timeout_ms; does not connect. NULL when out of
 * memory. Free with db_free(). */
struct db *db_new(const char *conninfo, long statement_timeout_ms)
    __attribute__((warn_unused_result));

/* db_free: close the connection and release the handle. NULL is ok. */
void db_free(struct db *db);

/* db_connect: make sure ctx's connection is up and its statements
 * prepared; cheap when it already is. TG_EDB (logged, and recorded in
 * ctx->error) when PostgreSQL cannot be reached or a statement does not
 * prepare. */
enum tg_err db_connect(struct tg_ctx *ctx) __attribute__((warn_unused_result));

/* db_exec: run statement st on ctx's connection with params (text unless
 * formats says binary; NULL = SQL NULL; lengths and formats may be NULL for
 * all-text). On success *out is a PGRES_TUPLES_OK or PGRES_COMMAND_OK
 * result owned by ctx->arena. Errors: TG_EDB, logged with the statement
 * name, SQLSTATE and ctx's request and customer ids; if the connection was
 * lost it is marked for reconnection. */
enum tg_err db_exec(struct tg_ctx *ctx, const struct db_statement *st, const char *const *params,
                    const int *lengths, const int *formats, PGresult **out)
    __attribute__((warn_unused_result));

/* db_exec_rows: db_exec (text params) for a statement that answers rows,
 * plus the array their decoded form goes in: on TG_OK *r is the result,
 * *n its number of rows and *rows a zero-filled array of *n + 1 elements
 * of elem_size bytes (the last one a terminator), both owned by
 * ctx->arena. Errors: db_exec's, and TG_ENOMEM. */
enum tg_err db_exec_rows(struct tg_ctx *ctx, const struct db_statement *st,
                         const char *const *params, size_t elem_size, PGresult **r,
                         void **rows, size_t *n) __attribute__((warn_unused_result));

/* db_exec_one: db_exec (text params) for a statement that answers one
 * row: TG_ENOTFOUND when it answers none (or, never expected, several).
 * *r as db_exec's. */
enum tg_err db_exec_one(struct tg_ctx *ctx, const struct db_statement *st,
                        const char *const *params, PGresult **r) __attribute__((warn_unused_result));

/* db_outcome: which of the n words names[] (indexed by the caller's enum)
 * column col of r's only row is, into *out. No row, NULL or a word this
 * build does not know is TG_EINTERNAL: the SQL and the C disagree, and
 * nothing may be guessed from it. */
enum tg_err db_outcome(struct tg_ctx *ctx, const PGresult *r, int col, const char *const names[],
                       int n, int *out) __attribute__((warn_unused_result));

/* db_conn: the raw connection, for LISTEN in tollgate-worker. NULL when
 * not connected. */
PGconn *db_conn(struct db *db);

/* ---- decoding and encoding helpers --------------------------------------- */

/* db_str: column col of row i as a string borrowed from r; NULL for NULL. */
const char *db_str(const PGresult *r, int i, int col);

/* db_ll: column col of row i as an integer (0 for NULL). */
long long db_ll(const PGresult *r, int i, int col);

/* db_bool: column col of row i is boolean true. */
bool db_bool(const PGresult *r, int i, int col);

/* db_text_ll: v as decimal text in ctx's arena (a statement parameter). */
const char *db_text_ll(struct tg_ctx *ctx, long long v);

#endif
