/*
 * schema: what the running code asks of the schema itself: the health
 * check, and the check at start that the database is migrated far enough
 * for this release. Migrations are store/migrate.h.
 */
#ifndef TOLLGATE_STORE_SCHEMA_H
#define TOLLGATE_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "core/ctx.h"

/* SCHEMA_NEEDED: the migration this release's code needs at least -- the
 * number of the newest sql/NNN_*.sql. Raise it with every new migration:
 * t/checks/schema-needed fails make check until it equals that number. */
#define SCHEMA_NEEDED 12

/* What schema_require found. */
enum schema_state {
    SCHEMA_CURRENT, /* at SCHEMA_NEEDED, or newer (an older package rolled back to) */
    SCHEMA_BEHIND,  /* older, or never migrated: tollgatectl migrate first */
    SCHEMA_UNKNOWN, /* could not tell: PostgreSQL unreachable, or the query failed */
};

/* schema_version: the highest migration applied. TG_EDB. */
enum tg_err schema_version(struct tg_ctx *ctx, long *version) __attribute__((warn_unused_result));

/* schema_require: on a connection of its own to conninfo (closed before it
 * returns; giving up after 10 s unless conninfo sets connect_timeout),
 * compare the highest migration applied with SCHEMA_NEEDED. Not through
 * db_connect: that prepares every statement, which an old schema fails.
 * release names this build ("tollgate 0.2.0"). Fills why (why_len bytes,
 * one line, never conninfo): for SCHEMA_BEHIND "the database schema is at
 * migration 6, tollgate 0.2.0 needs 7: run tollgatectl migrate" (a
 * database without schema_migrations is at 0), for SCHEMA_UNKNOWN libpq's
 * or the server's reason; "" for SCHEMA_CURRENT. */
enum schema_state schema_require(const char *conninfo, const char *release, char *why,
                                 size_t why_len);

/* schema_allows_start: the daemons' check at start (tollgate-fcgi,
 * tollgate-worker; program names the caller in messages). False, with
 * schema_require's one line on stderr, when the schema is behind this
 * release; true when it is current or newer, and also when it could not
 * be checked (PostgreSQL unreachable: logged as a warning; the daemons
 * connect when it is back and GET /health says so meanwhile). */
bool schema_allows_start(const char *conninfo, const char *program);

#endif
