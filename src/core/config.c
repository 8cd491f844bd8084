/*
 * config: load and validate configuration; see config.h. The file format is
 * INI, parsed by inih (Debian libinih); keys may sit outside any section or
 * in [tollgate].
 */
#include "core/config.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ini.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(n, e, t, f, d, lo, hi, doc) {n, e, t, offsetof(struct config, f), d, lo, hi, doc, NULL}

static const char *const environments[] = {"production", "staging", "development", NULL};

const struct config_key config_keys[] = {
    {"environment", "TOLLGATE_ENVIRONMENT", CONFIG_STRING, offsetof(struct config, environment),
     "development", 0, 0,
     "production, staging or development; decides the API key prefix (tg_live_/tg_test_)",
     environments},
    KEY("database", "TOLLGATE_DATABASE", CONFIG_STRING, database, "dbname=tollgate", 0, 0,
        "libpq connection string of the PostgreSQL database"),
    KEY("fcgi_socket", "TOLLGATE_FCGI_SOCKET", CONFIG_STRING, fcgi_socket,
        LOCALSTATEDIR "/run/tollgate/fcgi.sock", 0, 0,
        "unix socket the FastCGI workers listen on (ignored under socket activation)"),
    KEY("metrics_path", "TOLLGATE_METRICS_PATH", CONFIG_STRING, metrics_path,
        LOCALSTATEDIR "/run/tollgate/metrics/counters", 0, 0,
        "file of the counters tollgate-fcgi and tollgate-worker share for GET /metrics"),
    KEY("workers", "TOLLGATE_WORKERS", CONFIG_LONG, workers, "4", 1, 256,
        "number of pre-forked FastCGI workers, each with one PostgreSQL connection"),
    KEY("max_body_bytes", "TOLLGATE_MAX_BODY_BYTES", CONFIG_LONG, max_body_bytes, "1048576", 1024,
        16777216, "largest request body accepted by any route, in bytes"),
    KEY("json_max_depth", "TOLLGATE_JSON_MAX_DEPTH", CONFIG_LONG, json_max_depth, "16", 2, 256,
        "deepest nesting of arrays and objects accepted in a request body"),
    KEY("disposable_domains_file", "TOLLGATE_DISPOSABLE_DOMAINS_FILE", CONFIG_STRING,
        disposable_domains_file, PKGDATADIR "/disposable-domains.txt", 0, 0,
        "file of disposable e-mail domains refused at signup, one a line"),
    KEY("sql_dir", "TOLLGATE_SQL_DIR", CONFIG_STRING, sql_dir, PKGDATADIR "/sql", 0, 0,
        "directory of numbered migration files applied by tollgatectl migrate"),
    KEY("low_balance_threshold", "TOLLGATE_LOW_BALANCE_THRESHOLD", CONFIG_LONG,
        low_balance_threshold, "2", 0, 1000000,
        "usage summary warns when the credit balance is at or below this"),
    KEY("ledger_page_size", "TOLLGATE_LEDGER_PAGE_SIZE", CONFIG_LONG, ledger_page_size, "25", 1,
        100, "default number of entries a page of /api/v1/credits/transactions holds"),
    KEY("statement_timeout_ms", "TOLLGATE_STATEMENT_TIMEOUT_MS", CONFIG_LONG,
        statement_timeout_ms, "5000", 100, 600000,
        "longest a request's SQL statement may run before PostgreSQL cancels it (503)"),
    KEY("request_timeout_ms", "TOLLGATE_REQUEST_TIMEOUT_MS", CONFIG_LONG, request_timeout_ms,
        "20000", 1000, 600000,
        "budget of one request: Stripe attempts are cut to it; above stripe_timeout_ms and "
        "below nginx's fastcgi_read_timeout"),
    KEY("stripe_api_base", "TOLLGATE_STRIPE_API_BASE", CONFIG_STRING, stripe_api_base,
        "https://api.stripe.com", 0, 0,
        "base URL of the Stripe API (the emulator's URL in development and tests)"),
    KEY("stripe_secret_key_file", "TOLLGATE_STRIPE_SECRET_KEY_FILE", CONFIG_STRING,
        stripe_secret_key_file, "", 0, 0,
        "file holding the Stripe secret key (sk_live_, sk_test_ or rk_); empty: no Stripe"),
    KEY("stripe_price_pro", "TOLLGATE_STRIPE_PRICE_PRO", CONFIG_STRING, stripe_price_pro, "", 0,
        0, "Stripe price id (price_...) of the Pro plan's monthly subscription"),
    KEY("stripe_connect_timeout_ms", "TOLLGATE_STRIPE_CONNECT_TIMEOUT_MS", CONFIG_LONG,
        stripe_connect_timeout_ms, "2000", 100, 60000,
        "longest wait for a connection to Stripe, per attempt"),
    KEY("stripe_timeout_ms", "TOLLGATE_STRIPE_TIMEOUT_MS", CONFIG_LONG, stripe_timeout_ms,
        "10000", 500, 120000, "longest a Stripe call may take, per attempt"),
    KEY("stripe_max_retries", "TOLLGATE_STRIPE_MAX_RETRIES", CONFIG_LONG, stripe_max_retries,
        "2", 0, 10, "retries of a Stripe call after network errors, 409, 429 and 5xx"),
    KEY("stripe_call_grace_seconds", "TOLLGATE_STRIPE_CALL_GRACE_SECONDS", CONFIG_LONG,
        stripe_call_grace_seconds, "60", 1, 3600,
        "seconds tollgate-worker leaves a recorded, never-answered Stripe call to its request"),
    KEY("stripe_webhook_secret_file", "TOLLGATE_STRIPE_WEBHOOK_SECRET_FILE", CONFIG_STRING,
        stripe_webhook_secret_file, "", 0, 0,
        "file holding the webhook endpoint's signing secret (whsec_...); empty: refuse webhooks"),
    KEY("webhook_tolerance_seconds", "TOLLGATE_WEBHOOK_TOLERANCE_SECONDS", CONFIG_LONG,
        webhook_tolerance_seconds, "300", 10, 3600,
        "webhook signature timestamps further than this from now (past or future) are refused, "
        "in seconds (Stripe's default: 300)"),
    KEY("webhook_max_attempts", "TOLLGATE_WEBHOOK_MAX_ATTEMPTS", CONFIG_LONG, webhook_max_attempts,
        "5", 1, 100, "attempts at applying a webhook event before it becomes a dead letter"),
    KEY("grace_period_days", "TOLLGATE_GRACE_PERIOD_DAYS", CONFIG_LONG, grace_period_days, "7",
        0, 90, "days a customer stays past_due after a failed payment before delinquent"),
    KEY("github_webhook_secret_file", "TOLLGATE_GITHUB_WEBHOOK_SECRET_FILE", CONFIG_STRING,
        github_webhook_secret_file, "", 0, 0,
        "file holding the GitHub App's webhook secret; empty: refuse GitHub webhooks"),
    KEY("smtp_url", "TOLLGATE_SMTP_URL", CONFIG_STRING, smtp_url, "", 0, 0,
        "SMTP server for outgoing e-mail (smtp://host:port or smtps://); empty: none sent"),
    KEY("smtp_from", "TOLLGATE_SMTP_FROM", CONFIG_STRING, smtp_from, "", 0, 0,
        "From of every e-mail: Name <address>, or the address alone"),
    KEY("smtp_username", "TOLLGATE_SMTP_USERNAME", CONFIG_STRING, smtp_username, "", 0, 0,
        "user name for SMTP AUTH; empty: no authentication"),
    KEY("smtp_password_file", "TOLLGATE_SMTP_PASSWORD_FILE", CONFIG_STRING, smtp_password_file,
        "", 0, 0, "file holding the SMTP AUTH password (owner-only, like the Stripe key)"),
    KEY("smtp_starttls", "TOLLGATE_SMTP_STARTTLS", CONFIG_LONG, smtp_starttls, "0", 0, 1,
        "1: require STARTTLS on smtp:// (always on when a user name is set)"),
    KEY("smtp_timeout_ms", "TOLLGATE_SMTP_TIMEOUT_MS", CONFIG_LONG, smtp_timeout_ms, "10000",
        500, 120000, "longest one e-mail's SMTP exchange may take"),
    KEY("email_max_attempts", "TOLLGATE_EMAIL_MAX_ATTEMPTS", CONFIG_LONG, email_max_attempts,
        "12", 1, 100, "attempts at sending an e-mail before it is given up as failed"),
    KEY("rate_limit_per_hour", "TOLLGATE_RATE_LIMIT_PER_HOUR", CONFIG_LONG, rate_limit_per_hour,
        "500", 0, 100000000,
        "requests one API key may make in a clock hour, counted across all workers; 0: no limit"),
    KEY("token_signing_key_file", "TOLLGATE_TOKEN_SIGNING_KEY_FILE", CONFIG_STRING,
        token_signing_key_file, "", 0, 0,
        "file holding the HMAC-SHA256 key that signs credentials tokens; empty: no tokens"),
    KEY("token_ttl_seconds", "TOLLGATE_TOKEN_TTL_SECONDS", CONFIG_LONG, token_ttl_seconds, "900",
        30, 86400, "lifetime of a credentials token when the client asks for none, in seconds"),
    KEY("token_ttl_max_seconds", "TOLLGATE_TOKEN_TTL_MAX_SECONDS", CONFIG_LONG,
        token_ttl_max_seconds, "3600", 30, 86400,
        "longest lifetime a client may ask for a credentials token, in seconds"),
    {0},
};


