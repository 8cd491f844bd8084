/*
 * sql: text shared by the statements of the store modules (private to
 * src/store). Timestamps leave PostgreSQL as RFC 3339 UTC text, so answers
 * do not depend on the session's TimeZone or DateStyle.
 */
#ifndef TOLLGATE_STORE_SQL_H
#define TOLLGATE_STORE_SQL_H

/* SQL_TS: column col as "YYYY-MM-DDTHH:MI:SS.US" + "Z" (microseconds). */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* SQL_BIGINT_ID(p) / SQL_UUID_ID(p): text parameter p (e.g. "$1") as the
 * bigint or uuid id whose canonical text it is, else NULL, so that
 * `id = SQL_BIGINT_ID("$1")` matches exactly the rows `id::text = $1`
 * would, through the primary key's index instead of a scan of the table.
 * (Ids come back from Stripe's metadata, which anybody with the account
 * can edit: never cast such text unchecked.) */
#define SQL_BIGINT_ID(p) "CASE WHEN " p " ~ '^[1-9][0-9]{0,17}$' THEN " p "::bigint END"
#define SQL_UUID_ID(p)                                                                    \
    "CASE WHEN " p " ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'" \
    " THEN " p "::uuid END"

#endif
