/*
 * dead_letters: tollgatectl dead-letters; see ctl.h.
 */
#include <jansson.h>
#include <string.h>

#include "ctl/ctl.h"

#define SYNOPSIS "list [--json] | show EVENT | replay EVENT | replay --all"


static int list(PGconn *c, bool as_json, FILE *out)
{
    PGresult *r = ctl_query(c,
                      "SELECT id, type, attempts, coalesce(last_error, ''),"
                      "       to_char(received_at AT TIME ZONE 'UTC',"
                      "               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                      "  FROM stripe_events WHERE status = 'dead' ORDER BY received_at",
                      0, NULL);
    if (r == NULL)
        return 1;
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        fprintf(out, "%-32s %-36s %8s  %s\n", "EVENT", "TYPE", "ATTEMPTS", "LAST ERROR");
    for (int i = 0; i < PQntuples(r); i++) {
        if (as_json)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", PQgetvalue(r, i, 0), "type",
                               PQgetvalue(r, i, 1), "attempts",
                               (json_int_t)strtoll(PQgetvalue(r, i, 2), NULL, 10), "last_error",
                               PQgetvalue(r, i, 3), "received_at", PQgetvalue(r, i, 4)));
        else
            fprintf(out, "%-32s %-36s %8s  %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                    PQgetvalue(r, i, 2), PQgetvalue(r, i, 3));
    }
    if (as_json) {
        json_dumpf(arr, out, JSON_INDENT(2));
        fputc('\n', out);
        json_decref(arr);
    }
    PQclear(r);
    return 0;
}

static int show(PGconn *c, const char *id, FILE *out)
{
    const char *p[1] = {id};
    PGresult *r = ctl_query(c,
                      "SELECT json_build_object('id', id, 'type', type, 'status', status,"
                      " 'attempts', attempts, 'last_error', last_error, 'received_at',"
                      " received_at, 'event', payload)::text FROM stripe_events WHERE id = $1",
                      1, p);
    if (r == NULL)
        return 1;
    int rc = 1;
    if (PQntuples(r) == 1) {
        json_t *j = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
        json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(j);
        rc = 0;
    } else {
        fprintf(stderr, "tollgatectl: no event %s\n", id);
    }
    PQclear(r);
    return rc;
}

static int replay(PGconn *c, const char *id, FILE *out)
{
    const char *p[1] = {id};
    PGresult *r = ctl_query(c,
                      "WITH r AS (UPDATE stripe_events SET status = 'pending', attempts = 0,"
                      "                  next_attempt_at = now(), last_error = NULL"
                      "            WHERE status = 'dead' AND ($1::text IS NULL OR id = $1)"
                      "           RETURNING id, type)"
                      " SELECT id, audit_append('dead_letter.replayed', NULL, NULL,"
                      "                         jsonb_build_object('event', id, 'type', type))"
                      "   FROM r ORDER BY id",
                      1, p);
    if (r == NULL)
        return 1;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        fprintf(out, "replaying %s\n", PQgetvalue(r, i, 0));
    PQclear(r);
    PQclear(PQexec(c, "NOTIFY tollgate_jobs"));
    if (n == 0 && id != NULL) {
        fprintf(stderr, "tollgatectl: %s is not a dead letter\n", id);
        return 1;
    }
    fprintf(out, "%d event%s queued again; tollgate-worker applies them\n", n, n == 1 ? "" : "s");
    return 0;
}

int ctl_dead_letters(struct ctl *ctx, int argc, char **argv)
{
    PGconn *c = ctx->db;
    FILE *out = ctx->out;
    if (ctl_wants_help(argc, argv))
        return ctl_usage("dead-letters", SYNOPSIS, true);
    if (argc >= 2 && strcmp(argv[1], "list") == 0 &&
        (argc == 2 || (argc == 3 && strcmp(argv[2], "--json") == 0)))
        return list(c, argc == 3, out);
    if (argc == 3 && strcmp(argv[1], "show") == 0)
        return show(c, argv[2], out);
    if (argc == 3 && strcmp(argv[1], "replay") == 0)
        return replay(c, strcmp(argv[2], "--all") == 0 ? NULL : argv[2], out);
    return ctl_usage("dead-letters", SYNOPSIS, false);
}
