/*
 * Unit tests for src/core/config.c: the key table is well-formed (names,
 * TOLLGATE_* variables, docs, defaults within bounds); defaults; values from
 * a file, with or without [tollgate]; TOLLGATE_CONFIG; environment variables
 * overriding the file; and every refusal -- unknown key, unknown section,
 * key given twice, bad number, out of range (both sides of every bound, from
 * the table), bad environment, syntax error, missing explicit file, bad
 * environment variable -- returns TG_ECONFIG with a message naming the
 * file:line (or variable) and key, and leaves cfg zeroed. Files are written
 * with mkstemp; every TOLLGATE_* variable config_load reads is unset first.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "unit.h"

static char tmp_path[64];

static void clean_env(void)
{
    unsetenv("TOLLGATE_CONFIG");
    for (const struct config_key *k = config_keys; k->name != NULL; k++)
        unsetenv(k->env);
}

static void cleanup(void)
{
    clean_env();
    if (tmp_path[0] != '\0')
        unlink(tmp_path);
    tmp_path[0] = '\0';
    leak_check();
}

TestSuite(config, .init = clean_env, .fini = cleanup);

/* write_conf: a temporary file holding text; its name (in tmp_path). */
static const char *write_conf(const char *text)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof(tmp_path), "%s/tg-conf-XXXXXX",
             dir != NULL && *dir != '\0' && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(tmp_path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static void assert_zeroed(const struct config *cfg)
{
    static const struct config zero;
    cr_assert_eq(memcmp(cfg, &zero, sizeof(zero)), 0, "a failed load must leave cfg zeroed");
}

/* expect_error: loading text fails, and the message holds "<file>:<line>"
 * (line > 0) and each of the NULL-terminated words. */
static void expect_error(const char *text, int line, const char *word, const char *word2)
{
    struct config cfg;
    char err[512] = "";
    const char *path = write_conf(text);
    cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), TG_ECONFIG, "accepted:\n%s", text);
    assert_zeroed(&cfg);
    char where[128];
    snprintf(where, sizeof(where), "%s:%d", path, line);
    cr_assert_not_null(strstr(err, where), "error \"%s\" does not name %s", err, where);
    if (word != NULL)
        cr_assert_not_null(strstr(err, word), "error \"%s\" does not name %s", err, word);
    if (word2 != NULL)
        cr_assert_not_null(strstr(err, word2), "error \"%s\" does not name %s", err, word2);
    unlink(tmp_path);
    tmp_path[0] = '\0';
}

/* load_text: load text as a file; must succeed. */
static void load_text(struct config *cfg, const char *text)
{
    char err[512] = "";
    enum tg_err e = config_load(cfg, write_conf(text), err, sizeof(err));
    cr_assert_eq(e, TG_OK, "%s", err);
}

Test(config, key_table_is_well_formed)
{
    size_t n = 0;
    for (const struct config_key *k = config_keys; k->name != NULL; k++, n++) {
        char env[128] = "TOLLGATE_";
        for (const char *p = k->name; *p != '\0'; p++) {
            cr_assert((*p >= 'a' && *p <= 'z') || *p == '_', "key name \"%s\"", k->name);
            size_t l = strlen(env);
            env[l] = (char)(*p == '_' ? '_' : *p - 'a' + 'A');
            env[l + 1] = '\0';
        }
        cr_assert_str_eq(k->env, env, "%s: environment variable", k->name);
        cr_assert_not_null(k->doc, "%s", k->name);
        cr_assert_gt(strlen(k->doc), 10, "%s: documentation line", k->name);
        cr_assert_not_null(k->def, "%s: default", k->name);
        cr_assert_lt(k->offset, sizeof(struct config));
        if (k->type == CONFIG_LONG) {
            char *end;
            long v = strtol(k->def, &end, 10);
            cr_assert(*k->def != '\0' && *end == '\0', "%s: default \"%s\"", k->name, k->def);
            cr_assert(k->min <= v && v <= k->max, "%s: default %ld outside [%ld, %ld]", k->name, v,
                      k->min, k->max);
        }
        for (const struct config_key *o = config_keys; o != k; o++) {
            cr_assert_str_neq(o->name, k->name, "key given twice in the table");
            cr_assert_neq(o->offset, k->offset, "%s and %s share a field", o->name, k->name);
        }
    }
    cr_assert_geq(n, 10);
}

