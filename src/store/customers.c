/*
 * customers: see customers.h.
 */
#include "store/customers.h"

#include <string.h>

#include "core/text.h"
#include "store/db.h"
#include "store/registry.h"
#include "store/rows.h"
#include "store/sql.h"

/* The customer's columns from the function's composite (NULL unless created). */
static const struct db_statement signup_st = {
    "customers_signup",
    "SELECT s.outcome, " CUSTOMER_COLS " FROM customer_signup($1, $2, $3, $4, $5, $6, $7) s,"
    " LATERAL (SELECT (s.customer).*) c",
    7};

static const struct db_statement get_st = {
    "customers_get", "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1", 1};

static const struct db_statement find_by_id_st = {
    "customers_find_by_id", "SELECT id FROM customers WHERE id = $1::uuid", 1};

static const struct db_statement find_by_email_st = {
    "customers_find_by_email", "SELECT id FROM customers WHERE lower(email) = lower($1)", 1};

/* strpos, not LIKE: '%' and '_' in $1 are plain characters. */
static const struct db_statement list_st = {
    "customers_list",
    "SELECT " CUSTOMER_COLS " FROM customers c"
    " WHERE $1::text IS NULL OR strpos(lower(c.email), lower($1)) > 0"
    " ORDER BY c.created_at DESC, c.id LIMIT $2::integer",
    2};

static const struct db_statement account_st = {
    "customers_account",
    "SELECT " CUSTOMER_COLS ", c.ledger_seq, " SQL_TS("c.billing_consent_at") ","
    " c.github_account_id, c.github_login, c.github_account_type, c.github_plan,"
    " c.github_plan_status, " SQL_TS("c.github_plan_effective_at") ","
    " " SQL_TS("c.github_cancelled_at") ", " SQL_TS("c.updated_at")
    " FROM customers c WHERE c.id = $1::uuid",
    1};

static const struct db_statement set_stripe_st = {
    "customers_set_stripe",
    "UPDATE customers SET stripe_customer_id = coalesce(stripe_customer_id, $2),"
    " updated_at = now() WHERE id = $1 RETURNING stripe_customer_id",
    2};

static const struct db_statement payment_failed_st = {
    "customers_payment_failed", "SELECT id FROM customer_payment_failed($1, $2::interval)", 2};

static const struct db_statement payment_succeeded_st = {
    "customers_payment_succeeded", "SELECT id FROM customer_payment_succeeded($1)", 1};

static const struct db_statement set_threshold_st = {
    "customers_set_low_balance_threshold",
    "SELECT " CUSTOMER_COLS " FROM customer_set_low_balance_threshold($1::uuid, $2::bigint) c", 2};

static const struct db_statement expire_grace_st = {"customers_expire_grace",
                                                    "SELECT id FROM grace_periods_expire()", 0};

static const struct db_statement by_tier_st = {
    "customers_count_by_tier",
    "SELECT p.tier, count(c.id), coalesce(sum(c.credit_balance), 0)"
    " FROM pricing_tiers p LEFT JOIN customers c ON c.tier = p.tier"
    " GROUP BY p.tier ORDER BY p.tier",
    0};

const struct db_statement *const customers_statements[] = {
    &signup_st,         &get_st,         &find_by_id_st, &find_by_email_st,
    &list_st,           &account_st,     &set_stripe_st, &payment_failed_st,
    &payment_succeeded_st, &expire_grace_st, &by_tier_st, &set_threshold_st, NULL};

void customers_from_row(const PGresult *r, int i, int col, struct customer *c)
{
    c->id = db_str(r, i, col);
    c->email = db_str(r, i, col + 1);
    c->name = db_str(r, i, col + 2);
    c->source = db_str(r, i, col + 3);
    c->tier = db_str(r, i, col + 4);
    c->billing_status = db_str(r, i, col + 5);
    c->credit_balance = db_ll(r, i, col + 6);
    c->created_at = db_str(r, i, col + 7);
    c->stripe_customer_id = db_str(r, i, col + 8);
    c->default_payment_method = db_str(r, i, col + 9);
    c->grace_period_ends_at = db_str(r, i, col + 10);
    c->billing_enabled = strcmp(PQgetvalue(r, i, col + 11), "f") != 0;
    c->credits_held = db_ll(r, i, col + 12);
    c->spend_limit.set = !PQgetisnull(r, i, col + 13);
    c->spend_limit.monthly_cents = db_ll(r, i, col + 13);
    c->spend_limit.currency = db_str(r, i, col + 14);
    c->spend_limit.spent_cents = db_ll(r, i, col + 15);
    c->low_balance_threshold = db_ll(r, i, col + 16);
    c->credit_state = db_str(r, i, col + 17);
}

