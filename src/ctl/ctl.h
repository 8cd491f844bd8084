/*
 * ctl: tollgatectl's subcommands. Each takes a context (the configuration,
 * the output stream and, for commands that need the database, the work's
 * context: connection, Stripe client, the operator as audit actor), its
 * arguments (argv[0] is the subcommand's name) and returns the process
 * exit status:
 * CTL_OK success, CTL_FAIL failure, refusal or a problem found, CTL_USAGE a
 * usage error. Every subcommand answers --help (and -h) with its usage on
 * stdout and CTL_OK. Messages for the operator go to stderr, prefixed
 * "tollgatectl: "; results go to out.
 */
#ifndef TOLLGATE_CTL_H
#define TOLLGATE_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "core/config.h"
#include "core/ctx.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
    const struct config *cfg;
    FILE *out;
    struct tg_ctx *tg;         /* needs_db: connected, actor set; else NULL */
};

/* struct ctl_command: one row of tollgatectl's command table. */
struct ctl_command {
    const char *name;      /* "customers" */
    const char *synopsis;  /* "list [--json] | show CUSTOMER [--json]" */
    const char *summary;   /* one line for tollgatectl --help */
    bool needs_db;         /* false: run() gets ctx->tg == NULL */
    int (*run)(struct ctl *ctx, int argc, char **argv);
};

/* ---- util.c: what every subcommand shares -------------------------------- */

/* ctl_actor: "operator:<login>" for the audit log, from SUDO_USER, else
 * the login of the real uid, else "operator:uid<N>". Static storage. */
const char *ctl_actor(void);

/* ctl_open: make ctx->tg, the command's work context ("ctl:<command>"):
 * the database connection and ctl_actor() as audit actor, without a
 * Stripe client (ctl_stripe). Every command reaches the database through
 * the domain (domain/) with it, never with SQL of its own
 * (t/checks/no-sql-in-ctl). Returns false with a message on stderr when
 * the database cannot be used: why, as check-config finds it (libpq's
 * reason, or a schema that is not migrated or newer than sql_dir), after
 * the JSON log line of the failure itself. ctl_close() releases it (and
 * is a no-op without ctl_open). One per process. */
bool ctl_open(struct ctl *ctx, const char *command);
void ctl_close(struct ctl *ctx);

/* ctl_stripe: give ctx->tg, made by ctl_open, the Stripe client, for a
 * command that calls Stripe. Returns false with the reason on stderr when
 * Stripe is not configured (stripe_secret_key_file) or the client cannot
 * start. */
bool ctl_stripe(struct ctl *ctx);

/* ctl_fail: print ctx's failure (its detail, else err's description) as
 * "tollgatectl: <detail>" on stderr; returns CTL_FAIL. A database error
 * without a detail (a statement PostgreSQL refused) says that
 * PostgreSQL's message is in the JSON log line printed just before: the
 * store keeps it out of ctx->error, which the API shows to clients. */
int ctl_fail(struct ctl *ctx, enum tg_err err);

/* ctl_wants_help: argv (of argc) holds --help or -h. */
bool ctl_wants_help(int argc, char **argv);

/* ctl_usage: print "usage: tollgatectl NAME SYNOPSIS" to stdout (help) or
 * stderr (a usage error) and return CTL_OK or CTL_USAGE accordingly. */
int ctl_usage(const char *name, const char *synopsis, bool help);

/* ctl_usage_error: "tollgatectl: NAME: <message>" and the usage line on
 * stderr; returns CTL_USAGE. */
