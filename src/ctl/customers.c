/*
 * customers: tollgatectl customers; see ctl.h. Each query builds its whole
 * answer as JSON in PostgreSQL (one round trip, one snapshot); --json prints
 * it as it is, the default view prints the same document as aligned text.
 * Times are UTC, RFC 3339 to the second. Text that customers chose (names,
 * e-mail addresses) is printed with control characters replaced, so a
 * customer cannot write escape sequences to the operator's terminal.
 */
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "core/num.h"
#include "ctl/ctl.h"

#define NAME "customers"
#define SYNOPSIS "list [--email TEXT] [--limit N] [--json] | show CUSTOMER [--json]"
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 1000
#define SHOW_NEWEST 10 /* ledger entries and audit rows in show */

/* UTC: the SQL for timestamp column col as "2024-05-01T12:00:00Z" (NULL
 * stays NULL). */
#define UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The newest customers first; $1 a case-insensitive substring of the e-mail
 * address (NULL: all), $2 how many. strpos, not LIKE: '%' and '_' in $1
 * are plain characters. */
/* clang-format off */
static const char list_sql[] =
    "SELECT coalesce(json_agg(json_build_object('id', c.id, 'email', c.email, 'tier', c.tier,"
    "         'billing_status', c.billing_status, 'credit_balance', c.credit_balance,"
    "         'created_at', " UTC("c.created_at") ")"
    "         ORDER BY c.created_at DESC, c.id), '[]')::text"
    "  FROM (SELECT * FROM customers"
    "         WHERE $1::text IS NULL OR strpos(lower(email), lower($1)) > 0"
    "         ORDER BY created_at DESC, id LIMIT $2::integer) c";

/* One customer ($1) with the live subscription, every API key (never its
 * hash), the newest ledger entries and audit rows. */
static const char show_sql[] =
    "SELECT json_build_object("
    " 'id', c.id, 'email', c.email, 'name', c.name, 'source', c.source, 'tier', c.tier,"
    " 'billing_status', c.billing_status, 'credit_balance', c.credit_balance,"
    " 'ledger_entries', c.ledger_seq, 'stripe_customer_id', c.stripe_customer_id,"
    " 'default_payment_method', c.default_payment_method,"
    " 'billing_consent_at', " UTC("c.billing_consent_at") ","
    " 'grace_period_ends_at', " UTC("c.grace_period_ends_at") ","
    " 'github_account_id', c.github_account_id, 'github_login', c.github_login,"
    " 'github_account_type', c.github_account_type, 'github_plan', c.github_plan,"
    " 'github_plan_status', c.github_plan_status,"
    " 'github_plan_effective_at', " UTC("c.github_plan_effective_at") ","
    " 'github_cancelled_at', " UTC("c.github_cancelled_at") ","
    " 'created_at', " UTC("c.created_at") ", 'updated_at', " UTC("c.updated_at") ","
    " 'subscription', (SELECT json_build_object('id', s.id, 'plan', s.plan,"
    "     'status', s.status, 'stripe_subscription_id', s.stripe_subscription_id,"
    "     'stripe_price_id', s.stripe_price_id,"
    "     'current_period_start', " UTC("s.current_period_start") ","
    "     'current_period_end', " UTC("s.current_period_end") ","
    "     'cancel_at_period_end', s.cancel_at_period_end,"
    "     'canceled_at', " UTC("s.canceled_at") ", 'created_at', " UTC("s.created_at") ")"
    "   FROM subscriptions s"
    "  WHERE s.customer_id = c.id AND s.status NOT IN ('canceled', 'incomplete_expired')),"
    " 'api_keys', (SELECT coalesce(json_agg(json_build_object('id', k.id,"
    "     'prefix', k.key_prefix, 'name', k.name, 'created_at', " UTC("k.created_at") ","
    "     'last_used_at', " UTC("k.last_used_at") ", 'revoked_at', " UTC("k.revoked_at") ")"
    "     ORDER BY k.created_at DESC, k.id), '[]')"
    "   FROM api_keys k WHERE k.customer_id = c.id),"
    " 'ledger', (SELECT coalesce(json_agg(json_build_object('id', t.id, 'seq', t.seq,"
    "     'created_at', " UTC("t.created_at") ", 'amount', t.amount, 'kind', t.kind,"
    "     'balance_after', t.balance_after, 'reference', t.reference,"
    "     'description', t.description) ORDER BY t.seq DESC), '[]')"
    "   FROM (SELECT * FROM credit_transactions WHERE customer_id = c.id"
    "          ORDER BY seq DESC LIMIT $2::integer) t),"
    " 'audit', (SELECT coalesce(json_agg(json_build_object('seq', a.seq,"
    "     'occurred_at', " UTC("a.occurred_at") ", 'actor', a.actor, 'action', a.action)"
    "     ORDER BY a.seq DESC), '[]')"
    "   FROM (SELECT seq, occurred_at, actor, action FROM audit_log"
    "          WHERE customer_id = c.id ORDER BY seq DESC LIMIT $2::integer) a)"
    ")::text FROM customers c WHERE c.id = $1::uuid";
