/*
 * render: the JSON shapes of the public API (docs/api.md). One function per
 * resource, so a resource looks the same wherever it appears. Each returns a
 * new reference (NULL when out of memory).
 */
#ifndef TOLLGATE_RENDER_H
#define TOLLGATE_RENDER_H

#include <jansson.h>

#include "domain/customer.h"
#include "domain/ledger.h"
#include "domain/usage.h"

json_t *render_customer(const struct customer *c);
json_t *render_ledger_entry(const struct ledger_entry *e);
json_t *render_usage_event(const struct usage_event *u);

#endif
