/*
 * verify: checks of the ledger invariants (DESIGN.md section 2).
 */
#ifndef TOLLGATE_VERIFY_H
#define TOLLGATE_VERIFY_H

#include <stdio.h>

/* verify_ledger: check that each customer's credit_balance equals the sum
 * of its ledger entries, that no balance is negative, and that each entry's
 * balance_after is the running sum (an entry changed in place breaks it).
 * Prints each problem to out. Returns 0 when clean, 1 otherwise (including
 * when the database cannot be reached). */
int verify_ledger(const char *conninfo, FILE *out);

#endif
