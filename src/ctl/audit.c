/*
 * audit: tollgatectl verify-audit; see ctl.h. audit_verify()
 * (domain/audit.h) recomputes every chain and seal of the audit log in C
 * from one snapshot; this prints what it finds: one line per problem,
 * naming the row (its chain and seq) or the seal, then a summary with the
 * last seal's hash, which an operator can compare with the one
 * tollgate-worker logged when it made the seal (docs/audit-log.md).
 */
#include <jansson.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/audit.h"

#define SYNOPSIS "[--json]"
#define MAX_LISTED 1000 /* problems listed; the rest are only counted */

struct listing {
    FILE *out;
    json_t *problems; /* --json: the listed problems; NULL otherwise */
    long long listed;
};

/* print_problem: one problem as a line ("chain C seq N: ...", "chain C:
 * ...", "seal N: ...") or a JSON object. */
static void print_problem(void *arg, const struct audit_problem *p)
{
    struct listing *l = arg;
    if (l->listed++ >= MAX_LISTED)
        return;
    if (l->problems != NULL) {
        json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:s}", "chain",
                              p->chain != NULL ? json_string(p->chain) : json_null(), "seq",
                              p->seq > 0 ? json_integer(p->seq) : json_null(), "log_seq",
                              p->log_seq > 0 ? json_integer(p->log_seq) : json_null(), "seal",
                              p->seal > 0 ? json_integer(p->seal) : json_null(), "problem",
                              p->what);
        json_array_append_new(l->problems, j);
    } else if (p->chain == NULL) {
        fprintf(l->out, "seal %lld: %s\n", p->seal, p->what);
    } else if (p->seq > 0) {
        fprintf(l->out, "chain %s seq %lld: %s\n", p->chain, p->seq, p->what);
    } else {
        fprintf(l->out, "chain %s: %s\n", p->chain, p->what);
    }
}

static void print_json(FILE *out, const struct audit_summary *s, json_t *problems)
{
    json_t *seal = s->last_seal == 0
                       ? json_null()
                       : json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)s->last_seal,
                                   "sealed_at", s->last_seal_at, "hash", s->last_seal_hash);
    ctl_print_json(out, json_pack("{s:I, s:I, s:I, s:b, s:o, s:I, s:O}", "rows",
                                  (json_int_t)s->rows, "chains", (json_int_t)s->chains, "seals",
                                  (json_int_t)s->seals, "intact", s->problems == 0, "last_seal",
                                  seal, "problem_count", (json_int_t)s->problems, "problems",
                                  problems));
}

static void print_text(FILE *out, const struct audit_summary *s)
{
    if (s->problems > MAX_LISTED)
        fprintf(out, "... and %lld more\n", s->problems - MAX_LISTED);
    fprintf(out, "audit log: %lld rows in %lld chains, %lld seal%s, ", s->rows, s->chains,
            s->seals, s->seals == 1 ? "" : "s");
    if (s->problems > 0)
        fprintf(out, "%lld problem%s: the log is not as it was written\n", s->problems,
                s->problems == 1 ? "" : "s");
    else if (s->last_seal == 0)
        fputs("chains intact (not sealed yet)\n", out);
    else
        fprintf(out, "chains intact, last seal %lld at %s: %s\n", s->last_seal, s->last_seal_at,
                s->last_seal_hash);
}

int ctl_verify_audit(struct ctl *ctx, int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !as_json))
        return ctl_usage("verify-audit", SYNOPSIS, ctl_wants_help(argc, argv));
    struct listing l = {.out = ctx->out, .problems = as_json ? json_array() : NULL};
    if (as_json && l.problems == NULL)
        return ctl_fail(ctx, TG_ENOMEM);
    struct audit_summary s;
    enum tg_err e = audit_verify(ctx->tg, print_problem, &l, &s);
    if (e != TG_OK) {
        json_decref(l.problems);
        return ctl_fail(ctx, e);
    }
    if (as_json)
        print_json(ctx->out, &s, l.problems);
    else
        print_text(ctx->out, &s);
    json_decref(l.problems);
    return s.problems == 0 ? CTL_OK : CTL_FAIL;
}
