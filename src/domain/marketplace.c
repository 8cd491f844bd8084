/*
 * marketplace: see marketplace.h. GitHub's payloads carry many members
 * tollgate does not read, so they are not checked by a field table (which
 * refuses unknown members); the members read are checked one by one here:
 * type, length, no control characters.
 */
#include "domain/marketplace.h"

#include <string.h>

#include "core/config.h"
#include "core/metrics.h"
#include "core/text.h"
#include "domain/apikey.h"
#include "domain/audit.h"
#include "domain/email.h"
#include "integration/webhook_sig.h"
#include "store/github_deliveries.h"

#define NAME_MAX_BYTES 200 /* customers.name */
#define SHORT_MAX_BYTES 64

/* text_member: member name of obj (what names it in details) as a string
 * of 1..max bytes without control characters into *out; absent or null:
 * *out = NULL, an error when required. */
static enum tg_err text_member(struct tg_ctx *ctx, json_t *obj, const char *what,
                               const char *name, size_t max, bool required, const char **out)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return ctx_fail(ctx, TG_EINVALID, "%s%s: required", what, name);
        return TG_OK;
    }
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n > max || !text_printable(json_string_value(v), n))
        return ctx_fail(ctx, TG_EINVALID, "%s%s: a string of 1 to %zu characters expected", what,
                        name, max);
    *out = json_string_value(v);
    return TG_OK;
}

enum tg_err marketplace_verify(struct tg_ctx *ctx, const char *signature, const char *body,
                               size_t len)
{
    const char *secret = ctx->svc->cfg->github_webhook_secret;
    if (secret == NULL) {
        metrics_add(MF_WEBHOOKS_RECEIVED, 1, "github", "other", "rejected", "unconfigured");
        return ctx_fail(ctx, TG_EUNAVAILABLE, "GitHub webhooks are not configured here");
    }
    enum webhook_sig v = webhook_sig_github(secret, signature, body, len);
    if (v != WEBHOOK_SIG_OK) {
        metrics_add(MF_WEBHOOKS_RECEIVED, 1, "github", "other", "rejected", "signature");
        return ctx_fail(ctx, TG_EWEBHOOKSIGNATURE, "X-Hub-Signature-256: %s",
                        webhook_sig_str(v));
    }
    return TG_OK;
}

enum tg_err marketplace_parse(struct tg_ctx *ctx, json_t *payload, struct marketplace_event *out)
{
    memset(out, 0, sizeof(*out));
    json_t *mp = json_object_get(payload, "marketplace_purchase");
    json_t *account = json_object_get(mp, "account");
    json_t *id = json_object_get(account, "id");
    enum tg_err e;
    if ((e = text_member(ctx, payload, "", "action", SHORT_MAX_BYTES, true, &out->action)) !=
        TG_OK)
        return e;
    if (!json_is_object(mp) || !json_is_object(account))
        return ctx_fail(ctx, TG_EINVALID, "marketplace_purchase.account: an object expected");
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return ctx_fail(ctx, TG_EINVALID,
                        "marketplace_purchase.account.id: a positive integer expected");
    out->account_id = (long long)json_integer_value(id);
    const char *billing = NULL, *sender = NULL;
    if ((e = text_member(ctx, account, "marketplace_purchase.account.", "login", NAME_MAX_BYTES,
                         true, &out->login)) != TG_OK ||
        (e = text_member(ctx, account, "marketplace_purchase.account.", "type", SHORT_MAX_BYTES,
                         false, &out->account_type)) != TG_OK ||
        (e = text_member(ctx, json_object_get(mp, "plan"), "marketplace_purchase.plan.", "name",
                         NAME_MAX_BYTES, false, &out->plan)) != TG_OK ||
        (e = text_member(ctx, payload, "", "effective_date", SHORT_MAX_BYTES, false,
                         &out->effective_date)) != TG_OK ||
        (e = text_member(ctx, account, "marketplace_purchase.account.",
                         "organization_billing_email", EMAIL_MAX_LEN, false, &billing)) != TG_OK ||
        (e = text_member(ctx, json_object_get(payload, "sender"), "sender.", "email",
                         EMAIL_MAX_LEN, false, &sender)) != TG_OK)
        return e;
    out->email = billing != NULL ? billing : sender;
    return TG_OK;
}

