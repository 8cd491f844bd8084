/*
 * util: helpers every tollgatectl subcommand shares; see ctl.h.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "http/validate.h"

const char *ctl_actor(void)
{
    static char actor[128];
    if (actor[0] != '\0')
        return actor;
    const char *who = getenv("SUDO_USER");
    struct passwd *pw = NULL;
    if (who == NULL || who[0] == '\0') {
        pw = getpwuid(getuid());
        who = pw != NULL ? pw->pw_name : NULL;
    }
    if (who != NULL && who[0] != '\0' && strcspn(who, "\n\r") == strlen(who))
        snprintf(actor, sizeof(actor), "operator:%.100s", who);
    else
        snprintf(actor, sizeof(actor), "operator:uid%u", (unsigned)getuid());
    return actor;
}

PGconn *ctl_connect(const struct config *cfg)
{
    PGconn *db = PQconnectdb(cfg->database);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "tollgatectl: cannot connect to the database: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    const char *p[1] = {ctl_actor()};
    PGresult *r = ctl_query(db, "SELECT set_config('tollgate.actor', $1, false)", 1, p);
    if (r == NULL) {
        PQfinish(db);
        return NULL;
    }
    PQclear(r);
    return db;
}

PGresult *ctl_query(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(db, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        fprintf(stderr, "tollgatectl: %s\n", msg != NULL ? msg : PQerrorMessage(db));
        PQclear(r);
        return NULL;
    }
    return r;
}

bool ctl_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int ctl_usage(const char *name, const char *synopsis, bool help)
{
    FILE *to = help ? stdout : stderr;
    fprintf(to, "usage: tollgatectl %s %s\n", name, synopsis);
    return help ? CTL_OK : CTL_USAGE;
}

int ctl_usage_error(const char *name, const char *synopsis, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tollgatectl: %s: ", name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return ctl_usage(name, synopsis, false);
}

bool ctl_option(int argc, char **argv, int *i, const char *name, const char **value)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return false;
    if (a[n] == '=')
        *value = a + n + 1;
    else
        *value = *i + 1 < argc ? argv[++*i] : NULL;
    return true;
}

size_t ctl_characters(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void ctl_print_json(FILE *out, json_t *j)
{
    json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(j);
}

bool ctl_customer_id(PGconn *db, const char *customer, char id[37])
{
    const char *p[1] = {customer};
    PGresult *r = ctl_query(db,
                            valid_uuid(customer)
                                ? "SELECT id FROM customers WHERE id = $1::uuid"
                                : "SELECT id FROM customers WHERE lower(email) = lower($1)",
                            1, p);
    if (r == NULL)
        return false;
    bool found = PQntuples(r) == 1;
    if (found)
        snprintf(id, 37, "%s", PQgetvalue(r, 0, 0));
    else
        fprintf(stderr, "tollgatectl: no customer \"%s\" (give its id or e-mail address)\n",
                customer);
    PQclear(r);
    return found;
}