enum tg_err customers_signup(struct tg_ctx *ctx, const char *email, const char *name,
                             const char *source, const uint8_t key_hash[HASH_SHA256_LEN],
                             const char *key_prefix, const char *subject, const char *actor,
                             enum customers_signup_outcome *outcome, struct customer *out)
{
    const char *p[7] = {email, name, source, (const char *)key_hash, key_prefix, subject, actor};
    const int lengths[7] = {0, 0, 0, HASH_SHA256_LEN, 0, 0, 0};
    const int formats[7] = {0, 0, 0, 1, 0, 0, 0};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &signup_st, p, lengths, formats, &r);
    if (e != TG_OK)
        return e;
    static const char *const outcomes[] = {[CUSTOMERS_CREATED] = "created",
                                           [CUSTOMERS_EMAIL_TAKEN] = "email_taken",
                                           [CUSTOMERS_SIGNUP_CLOSED] = "signup_closed"};
    int o;
    if ((e = db_outcome(ctx, r, 0, outcomes, 3, &o)) != TG_OK)
        return e;
    *outcome = (enum customers_signup_outcome)o;
    if (*outcome == CUSTOMERS_CREATED)
        customers_from_row(r, 0, 1, out);
    return TG_OK;
}

enum tg_err customers_get(struct tg_ctx *ctx, const char *id, struct customer *out)
{
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &get_st, p, &r);
    if (e != TG_OK)
        return e;
    customers_from_row(r, 0, 0, out);
    return TG_OK;
}

enum tg_err customers_find(struct tg_ctx *ctx, const char *who, const char **id)
{
    const char *p[1] = {who};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, text_is_uuid(who) ? &find_by_id_st : &find_by_email_st, p, &r);
    if (e != TG_OK)
        return e;
    *id = db_str(r, 0, 0);
    return TG_OK;
}

enum tg_err customers_list(struct tg_ctx *ctx, const char *email_part, long limit,
                           struct customer **out, size_t *n)
{
    const char *p[2] = {email_part, db_text_ll(ctx, limit)};
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &list_st, p, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++)
        customers_from_row(r, (int)i, 0, &(*out)[i]);
    return TG_OK;
}

enum tg_err customers_account(struct tg_ctx *ctx, const char *id, struct customer_account *out)
{
    const char *p[1] = {id};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &account_st, p, &r);
    if (e != TG_OK)
        return e;
    customers_from_row(r, 0, 0, &out->c);
    int col = CUSTOMER_NCOLS;
    out->ledger_entries = db_ll(r, 0, col);
    out->billing_consent_at = db_str(r, 0, col + 1);
    out->github_account_id = db_ll(r, 0, col + 2);
    out->github_login = db_str(r, 0, col + 3);
    out->github_account_type = db_str(r, 0, col + 4);
    out->github_plan = db_str(r, 0, col + 5);
    out->github_plan_status = db_str(r, 0, col + 6);
    out->github_plan_effective_at = db_str(r, 0, col + 7);
    out->github_cancelled_at = db_str(r, 0, col + 8);
    out->updated_at = db_str(r, 0, col + 9);
    return TG_OK;
}

enum tg_err customers_set_stripe(struct tg_ctx *ctx, const char *id, const char *cus,
                                 const char **kept)
{
    const char *p[2] = {id, cus};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &set_stripe_st, p, &r);
    if (e != TG_OK)
        return e;
    *kept = db_str(r, 0, 0);
    return TG_OK;
}

static const char *grace_interval(struct tg_ctx *ctx, long days)
{
    return arena_printf(ctx->arena, "%ld days", days);
}

enum tg_err customers_payment_failed(struct tg_ctx *ctx, const char *cus, long grace_days,
                                     bool *ours)
{
    const char *p[2] = {cus, grace_interval(ctx, grace_days)};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &payment_failed_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *ours = PQntuples(r) > 0;
    return e;
}

enum tg_err customers_payment_succeeded(struct tg_ctx *ctx, const char *cus, bool *settled)
{
    const char *p[1] = {cus};
    PGresult *r;
    enum tg_err e = db_exec(ctx, &payment_succeeded_st, p, NULL, NULL, &r);
    if (e == TG_OK)
        *settled = PQntuples(r) > 0;
    return e;
}

enum tg_err customers_expire_grace(struct tg_ctx *ctx, const char ***ids, size_t *n)
{
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &expire_grace_st, NULL, sizeof(**ids), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *ids = rows;
    for (size_t i = 0; i < *n; i++)
        (*ids)[i] = db_str(r, (int)i, 0);
    return TG_OK;
}

enum tg_err customers_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                    size_t *n)
{
    PGresult *r;
    void *rows;
    enum tg_err e = db_exec_rows(ctx, &by_tier_st, NULL, sizeof(**out), &r, &rows, n);
    if (e != TG_OK)
        return e;
    *out = rows;
    for (size_t i = 0; i < *n; i++) {
        (*out)[i].tier = db_str(r, (int)i, 0);
        (*out)[i].customers = db_ll(r, (int)i, 1);
        (*out)[i].credits = db_ll(r, (int)i, 2);
    }
    return TG_OK;
}

enum tg_err customers_set_low_balance_threshold(struct tg_ctx *ctx, const char *id,
                                                long long threshold, struct customer *out)
{
    const char *p[2] = {id, db_text_ll(ctx, threshold)};
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &set_threshold_st, p, &r);
    if (e == TG_OK)
        customers_from_row(r, 0, 0, out);
    return e;
}
