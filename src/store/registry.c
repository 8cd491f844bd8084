/*
 * registry: the statements of every store module; see registry.h.
 */
#include "store/registry.h"

const struct db_statement *const *const db_modules[] = {
    api_keys_statements,       audit_log_statements,       charges_statements,
    credit_transactions_statements, customers_statements,  email_outbox_statements,
    feature_flags_statements,  github_deliveries_statements, holds_statements, idempotency_keys_statements,
    spend_limits_statements,
    invoices_statements,       overview_statements,
    payment_methods_statements,
    schema_statements,         staging_statements,         stripe_events_statements,
    stripe_requests_statements,
    subscriptions_statements,  usage_events_statements,
    webhook_endpoints_statements, outbound_deliveries_statements, NULL,
};