struct load_ctx {
    struct config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    bool failed; /* keep the first error: inih goes on after one */
    FILE *file;
    int lineno;  /* counted by read_line: Debian's inih passes no line number */
    unsigned char seen[sizeof(config_keys) / sizeof(config_keys[0])];
};

/* parse_long: strict decimal within [min, max]: optional '-', digits, and
 * nothing else (strtol alone would take " 4" and "+4"). */
static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    const char *digits = *s == '-' ? s + 1 : s;
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* set_key: store text as key k's value; message into err on failure. */
static int set_key(struct config *cfg, const struct config_key *k, const char *text,
                   const char *where, char *err, size_t errlen)
{
    char *base = (char *)cfg + k->offset;
    if (k->type == CONFIG_LONG) {
        long v;
        if (parse_long(text, k->min, k->max, &v) != 0) {
            snprintf(err, errlen, "%s: %s: \"%s\" is not a whole number from %ld to %ld", where,
                     k->name, text, k->min, k->max);
            return -1;
        }
        *(long *)(void *)base = v;
        return 0;
    }
    if (k->one_of != NULL) {
        const char *const *v = k->one_of;
        while (*v != NULL && strcmp(*v, text) != 0)
            v++;
        if (*v == NULL) {
            snprintf(err, errlen, "%s: %s: \"%s\" is not an accepted value", where, k->name,
                     text);
            return -1;
        }
    }
    if (strlen(text) > 4096) {
        snprintf(err, errlen, "%s: %s: value longer than 4096 bytes", where, k->name);
        return -1;
    }
    char *copy = strdup(text);
    if (copy == NULL) {
        snprintf(err, errlen, "%s: %s: out of memory", where, k->name);
        return -1;
    }
    char **slot = (char **)(void *)base;
    free(*slot);
    *slot = copy;
    return 0;
}

