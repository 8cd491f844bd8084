/*
 * api_keys: tollgatectl api-keys list|create|revoke; see ctl.h. The rules
 * are the API's (sql/005_operations.sql): at most APIKEY_MAX_ACTIVE active
 * keys a customer (api_key_create), and the last active key is not revoked
 * unless the operator insists (api_key_revoke), since a customer without a
 * key cannot even reach the API to make a new one. A new key is shown once,
 * here, and only its SHA-256 is stored (DESIGN.md section 3); revoking
 * takes effect on every worker at once, as authentication reads
 * revoked_at on every request.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/apikey.h"
#include "http/validate.h"

#define NAME "api-keys"
#define SYNOPSIS "list CUSTOMER [--json] | create CUSTOMER [--name NAME] | revoke KEY_ID [--force]"
#define KEY_NAME_MAX 100 /* characters (api_keys.name) */
#define BYTEAOID 17      /* PostgreSQL's type oid of bytea (pg_type.h) */

#define UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* clang-format off */
/* The customer's ($1) keys, newest first, as a JSON array; never a hash. */
static const char list_sql[] =
    "SELECT coalesce(json_agg(json_build_object('id', k.id, 'prefix', k.key_prefix,"
    "         'name', k.name, 'created_at', " UTC("k.created_at") ","
    "         'last_used_at', " UTC("k.last_used_at") ","
    "         'revoked_at', " UTC("k.revoked_at") ")"
    "         ORDER BY k.created_at DESC, k.id), '[]')::text"
    "  FROM api_keys k WHERE k.customer_id = $1::uuid";

/* A key for customer $1: $2 its SHA-256 (binary), $3 its prefix, $4 its
 * name (NULL: none), $5 the most active keys a customer may have. */
static const char create_sql[] =
    "SELECT status, id FROM api_key_create($1::uuid, $2, $3, $4, $5::integer)";

/* Revoke key $1, the customer's last active one only when $2. api_key_revoke()
 * sets revoked_at = now(), the start of this statement's transaction: an
 * older revoked_at means that the key was revoked already. */
static const char revoke_sql[] =
    "SELECT r.status, r.customer_id, r.key_prefix, " UTC("r.revoked_at") ","
    "       r.revoked_at < now()"
    "  FROM api_key_revoke(NULL, $1::uuid, $2::boolean) r";
/* clang-format on */

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  list: the customer's keys, newest first (revoked ones too; never a key's hash)\n"
          "  create: a new key, printed once: store it at once, only its hash is kept;\n"
          "    refused when the customer has 10 active keys\n"
          "    --name NAME  a label for the key (at most 100 characters)\n"
          "  revoke: the key answers 401 from now on; the customer's last active key\n"
          "    is revoked only with --force (it locks the customer out of the API)\n"
          "  CUSTOMER: the customer's id or e-mail address; KEY_ID: the key's id (uuid)\n"
          "  --json: print JSON instead of a table\n",
          stdout);
}

/* usage_error: "tollgatectl: NAME: <message>" and the usage line; CTL_USAGE. */
#define usage_error(...) ctl_usage_error(NAME, SYNOPSIS, __VA_ARGS__)

/* put: s with control characters as '?' (a key's name is the customer's
 * text: no escape sequences to the operator's terminal). */
