/*
 * migrate: see migrate.h.
 */
#include "store/migrate.h"

#include <dirent.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define MIGRATION_MAX_BYTES (1 << 20)
#define MIGRATE_LOCK_KEY "7414870061" /* arbitrary, constant advisory lock id */

static const char create_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* is_migration_name: NNN_[a-z0-9_]+.sql */
static int is_migration_name(const struct dirent *d)
{
    const char *n = d->d_name;
    size_t len = strlen(n);
    if (len < 9 || strcmp(n + len - 4, ".sql") != 0 || n[3] != '_')
        return 0;
    for (int i = 0; i < 3; i++)
        if (n[i] < '0' || n[i] > '9')
            return 0;
    return strspn(n + 4, "abcdefghijklmnopqrstuvwxyz0123456789_") == len - 8;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MIGRATION_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MIGRATION_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n > MIGRATION_MAX_BYTES) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int ok(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    int good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!good)
        fprintf(stderr, "tollgatectl: %s: %s", what, PQerrorMessage(c));
    return good;
}

static int exec_ok(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    int good = ok(c, r, what);
    PQclear(r);
    return good;
}

/* apply_one: apply file name (version v) unless recorded; 0 ok, 1 error. */
static int apply_one(PGconn *c, const char *dir, const char *name, FILE *out)
{
    char path[4096], version[4], hex[2 * HASH_SHA256_LEN + 1];
    uint8_t digest[HASH_SHA256_LEN];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    memcpy(version, name, 3);
    version[3] = '\0';
    char *sql = read_file(path, &len);
    if (sql == NULL) {
        fprintf(stderr, "tollgatectl: %s: cannot read (or larger than 1 MiB)\n", path);
        return 1;
    }
    if (hash_sha256(sql, len, digest) != 0) {
        free(sql);
        return 1;
    }
    hash_hex(digest, sizeof(digest), hex);

    const char *p1[1] = {version};
    PGresult *r = PQexecParams(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", 1,
                               NULL, p1, NULL, NULL, 0);
    int rc = 1;
    if (!ok(c, r, name))
        goto out;
    if (PQntuples(r) == 1) {
        if (strcmp(PQgetvalue(r, 0, 0), hex) != 0)
            fprintf(stderr, "tollgatectl: %s changed after it was applied; add a new migration "
                            "instead\n", path);
        else
            rc = 0;
        goto out;
    }
    const char *p3[3] = {version, name, hex};
    if (exec_ok(c, "BEGIN", "BEGIN") && exec_ok(c, sql, name)) {
        PQclear(r);
        r = PQexecParams(c, "INSERT INTO schema_migrations (version, name, sha256) "
                            "VALUES ($1, $2, $3)", 3, NULL, p3, NULL, NULL, 0);
        if (ok(c, r, name) && exec_ok(c, "COMMIT", "COMMIT")) {
            fprintf(out, "applied %s\n", name);
            rc = 0;
            goto out;
        }
    }
    exec_ok(c, "ROLLBACK", "ROLLBACK");
out:
    PQclear(r);
    free(sql);
    return rc;
}

static PGconn *connect_db(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tollgatectl: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    /* Keep NOTICEs (e.g. "relation already exists, skipping") off stderr. */
    exec_ok(c, "SET client_min_messages = warning", "SET");
    return c;
}

long migrate_latest(const char *sql_dir)
{
    struct dirent **names = NULL;
    int n = scandir(sql_dir, &names, is_migration_name, alphasort);
    if (n < 0)
        return -1;
    long latest = n > 0 ? strtol(names[n - 1]->d_name, NULL, 10) : 0;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return latest;
}

int migrate_run(const char *conninfo, const char *sql_dir, FILE *out)
{
    struct dirent **names = NULL;
    int n = scandir(sql_dir, &names, is_migration_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "tollgatectl: %s: cannot list migrations\n", sql_dir);
        return 1;
    }
    PGconn *c = connect_db(conninfo);
    int rc = c == NULL;
    const char *lock[1] = {MIGRATE_LOCK_KEY};
    if (c != NULL) {
        PGresult *r = PQexecParams(c, "SELECT pg_advisory_lock($1::bigint)", 1, NULL, lock,
                                   NULL, NULL, 0);
        rc = !ok(c, r, "lock") || !exec_ok(c, create_table, "schema_migrations");
        PQclear(r);
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0)
            rc = apply_one(c, sql_dir, names[i]->d_name, out);
        free(names[i]);
    }
    free(names);
    if (rc == 0)
        fprintf(out, "schema up to date (%d migrations)\n", n);
    PQfinish(c);
    return rc;
}
