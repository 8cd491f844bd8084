/*
 * util: helpers every tollgatectl subcommand shares; see ctl.h.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "domain/apikey.h"
#include "domain/audit.h"
#include "domain/customer.h"
#include "domain/health.h"
#include "integration/stripe.h"
#include "store/db.h"

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

/* The one work context of this process (ctl_open). */
static struct {
    struct arena *arena;
    struct service svc;
    struct tg_ctx tg;
} opened;

/* why_no_database: after the connection failed, tell the operator why.
 * The store logs libpq's message as a JSON line, and must keep it out of
 * ctx->error (the API shows that to clients); check-config's probe, a
 * second and short connection, gives the reason in words: unreachable
 * and libpq's why, or connected but the schema not migrated (every
 * statement is prepared at connection, so a missing table fails it). */
static void why_no_database(const struct config *cfg)
{
    struct ctl_checks found = {0};
    ctl_check_database(cfg, &found);
    bool said = false;
    for (size_t i = 0; i < found.n; i++)
        if (found.items[i].status == CTL_CHECK_ERROR) {
            fprintf(stderr, "tollgatectl: %s: %s\n", found.items[i].what, found.items[i].detail);
            said = true;
        }
    if (!said)
        fprintf(stderr, "tollgatectl: cannot connect to the database; PostgreSQL's reason is "
                        "in the log line above\n");
}

bool ctl_open(struct ctl *ctx, const char *command)
{
    const struct config *cfg = ctx->cfg;
    opened.arena = arena_new(65536);
    opened.svc.cfg = cfg;
    opened.svc.db = db_new(cfg->database, cfg->statement_timeout_ms);
    if (opened.arena == NULL || opened.svc.db == NULL) {
        fprintf(stderr, "tollgatectl: out of memory\n");
        return false;
    }
    ctx_init(&opened.tg, opened.arena, &opened.svc,
             arena_printf(opened.arena, "ctl:%s", command));
    ctx->tg = &opened.tg;
    if (health_connect(ctx->tg) != TG_OK) {
        why_no_database(cfg);
        return false;
    }
    if (audit_set_actor(ctx->tg, ctl_actor()) != TG_OK)
        return ctl_fail(ctx, ctx->tg->error.code) == CTL_OK;
    return true;
}

bool ctl_stripe(struct ctl *ctx)
{
    if (opened.svc.stripe != NULL)
        return true;
    if (ctx->cfg->stripe_secret_key == NULL) {
        fprintf(stderr, "tollgatectl: Stripe is not configured (stripe_secret_key_file)\n");
        return false;
    }
    if (stripe_open(ctx->cfg, &opened.svc.stripe) != 0) {
        opened.svc.stripe = NULL;
        fprintf(stderr, "tollgatectl: the Stripe client cannot start (out of memory, or libcurl "
                        "cannot make a handle)\n");
        return false;
    }
    return true;
}

void ctl_close(struct ctl *ctx)
{
    ctx->tg = NULL;
    stripe_free(opened.svc.stripe);
    db_free(opened.svc.db);
    arena_free(opened.arena);
    memset(&opened, 0, sizeof(opened));
}

int ctl_fail(struct ctl *ctx, enum tg_err err)
{
    const char *why = tg_strerror(err);
    if (ctx->tg != NULL && ctx->tg->error.code == err && ctx->tg->error.detail != NULL)
        why = ctx->tg->error.detail;
    else if (err == TG_EDB) /* "Database unavailable" would be wrong: it answered */
        why = "database error; PostgreSQL's message is in the log line above";
    fprintf(stderr, "tollgatectl: %s\n", why);
    return CTL_FAIL;
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

const char *ctl_utc(const char *ts, char buf[CTL_UTC_LEN])
{
    if (ts == NULL)
        return "-";
    snprintf(buf, CTL_UTC_LEN, "%.19sZ", ts);
    return buf;
}

json_t *ctl_json_utc(const char *ts)
{
    char buf[CTL_UTC_LEN];
    return ts != NULL ? json_string(ctl_utc(ts, buf)) : json_null();
}

json_t *ctl_json_str(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *ctl_keys_json(const struct api_key *k, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows,
                              json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "id", k[i].id, "prefix",
                                        k[i].prefix, "name", ctl_json_str(k[i].name), "created_at",
                                        ctl_json_utc(k[i].created_at), "last_used_at",
                                        ctl_json_utc(k[i].last_used_at), "revoked_at",
                                        ctl_json_utc(k[i].revoked_at)));
    return rows;
}

bool ctl_customer_id(struct ctl *ctx, const char *customer, char id[37])
{
    const char *found;
    enum tg_err e = customer_find(ctx->tg, customer, &found);
    if (e == TG_OK) {
        snprintf(id, 37, "%s", found);
        return true;
    }
    if (e == TG_ENOTFOUND)
        fprintf(stderr, "tollgatectl: no customer \"%s\" (give its id or e-mail address)\n",
                customer);
    else
        ctl_fail(ctx, e);
    return false;
}
