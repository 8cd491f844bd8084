/*
 * test_ops: tollgatectl's operations commands against the stack (DESIGN.md
 * section 6).
 *
 * check-config passes on the stack's development configuration (warning
 * only about its http:// emulator) without printing a secret; fails naming
 * the Stripe key with a test key in production and with a live key in
 * development; fails on a world-readable secret file and on an unknown key
 * (file:line, from config_load); reports an unreachable database and a
 * schema behind sql_dir as errors, not crashes. Commands that need the
 * database say why they cannot use it (libpq's reason, a schema to
 * migrate, a statement PostgreSQL refused).
 *
 * verify-audit passes after activity and prints the last seal's hash; it
 * names, by chain and seq, a row altered by hand (its trigger disabled),
 * a row removed from the middle (a gap and a broken link), one removed at
 * the end (the chain's head), a row inserted past the head, a head
 * rewritten, and -- against a seal -- a chain cut short with its head
 * moved back, and a sealed row rewritten with a fitting hash and head;
 * each tampering is undone exactly and the log verifies again. Audited
 * writes of one customer go through while another customer's chain is
 * locked; two first appends to one chain queue up; tollgate-worker seals
 * at most once a minute and logs each seal's hash.
 *
 * reset-staging refuses in production (nothing deleted); elsewhere it
 * deletes the customers at @example.com and @test.example.com with their
 * ledger, usage and keys, but not @example.org or @notexample.com ones,
 * and seeds the ten billing states with the balances, tiers, billing
 * statuses and subscriptions sql/005 promises; a printed key works through
 * nginx; it runs twice (the first run's keys then answer 401); the ledger
 * and the audit chain verify afterwards.
 *
 * Every new command answers --help with its usage (exit 0) and bad usage
 * with exit 2. One test at a time: the audit tampering must not overlap
 * anything else. reset-staging deletes ledger entries (of staging
 * customers), which harness.c's snapshot check would count as a change, so
 * its suite checks the ledger sums and the audit chain instead; it also
 * deletes every @example.com customer of earlier test programs, so this
 * program runs last in t/integration/run.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define OUT (128 * 1024)

static void ops_fini(void);
static void reset_init(void);
static void reset_fini(void);

TestSuite(ops, .init = it_init, .fini = ops_fini, .timeout = 180);
TestSuite(reset, .init = reset_init, .fini = reset_fini, .timeout = 180);

/* ---- helpers ------------------------------------------------------------- */

/* ctl_env: run tollgatectl args (NULL-terminated) with the stack's
 * configuration, or conf when not NULL, and the extra environment entries
 * (NULL-terminated, may be NULL); stdout and stderr into out (OUT bytes). */
static int ctl_env(char *out, const char *conf, const char *const *env_extra,
                   const char *const *args)
{
    char ctl[4096], config[4096];
    snprintf(ctl, sizeof(ctl), "%s/tollgatectl", it_env("TOLLGATE_BUILD"));
    if (conf != NULL)
        snprintf(config, sizeof(config), "TOLLGATE_CONFIG=%s", conf);
    else
        snprintf(config, sizeof(config), "TOLLGATE_CONFIG=%s/tollgate.conf",
                 it_env("TOLLGATE_TEST_DIR"));
    const char *argv[16] = {ctl};
    size_t n = 1;
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert_lt(n, 15, "too many arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    const char *env[16] = {config};
    size_t m = 1;
    for (size_t i = 0; env_extra != NULL && env_extra[i] != NULL; i++) {
        cr_assert_lt(m, 15, "too much environment");
        env[m++] = env_extra[i];
    }
    env[m] = NULL;
    return it_run(argv, env, out, OUT);
}

/* ctl: tollgatectl with the stack's configuration and up to three args. */
static int ctl(char *out, const char *a, const char *b, const char *c)
{
    const char *args[] = {a, b, c, NULL};
    return ctl_env(out, NULL, NULL, args);
}

static char *out_buf(void)
{
    char *out = malloc(OUT);
    cr_assert_not_null(out);
    return out;
}

/* db_str: the single text value the query returns ("" for NULL). */
static void db_str(PGconn *db, const char *sql, int n, const char *const *p, char *out, size_t len)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(db));
    cr_assert_eq(PQntuples(r), 1, "%s: %d rows", sql, PQntuples(r));
    snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

static void must_exec(PGconn *db, const char *sql, int n, const char *const *p)
{
    char state[6];
    it_db_exec(db, sql, n, p, state);
    cr_assert_str_eq(state, "", "%s: SQLSTATE %s: %s", sql, state, PQerrorMessage(db));
}

/* onboard_at: a customer signed up through nginx at an address of domain. */
static void onboard_at(struct it_customer *c, const char *domain)
{
    memset(c, 0, sizeof(*c));
    it_unique_email(c->email, sizeof(c->email), domain);
    json_t *req =
        json_pack("{s:s, s:s, s:s}", "email", c->email, "name", "Ops Test", "source", "direct");
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    struct it_response r;
    it_post_json("/api/v1/customers", NULL, NULL, body, &r);
    free(body);
    json_t *j = it_assert_json(&r, 201);
    snprintf(c->id, sizeof(c->id), "%s", it_jstr(it_jget(j, "customer"), "id"));
    snprintf(c->api_key, sizeof(c->api_key), "%s", it_jstr(j, "api_key"));
    json_decref(j);
    it_response_free(&r);
}

static long long customers_with_id(PGconn *db, const char *id)
{
    const char *p[1] = {id};
    return it_db_ll(db, "SELECT count(*) FROM customers WHERE id = $1", 1, p);
}

/* scratch_dir: a fresh directory in the stack's state directory. */
static void scratch_dir(char *dir, size_t len)
{
    snprintf(dir, len, "%s/ops.XXXXXX", it_env("TOLLGATE_TEST_DIR"));
    cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "cannot create %s", path);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    cr_assert_eq(chmod(path, mode), 0);
}

/* stack_conf_without: the stack's tollgate.conf without the line setting
 * key (NULL: all lines), then extra; written to path. Returns the number
 * of lines written before extra. */
static int stack_conf_without(const char *path, const char *key, const char *extra)
{
    char src[4096], line[8192];
    snprintf(src, sizeof(src), "%s/tollgate.conf", it_env("TOLLGATE_TEST_DIR"));
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    cr_assert(in != NULL && out != NULL, "cannot copy %s to %s", src, path);
    int lines = 0;
    while (fgets(line, sizeof(line), in) != NULL) {
        if (key != NULL && strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ' ')
            continue;
        fputs(line, out);
        lines++;
    }
    fputs(extra, out);
    fclose(in);
    cr_assert_eq(fclose(out), 0);
    return lines;
}