Test(config, defaults_from_an_empty_file)
{
    struct config cfg;
    load_text(&cfg, "");
    cr_assert_str_eq(cfg.environment, "development");
    cr_assert_str_eq(cfg.database, "dbname=tollgate");
    cr_assert_str_eq(cfg.fcgi_socket, LOCALSTATEDIR "/run/tollgate/fcgi.sock");
    cr_assert_eq(cfg.workers, 4);
    cr_assert_eq(cfg.max_body_bytes, 1048576);
    cr_assert_eq(cfg.json_max_depth, 16);
    cr_assert_str_eq(cfg.disposable_domains_file, PKGDATADIR "/disposable-domains.txt");
    cr_assert_str_eq(cfg.sql_dir, PKGDATADIR "/sql");
    cr_assert_eq(cfg.low_balance_threshold, 2);
    cr_assert_eq(cfg.ledger_page_size, 25);
    cr_assert_eq(cfg.statement_timeout_ms, 5000);
    cr_assert_not(config_is_production(&cfg));
    config_free(&cfg);
    assert_zeroed(&cfg);
}

Test(config, absent_default_file_gives_defaults)
{
    if (access(CONFIG_DEFAULT_PATH, F_OK) == 0 || errno != ENOENT)
        cr_skip_test(CONFIG_DEFAULT_PATH " exists on this machine");
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK, "%s", err);
    cr_assert_eq(cfg.workers, 4);
    config_free(&cfg);
}

static const char full_file[] = "; every key, some in [tollgate]\n"
                                "environment = production\n"
                                "database = host=/run/postgresql dbname=billing\n"
                                "fcgi_socket = /tmp/tg.sock\n"
                                "# a comment\n"
                                "\n"
                                "workers = 12\n"
                                "max_body_bytes = 2048\n"
                                "[tollgate]\n"
                                "json_max_depth = 8\n"
                                "disposable_domains_file = /srv/domains.txt\n"
                                "sql_dir = /srv/sql\n"
                                "low_balance_threshold = 0\n"
                                "ledger_page_size = 100\n";

Test(config, values_from_file)
{
    struct config cfg;
    load_text(&cfg, full_file);
    cr_assert_str_eq(cfg.environment, "production");
    cr_assert(config_is_production(&cfg));
    cr_assert_str_eq(cfg.database, "host=/run/postgresql dbname=billing");
    cr_assert_str_eq(cfg.fcgi_socket, "/tmp/tg.sock");
    cr_assert_eq(cfg.workers, 12);
    cr_assert_eq(cfg.max_body_bytes, 2048);
    cr_assert_eq(cfg.json_max_depth, 8);
    cr_assert_str_eq(cfg.disposable_domains_file, "/srv/domains.txt");
    cr_assert_str_eq(cfg.sql_dir, "/srv/sql");
    cr_assert_eq(cfg.low_balance_threshold, 0);
    cr_assert_eq(cfg.ledger_page_size, 100);
    config_free(&cfg);
}

Test(config, every_environment_name_is_accepted)
{
    static const char *const names[] = {"production", "staging", "development"};
    for (size_t i = 0; i < 3; i++) {
        char text[64];
        struct config cfg;
        snprintf(text, sizeof(text), "environment = %s\n", names[i]);
        load_text(&cfg, text);
        cr_assert_str_eq(cfg.environment, names[i]);
        cr_assert_eq(config_is_production(&cfg), i == 0);
        config_free(&cfg);
        unlink(tmp_path);
    }
}

Test(config, tollgate_config_variable_names_the_file)
{
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(setenv("TOLLGATE_CONFIG", write_conf("workers = 7\n"), 1), 0);
    cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_OK, "%s", err);
    cr_assert_eq(cfg.workers, 7);
    config_free(&cfg);
}

