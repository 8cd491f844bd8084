/*
 * rows: columns and row decoders that more than one store module reads
 * (private to src/store). Each decoder reads the columns of its *_COLS
 * list, in that order, from column col of row i; strings are borrowed
 * from the result, which the context's arena owns.
 */
#ifndef TOLLGATE_STORE_ROWS_H
#define TOLLGATE_STORE_ROWS_H

#include <libpq-fe.h>

#include "store/credit_transactions.h"
#include "store/customers.h"
#include "store/usage_events.h"
#include "store/sql.h"

/* A customer (table alias c). */
#define CUSTOMER_COLS                                                                          \
    "c.id, c.email, c.name, c.source, c.tier, c.billing_status, c.credit_balance, "            \
    SQL_TS("c.created_at") ", c.stripe_customer_id, c.default_payment_method, "                \
    SQL_TS("c.grace_period_ends_at") ", feature_enabled('billing_enabled', c.id::text), "          \
    "c.credits_held, "                                                                          \
    "(SELECT l.monthly_cents FROM spend_limits l WHERE l.customer_id = c.id), "                 \
    "(SELECT l.currency::text FROM spend_limits l WHERE l.customer_id = c.id), "                \
    "(SELECT spend_limit_spent(c.id, l.currency::text) FROM spend_limits l"                     \
    " WHERE l.customer_id = c.id), "                                                  \
    "coalesce(c.low_balance_threshold, credits_default_threshold()), c.credit_state"
#define CUSTOMER_NCOLS 18
void customers_from_row(const PGresult *r, int i, int col, struct customer *c);

/* A ledger entry (table alias t). */
#define LEDGER_COLS                                                                            \
    "t.id, t.amount, t.kind, t.balance_after, t.reference, t.description, "                   \
    SQL_TS("t.created_at") ", t.seq"
#define LEDGER_NCOLS 8
void credit_transactions_from_row(const PGresult *r, int i, int col, struct ledger_entry *e);

/* A usage event with its charge's amount (alias u: the columns of
 * usage_record() and charge_settle()). */
#define USAGE_EVENT_COLS                                                                       \
    "u.event_id, u.event_outcome, u.balance_after, u.ledger_entry_id, u.fix_id, "             \
    SQL_TS("u.created_at") ", u.charge_id, u.amount_cents, u.currency"
#define USAGE_EVENT_NCOLS 9
void usage_events_from_row(const PGresult *r, int i, int col, struct usage_event *ev);

#endif
