/*
 * sql: text shared by the statements of the store modules (private to
 * src/store). Timestamps leave PostgreSQL as RFC 3339 UTC text, so answers
 * do not depend on the session's TimeZone or DateStyle.
 */
#ifndef TOLLGATE_STORE_SQL_H
#define TOLLGATE_STORE_SQL_H

/* SQL_TS: column col as "YYYY-MM-DDTHH:MI:SS.US" + "Z" (microseconds). */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* SQL_TS_S: the same to the second, for operators' listings. */
#define SQL_TS_S(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#endif
