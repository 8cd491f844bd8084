/*
 * statements: the SQL text of every request-path statement; see
 * statements.h. Timestamps leave PostgreSQL as RFC 3339 UTC text, so
 * responses do not depend on the session's TimeZone or DateStyle.
 */
#include "store/statements.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Columns of a customer, in the order customer.c reads them. */
#define CUSTOMER_COLS                                                                          \
    "c.id, c.email, c.name, c.source, c.tier, c.billing_status, c.credit_balance, "            \
    TS("c.created_at") ", c.stripe_customer_id, c.default_payment_method, "                     \
    TS("c.grace_period_ends_at") ", feature_enabled('billing_enabled', c.id::text)"

/* Columns of a ledger entry, in the order ledger.c reads them. */
#define LEDGER_COLS                                                                            \
    "t.id, t.amount, t.kind, t.balance_after, t.reference, t.description, " TS("t.created_at") \
    ", t.seq"

/* Columns of a subscription, in the order subscription.c reads them. */
#define SUBSCRIPTION_COLS                                                                      \
    "s.id, s.customer_id, s.plan, s.status, s.stripe_subscription_id, s.stripe_price_id, "     \
    TS("s.current_period_start") ", " TS("s.current_period_end") ", s.cancel_at_period_end, " \
    TS("s.canceled_at") ", " TS("s.created_at")

/* Columns of an API key, in the order api_keys.c reads them (never the hash). */
#define APIKEY_COLS                                                                            \
    "k.id, k.key_prefix, k.name, " TS("k.created_at") ", " TS("k.last_used_at") ", "          \
    TS("k.revoked_at")