static int on_ini_line(struct load_ctx *ctx, const char *section, const char *name,
                       const char *value, int lineno)
{
    char where[512];
    snprintf(where, sizeof(where), "%s:%d", ctx->path, lineno);
    if (section[0] != '\0' && strcmp(section, "tollgate") != 0) {
        snprintf(ctx->err, ctx->errlen, "%s: unknown section [%s]", where, section);
        return 0;
    }
    for (size_t i = 0; config_keys[i].name != NULL; i++) {
        if (strcmp(config_keys[i].name, name) != 0)
            continue;
        if (ctx->seen[i]) {
            snprintf(ctx->err, ctx->errlen, "%s: %s: key given twice", where, name);
            return 0;
        }
        ctx->seen[i] = 1;
        return set_key(ctx->cfg, &config_keys[i], value, where, ctx->err, ctx->errlen) == 0;
    }
    snprintf(ctx->err, ctx->errlen, "%s: unknown key \"%s\"", where, name);
    return 0;
}

/* read_line: fgets for inih that also counts lines, and that refuses --
 * by failing the load and ending the text -- a line that does not fit
 * inih's buffer of num bytes (its newline and a NUL included): inih would
 * parse the rest of the line as a line of its own, so the tail of a long
 * comment could set a key. A NUL byte is refused too: inih would drop the
 * rest of its line unseen. */
