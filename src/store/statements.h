/*
 * statements: every SQL statement the request path runs, by name. The text
 * lives in statements.c as reviewed constants; each takes parameters only
 * and is prepared once per connection by db_connect().
 */
#ifndef TOLLGATE_STATEMENTS_H
#define TOLLGATE_STATEMENTS_H

enum db_stmt {
    DB_HEALTH,            /* () -> schema version */
    DB_APIKEY_AUTH,       /* (key_hash bytea, limit/h) -> api_key_id, customer_id, key_prefix,
                             requests this hour, seconds to reset; sets the audit actor */
    DB_CUSTOMER_ONBOARD,  /* (email, name, source, key_hash, key_prefix) -> customer row */
    DB_CUSTOMER_GET,      /* (customer_id) -> customer row */
    DB_USAGE_FIX,         /* (customer_id, key, request_hash, fix_id, metadata) -> outcome */
    DB_USAGE_SUMMARY,     /* (customer_id, n) -> customer cols + its n newest entries */
    DB_LEDGER_PAGE,       /* (customer_id, before_seq|NULL, limit) -> entries newest first */
    DB_METRICS,           /* () -> tier, customers, credits outstanding */
    DB_USAGE_EVENT_GET,   /* (event_id) -> the columns of DB_USAGE_FIX */
    DB_CUSTOMER_SET_STRIPE, /* (customer_id, cus_) -> stripe_customer_id kept */
    DB_OUTBOX_BEGIN,      /* (customer_id, operation, params) -> id, idempotency_key */
    DB_OUTBOX_FINISH,     /* (id, status, result) */
    DB_OUTBOX_CLAIM,      /* (limit, grace s) -> id, key, customer_id, operation, params, attempts */
    DB_PAYMENT_METHOD_ADDED, /* (call id, customer_id, pm_, result) -> customer row */
    DB_CHARGE_CALL,       /* (charge_id) -> call id, key, customer_id, params */
    DB_CHARGE_BY_CALL,    /* (call id) -> charge_id */
    DB_CHARGE_SETTLE,     /* (charge_id, outcome, pi_, failure, decline, result, grace) -> event id */
    DB_SUBSCRIPTION_BEGIN,   /* (customer_id, plan, price) -> status, sub, call id, key, cus, pm */
    DB_SUBSCRIPTION_APPLY,   /* (sub, sub_, status, start, end, cancel_at_end, canceled_at,
                                in_, paid) -> subscription row */
    DB_SUBSCRIPTION_CURRENT, /* (customer_id) -> the live subscription row */
    DB_SUBSCRIPTION_GET,     /* (subscription id) -> subscription row */
    DB_SUBSCRIPTION_BY_CALL, /* (call id) -> subscription row */
    DB_SUBSCRIPTION_BY_STRIPE, /* (sub_, tollgate id from metadata) -> subscription id */
    DB_EVENT_STORE,       /* (evt_, type, api_version, created, livemode, payload) -> id if new */
    DB_EVENT_CLAIM,       /* (limit) -> id, type, payload of due events */
    DB_EVENT_DONE,        /* (evt_, processed|ignored|error, error, max attempts) -> status */
    DB_CUSTOMER_PAYMENT_FAILED,    /* (cus_, grace) -> customers now past_due */
    DB_CUSTOMER_PAYMENT_SUCCEEDED, /* (cus_) -> customers back to active */
    DB_CHARGE_BY_INTENT,  /* (pi_, tollgate charge id from metadata) -> charge id */
    DB_CHARGE_REFUNDED,   /* (pi_, amount refunded in cents) -> charge id */
    DB_PAYMENT_METHOD_DETACHED, /* (pm_) -> customers whose default it was */
    DB_GRACE_EXPIRE,      /* () -> customers now delinquent */
    DB_CHARGES_OWED_RETRY, /* (customer_id) -> charges queued again */
    DB_PAYMENT_METHOD_SUPERSEDED, /* (call id, customer_id) -> a later attachment succeeded */
    DB_GITHUB_RECORD,     /* (delivery, event, action, account|NULL, payload, note) -> new? */
    DB_GITHUB_PURCHASED,  /* (delivery, payload, account, login, type, plan, effective, email,
                             key_hash, key_prefix, key) -> outcome, customer_id */
    DB_GITHUB_UPDATE,     /* (delivery, changed|cancelled, payload, account, login, plan,
                             effective) -> outcome, customer_id */
    DB_EMAIL_QUEUE_GRACE, /* () -> grace_ending mails queued */
    DB_EMAIL_CLAIM,       /* (limit, lease s) -> id, kind, to, subject, body, attempts, created */
    DB_EMAIL_DONE,        /* (id, sent|failed|retry, error, max attempts) -> status */
    DB_ACTOR_SET,         /* (actor) -> the session's audit actor (tollgate.actor) */
    DB_FEATURE_ENABLED,   /* (flag, subject) -> on for this subject? */
    DB_APIKEY_LIST,       /* (customer_id) -> key rows, newest first */
    DB_APIKEY_CREATE,     /* (customer_id, key_hash, prefix, name, max active) -> status, key row */
    DB_APIKEY_REVOKE,     /* (customer_id, key id) -> status, key row */
    DB_RATE_LIMITS_PRUNE, /* () -> counters of past windows deleted */
    DB_STMT_COUNT
};

struct db_statement {
    const char *name; /* prepared statement name */
    const char *sql;
    int nparams;
};

/* db_statements: indexed by enum db_stmt. */
extern const struct db_statement db_statements[DB_STMT_COUNT];

#endif