enum tg_err marketplace_record(struct tg_ctx *ctx, const char *delivery, const char *event,
                               const char *action, long long account_id, const char *payload,
                               const char *note, bool *duplicate)
{
    return github_deliveries_record(ctx, delivery, event, action, account_id, payload, note,
                                    duplicate);
}

/* purchased: provision the account (see marketplace.h). */
static enum tg_err purchased(struct tg_ctx *ctx, const struct github_purchase *g,
                             const struct marketplace_event *ev, struct github_outcome *out)
{
    if (!email_valid(ev->email))
        return ctx_fail(ctx, TG_EINVALID, "the account's e-mail is not a valid e-mail address");
    if (ctx->svc->blocklist != NULL && email_is_disposable(ctx->svc->blocklist, ev->email))
        return ctx_fail(ctx, TG_EDISPOSABLE, "the account's e-mail is at a disposable domain");
    if (ev->plan == NULL)
        return ctx_fail(ctx, TG_EINVALID, "marketplace_purchase.plan.name: required");
    struct apikey key;
    enum tg_err e = apikey_generate(ctx->svc->cfg->environment, &key);
    if (e != TG_OK)
        return ctx_fail(ctx, e, NULL);
    e = github_deliveries_purchased(ctx, g, ev->email, key.hash, key.prefix, key.key, out);
    /* The key now lives only in the queued welcome mail. */
    apikey_cleanse(&key);
    if (e == TG_OK && strcmp(out->outcome, "email_taken") == 0)
        return ctx_fail(ctx, TG_ECONFLICT,
                        "a customer with the account's e-mail exists already and is not linked "
                        "to this GitHub account");
    return e;
}

enum tg_err marketplace_apply(struct tg_ctx *ctx, const char *delivery, const char *payload,
                              const struct marketplace_event *ev, struct marketplace_result *out)
{
    memset(out, 0, sizeof(*out));
    struct github_outcome o = {0};
    enum tg_err e = audit_set_actor(ctx, arena_printf(ctx->arena, "github:%s", delivery));
    if (e != TG_OK)
        return e;
    const struct github_purchase g = {.delivery = delivery,
                                      .payload = payload,
                                      .account_id = ev->account_id,
                                      .login = ev->login,
                                      .account_type = ev->account_type,
                                      .plan = ev->plan,
                                      .effective_date = ev->effective_date};
    if (strcmp(ev->action, "purchased") == 0) {
        e = purchased(ctx, &g, ev, &o);
    } else if (strcmp(ev->action, "changed") == 0 || strcmp(ev->action, "cancelled") == 0) {
        if (strcmp(ev->action, "changed") == 0 && ev->plan == NULL)
            return ctx_fail(ctx, TG_EINVALID, "marketplace_purchase.plan.name: required");
        e = github_deliveries_update(ctx, &g, ev->action, &o);
    } else {
        bool dup = false;
        e = marketplace_record(ctx, delivery, "marketplace_purchase", ev->action, ev->account_id,
                               payload,
                               "not applied: GitHub sends changed or cancelled when it takes "
                               "effect",
                               &dup);
        out->outcome = dup ? "duplicate" : "recorded";
        out->duplicate = dup;
        return e;
    }
    if (e != TG_OK)
        return e;
    out->outcome = o.outcome;
    out->customer_id = o.customer_id;
    if (strcmp(o.outcome, "created") == 0) {
        ctx_count(ctx, metrics_slot(MF_SIGNUPS, "github_marketplace", NULL, NULL, NULL), 1);
        ctx_count(ctx, metrics_slot(MF_TIER_TRANSITIONS, "none", "trial", NULL, NULL), 1);
    }
    out->duplicate = strcmp(o.outcome, "duplicate") == 0;
    if (out->customer_id != NULL)
        ctx->customer_id = out->customer_id;
    return TG_OK;
}
