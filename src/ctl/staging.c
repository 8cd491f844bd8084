/*
 * staging: tollgatectl reset-staging; see ctl.h and DESIGN.md section 6.
 * Refused in production before the database is even opened. Otherwise one
 * transaction deletes every customer at @example.com or @test.example.com
 * (staging_reset(), which records the reset in the audit log) and seeds one
 * customer per billing state (staging_seed_customer(), sql/005), each with
 * a fresh API key that is printed once and wiped from memory afterwards.
 * Nothing is printed until the transaction has committed, so a key shown
 * is a key that works.
 */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "domain/apikey.h"

#define SYNOPSIS "[--json]"
#define BYTEA_OID 17 /* pg_type.h */

/* The states, in the order they are seeded, and their customers' names. */
static const struct {
    const char *state, *label;
} states[] = {
    {"trial", "Trial"},
    {"trial_with_billing", "Trial with billing"},
    {"trial_exhausted", "Trial exhausted"},
    {"payg", "Pay as you go"},
    {"pro", "Pro"},
    {"pro_partly_used", "Pro, partly used"},
    {"pro_past_due", "Pro, past due"},
    {"pro_cancelled", "Pro, cancelled"},
    {"pro_cancel_scheduled", "Pro, cancel scheduled"},
    {"pro_rolled_over", "Pro with rolled-over credits"},
};
#define NSTATES (sizeof(states) / sizeof(states[0]))

struct seeded {
    char email[64];
    char id[37];
    char tier[16];
    char billing_status[16];
    char balance[24];
    struct apikey key; /* the secret: apikey_cleanse() after printing */
};

/* The customer is read by a second statement: the calling statement's
 * snapshot does not see what the function inserted. */
static const char seed_sql[] =
    "SELECT staging_seed_customer($1, $2, $3, $4, $5, coalesce(nullif($6, ''), 'price_seed_pro'),"
    "                             make_interval(days => $7::integer))";
static const char seeded_sql[] =
    "SELECT tier, billing_status, credit_balance FROM customers WHERE id = $1";