/* clang-format on */

/* ---- printing -------------------------------------------------------------- */

/* A line of a key/value block: the label, and the member of the object. */
struct field {
    const char *label;
    const char *key;
};

/* A column of a table: its heading, the member of each row, right-aligned
 * (numbers), and whether a number shows its sign ("+3"). */
struct column {
    const char *head;
    const char *key;
    bool right;
    bool sign;
};

/* text: v as the operator reads it: a string as it is, a number in
 * decimal, true/false as yes/no, null (or missing) as "-". The result is v's
 * string (borrowed) or buf. */
static const char *text(json_t *v, bool sign, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, len, sign ? "%+lld" : "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    return "-";
}

/* width: the columns s takes: its UTF-8 code points. */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* put: s, with control characters as '?', padded with spaces to w columns. */
static void put(FILE *out, const char *s, size_t w)
{
    for (const char *p = s; *p != '\0'; p++)
        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
    for (size_t n = width(s); n < w; n++)
        fputc(' ', out);
}

static void fields(FILE *out, json_t *obj, const struct field *f, size_t n, const char *indent)
{
    char buf[32];
    for (size_t i = 0; i < n; i++) {
        fputs(indent, out);
        put(out, f[i].label, 22);
        fputc(' ', out);
        put(out, text(json_object_get(obj, f[i].key), false, buf, sizeof(buf)), 0);
        fputc('\n', out);
    }
}

/* table: rows (an array of objects) under a heading line, each column as
 * wide as its widest cell; the last column is not padded. At most
 * TABLE_COLUMNS columns. */
#define TABLE_COLUMNS 8
static void table(FILE *out, json_t *rows, const struct column *c, size_t n, const char *indent)
{
    size_t w[TABLE_COLUMNS] = {0};
    char buf[32];
    n = n < TABLE_COLUMNS ? n : TABLE_COLUMNS;
    for (size_t r = 0; r <= json_array_size(rows); r++) {
        json_t *row = r == 0 ? NULL : json_array_get(rows, r - 1);
        for (size_t k = 0; k < n; k++) {
            const char *s = row == NULL
                                ? c[k].head
                                : text(json_object_get(row, c[k].key), c[k].sign, buf, sizeof(buf));
            w[k] = width(s) > w[k] ? width(s) : w[k];
        }
    }
    for (size_t r = 0; r <= json_array_size(rows); r++) {
        json_t *row = r == 0 ? NULL : json_array_get(rows, r - 1);
        fputs(indent, out);
        for (size_t k = 0; k < n; k++) {
            const char *s = row == NULL
                                ? c[k].head
                                : text(json_object_get(row, c[k].key), c[k].sign, buf, sizeof(buf));
            bool last = k + 1 == n;
            if (c[k].right)
                for (size_t pad = width(s); pad < w[k]; pad++)
                    fputc(' ', out);
            put(out, s, c[k].right || last ? 0 : w[k]);
            fputs(last ? "\n" : "  ", out);
        }
    }
}

