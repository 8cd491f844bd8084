/*
 * ctl: tollgatectl's subcommands. Each takes a context (the open
 * connection, the configuration, the output stream), its arguments (argv[0]
 * is the subcommand's name) and returns the process exit status:
 * CTL_OK success, CTL_FAIL failure, refusal or a problem found, CTL_USAGE a
 * usage error. Every subcommand answers --help (and -h) with its usage on
 * stdout and CTL_OK. Messages for the operator go to stderr, prefixed
 * "tollgatectl: "; results go to out.
 */
#ifndef TOLLGATE_CTL_H
#define TOLLGATE_CTL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "core/config.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
    PGconn *db;                /* connected; the session's audit actor is set */
    const struct config *cfg;
    FILE *out;
};

/* struct ctl_command: one row of tollgatectl's command table. */
struct ctl_command {
    const char *name;      /* "customers" */
    const char *synopsis;  /* "list [--json] | show CUSTOMER [--json]" */
    const char *summary;   /* one line for tollgatectl --help */
    bool needs_db;         /* false: run() gets ctx->db == NULL */
    int (*run)(struct ctl *ctx, int argc, char **argv);
};

/* ---- util.c: what every subcommand shares -------------------------------- */

/* ctl_actor: "operator:<login>" for the audit log, from SUDO_USER, else
 * the login of the real uid, else "operator:uid<N>". Static storage. */
const char *ctl_actor(void);

/* ctl_connect: connect to cfg->database and set the session's audit actor
 * (tollgate.actor) to ctl_actor(). NULL with a message on stderr when the
 * database is unreachable. The caller PQfinish()es the connection. */
PGconn *ctl_connect(const struct config *cfg);

/* ctl_query: PQexecParams with text params; on an error prints the server's
 * message (prefixed "tollgatectl: ") and returns NULL. The caller
 * PQclear()s the result. */
PGresult *ctl_query(PGconn *db, const char *sql, int nparams, const char *const *params);

/* ctl_wants_help: argv (of argc) holds --help or -h. */
bool ctl_wants_help(int argc, char **argv);

/* ctl_usage: print "usage: tollgatectl NAME SYNOPSIS" to stdout (help) or
 * stderr (a usage error) and return CTL_OK or CTL_USAGE accordingly. */
int ctl_usage(const char *name, const char *synopsis, bool help);

/* ctl_print_json: dump j (indented, keys in insertion order) and a newline
 * to out; takes the reference to j. */
void ctl_print_json(FILE *out, json_t *j);

/* ctl_customer_id: resolve CUSTOMER (a uuid, or an e-mail address compared
 * case-insensitively) to the customer's uuid, written to id (37 bytes).
 * Returns false with a message on stderr when there is no such customer. */
bool ctl_customer_id(PGconn *db, const char *customer, char id[37]);

/* ---- the subcommands ------------------------------------------------------ */

/* ctl_dead_letters: "dead-letters list [--json] | show ID | replay ID |
 * replay --all": Stripe events whose handler failed webhook_max_attempts
 * times. Replaying makes them pending again, with a fresh attempt count. */
int ctl_dead_letters(struct ctl *ctx, int argc, char **argv);

/* ctl_reconcile: "reconcile [--fix] [--json]": compare local subscriptions
 * and charges with Stripe's (list calls), print every difference, and with
 * --fix bring the local side in line with Stripe. Exit 1 when differences
 * were found (and, with --fix, could not all be repaired). */
int ctl_reconcile(struct ctl *ctx, int argc, char **argv);

/* The table of every subcommand, terminated by a NULL name (tollgatectl.c). */
extern const struct ctl_command ctl_commands[];

#endif
