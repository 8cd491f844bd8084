/*
 * migrate: see migrate.h.
 */
#include "store/migrate.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define MIGRATION_MAX_BYTES (1 << 20)
#define MIGRATE_LOCK_KEY "7414870061" /* arbitrary, constant advisory lock id */
#define FUNCTIONS_DIR "functions"

static const char create_tables[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS schema_functions ("
    " name text PRIMARY KEY, sha256 text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Every function, trigger and view of the current schema, dropped without
 * CASCADE: something else depending on one (a column default, a check)
 * fails the run instead of silently losing it. Names come from the catalog,
 * quoted with format(%I); functions of extensions are left alone. */
static const char drop_all[] =
    "DO $drop$ DECLARE r record; BEGIN"
    " FOR r IN SELECT format('%I.%I', schemaname, viewname) AS v FROM pg_views"
    "           WHERE schemaname = current_schema() LOOP"
    "   EXECUTE 'DROP VIEW ' || r.v;"
    " END LOOP;"
    " FOR r IN SELECT t.tgname, t.tgrelid::regclass AS tbl FROM pg_trigger t"
    "            JOIN pg_class c ON c.oid = t.tgrelid"
    "           WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
    " LOOP"
    "   EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, r.tbl);"
    " END LOOP;"
    " FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p"
    "           WHERE p.pronamespace = current_schema()::regnamespace"
    "             AND NOT EXISTS (SELECT 1 FROM pg_depend d"
    "                              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid"
    "                                AND d.deptype = 'e')"
    " LOOP"
    "   EXECUTE 'DROP FUNCTION ' || r.fn;"
    " END LOOP;"
    " END $drop$";

/* One SQL file: its name, text and SHA-256 (hex). */
struct sql_file {
    char name[256];
    char *sql;
    char sha256[2 * HASH_SHA256_LEN + 1];
};

struct sql_files {
    struct sql_file *v;
    int n;
};

static void files_free(struct sql_files *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->v[i].sql);
    free(f->v);
    f->v = NULL;
    f->n = 0;
}

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

/* is_function_file_name: [a-z0-9_]+.sql */
static int is_function_file_name(const struct dirent *d)
{
    const char *n = d->d_name;
    size_t len = strlen(n);
    return len > 4 && strcmp(n + len - 4, ".sql") == 0 &&
           strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") == len - 4;
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

/* load_files: every file of dir that filter accepts, in name order, with
 * text and hash. A missing directory is an empty list when optional.
 * Returns 0, or -1 with a reason in why. */
static int load_files(const char *dir, int (*filter)(const struct dirent *), bool optional,
                      struct sql_files *out, char *why, size_t why_len)
{
    struct dirent **names = NULL;
    out->v = NULL;
    out->n = 0;
    int n = scandir(dir, &names, filter, alphasort);
    if (n < 0) {
        if (optional)
            return 0;
        snprintf(why, why_len, "%s: cannot list the directory", dir);
        return -1;
    }
    int rc = 0;
    out->v = calloc(n > 0 ? (size_t)n : 1, sizeof(*out->v));
    if (out->v == NULL) {
        snprintf(why, why_len, "out of memory");
        rc = -1;
    }
    for (int i = 0; i < n; i++) {
        if (rc == 0) {
            struct sql_file *f = &out->v[out->n];
            char path[4096];
            uint8_t digest[HASH_SHA256_LEN];
            size_t len;
            snprintf(f->name, sizeof(f->name), "%s", names[i]->d_name);
            snprintf(path, sizeof(path), "%s/%s", dir, f->name);
            f->sql = read_file(path, &len);
            if (f->sql == NULL || hash_sha256(f->sql, len, digest) != 0) {
                snprintf(why, why_len, "%s: cannot read (or larger than 1 MiB)", path);
                free(f->sql);
                rc = -1;
            } else {
                hash_hex(digest, sizeof(digest), f->sha256);
                out->n++;
            }
        }
        free(names[i]);
    }
    free(names);
    if (rc != 0)
        files_free(out);
    return rc;
}

static bool ok(PGconn *c, PGresult *r, const char *what)
{
    ExecStatusType st = PQresultStatus(r);
    bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!good)
        fprintf(stderr, "tollgatectl: %s: %s", what, PQerrorMessage(c));
    return good;
}

static bool exec_ok(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    bool good = ok(c, r, what);
    PQclear(r);
    return good;
}

/* params_ok: run sql with text params; false (reported) on error. */
static bool params_ok(PGconn *c, const char *sql, int n, const char *const *p, const char *what)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    bool good = ok(c, r, what);
    PQclear(r);
    return good;
}