int ctl_usage_error(const char *name, const char *synopsis, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ctl_option: argv[*i] is the option name, as "NAME VALUE" or
 * "NAME=VALUE". Returns false when it is not; else sets *value (NULL when
 * VALUE is missing) and moves *i past a separate VALUE. */
bool ctl_option(int argc, char **argv, int *i, const char *name, const char **value);

/* ctl_characters: the UTF-8 code points of s (for limits stated in
 * characters). */
size_t ctl_characters(const char *s);

/* ctl_print_json: dump j (indented, keys in insertion order) and a newline
 * to out; takes the reference to j. */
void ctl_print_json(FILE *out, json_t *j);

/* ctl_utc: a time as the store gives it (RFC 3339 UTC with microseconds,
 * "2024-05-01T12:00:00.123456Z") cut to the second, as tollgatectl shows
 * times ("2024-05-01T12:00:00Z"), in buf; "-" when ts is NULL. */
#define CTL_UTC_LEN 24
const char *ctl_utc(const char *ts, char buf[CTL_UTC_LEN]);

/* ctl_json_utc: ctl_utc as a new JSON string; null when ts is NULL. */
json_t *ctl_json_utc(const char *ts);

/* ctl_json_str: s as a new JSON string; null when s is NULL. */
json_t *ctl_json_str(const char *s);

/* ctl_keys_json: API keys k[0..n) as a new JSON array, each key's id,
 * prefix, name, created_at, last_used_at and revoked_at (times as
 * ctl_json_utc; never a hash): api-keys list --json and customers show. */
struct api_key;
json_t *ctl_keys_json(const struct api_key *k, size_t n);

/* ctl_customer_id: resolve CUSTOMER (a uuid, or an e-mail address compared
 * case-insensitively) to the customer's uuid, written to id (37 bytes).
 * Returns false with a message on stderr when there is no such customer. */
bool ctl_customer_id(struct ctl *ctx, const char *customer, char id[37]);

/* ---- check_config.c: the rules tollgatectl check-config applies ------------
 * Pure functions of a loaded configuration: no files, no database, so that
 * t/unit/test_check_config.c can call them. Each finding is one line of
 * check-config's report: "ok", "warning" or "error", what was checked, and
 * why (never a secret's value; at most a key's prefix such as "sk_test_"). */

enum ctl_check_status { CTL_CHECK_OK, CTL_CHECK_WARNING, CTL_CHECK_ERROR };

#define CTL_CHECKS_MAX 64

struct ctl_check {
    enum ctl_check_status status;
    char what[80];    /* "stripe_secret_key", "database", a *_file key ... */
    char detail[400]; /* why it is a problem; for ok, what was found ("" = nothing) */
};

/* struct ctl_checks: the findings so far. Findings beyond CTL_CHECKS_MAX
 * are not kept but still counted in errors and warnings. */
struct ctl_checks {
    struct ctl_check items[CTL_CHECKS_MAX];
    size_t n;
    int errors, warnings;
};

/* ctl_check_add: append a finding (detail is a printf format, may be ""). */
void ctl_check_add(struct ctl_checks *c, enum ctl_check_status status, const char *what,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ctl_stripe_key_problem: NULL when key (not NULL) is acceptable as the
 * Stripe secret key for the environment, else a static message. Rules
 * (Stripe: API keys): "sk_test_", "sk_live_", "rk_test_" or "rk_live_"
 * (restricted keys) followed by at least 8 characters, all of [A-Za-z0-9_];
 * a live key outside production and a test key in production are refused,
 * so that staging never moves real money and production never takes fake
 * payments. */
const char *ctl_stripe_key_problem(const char *key, bool production);

/* ctl_webhook_secret_problem: NULL when secret (not NULL) has the shape of
 * a Stripe webhook endpoint's signing secret ("whsec_" and at least one
 * more character), else a static message. */
const char *ctl_webhook_secret_problem(const char *secret);

/* ctl_price_problem: NULL when price (not NULL) looks like a Stripe price
 * id ("price_" and at least one more character), else a static message. */
const char *ctl_price_problem(const char *price);

/* ctl_check_settings: append the findings about cfg's values to out: the
 * environment, the Stripe secret key (required in production, a warning
 * elsewhere; ctl_stripe_key_problem), stripe_price_pro (required with a key),
 * the webhook secret and the token signing key (required in production),
 * the GitHub webhook secret (optional), SMTP (smtp_from with smtp_url, a
 * password with a user name) and stripe_api_base (https:// required in
 * production, a warning elsewhere), and outbound_allow_http off in
 * production. NULL strings in cfg count as empty. */
void ctl_check_settings(const struct config *cfg, struct ctl_checks *out);

/* ctl_check_database: append the findings about cfg's database: reachable
 * (else libpq's reason, first line), its schema at the highest migration
 * in sql_dir with the functions of sql_dir/functions. Connects by itself,
 * giving up after a few seconds unless cfg->database sets connect_timeout;
 * the conninfo appears in no finding. */
void ctl_check_database(const struct config *cfg, struct ctl_checks *out);

/* ---- the subcommands ------------------------------------------------------ */

/* ctl_dead_letters: "dead-letters list [--json] | show ID | replay ID |
 * replay --all": Stripe events whose handler failed webhook_max_attempts
 * times. Replaying makes them pending again, with a fresh attempt count. */
int ctl_dead_letters(struct ctl *ctx, int argc, char **argv);

/* ctl_webhooks: the product's webhook endpoints and their deliveries
 * (domain/outbound.h; docs/outbound-webhooks.md): add (the secret is
 * printed once), list, remove, test, rotate-secret, deliveries, replay.
 * Changes are audited. */
#define CTL_WEBHOOKS_SYNOPSIS                                                                   \
    "add URL [--events TYPE,...] | list [--json] | remove ENDPOINT | test ENDPOINT | "         \
    "rotate-secret ENDPOINT | deliveries [--failed] [--limit N] [--json] | replay ID"
int ctl_webhooks(struct ctl *ctx, int argc, char **argv);

/* ctl_reconcile: "reconcile [--fix] [--json]": compare local subscriptions
 * and charges with Stripe's (list calls), print every difference, and with
 * --fix bring the local side in line with Stripe. Exit 1 when differences
 * were found (and, with --fix, could not all be repaired). */
int ctl_reconcile(struct ctl *ctx, int argc, char **argv);

/* ctl_check_config: "check-config [--json]": ctl_check_settings, then
 * every configured secret file (regular, owner-only, owned by the running
 * user), the disposable domains file, and the database (reachable, schema
 * at the highest migration in sql_dir). Connects by itself (needs_db
 * false), so an unreachable database is a finding. Exit 1 when any finding
 * is an error. */
int ctl_check_config(struct ctl *ctx, int argc, char **argv);

/* ctl_verify_audit: "verify-audit [--json]": recompute the audit log's
 * chains and seals in C (audit_verify, domain/audit.h) from one snapshot;
 * name every row altered, removed or inserted (its chain and seq), every
 * chain whose head does not match its last row, every row a seal recorded
 * that is gone or changed (a chain cut short), and every seal altered or
 * removed; print the last seal's hash. Exit 1 when anything is wrong. */
int ctl_verify_audit(struct ctl *ctx, int argc, char **argv);

/* ctl_reset_staging: "reset-staging [--json]": refuse in production; else,
 * in one transaction, delete the customers at @example.com and
 * @test.example.com (staging_reset()) and seed one customer for each of
 * the ten billing states, printing their API keys once. Connects by
 * itself (needs_db false) after the production check. */
int ctl_reset_staging(struct ctl *ctx, int argc, char **argv);

/* ctl_customers: "customers list [--email TEXT] [--limit N] [--json] |
 * show CUSTOMER [--json]": the newest customers (default 50, at most 1000;
 * --email a substring of the address, any case), or one customer in full:
 * the account, the live subscription, its API keys (never a hash), the 10
 * newest ledger entries and audit log rows. */
int ctl_customers(struct ctl *ctx, int argc, char **argv);

/* ctl_credits: "credits grant CUSTOMER AMOUNT --reason TEXT | adjust
 * CUSTOMER AMOUNT --reason TEXT": one 'adjustment' ledger entry through
 * credits_adjust() (grant: AMOUNT > 0; adjust: either sign, not 0). Exit 1
 * when it would make the balance negative (nothing is written). */
int ctl_credits(struct ctl *ctx, int argc, char **argv);

/* ctl_spend_limit: "spend-limit set CUSTOMER CENTS CURRENCY | remove
 * CUSTOMER": the customer's monthly cap on charges for fixes, through
 * domain/spend_limit.h (audited). Exit 1 for an unknown customer or a
 * currency fixes are not charged in. */
int ctl_spend_limit(struct ctl *ctx, int argc, char **argv);

/* ctl_api_keys: "api-keys list CUSTOMER [--json] | create CUSTOMER [--name
 * NAME] | revoke KEY_ID [--force]": the API's key rules (at most
 * APIKEY_MAX_ACTIVE active keys; the last active key only with --force).
 * A new key is printed once and then wiped. */
int ctl_api_keys(struct ctl *ctx, int argc, char **argv);

/* ctl_flags: "flags list [--json] | set NAME on|off|PERCENT": the feature
 * flags (billing_enabled, the billing kill switch, and
 * automated_customer_onboarding, signup) and their rollout percentage. */
int ctl_flags(struct ctl *ctx, int argc, char **argv);

/* ctl_status: "status [--json]": the first screen of an operator -- the
 * database sessions of tollgate-fcgi workers and tollgate-worker, queue
 * depths (Stripe calls, e-mails, webhook events pending), dead letters,
 * the last webhook received and applied, connections of max_connections
 * and the schema version, all from one statement (health_overview);
 * requests and error rate are unknown to it (GET /metrics has them) and
 * said so. Exit 1 when the database cannot be read. */
int ctl_status(struct ctl *ctx, int argc, char **argv);

/* The table of every subcommand, terminated by a NULL name (tollgatectl.c). */
extern const struct ctl_command ctl_commands[];

#endif
