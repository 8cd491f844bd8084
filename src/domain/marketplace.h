/*
 * marketplace: GitHub Marketplace purchases (GitHub Docs, "Webhook events
 * for the GitHub Marketplace API"). A verified delivery of the
 * marketplace_purchase event is stored by its X-GitHub-Delivery GUID and
 * applied in the same statement (sql/004_github_email.sql):
 *
 *   purchased    a new account becomes a customer through the onboarding
 *                path (source marketplace, trial credits, an API key),
 *                linked by its GitHub account id, and the welcome e-mail
 *                with the key is queued; an account that is a customer
 *                already only has its plan recorded (active again).
 *   changed      the new plan's name is recorded (plan active).
 *   cancelled    the plan is marked cancelled; credits, tier and API keys
 *                are kept (the customer may go on with Stripe billing).
 *   pending_change, pending_change_cancelled, other actions
 *                stored, not applied: GitHub sends changed or cancelled
 *                when the change takes effect.
 *
 * A redelivery (same GUID) is acknowledged and changes nothing. An event
 * whose effective_date is older than the one applied last is stored but
 * not applied (GitHub does not promise order).
 */
#ifndef TOLLGATE_MARKETPLACE_H
#define TOLLGATE_MARKETPLACE_H

#include <jansson.h>
#include <stdbool.h>

#include "core/ctx.h"

/* A marketplace_purchase payload as tollgate reads it; strings borrowed
 * from the payload. */
struct marketplace_event {
    const char *action;         /* purchased, changed, cancelled, pending_change, ... */
    long long account_id;       /* marketplace_purchase.account.id, > 0 */
    const char *login;          /* marketplace_purchase.account.login */
    const char *account_type;   /* account.type (User, Organization); NULL when absent */
    const char *plan;           /* marketplace_purchase.plan.name; NULL when absent */
    const char *effective_date; /* effective_date; NULL when absent */
    const char *email;          /* account.organization_billing_email, else sender.email;
                                 * NULL when neither is given */
};

/* What applying a delivery did. */
struct marketplace_result {
    const char *outcome;     /* created, existing, processed, recorded, unknown_account,
                              * stale, duplicate */
    const char *customer_id; /* the customer concerned, or NULL */
    bool duplicate;          /* the delivery was stored before */
};

/* marketplace_verify: check signature (X-Hub-Signature-256, NULL when
 * absent) of body (len bytes, the raw delivery) with the configured GitHub
 * webhook secret, before anything is parsed (GitHub Docs: "Validating
 * webhook deliveries"). TG_EUNAVAILABLE when no secret is configured;
 * TG_EWEBHOOKSIGNATURE (detail: why) when it does not verify. */
enum tg_err marketplace_verify(struct tg_ctx *ctx, const char *signature, const char *body,
                               size_t len) __attribute__((warn_unused_result));

/* marketplace_parse: read payload (borrowed) into *out. A payload without
 * the members every action has (action, marketplace_purchase.account.id
 * and .login) or with a member of the wrong type: TG_EINVALID with a
 * detail naming it. */
enum tg_err marketplace_parse(struct tg_ctx *ctx, json_t *payload, struct marketplace_event *out)
    __attribute__((warn_unused_result));

/* marketplace_apply: store delivery (the X-GitHub-Delivery GUID) with the
 * raw payload (JSON text) and apply ev, as actor "github:<delivery>". A purchase needs ev->email (the
 * caller refuses one without); the address is checked as at signup:
 * TG_EINVALID, TG_EDISPOSABLE; another customer has it: TG_ECONFLICT, and
 * nothing is stored. A purchase or change needs a plan name: TG_EINVALID.
 * TG_EDB. */
enum tg_err marketplace_apply(struct tg_ctx *ctx, const char *delivery, const char *payload,
                              const struct marketplace_event *ev, struct marketplace_result *out)
    __attribute__((warn_unused_result));

/* marketplace_record: store a delivery that tollgate does not apply (ping,
 * other events) with the raw payload (JSON text) and a note for operators;
 * *duplicate when it was stored before. TG_EDB. */
enum tg_err marketplace_record(struct tg_ctx *ctx, const char *delivery, const char *event,
                               const char *action, long long account_id, const char *payload,
                               const char *note, bool *duplicate)
    __attribute__((warn_unused_result));

#endif
