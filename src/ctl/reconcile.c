/*
 * reconcile: tollgatectl reconcile; see ctl.h. The comparison with
 * Stripe, and --fix, are reconcile_run()'s (domain/reconcile.h); this
 * prints each difference as it is found, one line each (what, Stripe's
 * id, the two states), then the count.
 */
#include <string.h>

#include "core/config.h"
#include "ctl/ctl.h"
#include "domain/reconcile.h"

static void print_difference(void *arg, const struct reconcile_difference *d)
{
    fprintf((FILE *)arg, "%-13s %-32s %s\n", d->what, d->id, d->detail);
}

int ctl_reconcile(struct ctl *ctx, int argc, char **argv)
{
    bool fix = argc == 2 && strcmp(argv[1], "--fix") == 0;
    if (ctl_wants_help(argc, argv) || argc > 2 || (argc == 2 && !fix))
        return ctl_usage("reconcile", "[--fix]", ctl_wants_help(argc, argv));
    if (!ctl_stripe(ctx))
        return CTL_FAIL;
    struct reconcile_summary s;
    enum tg_err e = reconcile_run(ctx->tg, fix, print_difference, ctx->out, &s);
    if (e != TG_OK)
        return ctl_fail(ctx, e);
    fprintf(ctx->out, "%d difference%s%s", s.differences, s.differences == 1 ? "" : "s",
            fix ? "" : "\n");
    if (fix)
        fprintf(ctx->out, ", %d fixed\n", s.fixed);
    return s.differences > s.fixed ? CTL_FAIL : CTL_OK;
}
