/*
 * verify: checks of the ledger invariants (DESIGN.md section 2).
 */
#ifndef TOLLGATE_VERIFY_H
#define TOLLGATE_VERIFY_H

#include <stdio.h>

/* verify_ledger: check that each customer's credit_balance equals the sum
 * of its ledger entries, that no balance is negative, that each entry's
 * balance_after is the running sum (an entry changed in place breaks it),
 * that every entry's and usage event's customer exists, and that each
 * usage event's outcome agrees with its ledger entry (a credit or charged
 * event has its customer's fix_deployed entry; a processing or unbilled
 * one has none).
 * Prints each problem to out. Returns 0 when clean, 1 otherwise (including
 * when the database cannot be reached). */
int verify_ledger(const char *conninfo, FILE *out);

#endif
