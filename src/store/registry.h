/*
 * registry: each store module's statements (private to src/store). Every
 * module defines one NULL-terminated array of its statements; registry.c
 * lists the arrays, so db_connect() prepares them all and tools can find
 * one by name.
 */
#ifndef TOLLGATE_STORE_REGISTRY_H
#define TOLLGATE_STORE_REGISTRY_H

#include "store/db.h"

extern const struct db_statement *const api_keys_statements[];
extern const struct db_statement *const audit_log_statements[];
extern const struct db_statement *const charges_statements[];
extern const struct db_statement *const credit_transactions_statements[];
extern const struct db_statement *const customers_statements[];
extern const struct db_statement *const email_outbox_statements[];
extern const struct db_statement *const feature_flags_statements[];
extern const struct db_statement *const github_deliveries_statements[];
extern const struct db_statement *const holds_statements[];
extern const struct db_statement *const spend_limits_statements[];
extern const struct db_statement *const idempotency_keys_statements[];
extern const struct db_statement *const overview_statements[];
extern const struct db_statement *const invoices_statements[];
extern const struct db_statement *const payment_methods_statements[];
extern const struct db_statement *const schema_statements[];
extern const struct db_statement *const staging_statements[];
extern const struct db_statement *const stripe_events_statements[];
extern const struct db_statement *const stripe_requests_statements[];
extern const struct db_statement *const subscriptions_statements[];
extern const struct db_statement *const usage_events_statements[];
extern const struct db_statement *const webhook_endpoints_statements[];
extern const struct db_statement *const outbound_deliveries_statements[];

#endif
