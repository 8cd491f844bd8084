/*
 * overview: what the database can tell an operator about the running
 * service in one statement -- sessions of the programs, queue depths, dead
 * letters, the last Stripe webhook received and applied, connections and
 * the schema version (tollgatectl status).
 */
#ifndef TOLLGATE_STORE_OVERVIEW_H
#define TOLLGATE_STORE_OVERVIEW_H

#include "core/ctx.h"

struct overview {
    long long fcgi_sessions;        /* sessions with application_name tollgate-fcgi */
    long long worker_sessions;      /* ... tollgate-worker */
    long long stripe_calls_pending; /* stripe_requests still pending (outbox and intents) */
    long long emails_pending;       /* email_outbox not yet sent nor given up */
    long long webhooks_pending;     /* stripe_events waiting for their handler */
    long long dead_letters;         /* stripe_events whose handler gave up */
    const char *last_webhook_received; /* RFC 3339 UTC; NULL: none ever */
    const char *last_webhook_applied;  /* processed or ignored; NULL: none */
    long long connections;          /* sessions connected to any database */
    long long max_connections;      /* the server's max_connections */
    long long schema_version;       /* the highest migration applied */
    long long stripe_calls_oldest_s; /* age of the oldest pending call, seconds; 0: none */
    long long emails_oldest_s;      /* ... of the oldest pending mail */
    long long webhooks_oldest_s;    /* ... of the oldest pending Stripe event */
    long long customers_grace;      /* billing_status past_due (in their grace period) */
    long long customers_delinquent; /* billing_status delinquent */
};

/* overview_read: fill out from one read-only statement (strings borrowed
 * from a result the context's arena owns). Sessions are counted by
 * application_name in pg_stat_activity (each program sets its own,
 * PGAPPNAME, unless the conninfo names one). TG_EDB. */
enum tg_err overview_read(struct tg_ctx *ctx, struct overview *out)
    __attribute__((warn_unused_result));

#endif
