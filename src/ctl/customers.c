/*
 * customers: tollgatectl customers; see ctl.h. The rows come from the
 * domain (domain/customer.h and, for show, the subscription, API keys,
 * ledger and audit modules); each answer is built as one JSON document,
 * which --json prints as it is and the default view prints as aligned
 * text. Times are UTC, RFC 3339 to the second. Text that customers chose
 * (names, e-mail addresses) is printed with control characters replaced,
 * so a customer cannot write escape sequences to the operator's terminal.
 */
#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#include "core/num.h"
#include "ctl/ctl.h"
#include "domain/apikey.h"
#include "domain/audit.h"
#include "domain/customer.h"
#include "domain/ledger.h"
#include "domain/subscription.h"

#define NAME "customers"
#define SYNOPSIS "list [--email TEXT] [--limit N] [--json] | show CUSTOMER [--json]"
#define LIMIT_DEFAULT 50
#define LIMIT_MAX 1000
#define SHOW_NEWEST 10 /* ledger entries and audit rows in show */

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

/* put: s, with control characters as '?', padded with spaces to w columns. */
static void put(FILE *out, const char *s, size_t w)
{
    for (const char *p = s; *p != '\0'; p++)
        fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, out);
    for (size_t n = ctl_characters(s); n < w; n++)
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
            w[k] = ctl_characters(s) > w[k] ? ctl_characters(s) : w[k];
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
                for (size_t pad = ctl_characters(s); pad < w[k]; pad++)
                    fputc(' ', out);
            put(out, s, c[k].right || last ? 0 : w[k]);
            fputs(last ? "\n" : "  ", out);
        }
    }
}

/* ---- the subcommands ------------------------------------------------------- */

/* ---- the documents ---------------------------------------------------------- */

static json_t *list_json(const struct customer *c, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "id", c[i].id,
                                              "email", c[i].email, "tier", c[i].tier,
                                              "billing_status", c[i].billing_status,
                                              "credit_balance", (json_int_t)c[i].credit_balance,
                                              "created_at", ctl_json_utc(c[i].created_at)));
    return rows;
}

static json_t *account_json(const struct customer_account *a)
{
    const struct customer *c = &a->c;
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:o, s:o, s:o, s:o}",
        "id", c->id, "email", c->email, "name", c->name, "source", c->source, "tier", c->tier,
        "billing_status", c->billing_status, "credit_balance", (json_int_t)c->credit_balance,
        "ledger_entries", (json_int_t)a->ledger_entries, "stripe_customer_id",
        ctl_json_str(c->stripe_customer_id), "default_payment_method",
        ctl_json_str(c->default_payment_method), "billing_consent_at",
        ctl_json_utc(a->billing_consent_at), "grace_period_ends_at",
        ctl_json_utc(c->grace_period_ends_at), "github_account_id",
        a->github_account_id > 0 ? json_integer(a->github_account_id) : json_null(), "github_login",
        ctl_json_str(a->github_login), "github_account_type", ctl_json_str(a->github_account_type),
        "github_plan", ctl_json_str(a->github_plan), "github_plan_status",
        ctl_json_str(a->github_plan_status), "github_plan_effective_at",
        ctl_json_utc(a->github_plan_effective_at), "github_cancelled_at",
        ctl_json_utc(a->github_cancelled_at), "created_at", ctl_json_utc(c->created_at),
        "updated_at", ctl_json_utc(a->updated_at));
}

static json_t *subscription_json(const struct subscription *s)
{
    return json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "id", s->id, "plan", s->plan,
        "status", s->status, "stripe_subscription_id", ctl_json_str(s->stripe_subscription_id),
        "stripe_price_id", ctl_json_str(s->stripe_price_id), "current_period_start",
        ctl_json_utc(s->current_period_start), "current_period_end",
        ctl_json_utc(s->current_period_end), "cancel_at_period_end", s->cancel_at_period_end,
        "canceled_at", ctl_json_utc(s->canceled_at), "created_at", ctl_json_utc(s->created_at));
}

static json_t *ledger_json(const struct ledger_page *page)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < page->count; i++) {
        const struct ledger_entry *e = &page->entries[i];
        json_array_append_new(
            rows, json_pack("{s:I, s:I, s:o, s:I, s:s, s:I, s:o, s:o}", "id", (json_int_t)e->id,
                            "seq", (json_int_t)e->seq, "created_at", ctl_json_utc(e->created_at),
                            "amount", (json_int_t)e->amount, "kind", e->kind, "balance_after",
                            (json_int_t)e->balance_after, "reference", ctl_json_str(e->reference),
                            "description", ctl_json_str(e->description)));
    }
    return rows;
}

static json_t *audit_json(const struct audit_entry *a, size_t n)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(rows, json_pack("{s:I, s:o, s:s, s:s}", "seq", (json_int_t)a[i].seq,
                                              "occurred_at", ctl_json_utc(a[i].occurred_at),
                                              "actor", a[i].actor, "action", a[i].action));
    return rows;
}

/* show_json: customer id in full: the account, the live subscription (null
 * when none), every API key, the newest ledger entries and audit rows.
 * The balance (with the rest of the customer's row), the number of
 * entries and the newest entries come from one snapshot
 * (ledger_summary), so they agree even while the customer is using
 * credits: the newest entry's balance_after is the balance, its seq the
 * number of entries. The subscription, keys and audit rows are read on
 * their own. NULL (with a message on stderr) when it cannot be read. */
static json_t *show_json(struct ctl *ctx, const char *id)
{
    struct tg_ctx *tg = ctx->tg;
    struct customer_account acct;
    struct customer now;
    struct subscription sub;
    struct api_key *keys;
    struct ledger_page ledger;
    struct audit_entry *audit;
    size_t nkeys, naudit;
    enum tg_err e = customer_account(tg, id, &acct);
    if (e == TG_ENOTFOUND) {
        fprintf(stderr, "tollgatectl: customer %s could not be read\n", id);
        return NULL;
    }
    enum tg_err s = e == TG_OK ? subscription_current(tg, id, &sub) : e;
    if (s == TG_ENOTFOUND)
        ctx_clear_error(tg);
    else if (s != TG_OK)
        e = s;
    if (e == TG_OK)
        e = apikey_list(tg, id, &keys, &nkeys);
    if (e == TG_OK)
        e = ledger_summary(tg, id, SHOW_NEWEST, &now, &ledger);
    if (e == TG_OK)
        e = audit_recent(tg, id, SHOW_NEWEST, &audit, &naudit);
    if (e != TG_OK) {
        ctl_fail(ctx, e);
        return NULL;
    }
    acct.c = now;
    acct.ledger_entries = ledger.count > 0 ? ledger.entries[0].seq : 0;
    json_t *j = account_json(&acct);
    json_object_set_new(j, "subscription", s == TG_OK ? subscription_json(&sub) : json_null());
    json_object_set_new(j, "api_keys", ctl_keys_json(keys, nkeys));
    json_object_set_new(j, "ledger", ledger_json(&ledger));
    json_object_set_new(j, "audit", audit_json(audit, naudit));
    return j;
}

static int list(struct ctl *ctx, const char *email, long long limit, bool as_json)
{
    struct customer *found;
    size_t n;
    enum tg_err e = customer_list(ctx->tg, email, (long)limit, &found, &n);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    json_t *rows = list_json(found, n);
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
    char id[37];
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    json_t *c = show_json(ctx, id);
    if (c == NULL)
        return CTL_FAIL;
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
