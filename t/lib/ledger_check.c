/* t/lib/ledger_check -- see ledger_check.h. */
#include "ledger_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char md5_sql[] = "SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '')"
                              "  FROM credit_transactions t WHERE t.id <= $1::bigint";

/* Each invariant: what a violation means, and the query that lists them. */
static const struct {
    const char *what;
    const char *sql;
} invariants[] = {
    {"balance differs from the sum of entries (customer balance sum)",
     "SELECT c.id, c.credit_balance, coalesce(s.total, 0)"
     "  FROM customers c LEFT JOIN (SELECT customer_id, sum(amount) AS total"
     "    FROM credit_transactions GROUP BY customer_id) s"
     "    ON s.customer_id = c.id"
     " WHERE c.credit_balance <> coalesce(s.total, 0)"},
    {"negative balance",
     "SELECT 'customer', id::text, credit_balance FROM customers"
     " WHERE credit_balance < 0 UNION ALL"
     " SELECT 'entry', id::text, balance_after FROM credit_transactions"
     " WHERE balance_after < 0"},
    {"balance_after is not the running sum (entry recorded running)",
     "SELECT id, balance_after, running FROM (SELECT id, balance_after,"
     "   sum(amount) OVER (PARTITION BY customer_id ORDER BY seq) AS running"
     "   FROM credit_transactions) t WHERE balance_after <> running"},
    /* The audit log's hash chains and their heads, recomputed by SQL
     * (tollgatectl verify-audit recomputes them, and the seals, in C). */
    {"audit log row altered, removed or inserted (chain, seq)",
     "SELECT chain, chain_seq FROM (SELECT a.chain, a.chain_seq, a.prev_hash,"
     "   a.hash, lag(a.chain_seq) OVER w AS pseq, lag(a.hash) OVER w AS ph,"
     "   audit_row_content(a) AS content FROM audit_log a"
     "   WINDOW w AS (PARTITION BY a.chain ORDER BY a.chain_seq)) a"
     " WHERE hash <> sha256(prev_hash || convert_to(content, 'UTF8'))"
     "    OR prev_hash <> coalesce(ph, decode(repeat('00', 32), 'hex'))"
     "    OR chain_seq <> coalesce(pseq, 0) + 1"},
    {"audit chain's head does not match its last row (chain, head seq)",
     "SELECT c.chain, c.seq FROM audit_chains c LEFT JOIN LATERAL"
     " (SELECT a.chain_seq, a.hash FROM audit_log a WHERE a.chain = c.chain"
     "   ORDER BY a.chain_seq DESC LIMIT 1) l ON true"
     " WHERE c.seq <> coalesce(l.chain_seq, 0)"
     "    OR c.hash <> coalesce(l.hash, decode(repeat('00', 32), 'hex'))"},
};

/* query: sql with the params on db; NULL (message on stderr) on failure. */
static PGresult *query(PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    fprintf(stderr, "ledger check: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return NULL;
}

/* entries_md5: the md5 over the entries up to max_id into out; -1 on failure. */
static int entries_md5(PGconn *db, long long max_id, char out[64])
{
    char max[32];
    snprintf(max, sizeof(max), "%lld", max_id);
    const char *p[1] = {max};
    PGresult *r = query(db, md5_sql, 1, p);
    if (r == NULL)
        return -1;
    snprintf(out, 64, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int ledger_snapshot_take(PGconn *db, struct ledger_snapshot *s)
{
    PGresult *r = query(db, "BEGIN", 0, NULL);
    if (r == NULL)
        return -1;
    PQclear(r);
    int rc = -1;
    if ((r = query(db, "LOCK TABLE credit_transactions IN SHARE MODE", 0, NULL)) == NULL)
        goto out;
    PQclear(r);
    if ((r = query(db, "SELECT coalesce(max(id), 0) FROM credit_transactions", 0, NULL)) == NULL)
        goto out;
    s->max_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    rc = entries_md5(db, s->max_id, s->md5);
out:
    PQclear(query(db, rc == 0 ? "COMMIT" : "ROLLBACK", 0, NULL));
    return rc;
}

int ledger_violations(PGconn *db, const struct ledger_snapshot *s)
{
    int bad = 0;
    for (size_t k = 0; k < sizeof(invariants) / sizeof(invariants[0]); k++) {
        PGresult *r = query(db, invariants[k].sql, 0, NULL);
        if (r == NULL)
            return -1;
        int n = PQntuples(r);
        for (int i = 0; i < n && i < 10; i++) {
            fprintf(stderr, "ledger check: %s:", invariants[k].what);
            for (int c = 0; c < PQnfields(r); c++)
                fprintf(stderr, " %s", PQgetvalue(r, i, c));
            fputc('\n', stderr);
        }
        PQclear(r);
        bad += n;
    }
    char md5[64];
    if (entries_md5(db, s->max_id, md5) != 0)
        return -1;
    if (strcmp(md5, s->md5) != 0) {
        fprintf(stderr, "ledger check: entries with id <= %lld changed during the test\n",
                s->max_id);
        bad++;
    }
    return bad;
}
