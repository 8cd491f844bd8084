/*
 * verify: the ledger invariants, checked from outside the request path
 * (tollgatectl verify-ledger, and the integration tests after every test).
 */
#include "store/verify.h"

#include <libpq-fe.h>
#include <string.h>

static const char verify_sql[] =
    "SELECT 'balance' AS problem, c.id::text, c.credit_balance::text, coalesce(s.total, 0)::text"
    "  FROM customers c LEFT JOIN (SELECT customer_id, sum(amount) AS total"
    "                                FROM credit_transactions GROUP BY customer_id) s"
    "    ON s.customer_id = c.id"
    " WHERE c.credit_balance <> coalesce(s.total, 0) OR c.credit_balance < 0"
    " UNION ALL "
    "SELECT 'entry', t.customer_id::text || ' entry ' || t.id, t.balance_after::text,"
    "       t.running::text"
    "  FROM (SELECT id, customer_id, balance_after, seq,"
    "               sum(amount) OVER w AS running, row_number() OVER w AS n"
    "          FROM credit_transactions"
    "        WINDOW w AS (PARTITION BY customer_id ORDER BY seq)) t"
    " WHERE t.balance_after <> t.running OR t.balance_after < 0 OR t.seq <> t.n"
    /* The references the ledger and the usage events hold without foreign
     * keys (sql/006_functions_apart.sql): every entry's and event's
     * customer exists, and an event's outcome agrees with its entry. */
    " UNION ALL "
    "SELECT 'orphan', 'entry ' || t.id, t.customer_id::text, 'no such customer'"
    "  FROM credit_transactions t LEFT JOIN customers c ON c.id = t.customer_id"
    " WHERE c.id IS NULL"
    " UNION ALL "
    "SELECT 'orphan', 'usage event ' || u.id, u.customer_id::text, 'no such customer'"
    "  FROM usage_events u LEFT JOIN customers c ON c.id = u.customer_id"
    " WHERE c.id IS NULL"
    " UNION ALL "
    "SELECT 'usage', u.customer_id::text || ' usage event ' || u.id,"
    "       u.outcome || ' with entry ' || coalesce(u.ledger_entry_id::text, 'none'),"
    "       coalesce(t.kind || ' of ' || t.customer_id, 'no such entry')"
    "  FROM usage_events u LEFT JOIN credit_transactions t ON t.id = u.ledger_entry_id"
    " WHERE (u.outcome IN ('processing', 'unbilled')) <> (u.ledger_entry_id IS NULL)"
    "    OR (u.ledger_entry_id IS NOT NULL AND (t.id IS NULL OR t.customer_id <> u.customer_id"
    "        OR t.kind <> 'fix_deployed'))"
    /* Credit holds (sql/functions/holds.sql): the cached count of credits
     * held is the number of active credit holds, and never more than the
     * balance (held <= balance: a settle always finds its credit). */
    " UNION ALL "
    "SELECT 'held', c.id::text, c.credits_held::text,"
    "       coalesce(h.n, 0) || ' active credit holds, balance ' || c.credit_balance"
    "  FROM customers c LEFT JOIN (SELECT customer_id, count(*) AS n FROM holds"
    "                               WHERE status = 'active' AND reserves = 'credit'"
    "                               GROUP BY customer_id) h ON h.customer_id = c.id"
    " WHERE c.credits_held <> coalesce(h.n, 0) OR c.credits_held > c.credit_balance";

int verify_ledger(const char *conninfo, FILE *out)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tollgatectl: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    PGresult *r = PQexecParams(c, verify_sql, 0, NULL, NULL, NULL, NULL, 0);
    int rc = 1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "tollgatectl: verify-ledger: %s", PQerrorMessage(c));
    } else {
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            const char *problem = PQgetvalue(r, i, 0);
            if (strcmp(problem, "orphan") == 0)
                fprintf(out, "orphan: %s: customer %s: %s\n", PQgetvalue(r, i, 1),
                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
            else if (strcmp(problem, "held") == 0)
                fprintf(out, "held mismatch: customer %s: %s held, %s\n", PQgetvalue(r, i, 1),
                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
            else if (strcmp(problem, "usage") == 0)
                fprintf(out, "usage mismatch: %s: %s, %s\n", PQgetvalue(r, i, 1),
                        PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
            else
                fprintf(out, "%s mismatch: %s: recorded %s, entries sum to %s\n", problem,
                        PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        }
        if (n == 0)
            fprintf(out, "ledger ok\n");
        rc = n != 0;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}