/* seed: state i's customer into *s. 0, or -1 (message printed). */
static int seed(PGconn *db, const struct config *cfg, size_t i, struct seeded *s)
{
    char name[96], grace[24];
    snprintf(s->email, sizeof(s->email), "%s@test.example.com", states[i].state);
    for (char *p = s->email; *p != '@'; p++)
        if (*p == '_')
            *p = '-';
    snprintf(name, sizeof(name), "Staging: %s", states[i].label);
    snprintf(grace, sizeof(grace), "%ld", cfg->grace_period_days);
    if (apikey_generate(cfg->environment, &s->key) != TG_OK) {
        fprintf(stderr, "tollgatectl: cannot generate an API key (OpenSSL)\n");
        return -1;
    }
    const char *params[7] = {
        states[i].state,       s->email, name, (const char *)s->key.hash, s->key.prefix,
        cfg->stripe_price_pro, grace};
    const Oid types[7] = {0, 0, 0, BYTEA_OID, 0, 0, 0};
    const int lengths[7] = {0, 0, 0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[7] = {0, 0, 0, 1, 0, 0, 0};
    PGresult *r = PQexecParams(db, seed_sql, 7, types, params, lengths, formats, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        fprintf(stderr, "tollgatectl: seeding %s: %s\n", states[i].state,
                msg != NULL ? msg : "no customer seeded");
        PQclear(r);
        return -1;
    }
    snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *id[1] = {s->id};
    if ((r = ctl_query(db, seeded_sql, 1, id)) == NULL)
        return -1;
    if (PQntuples(r) != 1) {
        fprintf(stderr, "tollgatectl: seeding %s: the customer is missing\n", states[i].state);
        PQclear(r);
        return -1;
    }
    snprintf(s->tier, sizeof(s->tier), "%s", PQgetvalue(r, 0, 0));
    snprintf(s->billing_status, sizeof(s->billing_status), "%s", PQgetvalue(r, 0, 1));
    snprintf(s->balance, sizeof(s->balance), "%s", PQgetvalue(r, 0, 2));
    PQclear(r);
    return 0;
}

/* reset: the whole reset in one transaction; *deleted gets staging_reset()'s
 * counts (the caller PQclear()s it). 0, or -1 after a ROLLBACK. */
static int reset(PGconn *db, const struct config *cfg, struct seeded *seeded, PGresult **deleted)
{
    PGresult *r = ctl_query(db, "BEGIN", 0, NULL);
    if (r == NULL)
        return -1;
    PQclear(r);
    *deleted = ctl_query(db, "SELECT tbl, deleted FROM staging_reset() ORDER BY tbl", 0, NULL);
    if (*deleted == NULL)
        goto rollback;
    for (size_t i = 0; i < NSTATES; i++)
        if (seed(db, cfg, i, &seeded[i]) != 0)
            goto rollback;
    r = ctl_query(db, "COMMIT", 0, NULL);
    if (r == NULL)
        goto rollback;
    PQclear(r);
    return 0;
rollback:
    PQclear(PQexec(db, "ROLLBACK"));
    PQclear(*deleted);
    *deleted = NULL;
    return -1;
}

static void print_text(FILE *out, PGresult *deleted, const struct seeded *s)
{
    fprintf(out, "deleted:");
    for (int i = 0; i < PQntuples(deleted); i++)
        fprintf(out, "%s %s %s", i > 0 ? "," : "", PQgetvalue(deleted, i, 1),
                PQgetvalue(deleted, i, 0));
    fprintf(out, "\n\n%-38s %-20s %-5s %-9s %7s  %s\n", "EMAIL", "STATE", "TIER", "BILLING",
            "BALANCE", "API KEY (shown once)");
    for (size_t i = 0; i < NSTATES; i++)
        fprintf(out, "%-38s %-20s %-5s %-9s %7s  %s\n", s[i].email, states[i].state, s[i].tier,
                s[i].billing_status, s[i].balance, s[i].key.key);
}

static void print_json(FILE *out, PGresult *deleted, const struct seeded *s)
{
    json_t *counts = json_object(), *customers = json_array();
    for (int i = 0; i < PQntuples(deleted); i++)
        json_object_set_new(counts, PQgetvalue(deleted, i, 0),
                            json_integer(strtoll(PQgetvalue(deleted, i, 1), NULL, 10)));
    for (size_t i = 0; i < NSTATES; i++)
        json_array_append_new(customers,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "email", s[i].email,
                                        "id", s[i].id, "state", states[i].state, "tier", s[i].tier,
                                        "billing_status", s[i].billing_status, "balance",
                                        (json_int_t)strtoll(s[i].balance, NULL, 10), "api_key",
                                        s[i].key.key));
    ctl_print_json(out, json_pack("{s:o, s:o}", "deleted", counts, "customers", customers));
}

int ctl_reset_staging(struct ctl *ctx, int argc, char **argv)
{
    bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
    if (ctl_wants_help(argc, argv) || (argc != 1 && !as_json))
        return ctl_usage("reset-staging", SYNOPSIS, ctl_wants_help(argc, argv));
    const struct config *cfg = ctx->cfg;
    if (config_is_production(cfg)) {
        fprintf(stderr,
                "tollgatectl: refusing to reset a production database "
                "(environment = %s)\n",
                cfg->environment);
        return CTL_FAIL;
    }
    if (!ctl_open(ctx, "reset-staging")) /* the session's audit actor is this operator */
        return CTL_FAIL;
    PGconn *db = ctx->db;
    struct seeded *seeded = calloc(NSTATES, sizeof(*seeded));
    PGresult *deleted = NULL;
    int rc = CTL_FAIL;
    if (seeded == NULL) {
        fprintf(stderr, "tollgatectl: out of memory\n");
    } else if (reset(db, cfg, seeded, &deleted) == 0) {
        if (as_json)
            print_json(ctx->out, deleted, seeded);
        else
            print_text(ctx->out, deleted, seeded);
        rc = CTL_OK;
    }
    for (size_t i = 0; seeded != NULL && i < NSTATES; i++)
        apikey_cleanse(&seeded[i].key);
    free(seeded);
    PQclear(deleted);
    return rc;
}
