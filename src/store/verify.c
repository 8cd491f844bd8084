/*
 * verify: the ledger invariants, checked from outside the request path
 * (tollgatectl verify-ledger, and the integration tests after every test).
 */
#include "store/verify.h"

#include <libpq-fe.h>

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
    " WHERE t.balance_after <> t.running OR t.balance_after < 0 OR t.seq <> t.n";

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
        for (int i = 0; i < n; i++)
            fprintf(out, "%s mismatch: %s: recorded %s, entries sum to %s\n", PQgetvalue(r, i, 0),
                    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
        if (n == 0)
            fprintf(out, "ledger ok\n");
        rc = n != 0;
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}
