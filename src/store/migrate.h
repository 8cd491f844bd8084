/*
 * migrate: schema migrations and ledger verification for tollgatectl. These
 * run reviewed SQL files from sql_dir (never request data) on a direct
 * connection; an advisory lock makes concurrent runs wait for each other.
 */
#ifndef TOLLGATE_MIGRATE_H
#define TOLLGATE_MIGRATE_H

#include <stdio.h>

/* migrate_run: apply, in order, every file NNN_name.sql of sql_dir not yet
 * in schema_migrations, each in one transaction together with its record
 * (version, name, SHA-256). A file changed after it was applied is an error.
 * Progress goes to out. Returns 0, or 1 on any error (printed to stderr). */
int migrate_run(const char *conninfo, const char *sql_dir, FILE *out);

/* migrate_latest: the highest version NNN among the migration files of
 * sql_dir (0 when there are none), or -1 when the directory cannot be
 * read. What counts as a migration file is migrate_run's rule. */
long migrate_latest(const char *sql_dir);

#endif
