/*
 * ctl: tollgatectl's subcommands beyond migrations. Each takes an open
 * connection, its arguments (argv[0] is the subcommand) and the stream to
 * print to, and returns the process exit status: 0 success, 1 failure or
 * a problem found, 2 usage error.
 */
#ifndef TOLLGATE_CTL_H
#define TOLLGATE_CTL_H

#include <libpq-fe.h>
#include <stdio.h>

#include "core/config.h"

/* ctl_dead_letters: "dead-letters list [--json] | show ID | replay ID |
 * replay --all": Stripe events whose handler failed webhook_max_attempts
 * times. Replaying makes them pending again, with a fresh attempt count. */
int ctl_dead_letters(PGconn *c, int argc, char **argv, FILE *out);

/* ctl_reconcile: "reconcile [--fix] [--json]": compare local subscriptions
 * and charges with Stripe's (list calls), print every difference, and with
 * --fix bring the local side in line with Stripe. Exit 1 when differences
 * were found (and, with --fix, could not all be repaired). */
int ctl_reconcile(PGconn *c, const struct config *cfg, int argc, char **argv, FILE *out);

#endif