Test(config, environment_overrides_file)
{
    struct config cfg;
    setenv("TOLLGATE_WORKERS", "9", 1);
    setenv("TOLLGATE_DATABASE", "dbname=from_env", 1);
    setenv("TOLLGATE_ENVIRONMENT", "staging", 1);
    load_text(&cfg, full_file);
    cr_assert_eq(cfg.workers, 9);
    cr_assert_str_eq(cfg.database, "dbname=from_env");
    cr_assert_str_eq(cfg.environment, "staging");
    cr_assert_eq(cfg.max_body_bytes, 2048, "keys without a variable keep the file's value");
    config_free(&cfg);
}

/* write_secret: a secret file with mode, holding text; path in buf. */
static const char *write_secret(char *buf, size_t len, mode_t mode, const char *text)
{
    snprintf(buf, len, "/tmp/tollgate-secret-XXXXXX");
    int fd = mkstemp(buf);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    cr_assert_eq(fchmod(fd, mode), 0);
    close(fd);
    return buf;
}

Test(config, every_key_has_a_working_environment_variable)
{
    char secret[64], token_key[64];
    write_secret(secret, sizeof(secret), 0600, "sk_test_unit\n");
    write_secret(token_key, sizeof(token_key), 0600, "0123456789abcdef0123456789abcdef\n");
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        /* A string that is a valid value for every string key: the secret
         * file's path (the key that reads it needs a real file). */
        const char *value = k->type == CONFIG_LONG ? NULL : "staging";
        if (strcmp(k->name, "stripe_secret_key_file") == 0 ||
            strcmp(k->name, "stripe_webhook_secret_file") == 0 ||
            strcmp(k->name, "github_webhook_secret_file") == 0 ||
            strcmp(k->name, "smtp_password_file") == 0)
            value = secret;
        if (strcmp(k->name, "token_signing_key_file") == 0)
            value = token_key; /* at least 32 bytes */
        if (strcmp(k->name, "smtp_url") == 0)
            value = "smtp://staging";
        char num[32];
        if (k->type == CONFIG_LONG) {
            snprintf(num, sizeof(num), "%ld", k->min);
            value = num;
        }
        /* The token lifetimes must also keep default <= maximum. */
        if (strcmp(k->name, "token_ttl_max_seconds") == 0)
            setenv("TOLLGATE_TOKEN_TTL_SECONDS", "30", 1);
        setenv(k->env, value, 1);
        struct config cfg;
        load_text(&cfg, "");
        const char *field = (const char *)&cfg + k->offset;
        if (k->type == CONFIG_LONG)
            cr_assert_eq(*(const long *)(const void *)field, k->min, "%s", k->env);
        else
            cr_assert_str_eq(*(char *const *)(const void *)field, value, "%s", k->env);
        config_free(&cfg);
        unsetenv(k->env);
        unsetenv("TOLLGATE_TOKEN_TTL_SECONDS");
        unlink(tmp_path);
    }
    unlink(secret);
    unlink(token_key);
}

Test(config, stripe_secret_is_read_from_its_file)
{
    char secret[64], text[128];
    write_secret(secret, sizeof(secret), 0600, "sk_test_abc123\n");
    snprintf(text, sizeof(text), "stripe_secret_key_file = %s\n", secret);
    struct config cfg;
    load_text(&cfg, text);
    cr_assert_str_eq(cfg.stripe_secret_key, "sk_test_abc123");
    config_free(&cfg);
    cr_assert_null(cfg.stripe_secret_key);
    unlink(secret);
    unlink(tmp_path);
}

