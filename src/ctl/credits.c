/*
 * credits: tollgatectl credits grant|adjust; see ctl.h. Both append one
 * 'adjustment' entry to the ledger through ledger_adjust() (domain/ledger.h;
 * credits_adjust() in sql/functions/ledger.sql), which locks the customer, refuses to take the
 * balance below zero and keeps the operator's reason as the entry's
 * description; the ledger's audit trigger records it as
 * credits.adjustment with the operator as actor. A mistake is corrected by
 * another adjustment, never by changing an entry (DESIGN.md section 2).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/num.h"
#include "ctl/ctl.h"
#include "domain/ledger.h"

#define NAME "credits"
#define SYNOPSIS "grant CUSTOMER AMOUNT --reason TEXT | adjust CUSTOMER AMOUNT --reason TEXT"
#define REASON_MAX 500 /* characters */

static void help(void)
{
    ctl_usage(NAME, SYNOPSIS, true);
    fputs("  grant: add AMOUNT credits, a whole number above 0\n"
          "  adjust: add or take away AMOUNT credits, a non-zero whole number with an\n"
          "    optional sign (\"adjust CUSTOMER -3\" takes 3); a balance never goes\n"
          "    below 0: such an adjustment is refused and nothing is written\n"
          "  CUSTOMER: the customer's id or e-mail address\n"
          "  --reason TEXT: why (required, at most 500 characters); kept with the ledger\n"
          "    entry and in the audit log\n",
          stdout);
}

/* usage_error: "tollgatectl: NAME: <message>" and the usage line; CTL_USAGE. */
#define usage_error(...) ctl_usage_error(NAME, SYNOPSIS, __VA_ARGS__)

/* parse_amount: s as a non-zero whole number: digits only for a grant,
 * with an optional + or - for an adjustment. */
static bool parse_amount(const char *s, bool is_grant, long long *out)
{
    bool negative = !is_grant && s[0] == '-';
    if (!is_grant && (s[0] == '-' || s[0] == '+'))
        s++;
    long long v;
    if (!num_parse(s, (size_t)-1, 999999999999999999LL, &v) || v == 0)
        return false;
    *out = negative ? -v : v;
    return true;
}

/* blank: s holds nothing but spaces (what credits_adjust() refuses). */
static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n\v\f")] == '\0';
}

static int adjust(struct ctl *ctx, const char *customer, long long amount, const char *reason)
{
    char id[37];
    long long entry = 0, balance = 0;
    if (!ctl_customer_id(ctx, customer, id))
        return CTL_FAIL;
    enum tg_err e = ledger_adjust(ctx->tg, id, amount, reason, &entry, &balance);
    switch (e) {
    case TG_OK:
        fprintf(ctx->out, "adjustment #%lld: %+lld credits, balance now %lld\n", entry, amount,
                balance);
        return CTL_OK;
    case TG_ECONFLICT:
        fprintf(stderr,
                "tollgatectl: refused: the balance is %lld; adjusting by %+lld would make it "
                "negative\n",
                balance, amount);
        return CTL_FAIL;
    case TG_EINVALID:
        return usage_error("the amount must not be 0 and --reason must not be empty");
    case TG_ENOTFOUND:
        fprintf(stderr, "tollgatectl: no customer %s\n", id);
        return CTL_FAIL;
    default:
        return ctl_fail(ctx, e);
    }
}

int ctl_credits(struct ctl *ctx, int argc, char **argv)
{
    if (ctl_wants_help(argc, argv)) {
        help();
        return CTL_OK;
    }
    if (argc < 2)
        return usage_error("grant or adjust?");
    bool is_grant = strcmp(argv[1], "grant") == 0;
    if (!is_grant && strcmp(argv[1], "adjust") != 0)
        return usage_error("unknown subcommand \"%s\"", argv[1]);
    const char *pos[2] = {NULL, NULL}, *reason = NULL, *value;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (ctl_option(argc, argv, &i, "--reason", &value)) {
            if (value == NULL)
                return usage_error("--reason needs a TEXT");
            reason = value;
        } else if (a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9')) {
            /* "-3" is an amount, not an option */
            return usage_error("unknown option \"%s\"", a);
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            return usage_error("unexpected argument \"%s\"", a);
        }
    }
    if (npos < 2)
        return usage_error("%s needs a CUSTOMER and an AMOUNT", argv[1]);
    long long amount;
    if (!parse_amount(pos[1], is_grant, &amount))
        return usage_error(is_grant ? "AMOUNT must be a whole number above 0, not \"%s\""
                                    : "AMOUNT must be a non-zero whole number, not \"%s\"",
                           pos[1]);
    if (reason == NULL || blank(reason))
        return usage_error("--reason TEXT is required: say why");
    if (ctl_characters(reason) > REASON_MAX)
        return usage_error("--reason is longer than %d characters", REASON_MAX);
    return adjust(ctx, pos[0], amount, reason);
}