static char *read_line(char *str, int num, void *stream)
{
    struct load_ctx *ctx = stream;
    int n = 0, c = EOF;
    if (ctx->failed || num < 2)
        return NULL;
    while (n < num - 1 && (c = getc(ctx->file)) != EOF) {
        str[n++] = (char)c;
        if (c == '\n' || c == '\0')
            break;
    }
    if (n == 0)
        return NULL;
    str[n] = '\0';
    ctx->lineno++;
    if (c == '\0') {
        snprintf(ctx->err, ctx->errlen, "%s:%d: NUL byte in the line", ctx->path, ctx->lineno);
        ctx->failed = true;
        return NULL;
    }
    if (str[n - 1] != '\n' && (c = getc(ctx->file)) != EOF) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: line longer than %d bytes", ctx->path,
                 ctx->lineno, num - 2);
        ctx->failed = true;
        return NULL;
    }
    return str;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *ctx = user;
    if (ctx->failed)
        return 0;
    if (on_ini_line(ctx, section, name, value, ctx->lineno) == 0) {
        ctx->failed = true;
        return 0;
    }
    return 1;
}

/* load_secret: the first line of path into *out. The file must be a
 * regular file that neither group nor others can read (a secret); at most
 * 512 bytes. */
static int load_secret(const char *path, const char *key, char **out, char *err, size_t errlen)
{
    struct stat st;
    char buf[514];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s: %s: must be a regular file readable by its owner only "
                              "(chmod 600)", key, path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0 || n > 512) {
        snprintf(err, errlen, "%s: %s: unreadable or longer than 512 bytes", key, path);
        OPENSSL_cleanse(buf, sizeof(buf));
        return -1;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0') {
        snprintf(err, errlen, "%s: %s: empty", key, path);
        return -1;
    }
    *out = strdup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    if (*out == NULL) {
        snprintf(err, errlen, "%s: out of memory", key);
        return -1;
    }
    return 0;
}

/* check_smtp: smtp_url, when set, is of scheme smtp or smtps. (An unusable
 * smtp_from is reported by tollgate-worker, which then leaves the mails
 * queued.) */
static int check_smtp(const struct config *cfg, char *err, size_t errlen)
{
    const char *url = cfg->smtp_url;
    if (url[0] != '\0' && strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) {
        snprintf(err, errlen, "smtp_url: must start with smtp:// or smtps://");
        return -1;
    }
    return 0;
}

/* load_defaults: every key's default into the zeroed cfg. */
static int load_defaults(struct config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(err, errlen, "no error");
    for (const struct config_key *k = config_keys; k->name != NULL; k++)
        if (set_key(cfg, k, k->def, "default", err, errlen) != 0)
            return -1;
    return 0;
}

/* load_stream: the INI text of f over cfg; path names f in messages. */
static int load_stream(struct config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
    struct load_ctx ctx = {.cfg = cfg, .path = path, .err = err, .errlen = errlen, .file = f};
    int rc = ini_parse_stream(read_line, &ctx, on_ini, &ctx);
    if (rc == 0 && !ctx.failed) /* read_line ends the text on its errors */
        return 0;
    if (rc > 0 && !ctx.failed)
        snprintf(err, errlen, "%s:%d: syntax error", path, rc);
    else if (rc < 0)
        snprintf(err, errlen, "%s: cannot read", path);
    return -1;
}

/* load_rest: what follows the file: the environment, the secrets named by
 * the *_file keys, and the checks across keys. */