const struct db_statement db_statements[DB_STMT_COUNT] = {
    [DB_HEALTH] = {"health", "SELECT coalesce(max(version), 0) FROM schema_migrations", 0},

    /* Authenticate by key hash, count the request against the key's
     * hourly limit and set the audit actor: one round trip
     * (sql/005_operations.sql). */
    [DB_APIKEY_AUTH] = {"apikey_auth",
                        "SELECT api_key_id, customer_id, key_prefix, requests, reset_seconds"
                        " FROM api_key_authenticate($1, $2)",
                        2},

    [DB_CUSTOMER_ONBOARD] = {"customer_onboard",
                             "SELECT " CUSTOMER_COLS
                             " FROM customer_onboard($1, $2, $3, $4, $5) c",
                             5},

    [DB_CUSTOMER_GET] = {"customer_get",
                         "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = $1", 1},

    [DB_USAGE_FIX] = {"usage_fix",
                      "SELECT u.status, u.event_id, u.outcome, u.balance_after, u.ledger_entry_id,"
                      " u.fix_id, " TS("u.created_at") ", u.charge_id, u.reason,"
                      " ch.amount_cents, ch.currency"
                      " FROM usage_fix_deployed($1, $2, $3, $4, $5) u"
                      " LEFT JOIN charges ch ON ch.id = u.charge_id",
                      5},

    [DB_USAGE_EVENT_GET] = {"usage_event_get",
                            "SELECT 201, e.id, e.outcome, e.balance_after, e.ledger_entry_id,"
                            " e.fix_id, " TS("e.created_at") ", e.charge_id, NULL,"
                            " ch.amount_cents, ch.currency"
                            " FROM usage_events e LEFT JOIN charges ch ON ch.id = e.charge_id"
                            " WHERE e.id = $1",
                            1},

    [DB_CUSTOMER_SET_STRIPE] = {"customer_set_stripe",
                                "UPDATE customers SET stripe_customer_id ="
                                " coalesce(stripe_customer_id, $2), updated_at = now()"
                                " WHERE id = $1 RETURNING stripe_customer_id",
                                2},

    [DB_OUTBOX_BEGIN] = {"outbox_begin",
                         "SELECT id, idempotency_key FROM stripe_request_begin($1, $2, $3::jsonb)",
                         3},

    [DB_OUTBOX_FINISH] = {"outbox_finish",
                          "SELECT stripe_request_finish($1, $2, $3::jsonb)", 3},

    /* Lease due calls for two minutes; SKIP LOCKED lets several
     * tollgate-worker processes claim side by side. */
    [DB_OUTBOX_CLAIM] = {"outbox_claim",
                         "UPDATE stripe_requests r"
                         "   SET next_attempt_at = now() + interval '2 minutes', updated_at = now()"
                         " WHERE r.id IN (SELECT id FROM stripe_requests"
                         "                 WHERE status = 'pending' AND next_attempt_at <= now()"
                         "                   AND (attempts > 0 OR"
                         "                        created_at <= now() - make_interval(secs => $2))"
                         "                 ORDER BY next_attempt_at LIMIT $1"
                         "                 FOR UPDATE SKIP LOCKED)"
                         " RETURNING r.id, r.idempotency_key, r.customer_id, r.operation,"
                         "           r.params::text, r.attempts",
                         2},

    [DB_PAYMENT_METHOD_ADDED] = {"payment_method_added",
                                 "SELECT " CUSTOMER_COLS
                                 " FROM payment_method_added($1, $2, $3, $4::jsonb) c",
                                 4},

    [DB_CHARGE_CALL] = {"charge_call",
                        "SELECT r.id, r.idempotency_key, r.customer_id, r.params::text"
                        " FROM charges c JOIN stripe_requests r ON r.id = c.stripe_request_id"
                        " WHERE c.id = $1",
                        1},

    [DB_CHARGE_BY_CALL] = {"charge_by_call",
                           "SELECT id FROM charges WHERE stripe_request_id = $1", 1},

    [DB_CHARGE_SETTLE] = {"charge_settle",
                          "SELECT id FROM charge_settle($1, $2, $3, $4, $5, $6::jsonb,"
                          " $7::interval)",
                          7},

    [DB_SUBSCRIPTION_BEGIN] = {"subscription_begin",
                               "SELECT status, subscription_id, request_id, idempotency_key,"
                               " stripe_customer_id, payment_method"
                               " FROM subscription_begin($1, $2, $3)",
                               3},

    [DB_SUBSCRIPTION_APPLY] = {"subscription_apply",
                               "SELECT " SUBSCRIPTION_COLS
                               " FROM subscription_apply($1, $2, $3, to_timestamp($4::bigint),"
                               " to_timestamp($5::bigint), $6::boolean, to_timestamp($7::bigint),"
                               " $8, $9::boolean) s",
                               9},

    [DB_SUBSCRIPTION_CURRENT] = {"subscription_current",
                                 "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s"
                                 " WHERE s.customer_id = $1"
                                 "   AND s.status NOT IN ('canceled', 'incomplete_expired')",
                                 1},

    [DB_SUBSCRIPTION_GET] = {"subscription_get",
                             "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s WHERE s.id = $1",
                             1},

    [DB_SUBSCRIPTION_BY_STRIPE] = {"subscription_by_stripe",
                                   "SELECT id FROM subscriptions WHERE stripe_subscription_id = $1"
                                   " UNION ALL"
                                   " SELECT id FROM subscriptions WHERE id::text = $2"
                                   "   AND stripe_subscription_id IS NULL"
                                   " LIMIT 1",
                                   2},

    [DB_EVENT_STORE] = {"event_store",
                        "INSERT INTO stripe_events (id, type, api_version, created, livemode,"
                        " payload) VALUES ($1, $2, $3, $4, $5, $6::jsonb)"
                        " ON CONFLICT (id) DO NOTHING RETURNING id",
                        6},

    /* Oldest first; leased for two minutes (SKIP LOCKED: several workers). */
    [DB_EVENT_CLAIM] = {"event_claim",
                        "UPDATE stripe_events e"
                        "   SET next_attempt_at = now() + interval '2 minutes'"
                        " WHERE e.id IN (SELECT id FROM stripe_events"
                        "                 WHERE status = 'pending' AND next_attempt_at <= now()"
                        "                 ORDER BY created, received_at LIMIT $1"
                        "                 FOR UPDATE SKIP LOCKED)"
                        " RETURNING e.id, e.type, e.payload::text",
                        1},

    [DB_EVENT_DONE] = {"event_done", "SELECT stripe_event_done($1, $2, $3, $4::integer)", 4},

    [DB_CUSTOMER_PAYMENT_FAILED] = {"customer_payment_failed",
                                    "SELECT id FROM customer_payment_failed($1, $2::interval)",
                                    2},

    [DB_CUSTOMER_PAYMENT_SUCCEEDED] = {"customer_payment_succeeded",
                                       "SELECT id FROM customer_payment_succeeded($1)", 1},

    [DB_CHARGE_BY_INTENT] = {"charge_by_intent",
                             "SELECT id FROM charges WHERE stripe_payment_intent_id = $1"
                             " UNION ALL SELECT id FROM charges WHERE id::text = $2"
                             " LIMIT 1",
                             2},

    [DB_CHARGE_REFUNDED] = {"charge_refunded",
                            "UPDATE charges SET amount_refunded_cents = $2::bigint,"
                            " updated_at = now() WHERE stripe_payment_intent_id = $1"
                            " RETURNING id",
                            2},

    [DB_PAYMENT_METHOD_DETACHED] = {"payment_method_detached",
                                    "UPDATE customers SET default_payment_method = NULL,"
                                    " updated_at = now()"
                                    " WHERE default_payment_method = $1 RETURNING id",
                                    1},

    [DB_GRACE_EXPIRE] = {"grace_expire", "SELECT id FROM grace_periods_expire()", 0},

    [DB_PAYMENT_METHOD_SUPERSEDED] = {"payment_method_superseded",
                                      "SELECT payment_method_superseded($1, $2)", 2},

    [DB_CHARGES_OWED_RETRY] = {"charges_owed_retry",
                               "SELECT charge_id FROM charges_owed_retry($1)", 1},

    [DB_SUBSCRIPTION_BY_CALL] = {"subscription_by_call",
                                 "SELECT " SUBSCRIPTION_COLS " FROM subscriptions s"
                                 " WHERE s.stripe_request_id = $1",
                                 1},

    /* One statement, so the balance and the entries come from one snapshot;
     * a customer without entries gives one row with NULL entry columns. */
    [DB_USAGE_SUMMARY] = {"usage_summary",
                          "SELECT " CUSTOMER_COLS ", " LEDGER_COLS
                          " FROM customers c LEFT JOIN LATERAL"
                          " (SELECT * FROM credit_transactions t WHERE t.customer_id = c.id"
                          "   ORDER BY t.seq DESC LIMIT $2) t ON true"
                          " WHERE c.id = $1 ORDER BY t.seq DESC",
                          2},

    [DB_METRICS] = {"metrics",
                    "SELECT p.tier, count(c.id), coalesce(sum(c.credit_balance), 0)"
                    " FROM pricing_tiers p LEFT JOIN customers c ON c.tier = p.tier"
                    " GROUP BY p.tier ORDER BY p.tier",
                    0},

    [DB_LEDGER_PAGE] = {"ledger_page",
                        "SELECT " LEDGER_COLS " FROM credit_transactions t"
                        " WHERE t.customer_id = $1 AND ($2::bigint IS NULL OR t.seq < $2::bigint)"
                        " ORDER BY t.seq DESC LIMIT $3",
                        3},

    /* GitHub deliveries (sql/004): each action is one function, so a
     * webhook request is one statement. */
    [DB_GITHUB_RECORD] = {"github_record",
                          "SELECT github_delivery_record($1, $2, $3, $4::bigint, $5::jsonb, $6)",
                          6},

    [DB_GITHUB_PURCHASED] = {"github_purchased",
                             "SELECT outcome, customer_id FROM github_marketplace_purchased("
                             "$1, $2::jsonb, $3::bigint, $4, $5, $6, $7, $8, $9::bytea, $10, $11)",
                             11},

    [DB_GITHUB_UPDATE] = {"github_update",
                          "SELECT outcome, customer_id FROM github_marketplace_update("
                          "$1, $2, $3::jsonb, $4::bigint, $5, $6, $7)",
                          7},

    [DB_EMAIL_QUEUE_GRACE] = {"email_queue_grace", "SELECT email_queue_grace_ending()", 0},

    /* Due mails, oldest first, leased for $2 seconds (longer than sending
     * the batch may take); SKIP LOCKED lets several workers claim side by
     * side. */
    [DB_EMAIL_CLAIM] = {"email_claim",
                        "UPDATE email_outbox m"
                        "   SET next_attempt_at = now() + make_interval(secs => $2::integer)"
                        " WHERE m.id IN (SELECT id FROM email_outbox"
                        "                 WHERE status = 'pending' AND next_attempt_at <= now()"
                        "                 ORDER BY next_attempt_at, id LIMIT $1::integer"
                        "                 FOR UPDATE SKIP LOCKED)"
                        " RETURNING m.id, m.kind, m.to_address, m.subject, m.body, m.attempts,"
                        "           extract(epoch FROM m.created_at)::bigint",
                        2},

    [DB_EMAIL_DONE] = {"email_done", "SELECT email_outbox_done($1, $2, $3, $4::integer)", 4},

    [DB_ACTOR_SET] = {"actor_set", "SELECT set_config('tollgate.actor', $1, false)", 1},

    [DB_FEATURE_ENABLED] = {"feature_enabled", "SELECT feature_enabled($1, $2)", 2},

    [DB_APIKEY_LIST] = {"apikey_list",
                        "SELECT " APIKEY_COLS " FROM api_keys k WHERE k.customer_id = $1"
                        " ORDER BY k.created_at DESC, k.id",
                        1},

    [DB_APIKEY_CREATE] = {"apikey_create",
                          "SELECT k.status, " APIKEY_COLS
                          " FROM api_key_create($1, $2, $3, $4, $5) k",
                          5},

    [DB_APIKEY_REVOKE] = {"apikey_revoke",
                          "SELECT k.status, " APIKEY_COLS
                          " FROM api_key_revoke($1, $2, false) k",
                          2},

    [DB_RATE_LIMITS_PRUNE] = {"rate_limits_prune", "SELECT rate_limits_prune()", 0},
};
