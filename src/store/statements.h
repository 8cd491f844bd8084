/*
 * statements: every SQL statement the request path runs, by name. The text
 * lives in statements.c as reviewed constants; each takes parameters only
 * and is prepared once per connection by db_connect().
 */
#ifndef TOLLGATE_STATEMENTS_H
#define TOLLGATE_STATEMENTS_H

enum db_stmt {
    DB_HEALTH,            /* () -> schema version */
    DB_APIKEY_AUTH,       /* (key_hash bytea) -> api_key_id, customer_id, key_prefix */
    DB_CUSTOMER_ONBOARD,  /* (email, name, source, key_hash, key_prefix) -> customer row */
    DB_CUSTOMER_GET,      /* (customer_id) -> customer row */
    DB_USAGE_FIX,         /* (customer_id, key, request_hash, fix_id, metadata) -> outcome */
    DB_USAGE_SUMMARY,     /* (customer_id, n) -> customer cols + its n newest entries */
    DB_LEDGER_PAGE,       /* (customer_id, before_seq|NULL, limit) -> entries newest first */
    DB_METRICS,           /* () -> tier, customers, credits outstanding */
    DB_STMT_COUNT
};

struct db_statement {
    const char *name; /* prepared statement name */
    const char *sql;
    int nparams;
};

/* db_statements: indexed by enum db_stmt. */
extern const struct db_statement db_statements[DB_STMT_COUNT];

#endif