Test(config, stripe_secret_readable_by_others_is_refused)
{
    static const mode_t modes[] = {0640, 0604, 0644};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char secret[64], text[128], err[512] = "";
        write_secret(secret, sizeof(secret), modes[i], "sk_test_abc123\n");
        snprintf(text, sizeof(text), "stripe_secret_key_file = %s\n", secret);
        struct config cfg;
        cr_assert_eq(config_load(&cfg, write_conf(text), err, sizeof(err)), TG_ECONFIG);
        cr_assert_not_null(strstr(err, "chmod 600"), "%s", err);
        cr_assert_not_null(strstr(err, secret), "%s", err);
        unlink(secret);
        unlink(tmp_path);
    }
}

Test(config, stripe_secret_missing_or_empty_is_refused)
{
    char secret[64], text[128], err[512] = "";
    struct config cfg;
    write_secret(secret, sizeof(secret), 0600, "\n");
    snprintf(text, sizeof(text), "stripe_secret_key_file = %s\n", secret);
    cr_assert_eq(config_load(&cfg, write_conf(text), err, sizeof(err)), TG_ECONFIG);
    cr_assert_not_null(strstr(err, "empty"), "%s", err);
    unlink(secret);
    unlink(tmp_path);
    snprintf(text, sizeof(text), "stripe_secret_key_file = %s.gone\n", secret);
    cr_assert_eq(config_load(&cfg, write_conf(text), err, sizeof(err)), TG_ECONFIG);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
    unlink(tmp_path);
}

Test(config, unknown_key)
{
    expect_error("# comment\n\nworkers = 4\nwrokers = 4\n", 4, "wrokers", NULL);
}

Test(config, unknown_key_in_tollgate_section)
{
    expect_error("[tollgate]\nstripe_key = sk_x\n", 2, "stripe_key", NULL);
}

Test(config, unknown_section)
{
    expect_error("workers = 4\n[database]\ndatabase = dbname=x\n", 3, "[database]", NULL);
}

Test(config, key_given_twice)
{
    expect_error("workers = 4\n; again\nworkers = 5\n", 3, "workers", "twice");
}

Test(config, key_given_twice_across_sections)
{
    expect_error("workers = 4\n[tollgate]\nworkers = 5\n", 3, "workers", "twice");
}

Test(config, bad_numbers)
{
    static const char *const bad[] = {
        "", "four", "4x", "0x10", "1e3", "4.0", "- 4", "--4", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "database = x\nworkers = %s\n", bad[i]);
        expect_error(text, 2, "workers", NULL);
    }
}

/* Both sides of every bound, from the table itself. */
Test(config, out_of_range_for_every_number)
{
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        if (k->type != CONFIG_LONG)
            continue;
        char text[160];
        const long ok[2] = {k->min, k->max};
        /* The token lifetimes must also keep default <= maximum. */
        const char *companion = strcmp(k->name, "token_ttl_seconds") == 0
                                    ? "token_ttl_max_seconds = 86400\n"
                                : strcmp(k->name, "token_ttl_max_seconds") == 0
                                    ? "token_ttl_seconds = 30\n"
                                    : "";
        for (int i = 0; i < 2; i++) {
            struct config cfg;
            snprintf(text, sizeof(text), "%s%s = %ld\n", companion, k->name, ok[i]);
            load_text(&cfg, text);
            cr_assert_eq(*(const long *)(const void *)((const char *)&cfg + k->offset), ok[i]);
            config_free(&cfg);
            unlink(tmp_path);
        }
        snprintf(text, sizeof(text), "environment = staging\n%s = %ld\n", k->name, k->min - 1);
        expect_error(text, 2, k->name, NULL);
        snprintf(text, sizeof(text), "environment = staging\n%s = %ld\n", k->name, k->max + 1);
        expect_error(text, 2, k->name, NULL);
    }
}

Test(config, token_ttl_longer_than_its_maximum)
{
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load(&cfg, write_conf("token_ttl_seconds = 7200\n"), err, sizeof(err)),
                 TG_ECONFIG);
    cr_assert(strstr(err, "token_ttl_seconds") != NULL && strstr(err, "3600") != NULL, "%s", err);
    unlink(tmp_path);
}