/* recorded: the sha256 recorded for key by query (one text param), into
 * hex; false when there is none. */
static bool recorded(PGconn *c, const char *query, const char *key, char hex[65])
{
    const char *p[1] = {key};
    PGresult *r = PQexecParams(c, query, 1, NULL, p, NULL, NULL, 0);
    bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (found)
        snprintf(hex, 65, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

/* Where one migration file stands against schema_migrations. */
enum file_state { FILE_PENDING, FILE_APPLIED, FILE_CHANGED };

/* file_state: whether m is recorded, and with its current SHA-256; a
 * changed file is reported on stderr (it must never be edited after a
 * release: add a new migration instead). */
static enum file_state file_state(PGconn *c, const char *sql_dir, const struct sql_file *m)
{
    char version[4], hex[65];
    memcpy(version, m->name, 3);
    version[3] = '\0';
    if (!recorded(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", version, hex))
        return FILE_PENDING;
    if (strcmp(hex, m->sha256) == 0)
        return FILE_APPLIED;
    fprintf(stderr, "tollgatectl: %s/%s changed after it was applied; add a new migration "
                    "instead\n", sql_dir, m->name);
    return FILE_CHANGED;
}

/* functions_changed: the recorded function files differ from files. */
static bool functions_changed(PGconn *c, const struct sql_files *files)
{
    PGresult *r = PQexec(c, "SELECT name, sha256 FROM schema_functions ORDER BY name");
    bool changed = PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != files->n;
    for (int i = 0; !changed && i < files->n; i++)
        changed = strcmp(PQgetvalue(r, i, 0), files->v[i].name) != 0 ||
                  strcmp(PQgetvalue(r, i, 1), files->v[i].sha256) != 0;
    PQclear(r);
    return changed;
}

/* apply_functions: (re)create every function file's objects and record
 * the files. The caller dropped the old objects. */
static bool apply_functions(PGconn *c, const struct sql_files *files, FILE *out)
{
    /* Bodies refer to each other in any order: check them when called. */
    if (!exec_ok(c, "SET LOCAL check_function_bodies = off", "functions") ||
        !exec_ok(c, "DELETE FROM schema_functions", "schema_functions"))
        return false;
    for (int i = 0; i < files->n; i++) {
        char what[300];
        snprintf(what, sizeof(what), FUNCTIONS_DIR "/%s", files->v[i].name);
        const char *p[2] = {files->v[i].name, files->v[i].sha256};
        if (!exec_ok(c, files->v[i].sql, what) ||
            !params_ok(c, "INSERT INTO schema_functions (name, sha256) VALUES ($1, $2)", 2, p,
                       what))
            return false;
    }
    fprintf(out, "applied %d function files\n", files->n);
    return exec_ok(c, "SET LOCAL check_function_bodies = on", "functions");
}

/* schema_known: false (with a message) when the database has a migration
 * that sql_dir does not: it was migrated by a newer release. Re-creating
 * this release's functions over that schema would break it (e.g. 007
 * drops the table the audit functions before it write to), so a rollback
 * past a migration is a restore, never a migrate (docs/audit-log.md). */
static bool schema_known(PGconn *c, const char *sql_dir, const struct sql_files *migrations)
{
    char latest[32];
    snprintf(latest, sizeof(latest), "%ld",
             migrations->n > 0 ? strtol(migrations->v[migrations->n - 1].name, NULL, 10) : 0L);
    const char *p[1] = {latest};
    PGresult *r = PQexecParams(c, "SELECT name FROM schema_migrations WHERE version > $1::int"
                                  " ORDER BY version LIMIT 1", 1, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "tollgatectl: schema_migrations: %s", PQerrorMessage(c));
    else if (!ok)
        fprintf(stderr, "tollgatectl: the database has %s, which %s does not: it was migrated "
                        "by a newer release; refusing (restore a backup to go back)\n",
                PQgetvalue(r, 0, 0), sql_dir);
    PQclear(r);
    return ok;
}

/* migrate: everything of migrate_run inside the open transaction. */
static bool migrate(PGconn *c, const char *sql_dir, const struct sql_files *migrations,
                    const struct sql_files *functions, FILE *out)
{
    const char *lock[1] = {MIGRATE_LOCK_KEY};
    if (!params_ok(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock, "lock") ||
        !exec_ok(c, create_tables, "schema_migrations"))
        return false;
    if (!schema_known(c, sql_dir, migrations))
        return false;
    bool dropped = false;
    int applied = 0;
    for (int i = 0; i < migrations->n; i++) {
        const struct sql_file *m = &migrations->v[i];
        enum file_state st = file_state(c, sql_dir, m);
        if (st == FILE_CHANGED)
            return false;
        if (st == FILE_APPLIED)
            continue;
        char version[4];
        memcpy(version, m->name, 3);
        version[3] = '\0';
        if (strtol(version, NULL, 10) >= MIGRATE_TABLES_ONLY_FROM && !dropped) {
            if (!exec_ok(c, drop_all, "dropping the functions"))
                return false;
            dropped = true;
        }
        const char *p[3] = {version, m->name, m->sha256};
        if (!exec_ok(c, m->sql, m->name) ||
            !params_ok(c, "INSERT INTO schema_migrations (version, name, sha256) "
                          "VALUES ($1, $2, $3)", 3, p, m->name))
            return false;
        fprintf(out, "applied %s\n", m->name);
        applied++;
    }
    if (dropped || applied > 0 || functions_changed(c, functions)) {
        if (!dropped && !exec_ok(c, drop_all, "dropping the functions"))
            return false;
        if (!apply_functions(c, functions, out))
            return false;
    }
    fprintf(out, "schema up to date (%d migrations, %d function files)\n", migrations->n,
            functions->n);
    return true;
}

/* load_sql_dir: the migrations and function files of sql_dir; false
 * (reported on stderr, nothing to free) when one cannot be read. */
static bool load_sql_dir(const char *sql_dir, struct sql_files *migrations,
                         struct sql_files *functions)
{
    char why[512], fdir[4096];
    snprintf(fdir, sizeof(fdir), "%s/" FUNCTIONS_DIR, sql_dir);
    if (load_files(sql_dir, is_migration_name, false, migrations, why, sizeof(why)) != 0 ||
        load_files(fdir, is_function_file_name, true, functions, why, sizeof(why)) != 0) {
        fprintf(stderr, "tollgatectl: %s\n", why);
        files_free(migrations);
        return false;
    }
    return true;
}

int migrate_run(const char *conninfo, const char *sql_dir, FILE *out)
{
    struct sql_files migrations = {0}, functions = {0};
    if (!load_sql_dir(sql_dir, &migrations, &functions))
        return 1;
    PGconn *c = PQconnectdb(conninfo);
    int rc = 1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tollgatectl: cannot connect: %s", PQerrorMessage(c));
    } else if (exec_ok(c, "SET client_min_messages = warning", "SET") &&
               exec_ok(c, "BEGIN", "BEGIN")) {
        /* Keep NOTICEs (e.g. "relation already exists, skipping") off stderr. */
        if (migrate(c, sql_dir, &migrations, &functions, out) && exec_ok(c, "COMMIT", "COMMIT"))
            rc = 0;
        else
            exec_ok(c, "ROLLBACK", "ROLLBACK");
    }
    PQfinish(c);
    files_free(&migrations);
    files_free(&functions);
    return rc;
}

/* table_exists: name is a table in the search path (to_regclass: no
 * error, which would end the read-only transaction, when it is not). */
static bool table_exists(PGconn *c, const char *name)
{
    const char *p[1] = {name};
    PGresult *r = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, p, NULL, NULL, 0);
    bool found = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                 strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return found;
}

/* plan: what migrate() would do, printed to out, inside the open
 * read-only transaction; false (reported) where migrate would refuse. */
static bool plan(PGconn *c, const char *sql_dir, const struct sql_files *migrations,
                 const struct sql_files *functions, FILE *out)
{
    bool tracked = table_exists(c, "schema_migrations");
    if (tracked && !schema_known(c, sql_dir, migrations))
        return false;
    int pending = 0;
    for (int i = 0; i < migrations->n; i++) {
        enum file_state st = tracked ? file_state(c, sql_dir, &migrations->v[i]) : FILE_PENDING;
        if (st == FILE_CHANGED)
            return false;
        if (st == FILE_PENDING) {
            fprintf(out, "would apply %s\n", migrations->v[i].name);
            pending++;
        }
    }
    bool changed = !table_exists(c, "schema_functions") || functions_changed(c, functions);
    if (pending > 0 || changed)
        fprintf(out, "would drop every function, trigger and view and apply the %d function "
                     "files again (%s)\n", functions->n,
                pending > 0 ? "migrations are pending" : "the function files changed");
    else
        fprintf(out, "nothing to do: schema up to date (%d migrations, %d function files)\n",
                migrations->n, functions->n);
    return true;
}

int migrate_dry_run(const char *conninfo, const char *sql_dir, FILE *out)
{
    struct sql_files migrations = {0}, functions = {0};
    if (!load_sql_dir(sql_dir, &migrations, &functions))
        return 1;
    PGconn *c = PQconnectdb(conninfo);
    int rc = 1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tollgatectl: cannot connect: %s", PQerrorMessage(c));
    } else if (exec_ok(c, "BEGIN TRANSACTION READ ONLY", "BEGIN")) {
        if (plan(c, sql_dir, &migrations, &functions, out))
            rc = 0;
        exec_ok(c, "ROLLBACK", "ROLLBACK");
    }
    PQfinish(c);
    files_free(&migrations);
    files_free(&functions);
    return rc;
}

int migrate_status(PGconn *c, const char *sql_dir, struct migrate_status *out, char *why,
                   size_t why_len)
{
    struct sql_files migrations = {0}, functions = {0};
    char fdir[4096];
    snprintf(fdir, sizeof(fdir), "%s/" FUNCTIONS_DIR, sql_dir);
    memset(out, 0, sizeof(*out));
    if (load_files(sql_dir, is_migration_name, false, &migrations, why, why_len) != 0 ||
        load_files(fdir, is_function_file_name, true, &functions, why, why_len) != 0) {
        files_free(&migrations);
        return -1;
    }
    int rc = -1;
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(why, why_len, "%s", msg != NULL ? msg : "cannot read schema_migrations");
        goto out;
    }
    out->applied = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    out->latest = migrations.n > 0 ? strtol(migrations.v[migrations.n - 1].name, NULL, 10) : 0;
    for (int i = 0; i < migrations.n; i++) {
        char version[4], hex[65];
        memcpy(version, migrations.v[i].name, 3);
        version[3] = '\0';
        if (!recorded(c, "SELECT sha256 FROM schema_migrations WHERE version = $1", version, hex))
            out->pending++;
    }
    out->functions_current = !functions_changed(c, &functions);
    rc = 0;
out:
    PQclear(r);
    files_free(&migrations);
    files_free(&functions);
    return rc;
}

void migrate_probe(const char *conninfo, const char *sql_dir, int connect_timeout,
                   struct migrate_probe *out)
{
    /* Keywords are applied in order: the conninfo in dbname (expanded)
     * overrides the default connect_timeout placed before it. */
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", connect_timeout);
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {timeout, conninfo, NULL};
    memset(out, 0, sizeof(*out));
    PGconn *c = PQconnectdbParams(keys, values, 1);
    out->connected = PQstatus(c) == CONNECTION_OK;
    if (!out->connected) {
        snprintf(out->why, sizeof(out->why), "%s", PQerrorMessage(c));
    } else {
        out->server_major = PQserverVersion(c) / 10000;
        out->status_ok = migrate_status(c, sql_dir, &out->status, out->why, sizeof(out->why)) == 0;
    }
    PQfinish(c);
}