static void put(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static const char *or_dash(json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "-";
}

static int list(struct ctl *ctx, const char *customer, bool as_json)
{
    char id[37];
    if (!ctl_customer_id(ctx->db, customer, id))
        return CTL_FAIL;
    const char *p[1] = {id};
    PGresult *r = ctl_query(ctx->db, list_sql, 1, p);
    if (r == NULL)
        return CTL_FAIL;
    json_t *keys = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (keys == NULL) {
        fprintf(stderr, "tollgatectl: the database answered something that is not JSON\n");
        return CTL_FAIL;
    }
    if (as_json) {
        ctl_print_json(ctx->out, keys);
        return CTL_OK;
    }
    /* Every column but the last has a fixed width: a uuid, a prefix, times. */
    fprintf(ctx->out, "%-36s  %-12s  %-20s  %-20s  %-20s  %s\n", "ID", "PREFIX", "CREATED",
            "LAST USED", "REVOKED", "NAME");
    json_t *k;
    size_t i;
    json_array_foreach(keys, i, k)
    {
        fprintf(ctx->out, "%-36s  %-12s  %-20s  %-20s  %-20s  ", or_dash(json_object_get(k, "id")),
                or_dash(json_object_get(k, "prefix")), or_dash(json_object_get(k, "created_at")),
                or_dash(json_object_get(k, "last_used_at")),
                or_dash(json_object_get(k, "revoked_at")));
        put(ctx->out, or_dash(json_object_get(k, "name")));
        fputc('\n', ctx->out);
    }
    json_decref(keys);
    return CTL_OK;
}

static int create(struct ctl *ctx, const char *customer, const char *name)
{
    char id[37];
    if (!ctl_customer_id(ctx->db, customer, id))
        return CTL_FAIL;
    struct apikey k;
    if (apikey_generate(ctx->cfg->environment, &k) != TG_OK) {
        apikey_cleanse(&k);
        fprintf(stderr, "tollgatectl: could not generate a key (random generator failed)\n");
        return CTL_FAIL;
    }
    /* Only the hash (binary) and the prefix reach the database. */
    char max[12];
    snprintf(max, sizeof(max), "%d", APIKEY_MAX_ACTIVE);
    const char *p[5] = {id, (const char *)k.hash, k.prefix, name, max};
    const Oid types[5] = {0, BYTEAOID, 0, 0, 0};
    const int lengths[5] = {0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[5] = {0, 1, 0, 0, 0};
    PGresult *r = PQexecParams(ctx->db, create_sql, 5, types, p, lengths, formats, 0);
    int rc = CTL_FAIL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        fprintf(stderr, "tollgatectl: %s\n", msg != NULL ? msg : PQerrorMessage(ctx->db));
    } else if (strcmp(PQgetvalue(r, 0, 0), "201") == 0) {
        fprintf(ctx->out,
                "created API key %s for customer %s\n"
                "key: %s\n"
                "This key is shown only this once: store it now. tollgate keeps only its hash.\n",
                PQgetvalue(r, 0, 1), id, k.key);
        rc = CTL_OK;
    } else if (strcmp(PQgetvalue(r, 0, 0), "409") == 0) {
        fprintf(stderr, "tollgatectl: customer %s already has %d active keys; revoke one first\n",
                id, APIKEY_MAX_ACTIVE);
    } else {
        fprintf(stderr, "tollgatectl: no customer %s\n", id);
    }
    PQclear(r);
    apikey_cleanse(&k);
    return rc;
}

static int revoke(struct ctl *ctx, const char *key_id, bool force)
{
    const char *p[2] = {key_id, force ? "true" : "false"};
    PGresult *r = ctl_query(ctx->db, revoke_sql, 2, p);
    if (r == NULL)
        return CTL_FAIL;
    int rc = CTL_FAIL;
    int status = PQntuples(r) == 1 ? (int)strtol(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    switch (status) {
    case 200:
        if (strcmp(PQgetvalue(r, 0, 4), "t") == 0)
            fprintf(ctx->out, "API key %s (%s) of customer %s was already revoked at %s\n", key_id,
                    PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 3));
        else
            fprintf(ctx->out,
                    "revoked API key %s (%s) of customer %s; it is refused (401) from now on\n",
                    key_id, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1));
        rc = CTL_OK;
        break;
    case 404: fprintf(stderr, "tollgatectl: no API key %s\n", key_id); break;
    case 409:
        fprintf(stderr,
                "tollgatectl: refused: key %s (%s) of customer %s: this is the customer's "
                "last active key; revoking it locks them out of the API; use --force\n",
                key_id, PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 1));
        break;
    default: fprintf(stderr, "tollgatectl: api_key_revoke answered %d\n", status); break;
    }
    PQclear(r);
    return rc;
}

int ctl_api_keys(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    if (argc < 2)
        return usage_error("list, create or revoke?");
    enum { LIST, CREATE, REVOKE } sub;
    if (strcmp(argv[1], "list") == 0)
        sub = LIST;
    else if (strcmp(argv[1], "create") == 0)
        sub = CREATE;
    else if (strcmp(argv[1], "revoke") == 0)
        sub = REVOKE;
    else
        return usage_error("unknown subcommand \"%s\"", argv[1]);
    const char *arg = NULL, *name = NULL, *value;
    bool as_json = false, force = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (sub == LIST && strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (sub == REVOKE && strcmp(a, "--force") == 0) {
            force = true;
        } else if (sub == CREATE && ctl_option(argc, argv, &i, "--name", &value)) {
            if (value == NULL || value[0] == '\0' || ctl_characters(value) > KEY_NAME_MAX)
                return usage_error("--name takes 1 to %d characters", KEY_NAME_MAX);
            name = value;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option \"%s\"", a);
        } else if (arg == NULL) {
            arg = a;
        } else {
            return usage_error("unexpected argument \"%s\"", a);
        }
    }
    if (arg == NULL)
        return usage_error("%s needs %s", argv[1],
                           sub == REVOKE ? "a KEY_ID" : "a CUSTOMER (id or e-mail address)");
    switch (sub) {
    case LIST: return list(ctx, arg, as_json);
    case CREATE: return create(ctx, arg, name);
    case REVOKE: break;
    }
    if (!valid_uuid(arg))
        return usage_error("KEY_ID must be a key's id (a uuid, as api-keys list shows), not "
                           "\"%s\"",
                           arg);
    return revoke(ctx, arg, force);
}
