/*
 * schema: see schema.h.
 */
#include <config.h>

#include "store/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/db.h"
#include "store/registry.h"

#define REQUIRE_CONNECT_TIMEOUT "10" /* seconds, unless conninfo says otherwise */
#define SQLSTATE_UNDEFINED_TABLE "42P01"

static const struct db_statement version_st = {
    "schema_version", "SELECT coalesce(max(version), 0) FROM schema_migrations", 0};

const struct db_statement *const schema_statements[] = {&version_st, NULL};

enum tg_err schema_version(struct tg_ctx *ctx, long *version)
{
    PGresult *r;
    enum tg_err e = db_exec(ctx, &version_st, NULL, NULL, NULL, &r);
    if (e != TG_OK)
        return e;
    if (PQntuples(r) != 1)
        return ctx_fail(ctx, TG_EINTERNAL, NULL);
    *version = (long)db_ll(r, 0, 0);
    return TG_OK;
}

/* first_line: text up to its first line break into why. */
static void first_line(char *why, size_t why_len, const char *text)
{
    snprintf(why, why_len, "%.*s", (int)strcspn(text, "\r\n"), text);
}

/* applied: the highest migration recorded, into *version (0 without
 * schema_migrations); false with the reason in why when the query failed. */
static bool applied(PGconn *c, long *version, char *why, size_t why_len)
{
    PGresult *r = PQexecParams(c, version_st.sql, 0, NULL, NULL, NULL, NULL, 0);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    bool ok = true;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else if (state != NULL && strcmp(state, SQLSTATE_UNDEFINED_TABLE) == 0)
        *version = 0; /* never migrated */
    else {
        first_line(why, why_len, PQerrorMessage(c));
        ok = false;
    }
    PQclear(r);
    return ok;
}

enum schema_state schema_require(const char *conninfo, const char *release, char *why,
                                 size_t why_len)
{
    /* Keywords apply in order: conninfo, expanded from dbname, overrides
     * the connect_timeout before it. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {REQUIRE_CONNECT_TIMEOUT, conninfo, NULL};
    why[0] = '\0';
    PGconn *c = PQconnectdbParams(keys, values, 1);
    enum schema_state st = SCHEMA_UNKNOWN;
    long version = 0;
    if (PQstatus(c) != CONNECTION_OK)
        first_line(why, why_len, PQerrorMessage(c));
    else if (applied(c, &version, why, why_len))
        st = version >= SCHEMA_NEEDED ? SCHEMA_CURRENT : SCHEMA_BEHIND;
    if (st == SCHEMA_BEHIND)
        snprintf(why, why_len,
                 "the database schema is at migration %ld, %s needs %d: run tollgatectl migrate",
                 version, release, SCHEMA_NEEDED);
    PQfinish(c);
    return st;
}

bool schema_allows_start(const char *conninfo, const char *program)
{
    char why[512];
    switch (schema_require(conninfo, "tollgate " PACKAGE_VERSION, why, sizeof(why))) {
    case SCHEMA_BEHIND:
        log_text(LOG_ERROR, "%s: %s", program, why);
        return false;
    case SCHEMA_UNKNOWN:
        log_msg(LOG_WARN, "schema not checked, starting anyway: %s", why);
        return true;
    case SCHEMA_CURRENT:
        break;
    }
    return true;
}
