/*
 * ledger: reading a customer's credit ledger (credit_transactions). Writing
 * happens only inside SQL functions (sql/), whose trigger keeps
 * customers.credit_balance equal to the sum of the entries.
 */
#ifndef TOLLGATE_LEDGER_H
#define TOLLGATE_LEDGER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

/* One ledger entry; strings owned by the request. */
struct ledger_entry {
    long long id;
    long long amount;        /* credits: positive grants, negative consumption */
    const char *kind;        /* trial_signup, fix_deployed, ... */
    long long balance_after; /* credits right after this entry */
    const char *reference;   /* NULL when none */
    const char *description; /* NULL when none */
    const char *created_at;  /* RFC 3339 UTC */
    long long seq;           /* 1, 2, ... per customer, in balance order */
};

#define LEDGER_PAGE_MAX 100

struct ledger_page {
    struct ledger_entry *entries; /* newest first */
    size_t count;
    bool has_more;                /* older entries exist past the last one */
};

/* ledger_page: up to limit (1..LEDGER_PAGE_MAX) entries of customer_id
 * before the entry of sequence number before_seq (0 = from the newest).
 * Errors: TG_EDB, TG_ENOMEM. */
enum tg_err ledger_page(struct http_request *req, const char *customer_id, long long before_seq,
                        int limit, struct ledger_page *out) __attribute__((warn_unused_result));

/* ledger_entry_from_row: read LEDGER_COLS (statements.c) starting at
 * column col of row i of r; strings borrowed from r. */
void ledger_entry_from_row(PGresult *r, int i, int col, struct ledger_entry *le);

#endif
