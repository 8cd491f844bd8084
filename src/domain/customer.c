/*
 * customer: see customer.h.
 */
#include "domain/customer.h"

#include <ctype.h>

#include "core/config.h"
#include "domain/audit.h"
#include "domain/email.h"
#include "domain/flag.h"

#define SIGNUP_CLOSED_RETRY_SECONDS 3600

const char *const customer_sources[] = {"direct", "marketplace", "early_access", NULL};

/* signup_open: the automated_customer_onboarding flag for this address
 * (lower-cased, so the answer does not depend on its spelling). */
static enum tg_err signup_open(struct tg_ctx *ctx, const char *email)
{
    char *lower = arena_strdup(ctx->arena, email);
    if (lower == NULL)
        return ctx_fail(ctx, TG_ENOMEM, NULL);
    for (char *p = lower; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    bool on;
    enum tg_err e = flag_enabled(ctx, FLAG_ONBOARDING, lower, &on);
    if (e != TG_OK)
        return e;
    if (!on) {
        ctx_retry_after(ctx, SIGNUP_CLOSED_RETRY_SECONDS);
        return ctx_fail(ctx, TG_ESIGNUPCLOSED, "automated signup is closed for now; try again "
                                               "later or contact support");
    }
    return TG_OK;
}

enum tg_err customer_onboard(struct tg_ctx *ctx, const char *email, const char *name,
                             const char *source, struct customer *out, struct apikey *key)
{
    if (!email_valid(email))
        return ctx_fail(ctx, TG_EINVALID, "email: not a valid e-mail address");
    if (ctx->svc->blocklist != NULL && email_is_disposable(ctx->svc->blocklist, email))
        return ctx_fail(ctx, TG_EDISPOSABLE, "email: use a permanent address, not a "
                                             "disposable one");
    enum tg_err e = signup_open(ctx, email);
    if (e == TG_OK)
        e = audit_set_actor(ctx, "signup");
    if (e != TG_OK)
        return e;
    if ((e = apikey_generate(ctx->svc->cfg->environment, key)) != TG_OK)
        return ctx_fail(ctx, e, NULL);
    bool created = false;
    e = customers_onboard(ctx, email, name, source, key->hash, key->prefix, &created, out);
    if (e == TG_OK && !created)
        e = ctx_fail(ctx, TG_ECONFLICT, "email: a customer with this e-mail already exists");
    if (e != TG_OK) {
        apikey_cleanse(key);
        return e;
    }
    ctx->customer_id = out->id;
    return TG_OK;
}

enum tg_err customer_get(struct tg_ctx *ctx, const char *id, struct customer *out)
{
    enum tg_err e = customers_get(ctx, id, out);
    return e == TG_ENOTFOUND ? ctx_fail(ctx, e, "no such customer") : e;
}

enum tg_err customer_count_by_tier(struct tg_ctx *ctx, struct customers_tier_count **out,
                                   size_t *n)
{
    return customers_count_by_tier(ctx, out, n);
}