/* read_secret: the first line of the stack's secret file name. */
static void read_secret(const char *name, char *out, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", it_env("TOLLGATE_TEST_DIR"), name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    cr_assert_not_null(fgets(out, (int)len, f));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

/* verify_audit_ok: verify-audit passes (exit 0, the summary line). */
static void verify_audit_ok(void)
{
    char *out = out_buf();
    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 0, "verify-audit:\n%s", out);
    cr_assert_not_null(strstr(out, "chains intact"), "%s", out);
    free(out);
}

/* What a test tampers with, saved whole (row_to_json) until it is put
 * back: audit rows (altered or removed), a chain's head, and a row it
 * inserted. ops_fini puts them back too when the test failed halfway, so
 * the log is whole again for the tests after it. */
#define SAVED_ROWS 2
static char saved_rows[SAVED_ROWS][16384];
static char saved_head[1024];
static char inserted_seq[32];

/* save_row: keep audit row seq (its seq in the whole log). */
static void save_row(PGconn *db, const char *seq)
{
    size_t i = 0;
    while (i < SAVED_ROWS && saved_rows[i][0] != '\0')
        i++;
    cr_assert_lt(i, SAVED_ROWS, "too many saved rows");
    const char *p[1] = {seq};
    db_str(db, "SELECT row_to_json(a)::text FROM audit_log a WHERE seq = $1", 1, p, saved_rows[i],
           sizeof(saved_rows[i]));
    cr_assert_lt(strlen(saved_rows[i]), sizeof(saved_rows[i]) - 1, "row %s too long to save",
                 seq);
}

/* save_head: keep the head (audit_chains row) of chain. */
static void save_head(PGconn *db, const char *chain)
{
    const char *p[1] = {chain};
    db_str(db, "SELECT row_to_json(c)::text FROM audit_chains c WHERE chain = $1", 1, p,
           saved_head, sizeof(saved_head));
}

