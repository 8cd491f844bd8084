/*
 * customer: see customer.h.
 */
#include "domain/customer.h"

#include <ctype.h>
#include <string.h>

#include "core/config.h"
#include "core/metrics.h"
#include "domain/email.h"

#define SIGNUP_CLOSED_RETRY_SECONDS 3600
#define SIGNUP_ACTOR "signup" /* the audit actor of a signup (docs/audit-log.md) */

const char *const customer_sources[] = {"direct", "marketplace", "early_access", NULL};

/* signup_subject: the address as the automated_customer_onboarding flag
 * sees it: lower-cased, so the answer does not depend on its spelling. */
static const char *signup_subject(struct tg_ctx *ctx, const char *email)
{
    char *lower = arena_strdup(ctx->arena, email);
    for (char *p = lower; p != NULL && *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    return lower;
}

enum tg_err customer_onboard(struct tg_ctx *ctx, const char *email, const char *name,
                             const char *source, struct customer *out, struct apikey *key)
{
    if (!email_valid(email))
        return ctx_fail(ctx, TG_EINVALID, "email: not a valid e-mail address");
    if (ctx->svc->blocklist != NULL && email_is_disposable(ctx->svc->blocklist, email))
        return ctx_fail(ctx, TG_EDISPOSABLE, "email: use a permanent address, not a "
                                             "disposable one");
    const char *subject = signup_subject(ctx, email);
    if (subject == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    enum tg_err e = apikey_generate(ctx->svc->cfg->environment, key);
    if (e != TG_OK)
        return ctx_fail(ctx, e, NULL);
    /* The flag, the actor and the onboarding in one round trip. */
    enum customers_signup_outcome outcome;
    ctx->actor = SIGNUP_ACTOR;
    e = customers_signup(ctx, email, name, source, key->hash, key->prefix, subject, SIGNUP_ACTOR,
                         &outcome, out);
    if (e == TG_OK && outcome == CUSTOMERS_SIGNUP_CLOSED) {
        ctx_retry_after(ctx, SIGNUP_CLOSED_RETRY_SECONDS);
        e = ctx_fail(ctx, TG_ESIGNUPCLOSED, "automated signup is closed for now; try again "
                                            "later or contact support");
    } else if (e == TG_OK && outcome == CUSTOMERS_EMAIL_TAKEN) {
        e = ctx_fail(ctx, TG_ECONFLICT, "email: a customer with this e-mail already exists");
    }
    if (e != TG_OK) {
        apikey_cleanse(key);
        return e;
    }
    ctx->customer_id = out->id;
    /* The signup's grant is its balance: the customer is new. */
    ctx_count(ctx, metrics_slot(MF_SIGNUPS, "api", NULL, NULL, NULL), 1);
    ctx_count(ctx, metrics_slot(MF_TIER_TRANSITIONS, "none", out->tier, NULL, NULL), 1);
    if (out->credit_balance > 0)
        ctx_count(ctx, metrics_slot(MF_CREDITS_GRANTED, "trial_signup", NULL, NULL, NULL),
                  (uint64_t)out->credit_balance);
    return TG_OK;
}

enum tg_err customer_get(struct tg_ctx *ctx, const char *id, struct customer *out)
{
    enum tg_err e = customers_get(ctx, id, out);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no such customer") : e;
}

enum tg_err customer_find(struct tg_ctx *ctx, const char *who, const char **id)
{
    return customers_find(ctx, who, id);
}

enum tg_err customer_list(struct tg_ctx *ctx, const char *email_part, long limit,
                          struct customer **out, size_t *n)
{
    return customers_list(ctx, email_part, limit, out, n);
}

enum tg_err customer_account(struct tg_ctx *ctx, const char *id, struct customer_account *out)
{
    return customers_account(ctx, id, out);
}

/* The states reset-staging seeds, in order, and their customers' names. */
static const struct {
    const char *state, *label;
} staging_states[CUSTOMER_STAGING_STATES] = {
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

/* seed_one: state i's customer, with a new key in out->key. */
static enum tg_err seed_one(struct tg_ctx *ctx, size_t i, struct customer_seeded *out,
                            struct staging_seed *seed)
{
    char *email = arena_printf(ctx->arena, "%s@test.example.com", staging_states[i].state);
    const char *name = arena_printf(ctx->arena, "Staging: %s", staging_states[i].label);
    if (email == NULL || name == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    for (char *p = email; *p != '@'; p++)
        if (*p == '_')
            *p = '-';
    if (apikey_generate(ctx->svc->cfg->environment, &out->key) != TG_OK)
        return ctx_fail(ctx, TG_EINTERNAL, "cannot generate an API key (OpenSSL)");
    out->state = staging_states[i].state;
    out->email = email;
    *seed = (struct staging_seed){out->state, email, name, out->key.hash, out->key.prefix};
    return TG_OK;
}

enum tg_err customer_reseed_staging(struct tg_ctx *ctx,
                                    struct customer_seeded out[CUSTOMER_STAGING_STATES],
                                    struct staging_count **deleted, size_t *ndeleted)
{
    struct staging_seed seeds[CUSTOMER_STAGING_STATES];
    const struct config *cfg = ctx->svc->cfg;
    enum tg_err e = TG_OK;
    memset(out, 0, CUSTOMER_STAGING_STATES * sizeof(*out));
    for (size_t i = 0; e == TG_OK && i < CUSTOMER_STAGING_STATES; i++)
        e = seed_one(ctx, i, &out[i], &seeds[i]);
    if (e == TG_OK) {
        struct staging_customer seeded[CUSTOMER_STAGING_STATES];
        e = staging_reseed(ctx, seeds, CUSTOMER_STAGING_STATES, cfg->stripe_price_pro,
                           cfg->grace_period_days, deleted, ndeleted, seeded);
        for (size_t i = 0; e == TG_OK && i < CUSTOMER_STAGING_STATES; i++)
            out[i].customer = seeded[i];
    }
    for (size_t i = 0; e != TG_OK && i < CUSTOMER_STAGING_STATES; i++)
        apikey_cleanse(&out[i].key);
    return e;
}

enum tg_err customer_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                   size_t *n)
{
    return customers_count_by_tier(ctx, out, n);
}