Test(config, token_signing_key_too_short)
{
    char key[64], text[160], err[512] = "";
    write_secret(key, sizeof(key), 0600, "short\n");
    snprintf(text, sizeof(text), "token_signing_key_file = %s\n", key);
    struct config cfg;
    cr_assert_eq(config_load(&cfg, write_conf(text), err, sizeof(err)), TG_ECONFIG);
    cr_assert(strstr(err, "at least 32 bytes") != NULL, "%s", err);
    unlink(tmp_path);
    unlink(key);
}

Test(config, bad_environment_in_file)
{
    expect_error("workers = 4\nenvironment = prod\n", 2, "environment", "prod");
}

Test(config, bad_environment_variable)
{
    struct config cfg;
    char err[512] = "";
    setenv("TOLLGATE_ENVIRONMENT", "Production", 1);
    cr_assert_eq(config_load(&cfg, write_conf(""), err, sizeof(err)), TG_ECONFIG);
    assert_zeroed(&cfg);
    cr_assert_not_null(strstr(err, "environment"), "%s", err);
}

Test(config, bad_number_in_environment_variable)
{
    struct config cfg;
    char err[512] = "";
    setenv("TOLLGATE_WORKERS", "many", 1);
    cr_assert_eq(config_load(&cfg, write_conf("workers = 4\n"), err, sizeof(err)), TG_ECONFIG);
    assert_zeroed(&cfg);
    cr_assert_not_null(strstr(err, "TOLLGATE_WORKERS"), "%s", err);
    cr_assert_not_null(strstr(err, "workers"), "%s", err);
}

Test(config, syntax_error)
{
    expect_error("workers = 4\nthis line has no equals sign\n", 2, NULL, NULL);
}

Test(config, first_error_is_reported)
{
    expect_error("nope = 1\nworkers = 4\nworkers = 0\n", 1, "nope", NULL);
}

Test(config, missing_explicit_file)
{
    struct config cfg;
    char err[512] = "";
    const char *path = "/nonexistent/tollgate/tollgate.conf";
    cr_assert_eq(config_load(&cfg, path, err, sizeof(err)), TG_ECONFIG);
    assert_zeroed(&cfg);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

Test(config, missing_file_named_by_tollgate_config)
{
    struct config cfg;
    char err[512] = "";
    const char *path = "/nonexistent/tollgate/from-env.conf";
    setenv("TOLLGATE_CONFIG", path, 1);
    cr_assert_eq(config_load(&cfg, NULL, err, sizeof(err)), TG_ECONFIG);
    cr_assert_not_null(strstr(err, path), "%s", err);
}

Test(config, string_values_are_limited_to_4096_bytes)
{
    static char value[4098];
    struct config cfg;
    char err[512] = "";
    memset(value, 'x', 4096);
    value[4096] = '\0';
    setenv("TOLLGATE_SQL_DIR", value, 1);
    cr_assert_eq(config_load(&cfg, write_conf(""), err, sizeof(err)), TG_OK, "%s", err);
    cr_assert_eq(strlen(cfg.sql_dir), 4096);
    config_free(&cfg);
    value[4096] = 'x';
    value[4097] = '\0';
    setenv("TOLLGATE_SQL_DIR", value, 1);
    cr_assert_eq(config_load(&cfg, tmp_path, err, sizeof(err)), TG_ECONFIG);
    cr_assert_not_null(strstr(err, "sql_dir"), "%s", err);
}

Test(config, error_message_fits_a_small_buffer)
{
    struct config cfg;
    char err[16];
    memset(err, 'Z', sizeof(err));
    cr_assert_eq(config_load(&cfg, write_conf("bogus = 1\n"), err, 8), TG_ECONFIG);
    cr_assert_eq(strlen(err), 7, "truncated and NUL-terminated");
    cr_assert_eq(err[8], 'Z', "nothing written past errlen");
}

Test(config, free_twice_is_safe)
{
    struct config cfg;
    load_text(&cfg, "");
    config_free(&cfg);
    config_free(&cfg);
    assert_zeroed(&cfg);
}

/* ---- config_load_buffer (the fuzz harness's entry point) ------------- */

Test(config, buffer_gives_the_same_values_as_the_file)
{
    struct config a, b;
    char err[512] = "";
    load_text(&a, full_file);
    cr_assert_eq(config_load_buffer(&b, "mem", full_file, strlen(full_file), err, sizeof(err)),
                 TG_OK, "%s", err);
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        const char *pa = (const char *)&a + k->offset, *pb = (const char *)&b + k->offset;
        if (k->type == CONFIG_LONG)
            cr_assert_eq(*(const long *)(const void *)pa, *(const long *)(const void *)pb, "%s",
                         k->name);
        else
            cr_assert_str_eq(*(char *const *)(const void *)pa, *(char *const *)(const void *)pb,
                             "%s", k->name);
    }
    config_free(&a);
    config_free(&b);
}

