/*
 * overview: see overview.h.
 */
#include "store/overview.h"

#include "store/db.h"
#include "store/registry.h"
#include "store/sql.h"

#define SESSIONS(app)                                                                    \
    "(SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"         \
    " AND application_name = '" app "')"

static const struct db_statement read_st = {
    "overview_read",
    "SELECT " SESSIONS("tollgate-fcgi") ", " SESSIONS("tollgate-worker") ","
    " (SELECT count(*) FROM stripe_requests WHERE status = 'pending'),"
    " (SELECT count(*) FROM email_outbox WHERE status = 'pending'),"
    " (SELECT count(*) FROM stripe_events WHERE status = 'pending'),"
    " (SELECT count(*) FROM stripe_events WHERE status = 'dead'),"
    " (SELECT " SQL_TS("max(received_at)") " FROM stripe_events),"
    " (SELECT " SQL_TS("max(processed_at)") " FROM stripe_events),"
    " (SELECT count(*) FROM pg_stat_activity WHERE datid IS NOT NULL),"
    " current_setting('max_connections')::bigint,"
    " (SELECT coalesce(max(version), 0) FROM schema_migrations),"
    /* Oldest pending item of each queue, seconds; each scans only the
     * queue's partial index of pending rows. */
    " (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::bigint"
    "    FROM stripe_requests WHERE status = 'pending'),"
    " (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::bigint"
    "    FROM email_outbox WHERE status = 'pending'),"
    " (SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)::bigint"
    "    FROM stripe_events WHERE status = 'pending'),"
    " (SELECT count(*) FROM customers WHERE billing_status = 'past_due'),"
    " (SELECT count(*) FROM customers WHERE billing_status = 'delinquent')",
    0};

const struct db_statement *const overview_statements[] = {&read_st, NULL};

enum tg_err overview_read(struct tg_ctx *ctx, struct overview *out)
{
    PGresult *r;
    enum tg_err e = db_exec_one(ctx, &read_st, NULL, &r);
    if (e != TG_OK)
        return e;
    out->fcgi_sessions = db_ll(r, 0, 0);
    out->worker_sessions = db_ll(r, 0, 1);
    out->stripe_calls_pending = db_ll(r, 0, 2);
    out->emails_pending = db_ll(r, 0, 3);
    out->webhooks_pending = db_ll(r, 0, 4);
    out->dead_letters = db_ll(r, 0, 5);
    out->last_webhook_received = db_str(r, 0, 6);
    out->last_webhook_applied = db_str(r, 0, 7);
    out->connections = db_ll(r, 0, 8);
    out->max_connections = db_ll(r, 0, 9);
    out->schema_version = db_ll(r, 0, 10);
    out->stripe_calls_oldest_s = db_ll(r, 0, 11);
    out->emails_oldest_s = db_ll(r, 0, 12);
    out->webhooks_oldest_s = db_ll(r, 0, 13);
    out->customers_grace = db_ll(r, 0, 14);
    out->customers_delinquent = db_ll(r, 0, 15);
    return TG_OK;
}
