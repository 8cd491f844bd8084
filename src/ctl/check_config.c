/*
 * check_config: tollgatectl check-config; see ctl.h. config_load has
 * already refused what it can see alone (syntax, unknown keys, bounds, a
 * secret file others can read); this checks what a deploy needs on top:
 * that the values fit the environment (a live Stripe key only in
 * production, a test key never there), that the secret files are still
 * owner-only and owned by the running user, and that the database is
 * reachable with its schema up to date (DESIGN.md section 6). Each finding
 * is one line; the value of a secret is never printed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "domain/email.h"
#include "store/migrate.h"

#define SYNOPSIS "[--json]"
#define CONNECT_TIMEOUT 5 /* seconds, when database gives no connect_timeout */

/* ---- the rules (pure) ------------------------------------------------------ */

void ctl_check_add(struct ctl_checks *c, enum ctl_check_status status, const char *what,
                   const char *fmt, ...)
{
    if (status == CTL_CHECK_ERROR)
        c->errors++;
    else if (status == CTL_CHECK_WARNING)
        c->warnings++;
    if (c->n == CTL_CHECKS_MAX)
        return;
    struct ctl_check *k = &c->items[c->n++];
    k->status = status;
    snprintf(k->what, sizeof(k->what), "%s", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(k->detail, sizeof(k->detail), fmt, ap);
    va_end(ap);
}

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* stripe_key_mode: "test" or "live" for a key with one of Stripe's four
 * secret prefixes, else NULL. */
static const char *stripe_key_mode(const char *key)
{
    if (starts_with(key, "sk_test_") || starts_with(key, "rk_test_"))
        return "test";
    if (starts_with(key, "sk_live_") || starts_with(key, "rk_live_"))
        return "live";
    return NULL;
}

const char *ctl_stripe_key_problem(const char *key, bool production)
{
    const char *mode = stripe_key_mode(key);
    const char *rest = key + 8;
    if (mode == NULL || strlen(rest) < 8 ||
        strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
            strlen(rest))
        return "not a Stripe secret key (expected sk_live_, sk_test_, rk_live_ or rk_test_ "
               "followed by at least 8 letters, digits or _)";
    if (strcmp(mode, "live") == 0 && !production)
        return "a live key (sk_live_/rk_live_) outside production: real money would move; "
               "use a test key (sk_test_/rk_test_)";
    if (strcmp(mode, "test") == 0 && production)
        return "a test key (sk_test_/rk_test_) in production: no payment would be real; "
               "use a live key (sk_live_/rk_live_)";
    return NULL;
}

const char *ctl_webhook_secret_problem(const char *secret)
{
    if (!starts_with(secret, "whsec_") || secret[6] == '\0')
        return "not a Stripe webhook signing secret (expected whsec_...)";
    return NULL;
}

const char *ctl_price_problem(const char *price)
{
    if (!starts_with(price, "price_") || price[6] == '\0')
        return "not a Stripe price id (expected price_...)";
    return NULL;
}

/* missing: a finding for a secret that is not configured: an error in
 * production, a warning elsewhere (what it costs is in effect). */
static void missing(struct ctl_checks *out, bool production, const char *what, const char *file_key,
                    const char *effect)
{
    if (production)
        ctl_check_add(out, CTL_CHECK_ERROR, what, "not configured (%s): required in production",
                      file_key);
    else
        ctl_check_add(out, CTL_CHECK_WARNING, what, "not configured (%s): %s", file_key, effect);
}

static void check_stripe(const struct config *cfg, bool production, struct ctl_checks *out)
{
    const char *key = cfg->stripe_secret_key;
    if (key == NULL) {
        missing(out, production, "stripe_secret_key", "stripe_secret_key_file",
                "billing through Stripe is off");
    } else {
        const char *problem = ctl_stripe_key_problem(key, production);
        if (problem != NULL)
            ctl_check_add(out, CTL_CHECK_ERROR, "stripe_secret_key", "%s", problem);
        else /* the prefix is all that may be shown */
            ctl_check_add(out, CTL_CHECK_OK, "stripe_secret_key", "%.8s\u2026, %s mode", key,
                          stripe_key_mode(key));
    }

    const char *price = str(cfg->stripe_price_pro);
    if (price[0] == '\0') {
        if (key != NULL)
            ctl_check_add(out, CTL_CHECK_ERROR, "stripe_price_pro",
                          "not set: Pro subscriptions need the price id (price_...)");
    } else if (ctl_price_problem(price) != NULL) {
        ctl_check_add(out, key != NULL ? CTL_CHECK_ERROR : CTL_CHECK_WARNING, "stripe_price_pro",
                      "%s", ctl_price_problem(price));
    } else {
        ctl_check_add(out, CTL_CHECK_OK, "stripe_price_pro", "%s", price);
    }

    const char *whsec = cfg->stripe_webhook_secret;
    if (whsec == NULL)
        missing(out, production, "stripe_webhook_secret", "stripe_webhook_secret_file",
                "Stripe webhooks are refused");
    else if (ctl_webhook_secret_problem(whsec) != NULL)
        ctl_check_add(out, CTL_CHECK_ERROR, "stripe_webhook_secret", "%s",
                      ctl_webhook_secret_problem(whsec));
    else
        ctl_check_add(out, CTL_CHECK_OK, "stripe_webhook_secret", "whsec_\u2026");

    const char *base = str(cfg->stripe_api_base);
    if (starts_with(base, "https://"))
        ctl_check_add(out, CTL_CHECK_OK, "stripe_api_base", "%s", base);
    else if (production)
        ctl_check_add(out, CTL_CHECK_ERROR, "stripe_api_base", "%s: must be https:// in production",
                      base);
    else
        ctl_check_add(out, CTL_CHECK_WARNING, "stripe_api_base",
                      "%s: not https:// (fine for the Stripe emulator, not for Stripe)", base);
}

static void check_smtp(const struct config *cfg, struct ctl_checks *out)
{
    const char *url = str(cfg->smtp_url), *from = str(cfg->smtp_from);
    const char *user = str(cfg->smtp_username);
    if (url[0] == '\0') {
        ctl_check_add(out, CTL_CHECK_WARNING, "smtp_url", "not set: no e-mail is sent");
        return;
    }
    /* Credentials belong in smtp_username and the password file, but do not
     * print a URL that holds some anyway. */
    ctl_check_add(out, CTL_CHECK_OK, "smtp_url", "%s", strchr(url, '@') == NULL ? url : "set");
    if (from[0] == '\0')
        ctl_check_add(out, CTL_CHECK_ERROR, "smtp_from", "not set: smtp_url needs a From address");
    else
        ctl_check_add(out, CTL_CHECK_OK, "smtp_from", "%s", from);
    if (user[0] != '\0' && cfg->smtp_password == NULL)
        ctl_check_add(out, CTL_CHECK_ERROR, "smtp_password",
                      "smtp_username is set but smtp_password_file is not");
    else if (user[0] == '\0' && cfg->smtp_password != NULL)
        ctl_check_add(out, CTL_CHECK_WARNING, "smtp_password",
                      "smtp_password_file is set but smtp_username is not: it is not used");
}

/* check_timeouts: the order a request's outcome depends on (DESIGN.md
 * section 1: requests never wait on Stripe where they need not): one
 * Stripe attempt < the request's budget < nginx's fastcgi_read_timeout,
 * which must also hold the statements that record the result after the
 * budget's last Stripe attempt. Out of order, nginx answers 503 while
 * tollgate goes on to charge. nginx's value is the shipped one
 * (CONFIG_NGINX_READ_TIMEOUT_MS): a warning, as nginx may be set
 * otherwise. */
static void check_timeouts(const struct config *cfg, struct ctl_checks *out)
{
    long need = cfg->request_timeout_ms + 2 * cfg->statement_timeout_ms;
    if (cfg->stripe_timeout_ms >= cfg->request_timeout_ms)
        ctl_check_add(out, CTL_CHECK_ERROR, "request_timeout_ms",
                      "%ld ms is not above stripe_timeout_ms (%ld ms): a request could not "
                      "wait out one Stripe attempt",
                      cfg->request_timeout_ms, cfg->stripe_timeout_ms);
    else if (need >= CONFIG_NGINX_READ_TIMEOUT_MS)
        ctl_check_add(out, CTL_CHECK_WARNING, "request_timeout_ms",
                      "%ld ms plus 2 x statement_timeout_ms (%ld ms) reaches nginx's "
                      "fastcgi_read_timeout of the shipped snippet (%d ms): nginx may answer "
                      "503 for a request that still takes effect; raise it in nginx",
                      cfg->request_timeout_ms, cfg->statement_timeout_ms,
                      CONFIG_NGINX_READ_TIMEOUT_MS);
    else
        ctl_check_add(out, CTL_CHECK_OK, "request_timeout_ms",
                      "Stripe attempt %ld ms < request %ld ms (+ 2 x %ld ms of statements) < "
                      "nginx %d ms",
                      cfg->stripe_timeout_ms, cfg->request_timeout_ms, cfg->statement_timeout_ms,
                      CONFIG_NGINX_READ_TIMEOUT_MS);
}

void ctl_check_settings(const struct config *cfg, struct ctl_checks *out)
{
    const char *env = str(cfg->environment);
    bool production = strcmp(env, "production") == 0;
    ctl_check_add(out, CTL_CHECK_OK, "environment", "%s", env);
    check_stripe(cfg, production, out);
    if (cfg->token_signing_key == NULL)
        missing(out, production, "token_signing_key", "token_signing_key_file",
                "no credentials tokens are issued");
    else
        ctl_check_add(out, CTL_CHECK_OK, "token_signing_key", "%s", "");
    if (cfg->github_webhook_secret == NULL)
        ctl_check_add(out, CTL_CHECK_WARNING, "github_webhook_secret",
                      "not configured (github_webhook_secret_file): GitHub webhooks are refused");
    else
        ctl_check_add(out, CTL_CHECK_OK, "github_webhook_secret", "%s", "");
    check_smtp(cfg, out);
    check_timeouts(cfg, out);
    /* Webhooks to the product carry signed customer data: never over
     * plain http in production. */
    if (cfg->outbound_allow_http && production)
        ctl_check_add(out, CTL_CHECK_ERROR, "outbound_allow_http",
                      "1 in production: webhook endpoints must be https://");
}

/* ---- files and the database --------------------------------------------------- */

/* check_secret_file: the file of key is still a regular file only its
 * owner can use (config_load checked this when it read it) and is owned by
 * the running user (the service's user, when run as it). */
static void check_secret_file(struct ctl_checks *out, const char *key, const char *path)
{
    struct stat st;
    if (path == NULL || path[0] == '\0')
        return;
    if (lstat(path, &st) != 0) {
        ctl_check_add(out, CTL_CHECK_ERROR, key, "%s: %s", path, strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        ctl_check_add(out, CTL_CHECK_ERROR, key, "%s: not a regular file", path);
        return;
    }
    if ((st.st_mode & 077) != 0) {
        ctl_check_add(out, CTL_CHECK_ERROR, key,
                      "%s: mode %04o lets group or others at it (chmod 600)", path,
                      (unsigned)(st.st_mode & 07777));
        return;
    }
    ctl_check_add(out, CTL_CHECK_OK, key, "%s, mode %04o", path, (unsigned)(st.st_mode & 07777));
    if (st.st_uid != geteuid())
        ctl_check_add(out, CTL_CHECK_WARNING, key,
                      "%s: owned by uid %u, not by the running user (uid %u): the service "
                      "must run as its owner",
                      path, (unsigned)st.st_uid, (unsigned)geteuid());
}

static void check_files(const struct config *cfg, struct ctl_checks *out)
{
    check_secret_file(out, "stripe_secret_key_file", cfg->stripe_secret_key_file);
    check_secret_file(out, "stripe_webhook_secret_file", cfg->stripe_webhook_secret_file);
    check_secret_file(out, "github_webhook_secret_file", cfg->github_webhook_secret_file);
    check_secret_file(out, "smtp_password_file", cfg->smtp_password_file);
    check_secret_file(out, "token_signing_key_file", cfg->token_signing_key_file);

    struct email_blocklist bl = {0};
    char err[512];
    if (email_blocklist_load(&bl, cfg->disposable_domains_file, err, sizeof(err)) != 0) {
        ctl_check_add(out, CTL_CHECK_ERROR, "disposable_domains_file",
                      "%s (tollgate-fcgi will not start)", err);
        return;
    }
    ctl_check_add(out, CTL_CHECK_OK, "disposable_domains_file", "%s, %zu domains",
                  cfg->disposable_domains_file, bl.count);
    email_blocklist_free(&bl);
}

/* one_line: the first line of a libpq message (they end in "\n"). */
static const char *one_line(const char *msg, char *buf, size_t len)
{
    snprintf(buf, len, "%s", msg != NULL ? msg : "");
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf;
}

void ctl_check_database(const struct config *cfg, struct ctl_checks *out)
{
    /* The conninfo itself is never printed: it may hold a password. */
    struct migrate_probe db;
    char msg[400];
    migrate_probe(cfg->database, cfg->sql_dir, CONNECT_TIMEOUT, &db);
    if (!db.connected) {
        ctl_check_add(out, CTL_CHECK_ERROR, "database", "cannot connect: %s",
                      one_line(db.why, msg, sizeof(msg)));
        return;
    }
    ctl_check_add(out, CTL_CHECK_OK, "database", "connected, PostgreSQL %d", db.server_major);

    const struct migrate_status *st = &db.status;
    if (!db.status_ok)
        ctl_check_add(out, CTL_CHECK_ERROR, "schema", "%s: run tollgatectl migrate",
                      one_line(db.why, msg, sizeof(msg)));
    else if (st->applied > st->latest)
        ctl_check_add(out, CTL_CHECK_ERROR, "schema",
                      "version %ld, newer than sql_dir (%03ld): is sql_dir from an older "
                      "release?",
                      st->applied, st->latest);
    else if (st->pending > 0)
        ctl_check_add(out, CTL_CHECK_ERROR, "schema",
                      "version %ld, behind sql_dir (%03ld): run tollgatectl migrate",
                      st->applied, st->latest);
    else if (!st->functions_current)
        ctl_check_add(out, CTL_CHECK_ERROR, "schema",
                      "version %ld, but the functions differ from sql_dir/functions: run "
                      "tollgatectl migrate", st->applied);
    else
        ctl_check_add(out, CTL_CHECK_OK, "schema", "version %ld, up to date with sql_dir",
                      st->applied);
}

/* ---- the command ------------------------------------------------------------------ */

static const char *const status_names[] = {"ok", "warning", "error"};

int ctl_check_config(struct ctl *ctx, int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !as_json))
        return ctl_usage("check-config", SYNOPSIS, ctl_wants_help(argc, argv));
    struct ctl_checks *checks = calloc(1, sizeof(*checks));
    if (checks == NULL) {
        fprintf(stderr, "tollgatectl: out of memory\n");
        return CTL_FAIL;
    }
    ctl_check_settings(ctx->cfg, checks);
    check_files(ctx->cfg, checks);
    ctl_check_database(ctx->cfg, checks);

    json_t *arr = as_json ? json_array() : NULL;
    for (size_t i = 0; i < checks->n; i++) {
        const struct ctl_check *k = &checks->items[i];
        if (as_json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "check", k->what, "status",
                                                 status_names[k->status], "detail", k->detail));
        } else if (k->status == CTL_CHECK_OK) {
            fprintf(ctx->out, "ok      %s%s%s%s\n", k->what, k->detail[0] != '\0' ? " (" : "",
                    k->detail, k->detail[0] != '\0' ? ")" : "");
        } else {
            fprintf(ctx->out, "%-7s %s: %s\n", status_names[k->status], k->what, k->detail);
        }
    }
    if (as_json)
        ctl_print_json(ctx->out, arr);
    else
        fprintf(ctx->out, "%d error%s, %d warning%s\n", checks->errors,
                checks->errors == 1 ? "" : "s", checks->warnings, checks->warnings == 1 ? "" : "s");
    int rc = checks->errors > 0 ? CTL_FAIL : CTL_OK;
    free(checks);
    return rc;
}