Test(config, buffer_empty_gives_defaults)
{
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load_buffer(&cfg, "mem", "", 0, err, sizeof(err)), TG_OK, "%s", err);
    cr_assert_eq(cfg.workers, 4);
    config_free(&cfg);
}

Test(config, buffer_errors_name_the_buffer_and_line)
{
    static const char text[] = "workers = 4\nworkers = 5\n";
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load_buffer(&cfg, "mem", text, sizeof(text) - 1, err, sizeof(err)),
                 TG_ECONFIG);
    assert_zeroed(&cfg);
    cr_assert_not_null(strstr(err, "mem:2"), "%s", err);
    cr_assert_not_null(strstr(err, "twice"), "%s", err);
}

Test(config, buffer_is_read_to_its_length_only)
{
    /* Not NUL-terminated: the line after len must not be read. */
    static const char text[] = "workers = 6\nworkers = bad\n";
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load_buffer(&cfg, "mem", text, 12, err, sizeof(err)), TG_OK, "%s", err);
    cr_assert_eq(cfg.workers, 6);
    config_free(&cfg);
}

/* ---- lines that do not fit inih's buffer (found by t/fuzz/fuzz_config) -- */

/* line_of: "key = " then 'x' up to len bytes, then end ("\n" or ""). */
static const char *line_of(char *buf, const char *key, size_t len, const char *end)
{
    size_t k = strlen(key);
    memcpy(buf, key, k);
    memset(buf + k, 'x', len - k);
    memcpy(buf + len, end, strlen(end) + 1);
    return buf;
}

Test(config, line_longer_than_the_buffer_is_refused_with_its_line)
{
    char text[512];
    memcpy(text, "workers = 4\n", 12);
    line_of(text + 12, "database = ", 199, "\n");
    expect_error(text, 2, "longer than 198 bytes", NULL);
    line_of(text, "database = ", 300, "");
    expect_error(text, 1, "longer than", NULL);
}

Test(config, long_comment_cannot_set_a_key)
{
    /* inih took the 199th byte on as a line of its own: "workers = 9". */
    char text[512] = "# ";
    memset(text + 2, 'c', 197);
    memcpy(text + 199, "workers = 9\n", 13);
    expect_error(text, 1, "longer than", NULL);
}

Test(config, line_of_198_bytes_fits)
{
    char text[512];
    struct config cfg;
    load_text(&cfg, line_of(text, "database = ", 198, "\n"));
    cr_assert_eq(strlen(cfg.database), 198 - strlen("database = "));
    config_free(&cfg);
    unlink(tmp_path);
    load_text(&cfg, line_of(text, "database = ", 199, "")); /* the last line, no newline */
    cr_assert_eq(strlen(cfg.database), 199 - strlen("database = "));
    config_free(&cfg);
}

Test(config, nul_byte_is_refused)
{
    static const char text[] = "workers = 4\nworkers = 5\0 and the rest\n";
    struct config cfg;
    char err[512] = "";
    cr_assert_eq(config_load_buffer(&cfg, "mem", text, sizeof(text) - 1, err, sizeof(err)),
                 TG_ECONFIG);
    cr_assert_not_null(strstr(err, "mem:2: NUL byte"), "%s", err);
}