/* restore_exec: one step of restore_log; param is bound when not NULL. */
static bool restore_exec(PGconn *db, const char *sql, const char *param)
{
    const char *p[1] = {param};
    PGresult *r = PQexecParams(db, sql, param != NULL ? 1 : 0, NULL, param != NULL ? p : NULL,
                               NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "restoring the audit log: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return ok;
}

/* restore_log: put everything saved back exactly as it was, and remove
 * the row inserted, in one transaction. No assertions: ops_fini calls it. */
static bool restore_log(void)
{
    bool rows = saved_rows[0][0] != '\0' || inserted_seq[0] != '\0';
    if (!rows && saved_head[0] == '\0')
        return true;
    PGconn *db = PQconnectdb("");
    bool ok = PQstatus(db) == CONNECTION_OK && restore_exec(db, "BEGIN", NULL) &&
              restore_exec(db, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update", NULL);
    if (ok && inserted_seq[0] != '\0')
        ok = restore_exec(db, "DELETE FROM audit_log WHERE seq = $1::bigint", inserted_seq);
    for (size_t i = 0; ok && i < SAVED_ROWS && saved_rows[i][0] != '\0'; i++)
        ok = restore_exec(db, "DELETE FROM audit_log WHERE seq = ($1::json ->> 'seq')::bigint",
                          saved_rows[i]) &&
             restore_exec(db,
                          "INSERT INTO audit_log"
                          " SELECT * FROM json_populate_record(NULL::audit_log, $1::json)",
                          saved_rows[i]);
    if (ok && saved_head[0] != '\0')
        ok = restore_exec(db,
                          "UPDATE audit_chains c SET (seq, hash, sealed_seq) ="
                          " (SELECT r.seq, r.hash, r.sealed_seq"
                          "    FROM json_populate_record(NULL::audit_chains, $1::json) r)"
                          " WHERE c.chain = $1::json ->> 'chain'",
                          saved_head);
    ok = ok && restore_exec(db, "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update", NULL) &&
         restore_exec(db, "COMMIT", NULL);
    PQfinish(db);
    if (ok) {
        memset(saved_rows, 0, sizeof(saved_rows));
        saved_head[0] = inserted_seq[0] = '\0';
    }
    return ok;
}

/* ---- fixtures ------------------------------------------------------------- */

/* ops_fini: the audit chain is whole after every test (the tampering tests
 * undo what they did), then harness.c's ledger checks. Criterion does not
 * count assertions in a fini: abort, like harness.c. */
static void ops_fini(void)
{
    char *out = malloc(OUT);
    if (!restore_log())
        abort();
    if (out == NULL || ctl(out, "verify-audit", NULL, NULL) != 0) {
        fprintf(stderr, "audit check: verify-audit failed after this test:\n%s\n",
                out != NULL ? out : "(no memory)");
        abort();
    }
    free(out);
    it_fini();
}

static void reset_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        abort();
}

/* reset_fini: what can be checked after entries were deleted: every
 * balance is its ledger's sum (verify-ledger) and the audit chain is whole. */
static void reset_fini(void)
{
    char *out = malloc(OUT);
    if (out == NULL)
        abort();
    const char *const checks[] = {"verify-ledger", "verify-audit"};
    for (size_t i = 0; i < 2; i++)
        if (ctl(out, checks[i], NULL, NULL) != 0) {
            fprintf(stderr, "reset check: tollgatectl %s failed after this test:\n%s\n", checks[i],
                    out);
            abort();
        }
    free(out);
    curl_global_cleanup();
}

/* ---- usage ---------------------------------------------------------------- */

Test(ops, every_new_command_answers_help_and_refuses_bad_usage)
{
    const char *const names[] = {"check-config", "verify-audit", "reset-staging"};
    char *out = out_buf();
    char want[128];
    for (size_t i = 0; i < 3; i++) {
        /* --help needs no configuration at all */
        const char *args[] = {names[i], "--help", NULL};
        cr_assert_eq(ctl_env(out, "/nonexistent/tollgate.conf", NULL, args), 0, "%s --help: %s",
                     names[i], out);
        snprintf(want, sizeof(want), "usage: tollgatectl %s", names[i]);
        cr_assert_eq(strncmp(out, want, strlen(want)), 0, "%s --help: %s", names[i], out);
        cr_assert_eq(ctl(out, names[i], "-h", NULL), 0, "%s -h: %s", names[i], out);
        cr_assert_not_null(strstr(out, "usage:"), "%s -h: %s", names[i], out);
        cr_assert_eq(ctl(out, names[i], "--frobnicate", NULL), 2, "%s --frobnicate: %s", names[i],
                     out);
        cr_assert_not_null(strstr(out, "usage:"), "%s --frobnicate: %s", names[i], out);
        cr_assert_eq(ctl(out, names[i], "--json", "extra"), 2, "%s --json extra: %s", names[i],
                     out);
    }
    /* and tollgatectl --help lists them */
    cr_assert_eq(ctl(out, "--help", NULL, NULL), 0, "%s", out);
    for (size_t i = 0; i < 3; i++)
        cr_assert_not_null(strstr(out, names[i]), "tollgatectl --help lacks %s:\n%s", names[i],
                           out);
    free(out);
}

/* ---- check-config ----------------------------------------------------------- */

Test(ops, check_config_passes_on_the_stack_without_printing_secrets)
{
    char *out = out_buf();
    cr_assert_eq(ctl(out, "check-config", NULL, NULL), 0, "check-config:\n%s", out);
    cr_assert_not_null(strstr(out, "ok      database"), "%s", out);
    cr_assert_not_null(strstr(out, "ok      schema (version "), "%s", out);
    cr_assert_not_null(strstr(out, "ok      stripe_secret_key (sk_test_\u2026, test mode)"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "ok      stripe_secret_key_file"), "%s", out);
    cr_assert_not_null(strstr(out, "ok      token_signing_key_file"), "%s", out);
    /* the emulator is http:// */
    cr_assert_not_null(strstr(out, "warning stripe_api_base:"), "%s", out);
    cr_assert_not_null(strstr(out, "\n0 errors, "), "%s", out);
    const char *const files[] = {"stripe-secret-key", "stripe-webhook-secret",
                                 "github-webhook-secret", "token-signing-key"};
    char secret[600];
    for (size_t i = 0; i < 4; i++) {
        read_secret(files[i], secret, sizeof(secret));
        cr_assert_gt(strlen(secret), 16);
        cr_assert_null(strstr(out, secret), "the secret of %s is printed:\n%s", files[i], out);
        /* nor what follows a prefix such as sk_test_ */
        cr_assert_null(strstr(out, secret + 8), "part of %s is printed:\n%s", files[i], out);
    }

    cr_assert_eq(ctl(out, "check-config", "--json", NULL), 0, "%s", out);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    cr_assert(json_is_array(j), "not a JSON array (%s):\n%s", err.text, out);
    cr_assert_gt(json_array_size(j), 10);
    size_t i;
    json_t *k;
    bool database = false;
    json_array_foreach(j, i, k)
    {
        const char *status = it_jstr(k, "status");
        cr_assert(strcmp(status, "ok") == 0 || strcmp(status, "warning") == 0, "%s: %s",
                  it_jstr(k, "check"), it_jstr(k, "detail"));
        it_jstr(k, "detail");
        database = database || strcmp(it_jstr(k, "check"), "database") == 0;
    }
    cr_assert(database, "no database check:\n%s", out);
    json_decref(j);
    free(out);
}

Test(ops, check_config_refuses_a_test_key_in_production)
{
    char *out = out_buf();
    const char *env[] = {"TOLLGATE_ENVIRONMENT=production", NULL};
    const char *args[] = {"check-config", NULL};
    cr_assert_eq(ctl_env(out, NULL, env, args), 1, "%s", out);
    const char *line = strstr(out, "error   stripe_secret_key: ");
    cr_assert_not_null(line, "the key is not named:\n%s", out);
    cr_assert(strstr(line, "test key") != NULL && strstr(line, "test key") < strchr(line, '\n'),
              "the error does not say test key:\n%s", out);
    cr_assert_not_null(strstr(out, "error   stripe_api_base: "), "http:// in production:\n%s", out);
    cr_assert_null(strstr(out, "tollgate_dev_stack"), "the key is printed:\n%s", out);
    cr_assert_null(strstr(out, "\n0 errors"), "%s", out);

    /* --json says the same */
    const char *jargs[] = {"check-config", "--json", NULL};
    cr_assert_eq(ctl_env(out, NULL, env, jargs), 1, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert(json_is_array(j), "%s", out);
    size_t i;
    json_t *k;
    bool named = false;
    json_array_foreach(j, i, k) named =
        named || (strcmp(it_jstr(k, "check"), "stripe_secret_key") == 0 &&
                  strcmp(it_jstr(k, "status"), "error") == 0);
    cr_assert(named, "%s", out);
    json_decref(j);
    free(out);
}

Test(ops, check_config_refuses_a_live_key_outside_production)
{
    char dir[4096], key[4200], env_key[4300];
    scratch_dir(dir, sizeof(dir));
    snprintf(key, sizeof(key), "%s/live-key", dir);
    write_file(key, "sk_live_ABCDEFGH12345678\n", 0600);
    snprintf(env_key, sizeof(env_key), "TOLLGATE_STRIPE_SECRET_KEY_FILE=%s", key);
    char *out = out_buf();
    const char *args[] = {"check-config", NULL};
    const char *envs[][3] = {{env_key, "TOLLGATE_ENVIRONMENT=development", NULL},
                             {env_key, "TOLLGATE_ENVIRONMENT=staging", NULL}};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(ctl_env(out, NULL, envs[i], args), 1, "%s: %s", envs[i][1], out);
        const char *line = strstr(out, "error   stripe_secret_key: ");
        cr_assert_not_null(line, "%s: the key is not named:\n%s", envs[i][1], out);
        cr_assert_not_null(strstr(line, "live key"), "%s", out);
        cr_assert_null(strstr(out, "ABCDEFGH12345678"), "the key is printed:\n%s", out);
    }
    unlink(key);
    rmdir(dir);
    free(out);
}

Test(ops, check_config_refuses_a_world_readable_secret_file)
{
    char dir[4096], key[4200], conf[4200], secret[600], text[602];
    scratch_dir(dir, sizeof(dir));
    snprintf(key, sizeof(key), "%s/stripe-secret-key", dir);
    snprintf(conf, sizeof(conf), "%s/tollgate.conf", dir);
    read_secret("stripe-secret-key", secret, sizeof(secret));
    snprintf(text, sizeof(text), "%s\n", secret);
    write_file(key, text, 0644);
    char extra[4400];
    snprintf(extra, sizeof(extra), "stripe_secret_key_file = %s\n", key);
    stack_conf_without(conf, "stripe_secret_key_file", extra);
    char *out = out_buf();
    const char *args[] = {"check-config", NULL};
    cr_assert_eq(ctl_env(out, conf, NULL, args), 1, "%s", out);
    cr_assert_not_null(strstr(out, key), "the file is not named:\n%s", out);
    cr_assert_not_null(strstr(out, "chmod 600"), "%s", out);
    /* and once it is owner-only again, the same configuration passes */
    cr_assert_eq(chmod(key, 0600), 0);
    cr_assert_eq(ctl_env(out, conf, NULL, args), 0, "%s", out);
    unlink(key);
    unlink(conf);
    rmdir(dir);
    free(out);
}

Test(ops, check_config_refuses_an_unknown_key_with_file_and_line)
{
    char dir[4096], conf[4200], want[4300];
    scratch_dir(dir, sizeof(dir));
    snprintf(conf, sizeof(conf), "%s/tollgate.conf", dir);
    int lines = stack_conf_without(conf, NULL, "frobnicate = 1\n");
    char *out = out_buf();
    const char *args[] = {"check-config", NULL};
    cr_assert_eq(ctl_env(out, conf, NULL, args), 1, "%s", out);
    snprintf(want, sizeof(want), "%s:%d: unknown key \"frobnicate\"", conf, lines + 1);
    cr_assert_not_null(strstr(out, want), "want \"%s\":\n%s", want, out);
    unlink(conf);
    rmdir(dir);
    free(out);
}

Test(ops, check_config_reports_database_problems)
{
    char *out = out_buf();
    const char *args[] = {"check-config", NULL};
    /* nothing listens there: an error line, not a crash or a hang */
    const char *down[] = {"TOLLGATE_DATABASE=host=/nonexistent/socket-dir port=5 dbname=x", NULL};
    cr_assert_eq(ctl_env(out, NULL, down, args), 1, "%s", out);
    cr_assert_not_null(strstr(out, "error   database: cannot connect"), "%s", out);
    cr_assert_not_null(strstr(out, "\n1 error, "), "not one error:\n%s", out);

    /* a migration the database does not have yet */
    char dir[4096], later[4200], env_dir[4300];
    scratch_dir(dir, sizeof(dir));
    snprintf(later, sizeof(later), "%s/999_later.sql", dir);
    write_file(later, "SELECT 1;\n", 0644);
    snprintf(env_dir, sizeof(env_dir), "TOLLGATE_SQL_DIR=%s", dir);
    const char *behind[] = {env_dir, NULL};
    cr_assert_eq(ctl_env(out, NULL, behind, args), 1, "%s", out);
    const char *line = strstr(out, "error   schema: ");
    cr_assert_not_null(line, "%s", out);
    cr_assert_not_null(strstr(line, "run tollgatectl migrate"), "%s", out);
    cr_assert_not_null(strstr(out, "ok      database"), "%s", out);
    unlink(later);
    rmdir(dir);
    free(out);
}

/* A command that needs the database says why it cannot use it, in a line
 * of its own after the JSON log line: libpq's reason when nothing listens,
 * "run tollgatectl migrate" when the schema is not there; a statement
 * PostgreSQL cancelled is a database error whose message is in the log
 * line, not "Database unavailable". */
Test(ops, commands_say_why_the_database_failed)
{
    char *out = out_buf();
    const char *list[] = {"flags", "list", NULL};
    const char *down[] = {"TOLLGATE_DATABASE=host=/nonexistent/socket-dir port=5 dbname=x", NULL};
    cr_assert_eq(ctl_env(out, NULL, down, list), 1, "%s", out);
    const char *line = strstr(out, "tollgatectl: database: cannot connect: ");
    cr_assert_not_null(line, "%s", out);
    cr_assert(strstr(line, "/nonexistent/socket-dir") != NULL && strstr(line, "failed: ") != NULL,
              "libpq's reason is not on the line:\n%s", out);

    /* connected, but where no table is: every statement fails to prepare */
    char conninfo[4096];
    snprintf(conninfo, sizeof(conninfo),
             "TOLLGATE_DATABASE=host=%s port=%s user=tollgate dbname=tollgate "
             "options='-csearch_path=no_such_schema'",
             it_env("PGHOST"), it_env("PGPORT"));
    const char *empty[] = {conninfo, NULL};
    cr_assert_eq(ctl_env(out, NULL, empty, list), 1, "%s", out);
    line = strstr(out, "tollgatectl: schema: ");
    cr_assert_not_null(line, "%s", out);
    cr_assert_not_null(strstr(line, "run tollgatectl migrate"), "%s", out);

    /* a statement cancelled while it waits for a row another session holds */
    PGconn *db = it_db();
    char st[6];
    it_db_exec(db, "BEGIN", 0, NULL, st);
    cr_assert_str_eq(st, "");
    it_db_exec(db, "SELECT 1 FROM feature_flags WHERE name = 'billing_enabled' FOR UPDATE", 0,
               NULL, st);
    cr_assert_str_eq(st, "");
    const char *set[] = {"flags", "set", "billing_enabled", "on", NULL};
    const char *impatient[] = {"TOLLGATE_STATEMENT_TIMEOUT_MS=300", NULL};
    int rc = ctl_env(out, NULL, impatient, set);
    it_db_exec(db, "ROLLBACK", 0, NULL, st);
    PQfinish(db);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert_not_null(strstr(out, "statement timeout"), "no log line with the reason:\n%s", out);
    cr_assert_not_null(strstr(out, "tollgatectl: database error; PostgreSQL's message is in the "
                                   "log line above"),
                       "%s", out);
    cr_assert_null(strstr(out, "Database unavailable"), "%s", out);
    free(out);
}

/* ---- verify-audit ------------------------------------------------------------- */

/* pause_ms: sleep ms milliseconds. */
static void pause_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

/* tamper: run sql (with params) with the audit log's append-only trigger
 * disabled, in one transaction. */
static void tamper(PGconn *db, const char *sql, int n, const char *const *p)
{
    must_exec(db, "BEGIN", 0, NULL);
    must_exec(db, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update", 0, NULL);
    must_exec(db, sql, n, p);
    must_exec(db, "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update", 0, NULL);
    must_exec(db, "COMMIT", 0, NULL);
}

/* row_of: the seq (in the whole log) of row n of customer c's chain. */
static void row_of(PGconn *db, const struct it_customer *c, int n, char seq[32])
{
    char place[16];
    snprintf(place, sizeof(place), "%d", n);
    const char *p[2] = {c->id, place};
    db_str(db, "SELECT seq::text FROM audit_log WHERE chain = $1 AND chain_seq = $2::bigint", 2, p,
           seq, 32);
}

/* seal_chain: make sure a seal records the head of c's chain (tollgate-worker
 * may have sealed it already, or be sealing right now: then try again);
 * returns that seal's number. */
static long long seal_chain(PGconn *db, const struct it_customer *c)
{
    const char *p[1] = {c->id};
    for (int i = 0; i < 100; i++) {
        if (it_db_ll(db, "SELECT count(*) FROM audit_chains WHERE chain = $1 AND seq = sealed_seq",
                     1, p) == 1)
            return it_db_ll(db,
                            "SELECT max(h.seal) FROM audit_seal_heads h JOIN audit_chains c"
                            "    ON c.chain = h.chain AND c.seq = h.chain_seq WHERE h.chain = $1",
                            1, p);
        PQclear(PQexec(db, "SELECT * FROM audit_seal('0 seconds')"));
        pause_ms(50);
    }
    cr_assert_fail("the chain of %s is never sealed", c->id);
    return 0;
}

/* expect_line: verify-audit's output out holds "chain <c> seq <n>: what". */
static void expect_line(const char *out, const struct it_customer *c, int n, const char *what)
{
    char line[512];
    snprintf(line, sizeof(line), "chain %s seq %d: %s\n", c->id, n, what);
    cr_assert_not_null(strstr(out, line), "want \"%s\":\n%s", line, out);
}

Test(ops, verify_audit_names_an_altered_row)
{
    struct it_customer a, b;
    onboard(&a);
    onboard(&b); /* a's rows are not the last ones */
    PGconn *db = it_db();
    char *out = out_buf(), seq[32], hash[160], want[256];
    seal_chain(db, &a);

    /* Intact: the summary ends with the last seal and its hash. */
    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 0, "%s", out);
    db_str(db, "SELECT seq || ' at ' || to_char(sealed_at AT TIME ZONE 'UTC',"
               " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ': ' || encode(hash, 'hex')"
               "  FROM audit_seals ORDER BY seq DESC LIMIT 1",
           0, NULL, hash, sizeof(hash));
    snprintf(want, sizeof(want), "chains intact, last seal %s\n", hash);
    cr_assert_not_null(strstr(out, want), "want \"%s\":\n%s", want, out);

    row_of(db, &a, 1, seq);
    const char *p[1] = {seq};
    save_row(db, seq);
    tamper(db, "UPDATE audit_log SET after = '{\"x\": 1}' WHERE seq = $1", 1, p);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "an altered row passed:\n%s", out);
    expect_line(out, &a, 1, "content does not match its hash (row altered)");
    cr_assert_not_null(strstr(out, "1 problem:"), "only that row is broken:\n%s", out);

    cr_assert_eq(ctl(out, "verify-audit", "--json", NULL), 1, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    cr_assert(json_is_false(it_jget(j, "intact")), "%s", out);
    json_t *problems = it_jget(j, "problems");
    cr_assert_eq(json_array_size(problems), 1, "%s", out);
    json_t *pr = json_array_get(problems, 0);
    cr_assert_str_eq(it_jstr(pr, "chain"), a.id);
    cr_assert_eq(it_jint(pr, "seq"), 1);
    cr_assert_eq(it_jint(pr, "log_seq"), strtoll(seq, NULL, 10));
    json_decref(j);

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_a_row_removed_from_the_middle)
{
    struct it_customer a, b;
    onboard(&a); /* customer.created, api_key.created, credits.trial_signup */
    onboard(&b);
    PGconn *db = it_db();
    char *out = out_buf(), seq[32];
    verify_audit_ok();
    row_of(db, &a, 2, seq);
    const char *p[1] = {seq};
    save_row(db, seq);
    tamper(db, "DELETE FROM audit_log WHERE seq = $1", 1, p);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "a removed row passed:\n%s", out);
    expect_line(out, &a, 3, "seq gap: 2..2 missing");
    expect_line(out, &a, 3, "prev_hash does not link to seq 1 (row removed or inserted)");
    cr_assert_null(strstr(out, "row altered"), "no row was altered:\n%s", out);
    cr_assert_null(strstr(out, b.id), "b's chain is whole:\n%s", out);

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_rows_removed_at_the_end)
{
    struct it_customer a;
    onboard(&a);
    PGconn *db = it_db();
    char *out = out_buf(), seq[32];
    verify_audit_ok();
    row_of(db, &a, 3, seq);
    const char *p[1] = {seq};
    save_row(db, seq);
    tamper(db, "DELETE FROM audit_log WHERE seq = $1", 1, p);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "a removed last row passed:\n%s", out);
    expect_line(out, &a, 3,
                "missing: the chain's head is at seq 3 but its last row is seq 2 (rows removed "
                "at the end)");

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_a_chain_cut_short_after_a_seal)
{
    struct it_customer a;
    onboard(&a);
    PGconn *db = it_db();
    char *out = out_buf(), seq[32], prev[32], line[160];
    long long seal = seal_chain(db, &a);
    verify_audit_ok();

    /* Row 3 removed and the head moved back to row 2: the chain alone is
     * consistent again, only the seal remembers row 3. */
    row_of(db, &a, 3, seq);
    row_of(db, &a, 2, prev);
    save_row(db, seq);
    save_head(db, a.id);
    const char *p[1] = {seq};
    tamper(db, "DELETE FROM audit_log WHERE seq = $1", 1, p);
    const char *ph[2] = {a.id, prev};
    must_exec(db,
              "UPDATE audit_chains SET seq = 2, sealed_seq = 2,"
              " hash = (SELECT hash FROM audit_log WHERE seq = $2::bigint) WHERE chain = $1",
              2, ph);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "a chain cut short passed:\n%s", out);
    snprintf(line, sizeof(line), "sealed by seal %lld, but missing: the chain was cut short, or "
                                 "the row removed", seal);
    expect_line(out, &a, 3, line);
    cr_assert_not_null(strstr(out, "1 problem:"), "only the seal sees it:\n%s", out);

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_a_rewritten_head)
{
    struct it_customer a;
    onboard(&a);
    PGconn *db = it_db();
    char *out = out_buf();
    verify_audit_ok();
    save_head(db, a.id);
    const char *p[1] = {a.id};
    must_exec(db, "UPDATE audit_chains SET hash = sha256('forged') WHERE chain = $1", 1, p);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "a rewritten head passed:\n%s", out);
    expect_line(out, &a, 3, "the chain's head does not match this row's hash (head rewritten)");

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_a_sealed_row_rewritten_with_its_head)
{
    struct it_customer a;
    onboard(&a);
    PGconn *db = it_db();
    char *out = out_buf(), seq[32], line[160];
    long long seal = seal_chain(db, &a);

    /* Row 3 rewritten with a hash that fits and the head moved along: a
     * consistent chain, which only the seal contradicts. */
    row_of(db, &a, 3, seq);
    save_row(db, seq);
    save_head(db, a.id);
    const char *p[1] = {seq};
    tamper(db, "UPDATE audit_log SET after = '{\"credit_balance\": 500}' WHERE seq = $1", 1, p);
    tamper(db,
           "UPDATE audit_log a SET hash = sha256(a.prev_hash ||"
           " convert_to(audit_row_content(a), 'UTF8')) WHERE a.seq = $1",
           1, p);
    must_exec(db,
              "UPDATE audit_chains c SET hash = a.hash FROM audit_log a"
              " WHERE a.seq = $1::bigint AND c.chain = a.chain",
              1, p);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "a rewritten sealed row passed:\n%s",
                 out);
    snprintf(line, sizeof(line),
             "hash differs from what seal %lld recorded (row rewritten after it was sealed)",
             seal);
    expect_line(out, &a, 3, line);
    cr_assert_not_null(strstr(out, "1 problem:"), "only the seal sees it:\n%s", out);

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

