/*
 * t/lib/ledger_check -- the ledger and audit invariants that every
 * integration test (t/integration/harness.c) and every domain test
 * (t/domain/fixture.c) checks when it ends, in one place:
 *
 *   - each customer's cached balance is the sum of its entries;
 *   - no balance and no entry's balance_after is negative;
 *   - each entry's balance_after is the running sum of its customer's
 *     entries in ledger order (seq);
 *   - every audit chain hashes through, row by row, and its head
 *     (audit_chains) matches its last row (docs/audit-log.md);
 *   - no entry that existed when the test began was changed or removed.
 *
 * tollgatectl verify-ledger checks the rest (orphans, usage events against
 * their entries); the callers run it too.
 */
#ifndef TOLLGATE_T_LEDGER_CHECK_H
#define TOLLGATE_T_LEDGER_CHECK_H

#include <libpq-fe.h>

/* The entries as a test found them. */
struct ledger_snapshot {
    long long max_id; /* the highest ledger entry id */
    char md5[64];     /* md5 over the entries with id <= max_id, in id order */
};

/* ledger_snapshot_take: record the ledger as it is on connection db,
 * waiting for every transaction that is inserting entries (LOCK ... IN SHARE
 * MODE), so no entry with a lower id can appear afterwards. Returns 0, or
 * -1 with the failed query on stderr. */
int ledger_snapshot_take(PGconn *db, struct ledger_snapshot *s);

/* ledger_violations: check the invariants above on db against snapshot s.
 * Returns how many violations were found (each printed on stderr, prefixed
 * "ledger check: "), or -1 when a query failed (printed too). */
int ledger_violations(PGconn *db, const struct ledger_snapshot *s);

#endif