/* ---- the subcommands ------------------------------------------------------- */

/* fetch: run sql and parse the one JSON document it returns; NULL (with a
 * message on stderr) on failure. The caller owns the result. */
static json_t *fetch(PGconn *db, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = ctl_query(db, sql, nparams, params);
    if (r == NULL)
        return NULL;
    json_t *j = PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    if (PQntuples(r) == 1 && j == NULL)
        fprintf(stderr, "tollgatectl: the database answered something that is not JSON\n");
    PQclear(r);
    return j;
}

static int list(struct ctl *ctx, const char *email, long long limit, bool as_json)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", limit);
    const char *p[2] = {email, n};
    json_t *rows = fetch(ctx->db, list_sql, 2, p);
    if (rows == NULL)
        return CTL_FAIL;
    if (as_json) {
        ctl_print_json(ctx->out, rows);
        return CTL_OK;
    }
    static const struct column cols[] = {
        {"ID", "id", false, false},
        {"EMAIL", "email", false, false},
        {"TIER", "tier", false, false},
        {"BILLING", "billing_status", false, false},
        {"BALANCE", "credit_balance", true, false},
        {"CREATED", "created_at", false, false},
    };
    table(ctx->out, rows, cols, sizeof(cols) / sizeof(cols[0]), "");
    json_decref(rows);
    return CTL_OK;
}

static void print_customer(FILE *out, json_t *c)
{
    static const struct field customer[] = {
        {"id", "id"},
        {"email", "email"},
        {"name", "name"},
        {"source", "source"},
        {"tier", "tier"},
        {"billing status", "billing_status"},
        {"credit balance", "credit_balance"},
        {"ledger entries", "ledger_entries"},
        {"stripe customer", "stripe_customer_id"},
        {"payment method", "default_payment_method"},
        {"billing consent", "billing_consent_at"},
        {"grace period ends", "grace_period_ends_at"},
        {"github account", "github_account_id"},
        {"github login", "github_login"},
        {"github account type", "github_account_type"},
        {"github plan", "github_plan"},
        {"github plan status", "github_plan_status"},
        {"github plan effective", "github_plan_effective_at"},
        {"github cancelled", "github_cancelled_at"},
        {"created", "created_at"},
        {"updated", "updated_at"},
    };
    static const struct field subscription[] = {
        {"id", "id"},
        {"plan", "plan"},
        {"status", "status"},
        {"stripe subscription", "stripe_subscription_id"},
        {"stripe price", "stripe_price_id"},
        {"period start", "current_period_start"},
        {"period end", "current_period_end"},
        {"cancel at period end", "cancel_at_period_end"},
        {"canceled", "canceled_at"},
        {"created", "created_at"},
    };
    static const struct column keys[] = {
        {"ID", "id", false, false},
        {"PREFIX", "prefix", false, false},
        {"CREATED", "created_at", false, false},
        {"LAST USED", "last_used_at", false, false},
        {"REVOKED", "revoked_at", false, false},
        {"NAME", "name", false, false},
    };
    static const struct column ledger[] = {
        {"SEQ", "seq", true, false},
        {"TIME", "created_at", false, false},
        {"AMOUNT", "amount", true, true},
        {"BALANCE", "balance_after", true, false},
        {"KIND", "kind", false, false},
        {"REFERENCE", "reference", false, false},
        {"DESCRIPTION", "description", false, false},
    };
    static const struct column audit[] = {
        {"SEQ", "seq", true, false},
        {"TIME", "occurred_at", false, false},
        {"ACTOR", "actor", false, false},
        {"ACTION", "action", false, false},
    };
    fields(out, c, customer, sizeof(customer) / sizeof(customer[0]), "");
    json_t *sub = json_object_get(c, "subscription");
    if (json_is_object(sub)) {
        fputs("\nsubscription\n", out);
        fields(out, sub, subscription, sizeof(subscription) / sizeof(subscription[0]), "  ");
    } else {
        fputs("\nsubscription: none\n", out);
    }
    json_t *k = json_object_get(c, "api_keys");
    fprintf(out, "\napi keys (%zu)\n", json_array_size(k));
    table(out, k, keys, sizeof(keys) / sizeof(keys[0]), "  ");
    fprintf(out, "\nledger (newest %zu of %lld entries)\n",
            json_array_size(json_object_get(c, "ledger")),
            (long long)json_integer_value(json_object_get(c, "ledger_entries")));
    table(out, json_object_get(c, "ledger"), ledger, sizeof(ledger) / sizeof(ledger[0]), "  ");
    fprintf(out, "\naudit log (newest %zu)\n", json_array_size(json_object_get(c, "audit")));
    table(out, json_object_get(c, "audit"), audit, sizeof(audit) / sizeof(audit[0]), "  ");
}