Test(ops, verify_audit_finds_an_inserted_row)
{
    struct it_customer a;
    onboard(&a);
    PGconn *db = it_db();
    char *out = out_buf(), seq[32];
    verify_audit_ok();
    /* A row with a hash that fits appended to a's chain, its head left. */
    row_of(db, &a, 3, seq);
    const char *p[1] = {seq};
    db_str(db,
           "INSERT INTO audit_log (seq, occurred_at, actor, action, customer_id, before, after,"
           "                       prev_hash, hash, chain, chain_seq, format)"
           " SELECT nextval('audit_log_seq'), clock_timestamp(), 'db:forger', 'credits.adjustment',"
           "        customer_id, NULL, '{\"amount\": 100}', hash, hash, chain, chain_seq + 1, 2"
           "   FROM audit_log WHERE seq = $1 RETURNING seq::text",
           1, p, inserted_seq, sizeof(inserted_seq));
    const char *pi[1] = {inserted_seq};
    tamper(db,
           "UPDATE audit_log a SET hash = sha256(a.prev_hash ||"
           " convert_to(audit_row_content(a), 'UTF8')) WHERE a.seq = $1",
           1, pi);

    cr_assert_eq(ctl(out, "verify-audit", NULL, NULL), 1, "an inserted row passed:\n%s", out);
    expect_line(out, &a, 4,
                "past the chain's head at seq 3, like every row up to seq 4 (rows inserted, or "
                "the head moved back)");
    cr_assert_not_null(strstr(out, "1 problem:"), "%s", out);

    cr_assert(restore_log());
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

/* ---- the chains do not wait for each other ------------------------------------- */

Test(ops, audited_writes_of_two_customers_do_not_wait_for_each_other)
{
    struct it_customer a, b;
    onboard(&a);
    char *out = out_buf();
    /* Hold a's chain, as a long audited write for a would. */
    PGconn *holder = it_db();
    const char *pa[1] = {a.id};
    must_exec(holder, "BEGIN", 0, NULL);
    must_exec(holder, "SELECT 1 FROM audit_chains WHERE chain = $1 FOR UPDATE", 1, pa);

    /* Audited writes for other customers go through: a signup (three
     * rows on b's new chain) and an operator's credit grant. */
    onboard(&b);
    const char *grant[] = {"credits", "grant", b.id, "2", "--reason", "chains apart", NULL};
    cr_assert_eq(ctl_env(out, NULL, NULL, grant), 0, "%s", out);
    /* While one for a waits: it gives up after lock_timeout. */
    PGconn *other = it_db();
    must_exec(other, "SET lock_timeout = '300ms'", 0, NULL);
    char state[6];
    it_db_exec(other, "SELECT credits_adjust($1::uuid, 1, 'waits for a''s chain')", 1, pa, state);
    cr_assert_str_eq(state, "55P03", "an audited write for a did not wait for a's chain");
    must_exec(holder, "ROLLBACK", 0, NULL);
    PQfinish(other);
    PQfinish(holder);

    const char *pb[1] = {b.id};
    PGconn *db = it_db();
    cr_assert_eq(it_db_ll(db, "SELECT seq FROM audit_chains WHERE chain = $1", 1, pb), 4,
                 "b's chain: created, key, trial credits, grant");
    PQfinish(db);
    verify_audit_ok();
    free(out);
}

Test(ops, two_first_appends_to_one_chain_both_land_in_order)
{
    /* Two transactions append the first rows of one new chain at once:
     * the second waits for the first's head, then chains on to it. */
    char *out = out_buf(), chain[64];
    PGconn *first = it_db(), *second = it_db();
    db_str(first, "SELECT gen_random_uuid()::text", 0, NULL, chain, sizeof(chain));
    const char *p[1] = {chain};
    must_exec(first, "BEGIN", 0, NULL);
    must_exec(first, "SELECT audit_append('test.first', $1::uuid, NULL, NULL)", 1, p);
    cr_assert_eq(PQsendQueryParams(second, "SELECT audit_append('test.second', $1::uuid, NULL, NULL)",
                                   1, NULL, p, NULL, NULL, 0),
                 1);
    pause_ms(300);
    cr_assert_eq(PQconsumeInput(second), 1);
    cr_assert_eq(PQisBusy(second), 1, "the second append did not wait for the first");
    must_exec(first, "COMMIT", 0, NULL);
    PGresult *r;
    while ((r = PQgetResult(second)) != NULL) {
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(second));
        PQclear(r);
    }
    cr_assert_eq(it_db_ll(first,
                          "SELECT count(*) FROM audit_log WHERE chain = $1"
                          "   AND chain_seq = CASE action WHEN 'test.first' THEN 1 ELSE 2 END",
                          1, p),
                 2);
    PQfinish(first);
    PQfinish(second);
    verify_audit_ok();
    free(out);
}

