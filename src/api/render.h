/*
 * render: the JSON shapes of the public API (docs/api.md). One function per
 * resource, so a resource looks the same wherever it appears. Each returns a
 * new reference (NULL when out of memory).
 */
#ifndef TOLLGATE_RENDER_H
#define TOLLGATE_RENDER_H

#include <jansson.h>

#include "domain/apikey.h"
#include "domain/customer.h"
#include "domain/hold.h"
#include "domain/ledger.h"
#include "domain/subscription.h"
#include "domain/usage.h"

json_t *render_customer(const struct customer *c);
/* render_spend_limit: {monthly_cents, currency, spent_cents} or null. */
json_t *render_spend_limit(const struct spend_limit *l);
/* render_api_key: "current" says whether k is the key of this request. */
json_t *render_api_key(const struct api_key *k, const char *current_key_id);
json_t *render_ledger_entry(const struct ledger_entry *e);
json_t *render_usage_event(const struct usage_event *u);
/* render_hold: a credit hold (docs/api.md#holds); amount and currency
 * null for a credit hold, usage_event_id null unless settled. */
json_t *render_hold(const struct hold *h);

json_t *render_subscription(const struct subscription *s);

/* render_invoice_preview: Stripe's upcoming invoice (borrowed) as ours:
 * amounts in cents, times as RFC 3339. */
json_t *render_invoice_preview(const char *plan, json_t *invoice);

#endif