static int show(struct ctl *ctx, const char *customer, bool as_json)
{
    char id[37], n[24];
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    snprintf(n, sizeof(n), "%d", SHOW_NEWEST);
    const char *p[2] = {id, n};
    json_t *c = fetch(ctx->db, show_sql, 2, p);
    if (c == NULL) {
        fprintf(stderr, "tollgatectl: customer %s could not be read\n", id);
        return CTL_FAIL;
    }
    if (as_json) {
        ctl_print_json(ctx->out, c);
        return CTL_OK;
    }
    print_customer(ctx->out, c);
    json_decref(c);
    return CTL_OK;
}

/* ---- arguments -------------------------------------------------------------- */

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  list: the newest customers first (id, e-mail, tier, billing status, balance)\n"
          "    --email TEXT  only those whose e-mail address contains TEXT (any case)\n"
          "    --limit N     at most N customers, 1..1000 (default 50)\n"
          "  show: everything about one customer: the account, the subscription, the\n"
          "    API keys, the 10 newest ledger entries and audit log rows\n"
          "  CUSTOMER: the customer's id or e-mail address\n"
          "  --json: print JSON instead of a table\n",
          stdout);
}

/* usage_error: "tollgatectl: NAME: <message>" and the usage line; CTL_USAGE. */
#define usage_error(...) ctl_usage_error(NAME, SYNOPSIS, __VA_ARGS__)

int ctl_customers(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    if (argc < 2)
        return usage_error("list or show?");
    bool is_list = strcmp(argv[1], "list") == 0;
    if (!is_list && strcmp(argv[1], "show") != 0)
        return usage_error("unknown subcommand \"%s\"", argv[1]);
    const char *customer = NULL, *email = NULL, *value;
    long long limit = LIMIT_DEFAULT;
    bool as_json = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (is_list && ctl_option(argc, argv, &i, "--email", &value)) {
            if (value == NULL || value[0] == '\0')
                return usage_error("--email needs a non-empty TEXT");
            email = value;
        } else if (is_list && ctl_option(argc, argv, &i, "--limit", &value)) {
            if (value == NULL || !num_parse(value, (size_t)-1, LIMIT_MAX, &limit) || limit < 1)
                return usage_error("--limit takes a whole number from 1 to %d", LIMIT_MAX);
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option \"%s\"", a);
        } else if (!is_list && customer == NULL) {
            customer = a;
        } else {
            return usage_error("unexpected argument \"%s\"", a);
        }
    }
    if (is_list)
        return list(ctx, email, limit, as_json);
    if (customer == NULL)
        return usage_error("show needs a CUSTOMER (id or e-mail address)");
    return show(ctx, customer, as_json);
}
