/*
 * usage: POST /api/v1/usage (meter a deployed fix) and
 * GET /api/v1/usage/summary (balance, recent entries, warnings).
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/render.h"
#include "core/config.h"
#include "domain/ledger.h"
#include "domain/usage.h"
#include "http/validate.h"

#define SUMMARY_RECENT 10

static const char *const usage_kinds[] = {"fix_deployed", NULL};

static const struct valid_field usage_fields[] = {
    {"kind", VALID_STRING, true, 1, 32, usage_kinds},
    {"fix_id", VALID_STRING, true, 1, 200, NULL},
    {"metadata", VALID_METADATA, false, 0, 0, NULL},
};

enum tg_err api_usage_create(struct http_request *req)
{
    json_t *f[3];
    enum tg_err e = valid_object(req, req->json, usage_fields, 3, f);
    if (e != TG_OK)
        return e;
    char *metadata = NULL;
    if (f[2] != NULL) {
        metadata = json_dumps(f[2], JSON_COMPACT | JSON_SORT_KEYS);
        if (metadata == NULL || arena_defer(req->arena, free, metadata) != 0)
            return http_fail(req, TG_ENOMEM, "out of memory");
    }
    struct usage_result res;
    req->auth.checked = true; /* the statement judges the key from here on */
    e = usage_record_fix(req->ctx, api_bearer_key(req), req->idempotency_key, req->body,
                         req->body_len, json_string_value(f[1]), metadata, &res);
    if (res.auth.customer_id != NULL)
        api_set_auth(req, &res.auth);
    if (e != TG_OK)
        return e;
    /* A replay answers exactly as the first request did (status and body);
     * the header tells the client it is a replay, as Stripe's does. */
    if (res.event.replayed &&
        (e = http_add_header(req, "Idempotent-Replayed", "true")) != TG_OK)
        return e;
    return http_reply_json(req, 201, render_usage_event(&res.event));
}

/* add_warning: append {code, message} to warnings. */
static void add_warning(json_t *warnings, const char *code, const char *message)
{
    json_array_append_new(warnings, json_pack("{s:s, s:s}", "code", code, "message", message));
}

/* summary_warnings: the warnings of c's summary. The balance warnings
 * follow the low-balance rule of the credits.* webhooks (c's credit_state:
 * sql/functions/credit_thresholds.sql): low_balance from when the balance
 * fell to the threshold until it recovers above it, no_credits when none
 * is available (balance less held). */
static json_t *summary_warnings(const struct customer *c)
{
    json_t *w = json_array();
    if (w == NULL)
        return NULL;
    if (c->credit_balance - c->credits_held <= 0)
        add_warning(w, "no_credits", "No credits left.");
    else if (c->credit_state != NULL && strcmp(c->credit_state, "ok") != 0)
        add_warning(w, "low_balance", "Few credits left.");
    if (strcmp(c->billing_status, "none") == 0)
        add_warning(w, "no_billing",
                    "No payment method on file: fixes stop when the credits run out.");
    else if (strcmp(c->billing_status, "past_due") == 0)
        add_warning(w, "past_due", "The last payment failed; update the payment method before "
                                   "the grace period ends.");
    else if (strcmp(c->billing_status, "delinquent") == 0)
        add_warning(w, "delinquent", "Payment is overdue: only remaining credits can be used.");
    if (!c->billing_enabled)
        add_warning(w, "billing_disabled", "Billing is switched off for now: fixes beyond the "
                                           "credits are recorded and not charged.");
    return w;
}

enum tg_err api_usage_summary(struct http_request *req)
{
    struct customer c;
    struct ledger_page recent;
    enum tg_err e = ledger_summary(req->ctx, req->auth.customer_id, SUMMARY_RECENT, &c, &recent);
    if (e != TG_OK)
        return e;
    json_t *entries = json_array();
    for (size_t i = 0; entries != NULL && i < recent.count; i++)
        if (json_array_append_new(entries, render_ledger_entry(&recent.entries[i])) != 0) {
            json_decref(entries);
            entries = NULL;
        }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o}", "object",
                             "usage_summary", "customer_id", c.id, "tier", c.tier,
                             "billing_status", c.billing_status, "credit_balance",
                             (json_int_t)c.credit_balance, "held", (json_int_t)c.credits_held,
                             "available", (json_int_t)(c.credit_balance - c.credits_held),
                             "spend_limit", render_spend_limit(&c.spend_limit), "recent_entries",
                             entries, "warnings",
                             summary_warnings(&c));
    return http_reply_json(req, 200, body);
}
