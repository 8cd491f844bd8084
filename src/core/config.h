/*
 * config: tollgate's configuration. Defaults, then the INI file
 * (/etc/tollgate/tollgate.conf or the path given), then TOLLGATE_* environment
 * variables (for development). Every key is declared once, in the table in
 * config.c, with its type, bounds, environment variable and documentation
 * line; docs/configuration.md lists the same keys, and a check
 * (t/checks/config-documented) fails when they differ.
 */
#ifndef TOLLGATE_CONFIG_H
#define TOLLGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tgerr.h"

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/tollgate/tollgate.conf"

/* The fastcgi_read_timeout of the shipped nginx snippet
 * (nginx/tollgate-locations.conf; keep the two in step): how long nginx
 * waits for tollgate's answer before it answers 503 itself. A request must
 * answer before it: request_timeout_ms plus the statements that record a
 * Stripe call's result stay below it (tollgatectl check-config). */
#define CONFIG_NGINX_READ_TIMEOUT_MS 40000

struct config {
    char *environment;            /* production | staging | development */
    char *database;               /* libpq conninfo string */
    char *fcgi_socket;            /* FastCGI unix socket path */
    char *metrics_path;           /* shared counters file (core/metrics.h) */
    long workers;                 /* pre-forked FastCGI workers */
    long max_body_bytes;          /* hard cap on any request body */
    long json_max_depth;          /* nesting limit for request JSON */
    char *disposable_domains_file;/* one domain a line, '#' comments */
    char *sql_dir;                /* numbered migration files */
    long low_balance_threshold;   /* warn at or below this many credits */
    long ledger_page_size;        /* default page of /credits/transactions */
    long statement_timeout_ms;    /* PostgreSQL statement_timeout per statement */
    long request_timeout_ms;      /* a request's budget; Stripe waits are cut to it */
    char *stripe_api_base;        /* https://api.stripe.com, or the emulator */
    char *stripe_secret_key_file; /* file holding sk_...; "" = Stripe not configured */
    char *stripe_price_pro;       /* Stripe price id of the Pro plan */
    long stripe_connect_timeout_ms;
    long stripe_timeout_ms;       /* per attempt */
    long stripe_max_retries;      /* retries after the first attempt */
    long grace_period_days;       /* after a failed payment, before delinquent */
    long stripe_call_grace_seconds; /* before tollgate-worker takes an unsent call */
    char *stripe_webhook_secret_file; /* file holding whsec_...; "" = refuse webhooks */
    long webhook_tolerance_seconds; /* max |now - signature timestamp| */
    long webhook_max_attempts;    /* handler attempts before a dead letter */
    char *github_webhook_secret_file; /* file holding the GitHub App's webhook secret */
    char *smtp_url;               /* smtp://host:port or smtps://...; "" = no e-mail sent */
    char *smtp_from;              /* From: of every mail, "Name <addr>" or "addr" */
    char *smtp_username;          /* SMTP AUTH user; "" = no authentication */
    char *smtp_password_file;     /* file holding the SMTP password */
    long smtp_starttls;           /* 1: require STARTTLS on smtp:// */
    long smtp_timeout_ms;         /* per mail, whole SMTP exchange */
    long email_max_attempts;      /* attempts at a mail before it is given up */
    long rate_limit_per_hour;     /* requests one API key may make per clock hour; 0 = none */
    char *token_signing_key_file; /* file holding the credentials HMAC key; "" = no tokens */
    long token_ttl_seconds;       /* default lifetime of a credentials token */
    long token_ttl_max_seconds;   /* longest lifetime a client may ask for */

    /* Secrets, read from the files named above (never from the file or the
     * environment themselves); wiped by config_free(). */
    char *stripe_secret_key;      /* NULL when not configured */
    char *stripe_webhook_secret;  /* NULL when not configured */
    char *github_webhook_secret;  /* NULL when not configured */
    char *smtp_password;          /* NULL when not configured */
    char *token_signing_key;      /* NULL when not configured; at least 32 bytes */
};

struct config_key {
    const char *name;     /* key in the file */
    const char *env;      /* environment variable overriding it */
    enum { CONFIG_STRING, CONFIG_LONG } type;
    size_t offset;        /* into struct config */
    const char *def;      /* default, as text */
    long min, max;        /* bounds for CONFIG_LONG */
    const char *doc;      /* one line for docs/configuration.md */
    const char *const *one_of; /* CONFIG_STRING: the accepted values, or NULL */
};

/* config_keys: the table of every key, terminated by a zeroed entry. */
extern const struct config_key config_keys[];

/* config_load: fill cfg from defaults, the file at path (NULL = the default
 * path, which may be absent; an explicit path must exist) and the
 * environment. On error returns TG_ECONFIG with a message naming the file,
 * line and key in err (errlen bytes); cfg is then freed. On success the
 * caller owns cfg's strings: release with config_free(). */
enum tg_err config_load(struct config *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* config_load_buffer: config_load with the INI text given as len bytes at
 * text (borrowed) instead of a file, named name ("<name>:<line>") in
 * messages: defaults, the text, the environment, then the secret files.
 * Errors and ownership as config_load. For tests and the fuzz harness
 * (t/fuzz/fuzz_config.c). */
enum tg_err config_load_buffer(struct config *cfg, const char *name, const char *text, size_t len,
                               char *err, size_t errlen) __attribute__((warn_unused_result));

/* config_free: release the strings of cfg and zero it. */
void config_free(struct config *cfg);

/* config_is_production: environment == "production". */
bool config_is_production(const struct config *cfg);

#endif