/* ---- seals --------------------------------------------------------------------- */

/* worker_seal: the last "audit log sealed" line of tollgate-worker's log:
 * its seal and hash; false when there is none. */
static bool worker_seal(long long *seal, char hash[80])
{
    char path[4096], line[4096];
    snprintf(path, sizeof(path), "%s/tollgate-worker.log", it_env("TOLLGATE_TEST_DIR"));
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    bool found = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        const char *msg = json_string_value(json_object_get(j, "msg"));
        if (msg != NULL && strcmp(msg, "audit log sealed") == 0) {
            *seal = json_integer_value(json_object_get(j, "seal"));
            snprintf(hash, 80, "%s", json_string_value(json_object_get(j, "hash")));
            found = true;
        }
        json_decref(j);
    }
    fclose(f);
    return found;
}

Test(ops, the_worker_seals_at_most_once_a_minute_and_logs_the_hash)
{
    struct it_customer a;
    onboard(&a); /* something to seal */
    long long seal = 0;
    char hash[80], got[80], n[32];
    /* The worker looks every 10 s and seals 60 s after the last seal. */
    for (int i = 0; i < 160 && !worker_seal(&seal, hash); i++)
        pause_ms(500);
    cr_assert_gt(seal, 0, "tollgate-worker logged no seal");
    PGconn *db = it_db();
    snprintf(n, sizeof(n), "%lld", seal);
    const char *p[1] = {n};
    db_str(db, "SELECT encode(hash, 'hex') FROM audit_seals WHERE seq = $1::bigint", 1, p, got,
           sizeof(got));
    cr_assert_str_eq(got, hash, "the logged hash is not the seal's");
    cr_assert_eq(it_db_ll(db,
                          "SELECT count(*) FROM audit_seals s JOIN audit_seals b"
                          "    ON b.seq = s.seq - 1"
                          " WHERE s.seq = $1::bigint AND s.sealed_at - b.sealed_at < interval '60 s'",
                          1, p),
                 0, "seal %lld came less than a minute after the one before", seal);
    PQfinish(db);
    verify_audit_ok();
}

