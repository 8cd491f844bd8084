/*
 * api_keys: tollgatectl api-keys list|create|revoke; see ctl.h. The rules
 * are the API's (domain/apikey.h, sql/functions/api_keys.sql): at most
 * APIKEY_MAX_ACTIVE active keys a customer, and the last active key is not
 * revoked unless the operator insists, since a customer without a key
 * cannot even reach the API to make a new one. A new key is shown once,
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
#include "core/text.h"

#define NAME "api-keys"
#define SYNOPSIS "list CUSTOMER [--json] | create CUSTOMER [--name NAME] | revoke KEY_ID [--force]"
#define KEY_NAME_MAX 100 /* characters (api_keys.name) */

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

static const char *or_dash(const char *s)
{
    return s != NULL ? s : "-";
}

static int list(struct ctl *ctx, const char *customer, bool as_json)
{
    char id[37];
    struct api_key *keys;
    size_t n;
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    enum tg_err e = apikey_list(ctx->tg, id, &keys, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    if (as_json) {
        ctl_print_json(ctx->out, ctl_keys_json(keys, n));
        return CTL_OK;
    }
    /* Every column but the last has a fixed width: a uuid, a prefix, times. */
    fprintf(ctx->out, "%-36s  %-12s  %-27s  %-27s  %-27s  %s\n", "ID", "PREFIX", "CREATED",
            "LAST USED", "REVOKED", "NAME");
    for (size_t i = 0; i < n; i++) {
        fprintf(ctx->out, "%-36s  %-12s  %-27s  %-27s  %-27s  ", keys[i].id, keys[i].prefix,
                keys[i].created_at, or_dash(keys[i].last_used_at), or_dash(keys[i].revoked_at));
        put(ctx->out, or_dash(keys[i].name));
        fputc('\n', ctx->out);
    }
    return CTL_OK;
}

static int create(struct ctl *ctx, const char *customer, const char *name)
{
    char id[37];
    struct apikey k;
    struct api_key info;
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    enum tg_err e = apikey_create(ctx->tg, id, name, &k, &info);
    if (e == TG_EAPIKEYLIMIT) {
        fprintf(stderr, "tollgatectl: customer %s already has %d active keys; revoke one first\n",
                id, APIKEY_MAX_ACTIVE);
        return CTL_FAIL;
    }
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    fprintf(ctx->out,
            "created API key %s for customer %s\n"
            "key: %s\n"
            "This key is shown only this once: store it now. tollgate keeps only its hash.\n",
            info.id, id, k.key);
    apikey_cleanse(&k);
    return CTL_OK;
}

static int revoke(struct ctl *ctx, const char *key_id, bool force)
{
    struct api_key k;
    bool already = false;
    enum tg_err e = apikey_revoke(ctx->tg, NULL, key_id, force, &k, &already);
    switch (e) {
    case TG_OK:
        if (already)
            fprintf(ctx->out, "API key %s (%s) of customer %s was already revoked at %s\n", key_id,
                    k.prefix, k.customer_id, k.revoked_at);
        else
            fprintf(ctx->out,
                    "revoked API key %s (%s) of customer %s; it is refused (401) from now on\n",
                    key_id, k.prefix, k.customer_id);
        return CTL_OK;
    case TG_ENOTFOUND:
        fprintf(stderr, "tollgatectl: no API key %s\n", key_id);
        return CTL_FAIL;
    case TG_ELASTAPIKEY:
        fprintf(stderr,
                "tollgatectl: refused: key %s (%s) of customer %s: this is the customer's "
                "last active key; revoking it locks them out of the API; use --force\n",
                key_id, k.prefix, k.customer_id);
        return CTL_FAIL;
    default:
        return ctl_fail(ctx, e);
    }
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
    if (!text_is_uuid(arg))
        return usage_error("KEY_ID must be a key's id (a uuid, as api-keys list shows), not "
                           "\"%s\"",
                           arg);
    return revoke(ctx, arg, force);
}
