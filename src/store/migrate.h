/*
 * migrate: the schema, from reviewed SQL files in sql_dir (never request
 * data), for tollgatectl. Two kinds of file:
 *
 *   NNN_name.sql          numbered migrations: tables, columns, indexes and
 *                         data changes. Applied once each, in order, and
 *                         never changed after a release (the recorded
 *                         SHA-256 must match).
 *   functions/name.sql    the schema's functions, triggers and views, one
 *                         file per concept, each object defined once.
 *                         Re-applied whenever the set of files or any
 *                         file's content changes (Flyway's "repeatable
 *                         migrations", GitLab's structure file).
 *
 * A run is one transaction under a transaction-level advisory lock, so two
 * hosts migrating at once apply everything exactly once, and nobody ever
 * sees a schema half-way. When the functions must be (re)applied, every
 * function, trigger and view of the schema is dropped first and the files
 * then create them again: what exists is exactly what the files define,
 * and a name defined twice fails the run. Migrations from
 * MIGRATE_TABLES_ONLY_FROM on run on tables only (the drop comes first),
 * so they can never call, or be disturbed by, a function or trigger;
 * 001 to 005 predate this and define their own functions, which the
 * drop then replaces. A database that holds a migration sql_dir does not
 * (migrated by a newer release) is refused as a whole: this release's
 * functions would not fit its tables.
 */
#ifndef TOLLGATE_MIGRATE_H
#define TOLLGATE_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#define MIGRATE_TABLES_ONLY_FROM 6

/* migrate_run: bring the database at conninfo up to date with sql_dir (see
 * above), reporting each file applied to out. Returns 0, or 1 on any error
 * (printed to stderr, prefixed "tollgatectl: "); nothing is changed then. */
int migrate_run(const char *conninfo, const char *sql_dir, FILE *out);

/* migrate_dry_run: print to out what migrate_run would do to the database
 * at conninfo -- "would apply NNN_name.sql" for each pending migration,
 * then whether the function files would be applied again, or "nothing to
 * do" -- inside a read-only transaction, so nothing is changed. Returns
 * 0, or 1 (reported on stderr, prefixed "tollgatectl: ") where migrate_run
 * would fail before applying anything: sql_dir unreadable, no connection,
 * a migration changed after it was applied, or a database migrated by a
 * newer release. */
int migrate_dry_run(const char *conninfo, const char *sql_dir, FILE *out);

/* The database's schema against sql_dir. */
struct migrate_status {
    long applied;        /* highest migration recorded (0: none) */
    long latest;         /* highest migration file in sql_dir */
    int pending;         /* migration files not yet applied */
    bool functions_current; /* the recorded function files equal sql_dir's */
};

/* migrate_status: compare the database behind c (connected) with sql_dir.
 * Returns 0, or -1 with a one-line reason in why (of why_len bytes) when
 * sql_dir cannot be read or the database has no schema_migrations table. */
int migrate_status(PGconn *c, const char *sql_dir, struct migrate_status *out, char *why,
                   size_t why_len);

/* What tollgatectl check-config learns about the database. */
struct migrate_probe {
    bool connected;
    int server_major;             /* PostgreSQL's major version, when connected */
    bool status_ok;               /* status holds the schema's state */
    struct migrate_status status;
    char why[400];                /* not connected, or no status: libpq's or the server's
                                   * message (may span lines) */
};

/* migrate_probe: connect to conninfo, giving up after connect_timeout
 * seconds unless conninfo sets its own connect_timeout, and compare its
 * schema with sql_dir (migrate_status). Never fails: *out says what was
 * found. conninfo, which may hold a password, appears in no message. */
void migrate_probe(const char *conninfo, const char *sql_dir, int connect_timeout,
                   struct migrate_probe *out);

#endif