/* ---- reset-staging ------------------------------------------------------------ */

Test(ops, reset_staging_refuses_in_production)
{
    struct it_customer c;
    onboard(&c); /* at @example.com: what a reset would delete */
    PGconn *db = it_db();
    long long resets =
        it_db_ll(db, "SELECT count(*) FROM audit_log WHERE action = 'staging.reset'", 0, NULL);
    char *out = out_buf();
    const char *env[] = {"TOLLGATE_ENVIRONMENT=production", NULL};
    const char *args[] = {"reset-staging", NULL};
    cr_assert_eq(ctl_env(out, NULL, env, args), 1, "%s", out);
    cr_assert_not_null(strstr(out, "tollgatectl: refusing to reset a production database "
                                   "(environment = production)"),
                       "%s", out);
    cr_assert_eq(customers_with_id(db, c.id), 1, "the customer was deleted");
    cr_assert_eq(
        it_db_ll(db, "SELECT count(*) FROM audit_log WHERE action = 'staging.reset'", 0, NULL),
        resets, "a reset was recorded");
    /* --json is refused just the same */
    const char *jargs[] = {"reset-staging", "--json", NULL};
    cr_assert_eq(ctl_env(out, NULL, env, jargs), 1, "%s", out);
    cr_assert_eq(customers_with_id(db, c.id), 1, "the customer was deleted");
    PQfinish(db);
    free(out);
}

