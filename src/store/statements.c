/*
 * statements: the SQL text of every request-path statement; see
 * statements.h. Timestamps leave PostgreSQL as RFC 3339 UTC text, so
 * responses do not depend on the session's TimeZone or DateStyle.
 */
#include "store/statements.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Columns of a customer, in the order customer.c reads them. */
#define CUSTOMER_COLS                                                                          \
    "c.id, c.email, c.name, c.source, c.tier, c.billing_status, c.credit_balance, "            \
    TS("c.created_at")

/* Columns of a ledger entry, in the order ledger.c reads them. */
#define LEDGER_COLS                                                                            \
    "t.id, t.amount, t.kind, t.balance_after, t.reference, t.description, " TS("t.created_at") \
    ", t.seq"

const struct db_statement db_statements[DB_STMT_COUNT] = {
    [DB_HEALTH] = {"health", "SELECT coalesce(max(version), 0) FROM schema_migrations", 0},

    /* Authenticate by key hash; touch last_used_at at most once a minute so
     * a busy key does not write on every request. */
    [DB_APIKEY_AUTH] = {"apikey_auth",
                        "WITH k AS (SELECT id, customer_id, key_prefix, last_used_at"
                        "             FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),"
                        " touch AS (UPDATE api_keys a SET last_used_at = now() FROM k"
                        "            WHERE a.id = k.id AND (k.last_used_at IS NULL"
                        "               OR k.last_used_at < now() - interval '1 minute'))"
                        " SELECT id, customer_id, key_prefix FROM k",
                        1},

    [DB_CUSTOMER_ONBOARD] = {"customer_onboard",
                             "SELECT " CUSTOMER_COLS
                             " FROM customer_onboard($1, $2, $3, $4, $5) c",
                             5},

    [DB_CUSTOMER_GET] = {"customer_get",
                         "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1", 1},

    [DB_USAGE_FIX] = {"usage_fix",
                      "SELECT status, event_id, outcome, balance_after, ledger_entry_id, fix_id, "
                      TS("created_at") " FROM usage_fix_deployed($1, $2, $3, $4, $5)",
                      5},

    /* One statement, so the balance and the entries come from one snapshot;
     * a customer without entries gives one row with NULL entry columns. */
    [DB_USAGE_SUMMARY] = {"usage_summary",
                          "SELECT " CUSTOMER_COLS ", " LEDGER_COLS
                          " FROM customers c LEFT JOIN LATERAL"
                          " (SELECT * FROM credit_transactions t WHERE t.customer_id = c.id"
                          "   ORDER BY t.seq DESC LIMIT $2) t ON true"
                          " WHERE c.id = $1 ORDER BY t.seq DESC",
                          2},

    [DB_METRICS] = {"metrics",
                    "SELECT p.tier, count(c.id), coalesce(sum(c.credit_balance), 0)"
                    " FROM pricing_tiers p LEFT JOIN customers c ON c.tier = p.tier"
                    " GROUP BY p.tier ORDER BY p.tier",
                    0},

    [DB_LEDGER_PAGE] = {"ledger_page",
                        "SELECT " LEDGER_COLS " FROM credit_transactions t"
                        " WHERE t.customer_id = $1 AND ($2::bigint IS NULL OR t.seq < $2::bigint)"
                        " ORDER BY t.seq DESC LIMIT $3",
                        3},
};