static int load_rest(struct config *cfg, char *err, size_t errlen)
{
    for (const struct config_key *k = config_keys; k->name != NULL; k++) {
        const char *v = getenv(k->env);
        if (v != NULL && set_key(cfg, k, v, k->env, err, errlen) != 0)
            return -1;
    }
    if (cfg->stripe_secret_key_file[0] != '\0' &&
        load_secret(cfg->stripe_secret_key_file, "stripe_secret_key_file",
                    &cfg->stripe_secret_key, err, errlen) != 0)
        return -1;
    if (cfg->stripe_webhook_secret_file[0] != '\0' &&
        load_secret(cfg->stripe_webhook_secret_file, "stripe_webhook_secret_file",
                    &cfg->stripe_webhook_secret, err, errlen) != 0)
        return -1;
    if (cfg->github_webhook_secret_file[0] != '\0' &&
        load_secret(cfg->github_webhook_secret_file, "github_webhook_secret_file",
                    &cfg->github_webhook_secret, err, errlen) != 0)
        return -1;
    if (check_smtp(cfg, err, errlen) != 0)
        return -1;
    if (cfg->token_signing_key_file[0] != '\0') {
        if (load_secret(cfg->token_signing_key_file, "token_signing_key_file",
                        &cfg->token_signing_key, err, errlen) != 0)
            return -1;
        if (strlen(cfg->token_signing_key) < 32) {
            snprintf(err, errlen, "token_signing_key_file: %s: the key must be at least 32 "
                                  "bytes (e.g. openssl rand -hex 32)", cfg->token_signing_key_file);
            return -1;
        }
    }
    if (cfg->token_ttl_seconds > cfg->token_ttl_max_seconds) {
        snprintf(err, errlen, "token_ttl_seconds: %ld is longer than token_ttl_max_seconds (%ld)",
                 cfg->token_ttl_seconds, cfg->token_ttl_max_seconds);
        return -1;
    }
    if (cfg->smtp_password_file[0] != '\0' &&
        load_secret(cfg->smtp_password_file, "smtp_password_file", &cfg->smtp_password, err,
                    errlen) != 0)
        return -1;
    return 0;
}

enum tg_err config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    if (load_defaults(cfg, err, errlen) != 0)
        goto fail;

    bool explicit_path = path != NULL;
    if (path == NULL)
        path = getenv("TOLLGATE_CONFIG");
    explicit_path = explicit_path || path != NULL;
    if (path == NULL)
        path = CONFIG_DEFAULT_PATH;

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (explicit_path || errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
    } else {
        int rc = load_stream(cfg, f, path, err, errlen);
        fclose(f);
        if (rc != 0)
            goto fail;
    }
    if (load_rest(cfg, err, errlen) != 0)
        goto fail;
    return TG_OK;
fail:
    config_free(cfg);
    return TG_ECONFIG;
}

enum tg_err config_load_buffer(struct config *cfg, const char *name, const char *text, size_t len,
                               char *err, size_t errlen)
{
    if (load_defaults(cfg, err, errlen) != 0)
        goto fail;
    /* fmemopen reads the text as fopen would the file (a NUL byte ends a
     * line for inih there too); "r" never writes to the buffer. */
    FILE *f = fmemopen((void *)text, len, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        goto fail;
    }
    int rc = load_stream(cfg, f, name, err, errlen);
    fclose(f);
    if (rc != 0 || load_rest(cfg, err, errlen) != 0)
        goto fail;
    return TG_OK;
fail:
    config_free(cfg);
    return TG_ECONFIG;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void config_free(struct config *cfg)
{
    free_secret(cfg->stripe_secret_key);
    free_secret(cfg->stripe_webhook_secret);
    free_secret(cfg->github_webhook_secret);
    free_secret(cfg->smtp_password);
    free_secret(cfg->token_signing_key);
    for (const struct config_key *k = config_keys; k->name != NULL; k++)
        if (k->type == CONFIG_STRING) {
            char **slot = (char **)(void *)((char *)cfg + k->offset);
            free(*slot);
        }
    memset(cfg, 0, sizeof(*cfg));
}

bool config_is_production(const struct config *cfg)
{
    return strcmp(cfg->environment, "production") == 0;
}