/* The states in seeding order, with what sql/005 makes of them. */
static const struct {
    const char *state, *email, *tier, *billing_status, *subscription;
    long long balance;
} seeded[] = {
    {"trial", "trial@test.example.com", "trial", "none", NULL, 5},
    {"trial_with_billing", "trial-with-billing@test.example.com", "payg", "active", NULL, 10},
    {"trial_exhausted", "trial-exhausted@test.example.com", "trial", "none", NULL, 0},
    {"payg", "payg@test.example.com", "payg", "active", NULL, 0},
    {"pro", "pro@test.example.com", "pro", "active", "active", 60},
    {"pro_partly_used", "pro-partly-used@test.example.com", "pro", "active", "active", 37},
    {"pro_past_due", "pro-past-due@test.example.com", "pro", "past_due", "past_due", 12},
    {"pro_cancelled", "pro-cancelled@test.example.com", "payg", "active", "canceled", 20},
    {"pro_cancel_scheduled", "pro-cancel-scheduled@test.example.com", "pro", "active", "active",
     60},
    {"pro_rolled_over", "pro-rolled-over@test.example.com", "pro", "active", "active", 101},
};
#define NSEEDED (sizeof(seeded) / sizeof(seeded[0]))

/* check_seeded: the database holds exactly the ten seeded customers among
 * the staging addresses, each in its state. */
static void check_seeded(PGconn *db)
{
    cr_assert_eq(it_db_ll(db, "SELECT count(*) FROM customers WHERE staging_email(email)", 0, NULL),
                 (long long)NSEEDED, "not exactly the seeded customers are left");
    for (size_t i = 0; i < NSEEDED; i++) {
        const char *p[1] = {seeded[i].email};
        char got[256], want[256];
        db_str(db,
               "SELECT tier || '/' || billing_status || '/' || credit_balance"
               "  FROM customers WHERE email = $1",
               1, p, got, sizeof(got));
        snprintf(want, sizeof(want), "%s/%s/%lld", seeded[i].tier, seeded[i].billing_status,
                 seeded[i].balance);
        cr_expect_str_eq(got, want, "%s: tier/billing_status/balance", seeded[i].state);
        db_str(db,
               "SELECT coalesce(string_agg(s.status, ','), '') FROM subscriptions s"
               "  JOIN customers c ON c.id = s.customer_id WHERE c.email = $1",
               1, p, got, sizeof(got));
        cr_expect_str_eq(got, seeded[i].subscription != NULL ? seeded[i].subscription : "",
                         "%s: subscriptions", seeded[i].state);
    }
    const char *past_due[1] = {"pro-past-due@test.example.com"};
    cr_expect_eq(it_db_ll(db,
                          "SELECT count(*) FROM customers WHERE email = $1"
                          "   AND grace_period_ends_at > now() + interval '6 days'"
                          "   AND grace_period_ends_at < now() + interval '8 days'",
                          1, past_due),
                 1, "pro_past_due: grace period of grace_period_days (7) from now");
    const char *scheduled[1] = {"pro-cancel-scheduled@test.example.com"};
    cr_expect_eq(it_db_ll(db,
                          "SELECT count(*) FROM subscriptions s JOIN customers c"
                          "    ON c.id = s.customer_id"
                          " WHERE c.email = $1 AND s.cancel_at_period_end",
                          1, scheduled),
                 1, "pro_cancel_scheduled: cancel_at_period_end");
    const char *price[1] = {"pro@test.example.com"};
    cr_expect_eq(
        it_db_ll(db,
                 "SELECT count(*) FROM subscriptions s JOIN customers c"
                 "    ON c.id = s.customer_id"
                 " WHERE c.email = $1 AND s.stripe_price_id = 'price_tollgate_pro_monthly'",
                 1, price),
        1, "pro: the configured price");
}

/* key_of: the API key printed on email's line of reset-staging's table. */
static void key_of(const char *out, const char *email, char *key, size_t len)
{
    const char *line = strstr(out, email);
    cr_assert_not_null(line, "%s is not listed:\n%s", email, out);
    const char *k = strstr(line, "tg_test_");
    const char *eol = strchr(line, '\n');
    cr_assert(k != NULL && (eol == NULL || k < eol), "no API key on the line of %s:\n%s", email,
              out);
    size_t n = strspn(k + 8, "0123456789abcdef");
    cr_assert_eq(n, 64, "malformed key for %s", email);
    snprintf(key, len, "%.*s", 72, k);
}

static void assert_me(const char *key, const char *email, long status)
{
    struct it_response r;
    it_get("/api/v1/customers/me", key, &r);
    if (status == 200) {
        json_t *j = it_assert_json(&r, 200);
        cr_assert_str_eq(it_jstr(j, "email"), email);
        json_decref(j);
    } else {
        cr_assert_eq(r.status, status, "GET /api/v1/customers/me: %ld %s", r.status, r.body);
    }
    it_response_free(&r);
}

Test(reset, reset_staging_deletes_staging_customers_and_seeds_every_state)
{
    /* Staging customers with history, and two that only look alike. */
    struct it_customer com, test, org, notexample;
    onboard(&com);
    onboard_at(&test, "test.example.com");
    onboard_at(&org, "example.org");
    onboard_at(&notexample, "notexample.com");
    struct it_response r;
    it_post_usage(&com, "ops-reset-1", "fix-ops-1", &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    it_response_free(&r);

    char *out = out_buf();
    cr_assert_eq(ctl(out, "reset-staging", NULL, NULL), 0, "reset-staging:\n%s", out);
    PGconn *db = it_db();
    cr_assert_eq(customers_with_id(db, com.id), 0, "the @example.com customer is left");
    cr_assert_eq(customers_with_id(db, test.id), 0, "the @test.example.com customer is left");
    cr_assert_eq(customers_with_id(db, org.id), 1, "the @example.org customer was deleted");
    cr_assert_eq(customers_with_id(db, notexample.id), 1,
                 "the @notexample.com customer was deleted");
    const char *pc[1] = {com.id};
    cr_assert_eq(it_db_ll(db,
                          "SELECT (SELECT count(*) FROM credit_transactions WHERE customer_id = $1)"
                          "     + (SELECT count(*) FROM usage_events WHERE customer_id = $1)"
                          "     + (SELECT count(*) FROM api_keys WHERE customer_id = $1)",
                          1, pc),
                 0, "what belonged to the deleted customer is left");
    cr_assert_not_null(strstr(out, "deleted:"), "%s", out);
    check_seeded(db);

    /* The keys printed work (and say which environment they are for). */
    char keys[NSEEDED][80];
    for (size_t i = 0; i < NSEEDED; i++)
        key_of(out, seeded[i].email, keys[i], sizeof(keys[i]));
    assert_me(keys[4], "pro@test.example.com", 200);
    assert_me(keys[0], "trial@test.example.com", 200);
    /* The customers that were kept still work. */
    assert_me(org.api_key, org.email, 200);
    assert_me(com.api_key, com.email, 401);

    /* Again, as JSON: the same states, fresh keys; the first run's keys die
     * with their customers. */
    cr_assert_eq(ctl(out, "reset-staging", "--json", NULL), 0, "second reset:\n%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "not JSON:\n%s", out);
    cr_assert_eq(it_jint(it_jget(j, "deleted"), "customers"), (long long)NSEEDED, "%s", out);
    json_t *customers = it_jget(j, "customers");
    cr_assert_eq(json_array_size(customers), NSEEDED, "%s", out);
    for (size_t i = 0; i < NSEEDED; i++) {
        json_t *c = json_array_get(customers, i);
        cr_assert_str_eq(it_jstr(c, "state"), seeded[i].state);
        cr_assert_str_eq(it_jstr(c, "email"), seeded[i].email);
        cr_assert_str_eq(it_jstr(c, "tier"), seeded[i].tier);
        cr_assert_str_eq(it_jstr(c, "billing_status"), seeded[i].billing_status);
        cr_assert_eq(it_jint(c, "balance"), seeded[i].balance, "%s", seeded[i].state);
        cr_assert_str_neq(it_jstr(c, "api_key"), keys[i], "%s: the same key twice",
                          seeded[i].state);
    }
    char pro_key[80];
    snprintf(pro_key, sizeof(pro_key), "%s", it_jstr(json_array_get(customers, 4), "api_key"));
    json_decref(j);
    check_seeded(db);
    assert_me(keys[4], "pro@test.example.com", 401);
    assert_me(pro_key, "pro@test.example.com", 200);

    /* Both resets are in the audit log, by this operator. */
    cr_assert_geq(it_db_ll(db,
                           "SELECT count(*) FROM audit_log WHERE action = 'staging.reset'"
                           "   AND actor LIKE 'operator:%'",
                           0, NULL),
                  2);
    cr_assert_eq(ctl(out, "verify-ledger", NULL, NULL), 0, "verify-ledger:\n%s", out);
    verify_audit_ok();
    PQfinish(db);
    free(out);
}

/* One test at a time: the audit tampering must overlap nothing. */
IT_SERIAL_MAIN()
